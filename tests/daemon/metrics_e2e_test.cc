// The real jellybeand's /metrics while the VQA example runs as jellybean-worker processes (local
// driver, emulated runtime): promtool accepts the page, and the worker figures — carried in the
// workers' metrics reports, histograms included — show plausible values.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"
#include "tests/daemon/promtool.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The value of the first sample of `name` (exact name, then '{' or ' ') whose line contains
// `having`; -1 when none.
double SampleValue(const std::string& page, const std::string& name, const std::string& having = "") {
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (line.find(having) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

std::string Page(const HttpClientOptions& c) {
  auto r = HttpCall(c, "GET", "/metrics");
  return r.ok() && r->status == 200 ? r->body : "";
}

TEST(MetricsE2E, RunningWorkflowPageHasWorkerFiguresAndPassesPromtool) {
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  testing::Daemon d(state, {},
                    {"--manifest-dir", testing::VqaWithCount(dir.path(), 40 * 60).string(), "--stop-workers-on-exit"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  std::string page;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        page = Page(c);
        return SampleValue(page, "jellybean_workflow_latency_seconds_count", "workflow=\"vqa\"") > 0 &&
               SampleValue(page, "jellybean_operator_service_seconds_count") > 0 &&
               SampleValue(page, "jellybean_workflow_observed_throughput_items_per_second") > 0;
      },
      60s))
      << page;
  std::set<std::string> families;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("# TYPE ", 0) == 0) families.insert(line.substr(7, line.find(' ', 7) - 7));
  for (const char* f : {"jellybean_build_info",
                        "jellybean_api_requests_total",
                        "jellybean_api_request_duration_seconds",
                        "jellybean_items_in_total",
                        "jellybean_items_out_total",
                        "jellybean_items_dropped_total",
                        "jellybean_items_duplicates_total",
                        "jellybean_link_resent_items_total",
                        "jellybean_worker_restarts_total",
                        "jellybean_worker_up",
                        "jellybean_worker_ready",
                        "jellybean_queue_depth",
                        "jellybean_worker_held_items",
                        "jellybean_worker_credit_window",
                        "jellybean_workflow_latency_seconds",
                        "jellybean_operator_service_seconds",
                        "jellybean_workflow_observed_throughput_items_per_second",
                        "jellybean_workflow_planned_throughput_items_per_second",
                        "jellybean_workflow_observed_accuracy_percent",
                        "jellybean_workflow_accuracy_floor_percent",
                        "jellybean_workflow_live_cost_dollars_per_hour",
                        "jellybean_workflow_observed_network_cost_dollars_per_hour",
                        "jellybean_cross_tier_bytes_total",
                        "jellybean_cross_tier_planned_bytes_per_second",
                        "jellybean_workflow_condition",
                        "jellybean_workflow_replans_total",
                        "jellybean_workflow_rollout_duration_seconds",
                        "jellybean_workflow_plan_solve_seconds",
                        "jellybean_workflow_plan_gap_ratio"})
    EXPECT_EQ(families.count(f), 1u) << f;
  EXPECT_GT(SampleValue(page, "jellybean_items_out_total", "kind=\"source\""), 0) << page;
  EXPECT_GT(SampleValue(page, "jellybean_items_out_total", "kind=\"sink\""), 0) << page;
  EXPECT_EQ(SampleValue(page, "jellybean_worker_up", "worker=\"io-edge\""), 1) << page;
  EXPECT_GT(SampleValue(page, "jellybean_worker_credit_window"), 0) << page;
  EXPECT_GT(SampleValue(page, "jellybean_cross_tier_bytes_total"), 0) << page;
  EXPECT_GT(SampleValue(page, "jellybean_cross_tier_planned_bytes_per_second"), 0) << page;
  EXPECT_EQ(SampleValue(page, "jellybean_workflow_replans_total", "trigger=\"initial\""), 1) << page;
  EXPECT_GT(SampleValue(page, "jellybean_workflow_planned_throughput_items_per_second"), 0) << page;
  EXPECT_GT(SampleValue(page, "jellybean_api_requests_total", "code=\"200\""), 0) << page;
  // Sink latency: every delivered item is in the histogram's +Inf bucket.
  double inf = SampleValue(page, "jellybean_workflow_latency_seconds_bucket", "le=\"+Inf\"");
  EXPECT_EQ(inf, SampleValue(page, "jellybean_workflow_latency_seconds_count", "workflow=\"vqa\""));
  EXPECT_GT(SampleValue(page, "jellybean_workflow_latency_seconds_sum", "workflow=\"vqa\""), 0);
  if (!testing::HavePromtool()) GTEST_SKIP() << testing::kNoPromtool;
  auto r = testing::PromtoolCheckMetrics(page);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << page;
  EXPECT_EQ(r.output, "");
  if (const char* out = std::getenv("JB_METRICS_PAGE")) std::ofstream(out) << page;  // for the report
}

}  // namespace
}  // namespace jb
