// Helpers for the end-to-end test and the benchmark that serve the docqa example (docs/real-models.md)
// for real through jellybeand and the local driver: tesseract and pocketsphinx model processes
// behind the exec runtime, fed by dataset sources over a fixed sample of the labelled data set.
//
// Contract: DocqaMissing() says why a run cannot happen (no data set, no models) or returns "".
// WriteDocqaRun() writes, under a directory, a sample of the data set (every `every`-th item of the
// indices, with `docs`/`audio` symlinks beside them, since index paths are relative) and the
// manifests of manifests/docqa with absolute model and data paths, the floor, the sources' rate
// and count. RunDocqa() starts a daemon on those manifests, waits (with deadlines) until every
// request is acknowledged, and returns what the plan said and what the workers observed.
// Needs JB_SOURCE_DIR, JB_JELLYBEAND, JB_DOCQA_DATA and JB_DOCQA_MODELS (the models' directory).
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "api/worker_config.h"
#include "ingress/accuracy.h"
#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"

namespace jb::testing {

namespace fs = std::filesystem;

inline fs::path DocqaData() { return JB_DOCQA_DATA; }
inline fs::path DocqaModels() { return JB_DOCQA_MODELS; }

// Why docqa cannot run here ("" when it can).
inline std::string DocqaMissing() {
  for (const char* f : {"documents.jsonl", "questions.jsonl", "labels/domain.gram", "docs/d00.jpg", "audio/q00.wav"})
    if (!fs::exists(DocqaData() / f))
      return "the docqa data set is not built (" + (DocqaData() / f).string() + " missing): run `make docqa-data`";
  for (const char* m : {"jb-docqa-ocr", "jb-docqa-asr", "jb-docqa-join"})
    if (!fs::exists(DocqaModels() / m))
      return "the docqa models are not built (" + (DocqaModels() / m).string() +
             " missing): install libtesseract-dev and libpocketsphinx-dev (`make setup`)";
  return "";
}

// Writes dir/data/{documents,questions}.jsonl holding every `every`-th line of the data set's indices
// (the same keys in both, in index order) and the symlinks dir/data/docs and dir/data/audio; returns
// the number of items.
inline int64_t WriteDocqaSample(const fs::path& dir, int every) {
  fs::path data = dir / "data";
  fs::create_directories(data);
  int64_t n = 0;
  for (const char* index : {"documents.jsonl", "questions.jsonl"}) {
    std::istringstream in(ReadFile(DocqaData() / index));
    std::ofstream out(data / index);
    int64_t line_no = 0, kept = 0;
    for (std::string line; std::getline(in, line); ++line_no)
      if (line_no % every == 0) {
        out << line << "\n";
        ++kept;
      }
    n = kept;
  }
  std::error_code ec;
  for (const char* sub : {"docs", "audio"}) fs::create_directory_symlink(DocqaData() / sub, data / sub, ec);
  return n;
}

inline std::string Fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof(b), "%g", v);
  return b;
}

// Writes dir/manifests from manifests/docqa: model commands and the grammar at their absolute paths,
// the sources reading the sample at `rate` items/s and stopping after `count`, the floor `floor`.
inline fs::path WriteDocqaManifests(const fs::path& dir, double floor, double rate, int64_t count) {
  fs::path m = dir / "manifests";
  fs::create_directories(m);
  for (const auto& e : fs::directory_iterator(fs::path(JB_SOURCE_DIR) / "manifests/docqa")) {
    if (e.path().extension() != ".yaml") continue;
    std::string text = ReadFile(e.path());
    text = std::regex_replace(text, std::regex("build/models/docqa/"), DocqaModels().string() + "/");
    text = std::regex_replace(text, std::regex("build/docqa-data/labels/"), (DocqaData() / "labels").string() + "/");
    text = std::regex_replace(text, std::regex("index: build/docqa-data/"), "index: " + (dir / "data").string() + "/");
    text = std::regex_replace(text, std::regex("\n    rate: [0-9.]+\n"),
                              "\n    rate: " + Fmt(rate) + "\n    count: " + std::to_string(count) + "\n");
    text = std::regex_replace(text, std::regex("minAccuracy: [0-9.]+"), "minAccuracy: " + Fmt(floor));
    std::ofstream(m / e.path().filename()) << text;
  }
  return m;
}

// Every worker's last report of workflow `wf`.
inline std::map<std::string, WorkerMetrics> ReportsOf(const fs::path& state, const std::string& wf) {
  std::map<std::string, WorkerMetrics> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state / "workers" / wf, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() < 13 || name.substr(name.size() - 13) != ".metrics.json") continue;
    auto r = ParseWorkerMetrics(ReadFile(e.path()), name);
    if (r.ok()) out[r->worker] = *r;
  }
  return out;
}

inline std::optional<Workflow> GetWorkflowNamed(const HttpClientOptions& c, const std::string& name) {
  auto o = GetObject(c, "workflows/" + name);
  if (!o) return std::nullopt;
  return std::get<Workflow>(*o);
}

struct DocqaRun {
  std::string error;  // non-empty when the run did not complete (what went wrong)
  // The plan.
  std::map<std::string, std::string> variants;
  double plan_cost = 0, plan_accuracy = 0, plan_rate = 0;
  // Observed.
  int64_t count = 0, emitted = 0, acked = 0, delivered = 0, drops = 0, duplicates = 0;
  int64_t scored = 0, correct = 0;
  ingress::Interval wilson;
  bool slo_met_seen = false;
  double best_throughput = 0;  // the highest complete-window throughput seen
  double p50_ms = 0, p99_ms = 0, live_cost = 0;
  double seconds = 0;  // daemon start to the last acknowledgement
  std::string log;     // the daemon's log (on failure)

  double Accuracy() const {
    return scored > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(scored) : 0;
  }
  std::string Variant(const std::string& op) const {
    auto it = variants.find(op);
    return it == variants.end() ? "" : it->second;
  }
  // The planned throughput was reached: SLOMet True, or a complete window within 10% of the rate.
  bool RateReached() const { return slo_met_seen || best_throughput >= 0.9 * plan_rate; }
};

// Serves the manifests in `manifests` with a daemon whose state is `state` until the sources' `count`
// requests are all acknowledged (deadline: count / rate + `slack`), then stops the daemon.
inline DocqaRun RunDocqa(const fs::path& manifests, const fs::path& state, int64_t count, double rate,
                         std::chrono::seconds slack = std::chrono::seconds(90)) {
  DocqaRun r;
  r.count = count;
  r.plan_rate = rate;
  auto t0 = Clock::now();
  Daemon d(state, {}, {"--manifest-dir", manifests.string(), "--stop-workers-on-exit"});
  HttpClientOptions c;
  fs::path log = state.parent_path() / (state.filename().string() + ".log");
  if (!d.WaitReady(&c)) {
    r.error = "the daemon did not become ready";
    r.log = ReadFile(log);
    return r;
  }
  auto limit = std::chrono::seconds(static_cast<int64_t>(static_cast<double>(count) / rate)) + slack;
  auto last = Clock::now() - std::chrono::seconds(1);
  bool done = WaitFor(
      [&] {
        if (Clock::now() - last < std::chrono::milliseconds(500)) return false;  // a GET and a few files each time
        last = Clock::now();
        if (auto wf = GetWorkflowNamed(c, "docqa")) {
          if (wf->status.plan) {
            r.variants = wf->status.plan->variants;
            r.plan_cost = wf->status.plan->cost.total_per_hour;
            r.plan_accuracy = wf->status.plan->accuracy;
          }
          if (ConditionOf(*wf, "SLOMet") == "True") r.slo_met_seen = true;
          if (const auto& o = wf->status.observed; o && o->throughput_complete) {
            r.best_throughput = std::max(r.best_throughput, o->throughput);
            r.p50_ms = o->latency_p50_ms;
            r.p99_ms = o->latency_p99_ms;
            r.live_cost = o->live_cost_per_hour;
          }
        }
        Totals t = Sum(ReportsOf(state, "docqa"));
        return AllDelivered(t, count);
      },
      limit);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto reports = ReportsOf(state, "docqa");
  Totals t = Sum(reports);
  r.emitted = t.emitted_min;
  r.acked = t.acked_min;
  r.delivered = t.delivered;
  r.drops = t.drops;
  r.duplicates = t.duplicates;
  for (const auto& [w, m] : reports)
    for (const auto& in : m.instances)
      if (in.kind == "sink") {
        r.scored += in.scored;
        r.correct += in.correct;
        if (r.p50_ms == 0) r.p50_ms = in.p50_ms, r.p99_ms = in.p99_ms;
      }
  r.wilson = ingress::WilsonInterval(static_cast<uint64_t>(r.correct), static_cast<uint64_t>(r.scored));
  if (!done)
    r.error = "not every request was acknowledged within " + std::to_string(limit.count()) + " s: acked " +
              std::to_string(t.acked_min) + "/" + std::to_string(count) + ", delivered " + std::to_string(t.delivered) +
              ", dropped " + std::to_string(t.drops);
  if (d.Stop() != 0 && r.error.empty()) r.error = "the daemon did not stop cleanly";
  if (!r.error.empty()) r.log = ReadFile(log);
  return r;
}

// One line: plan, cost, observed throughput, latency, observed accuracy with its 95% interval, n.
inline std::string DocqaSummary(const std::string& label, const DocqaRun& r) {
  char b[512];
  std::snprintf(b, sizeof(b),
                "[ docqa %s ] plan OCR %s + ASR %s: %.4f $/h, planned accuracy %.2f %% at %g items/s | observed "
                "throughput %.2f items/s (SLOMet %s), latency p50 %.0f ms p99 %.0f ms, accuracy %.2f %% [%.2f, %.2f] "
                "(%lld/%lld), delivered %lld/%lld, dropped %lld, %.0f s",
                label.c_str(), r.Variant("OCR").c_str(), r.Variant("SpeechRecognition").c_str(), r.plan_cost,
                r.plan_accuracy, r.plan_rate, r.best_throughput, r.slo_met_seen ? "seen" : "never", r.p50_ms, r.p99_ms,
                r.Accuracy(), 100 * r.wilson.lo, 100 * r.wilson.hi, static_cast<long long>(r.correct),
                static_cast<long long>(r.scored), static_cast<long long>(r.delivered), static_cast<long long>(r.count),
                static_cast<long long>(r.drops), r.seconds);
  return b;
}

}  // namespace jb::testing
