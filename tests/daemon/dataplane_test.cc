// End-to-end data-plane tests: the real jellybeand with the local driver runs the VQA example as
// jellybean-worker processes (emulated runtime), and the tests check delivery, throughput,
// cross-tier bytes, restarts and re-adoption from the workers' own reports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>

#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"
#include "tests/test_util.h"
#include "worker/config.h"

namespace jb {
namespace {

using testing::Daemon;
using testing::GetObject;
using testing::GetWorkflow;
using testing::ConditionOf;
using testing::Reports;
using testing::Sum;
using testing::Totals;
using testing::VqaWithCount;
using testing::WaitFor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(DataPlane, VqaRunsAtItsSloForAMinuteWithNothingLost) {
  constexpr int64_t kCount = 40 * 66;  // 66 s per source at 40 items/s
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  fs::path manifests = VqaWithCount(dir.path(), kCount);
  auto t0 = testing::Clock::now();
  Daemon d(state, {}, {"--manifest-dir", manifests.string(), "--stop-workers-on-exit"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  ASSERT_TRUE(WaitFor([&] { auto wf = GetWorkflow(c); return wf && ConditionOf(*wf, "SLOMet") == "True"; }, 40s))
      << "SLOMet never became True";
  double slo_met_s = std::chrono::duration<double>(testing::Clock::now() - t0).count();
  auto wf = GetWorkflow(c);
  ASSERT_TRUE(wf && wf->status.observed && wf->status.plan);
  EXPECT_EQ(ConditionOf(*wf, "Ready"), "True");
  EXPECT_TRUE(wf->status.observed->emulated);
  double predicted_kibps = wf->status.observed->predicted_cross_tier_kibps;

  // Steady state: the observed throughput stays at the SLO until the sources stop.
  int samples = 0;
  double min_tp = 1e9, worst_bytes = 0;
  while (std::chrono::duration<double>(testing::Clock::now() - t0).count() < 62) {
    std::this_thread::sleep_for(3s);
    auto w = GetWorkflow(c);
    ASSERT_TRUE(w && w->status.observed);
    const auto& o = *w->status.observed;
    if (!o.throughput_complete) continue;
    ++samples;
    min_tp = std::min(min_tp, o.throughput);
    worst_bytes = std::max(worst_bytes, std::fabs(o.cross_tier_kibps / predicted_kibps - 1));
    EXPECT_EQ(ConditionOf(*w, "SLOMet"), "True") << "at " << o.time << ": " << o.throughput << " items/s";
    EXPECT_EQ(o.dropped, 0);
  }
  EXPECT_GE(samples, 10);
  EXPECT_GE(min_tp, 0.99 * 40);
  EXPECT_LE(worst_bytes, 0.05);

  // Drain: every item is acknowledged end to end; the sink has each request exactly once.
  ASSERT_TRUE(WaitFor([&] { return Sum(Reports(state)).acked_min == kCount; }, 40s)) << "sources never fully acknowledged";
  auto reports = Reports(state);
  Totals t = Sum(reports);
  EXPECT_EQ(t.emitted_min, kCount);
  EXPECT_EQ(t.delivered, kCount);
  EXPECT_EQ(t.drops, 0);
  EXPECT_EQ(t.duplicates, 0);  // nothing failed, so nothing was re-sent

  // Cross-tier bytes over the whole run vs the plan: payload bytes on links between tiers.
  std::map<std::string, std::string> tier_of;
  for (const auto& [w, m] : reports) tier_of[w] = m.tier;
  double cross = 0;
  for (const auto& [w, m] : reports)
    for (const auto& l : m.links)
      if (!l.tier.empty() && l.tier != m.tier) cross += static_cast<double>(l.payload_bytes);
  double predicted_total = predicted_kibps * 1024 * static_cast<double>(kCount) / 40;
  double ratio = cross / predicted_total;
  EXPECT_NEAR(ratio, 1.0, 0.05);
  auto latest = GetWorkflow(c);  // kept: `o` refers into it
  ASSERT_TRUE(latest && latest->status.observed);
  const auto& o = *latest->status.observed;
  std::printf(
      "[ VQA e2e ] SLOMet=True %.1f s after the daemon started; over %d windows min throughput %.2f items/s (plan 40); "
      "latency p50 %.1f ms p99 %.1f ms; delivered %lld/%lld, drops %lld; cross-tier bytes / plan = %.4f (worst window %.2f%%); "
      "live cost %.4f $/h vs plan %.4f\n",
      slo_met_s, samples, min_tp, o.latency_p50_ms, o.latency_p99_ms, static_cast<long long>(t.delivered), static_cast<long long>(kCount),
      static_cast<long long>(t.drops), ratio, 100 * worst_bytes, o.live_cost_per_hour, wf->status.plan->cost.total_per_hour);
  EXPECT_EQ(d.Stop(), 0);
  // --stop-workers-on-exit: nothing is left running.
  EXPECT_TRUE(Reports(state).empty() || !fs::exists(state / "workers/vqa"));
}

TEST(DataPlane, KilledWorkerIsRestartedAndEveryItemArrivesOnce) {
  constexpr int64_t kCount = 40 * 25;
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  Daemon d(state, {}, {"--manifest-dir", VqaWithCount(dir.path(), kCount).string(), "--stop-workers-on-exit"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  ASSERT_TRUE(WaitFor([&] { return Sum(Reports(state)).delivered >= 200; }, 40s));
  // The cloud GPU node hosts SpeechRecognition and VQA for most keys.
  fs::path pidfile = state / "workers/vqa/workflow-compute-gpu-1.pid";
  long pid = std::atol(testing::ReadFile(pidfile).c_str());
  ASSERT_GT(pid, 0);
  auto killed = testing::Clock::now();
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] {
    long now = std::atol(testing::ReadFile(pidfile).c_str());
    auto r = Reports(state);
    return now > 0 && now != pid && r.count("workflow-compute-gpu-1") && r["workflow-compute-gpu-1"].pid == now;
  }, 20s)) << "the worker was not restarted";
  double restart_s = std::chrono::duration<double>(testing::Clock::now() - killed).count();
  ASSERT_TRUE(WaitFor([&] { return Sum(Reports(state)).acked_min == kCount; }, 60s)) << "items were lost";
  Totals t = Sum(Reports(state));
  EXPECT_EQ(t.delivered, kCount);  // exactly once at the sink
  EXPECT_EQ(t.drops, 0);
  EXPECT_GT(t.resent, 0);
  auto wf = GetWorkflow(c);
  ASSERT_TRUE(WaitFor([&] { wf = GetWorkflow(c); return wf && wf->status.observed && wf->status.observed->restarts >= 1; }, 10s));
  std::printf("[ SIGKILL ] worker back and reporting %.2f s after the kill; %lld re-sent, %lld duplicates discarded, delivered %lld/%lld\n",
              restart_s, static_cast<long long>(t.resent), static_cast<long long>(t.duplicates), static_cast<long long>(t.delivered),
              static_cast<long long>(kCount));
}

TEST(DataPlane, ARestartedDaemonReadoptsItsWorkersAndDeleteStopsThem) {
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  fs::path manifests = VqaWithCount(dir.path(), 40 * 600);
  std::map<std::string, int64_t> pids;
  {
    Daemon d(state, {}, {"--manifest-dir", manifests.string()});
    HttpClientOptions c;
    ASSERT_TRUE(d.WaitReady(&c));
    ASSERT_TRUE(WaitFor([&] { auto wf = GetWorkflow(c); return wf && ConditionOf(*wf, "Ready") == "True"; }, 30s));
    for (const auto& [w, m] : Reports(state)) pids[w] = m.pid;
    ASSERT_EQ(pids.size(), 6u);
    d.KeepWorkers();
    d.Signal(SIGKILL);  // the daemon dies; its workers keep serving
  }
  int64_t before = Sum(Reports(state)).delivered;
  Daemon d(state, {}, {"--manifest-dir", manifests.string()});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  ASSERT_TRUE(WaitFor([&] { auto wf = GetWorkflow(c); return wf && ConditionOf(*wf, "Ready") == "True"; }, 30s));
  std::this_thread::sleep_for(1s);
  for (const auto& [w, m] : Reports(state)) EXPECT_EQ(m.pid, pids[w]) << w << " was restarted instead of re-adopted";
  EXPECT_GT(Sum(Reports(state)).delivered, before);  // traffic kept flowing
  auto del = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " delete workflow vqa 2>&1");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& [w, pid] : pids)
      if (::kill(static_cast<pid_t>(pid), 0) == 0 && testing::ReadFile("/proc/" + std::to_string(pid) + "/cmdline").find("jellybean-worker") != std::string::npos)
        return false;
    return true;
  }, 20s)) << "workers survived the delete";
}

}  // namespace
}  // namespace jb
