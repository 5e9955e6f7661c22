// bench_docqa: the docqa example (docs/real-models.md) served for real, in one run, at two accuracy
// floors (60 and 75) beside the most-accurate baseline (`jbctl plan --baseline most-accurate`: the
// most accurate variant combination, deployed by setting the floor to its accuracy). Each is served
// through jellybeand over the same sample of the labelled data set (testing/docqa_run.h); the table
// gives the plan's cost, the observed throughput, end-to-end p50/p99, the observed accuracy with its
// 95% Wilson interval, and what the planner saves against the baseline.
//
// Usage: bench_docqa [RATE items/s, default 3.5] [EVERY, default 2: every 2nd item, 144 requests]
// At 3.5 items/s the planner needs one core for the floor-60 plan and two for the baseline
// (manifests/docqa's profiles), so the saving is visible; lower rates fit every plan on one core.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/docqa_run.h"

namespace fs = std::filesystem;
using jb::testing::DocqaRun;

namespace {

struct Baseline {
  std::map<std::string, std::string> variants;
  double accuracy = 0, cost = 0;
};

// The most-accurate baseline of the manifests in `m`, as `jbctl plan` computes it offline.
bool PlanBaseline(const fs::path& m, double rate_scale, Baseline* out) {
  auto r = jb::testing::Run(std::string(JB_JBCTL) + " plan -f " + m.string() + " --rate-scale " +
                            jb::testing::Fmt(rate_scale) + " --baseline most-accurate -o json 2>/dev/null");
  if (r.exit_code != 0) return false;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  if (j.is_discarded() || !j.contains("baselines") || !j["baselines"].contains("most-accurate")) return false;
  const auto& b = j["baselines"]["most-accurate"];
  for (const auto& [op, v] : b["variants"].items()) out->variants[op] = v.get<std::string>();
  out->accuracy = b["accuracy"].get<double>();
  out->cost = b["cost"]["totalPerHour"].get<double>();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double rate = argc > 1 ? std::atof(argv[1]) : 3.5;
  int every = argc > 2 ? std::atoi(argv[2]) : 2;
  if (rate <= 0 || every < 1) {
    std::fprintf(stderr, "usage: bench_docqa [RATE > 0] [EVERY >= 1]\n");
    return 2;
  }
  if (std::string why = jb::testing::DocqaMissing(); !why.empty()) {
    std::printf("bench_docqa: skipped: %s\n", why.c_str());
    return 0;
  }
  jb::testing::TempDir dir;
  int64_t n = jb::testing::WriteDocqaSample(dir.path(), every);
  // The manifests' sources run at 2 items/s; --rate-scale brings the offline baseline to `rate`.
  Baseline base;
  fs::path probe = jb::testing::WriteDocqaManifests(dir.path() / "probe", 60, rate, n);
  if (!PlanBaseline(probe, 1, &base)) {
    std::fprintf(stderr, "bench_docqa: jbctl plan --baseline most-accurate failed\n");
    return 1;
  }
  struct Row {
    std::string name;
    double floor;
    DocqaRun run;
  };
  std::vector<Row> rows = {{"floor 60", 60, {}}, {"floor 75", 75, {}}, {"most-accurate", base.accuracy, {}}};
  std::printf("bench_docqa: %lld requests (every %d-th item of build/docqa-data) at %g items/s per plan, real models\n",
              static_cast<long long>(n), every, rate);
  for (size_t i = 0; i < rows.size(); ++i) {
    Row& row = rows[i];
    fs::path sub = dir.path() / ("run" + std::to_string(i));
    fs::create_directories(sub);
    fs::path m = jb::testing::WriteDocqaManifests(sub, row.floor, rate, n);
    std::error_code ec;
    fs::create_directory_symlink(dir.path() / "data", sub / "data", ec);
    row.run = jb::testing::RunDocqa(m, sub / "state", n, rate);
    std::printf("%s\n", jb::testing::DocqaSummary(row.name, row.run).c_str());
    if (!row.run.error.empty()) std::printf("  error: %s\n", row.run.error.c_str());
    std::fflush(stdout);
  }
  if (rows[2].run.variants != base.variants)
    std::printf("note: the deployed baseline differs from jbctl's most-accurate baseline\n");
  const double base_cost = rows[2].run.plan_cost;
  std::printf("\n%-14s %-15s %-15s %9s %8s %9s %8s %8s %9s %17s %8s %10s\n", "plan", "OCR", "ASR", "cost $/h",
              "planned", "items/s", "p50 ms", "p99 ms", "observed", "95% interval", "n", "saves");
  for (const auto& row : rows) {
    const DocqaRun& r = row.run;
    char interval[40];
    std::snprintf(interval, sizeof(interval), "[%.1f, %.1f]", 100 * r.wilson.lo, 100 * r.wilson.hi);
    double saves = base_cost > 0 ? 100 * (1 - r.plan_cost / base_cost) : 0;
    std::printf("%-14s %-15s %-15s %9.4f %7.2f%% %9.2f %8.0f %8.0f %8.2f%% %17s %8lld %9.1f%%\n", row.name.c_str(),
                r.Variant("OCR").c_str(), r.Variant("SpeechRecognition").c_str(), r.plan_cost, r.plan_accuracy,
                r.best_throughput, r.p50_ms, r.p99_ms, r.Accuracy(), interval, static_cast<long long>(r.scored), saves);
  }
  bool ok = true;
  for (const auto& row : rows) ok = ok && row.run.error.empty();
  return ok ? 0 : 1;
}
