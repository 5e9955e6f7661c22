// End-to-end data-plane tests: the real jellybeand with the local driver runs the VQA example as
// jellybean-worker processes (emulated runtime), and the tests check delivery, throughput,
// cross-tier bytes, restarts and re-adoption from the workers' own reports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "api/worker_config.h"
#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"
#include "tests/test_util.h"
#include "worker/durable_state.h"

namespace jb {
namespace {

using testing::ConditionOf;
using testing::Daemon;
using testing::GetObject;
using testing::GetWorkflow;
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
  ASSERT_TRUE(WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        return wf && ConditionOf(*wf, "SLOMet") == "True";
      },
      40s))
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
  ASSERT_TRUE(WaitFor([&] { return AllDelivered(Sum(Reports(state)), kCount); }, 40s))
      << "sources never fully acknowledged";
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
      "latency p50 %.1f ms p99 %.1f ms; delivered %lld/%lld, drops %lld; cross-tier bytes / plan = %.4f (worst window "
      "%.2f%%); "
      "live cost %.4f $/h vs plan %.4f\n",
      slo_met_s, samples, min_tp, o.latency_p50_ms, o.latency_p99_ms, static_cast<long long>(t.delivered),
      static_cast<long long>(kCount), static_cast<long long>(t.drops), ratio, 100 * worst_bytes, o.live_cost_per_hour,
      wf->status.plan->cost.total_per_hour);
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
  ASSERT_TRUE(WaitFor(
      [&] {
        long now = std::atol(testing::ReadFile(pidfile).c_str());
        auto r = Reports(state);
        return now > 0 && now != pid && r.count("workflow-compute-gpu-1") && r["workflow-compute-gpu-1"].pid == now;
      },
      20s))
      << "the worker was not restarted";
  double restart_s = std::chrono::duration<double>(testing::Clock::now() - killed).count();
  ASSERT_TRUE(WaitFor([&] { return AllDelivered(Sum(Reports(state)), kCount); }, 60s)) << "items were lost";
  Totals t = Sum(Reports(state));
  EXPECT_EQ(t.delivered, kCount);  // exactly once at the sink
  EXPECT_EQ(t.drops, 0);
  EXPECT_GT(t.resent, 0);
  auto wf = GetWorkflow(c);
  ASSERT_TRUE(WaitFor(
      [&] {
        wf = GetWorkflow(c);
        return wf && wf->status.observed && wf->status.observed->restarts >= 1;
      },
      10s));
  std::printf(
      "[ SIGKILL ] worker back and reporting %.2f s after the kill; %lld re-sent, %lld duplicates discarded, delivered "
      "%lld/%lld\n",
      restart_s, static_cast<long long>(t.resent), static_cast<long long>(t.duplicates),
      static_cast<long long>(t.delivered), static_cast<long long>(kCount));
}

// Kills a random worker (io workers included) every few seconds under load, then checks every
// request end to end in the sink's delivery record: each request identity at most once, joined
// from both sources, and nothing missing that a source process emitted — except what a killed
// source process took with it (worker/worker.h, "The guarantee"). Regression: a
// restarted io worker numbered its requests from 1 again and the joins downstream discarded every
// new request as a repeat of an old one (throughput 0 until the numbers passed the old ones).
TEST(DataPlane, RandomWorkersKilledUnderLoadLoseAndDiscardNoRequest) {
  uint64_t seed = 14;
  if (const char* e = std::getenv("JB_CHAOS_SEED")) seed = std::strtoull(e, nullptr, 10);
  std::mt19937_64 rng(seed);
  constexpr int kKills = 8;
  constexpr auto kEvery = 4s;
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  fs::path workers = state / "workers/vqa";
  Daemon d(state, {}, {"--stop-workers-on-exit"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  std::string why;
  ASSERT_TRUE(testing::ApplyVqaObjects(c, testing::WorkflowYaml(40, testing::kMany), &why)) << why;
  ASSERT_TRUE(WaitFor([&] { return Sum(Reports(state)).delivered >= 200; }, 40s));

  // The last report of every source process (by pid): the range of request numbers it emitted.
  struct Emitted {
    int64_t first_seq = 0, items_out = 0;
  };
  std::map<int64_t, Emitted> emitted;
  auto observe = [&] {
    auto reports = Reports(state);
    for (const auto& [w, m] : reports) {
      int64_t both = -1;  // a request is emitted once both of its sources have emitted it
      for (const auto& in : m.instances)
        if (in.kind == "source") {
          emitted[m.pid].first_seq = in.first_seq;
          both = both < 0 ? in.items_out : std::min(both, in.items_out);
        }
      if (both >= 0) emitted[m.pid].items_out = std::max(emitted[m.pid].items_out, both);
    }
    return reports;
  };
  auto pid_of = [&](const std::string& w) { return std::atol(testing::ReadFile(workers / (w + ".pid")).c_str()); };
  auto all_reporting = [&] {
    auto r = observe();
    if (r.size() != 6) return false;
    for (const auto& [w, m] : r)
      if (m.pid != pid_of(w)) return false;
    return true;
  };

  // Every worker has reported at least once (a worker's first metrics file can come after the
  // first 200 deliveries).
  ASSERT_TRUE(WaitFor(all_reporting, 30s)) << Reports(state).size() << " of 6 workers reporting";
  std::vector<std::string> names;
  for (const auto& [w, m] : observe()) names.push_back(w);
  ASSERT_EQ(names.size(), 6u);
  ASSERT_TRUE(std::count(names.begin(), names.end(), "io-edge"));
  std::vector<std::string> victims;
  for (int i = 0; i < kKills; ++i) victims.push_back(names[rng() % names.size()]);
  if (std::count(victims.begin(), victims.end(), "io-edge") < 2)
    victims[1] = victims[5] = "io-edge";  // io at least twice
  std::string plan;
  for (const auto& v : victims) plan += " " + v;
  std::printf("[ chaos ] seed %llu (JB_CHAOS_SEED): SIGKILL every %lld s:%s\n", static_cast<unsigned long long>(seed),
              static_cast<long long>(kEvery.count()), plan.c_str());

  // After an io-edge kill: seconds until the new process's first own request is recorded.
  testing::Clock::time_point io_killed{};
  bool io_waiting = false;
  long io_killed_pid = 0;
  std::vector<double> io_recovery_s;
  auto check_recovery = [&](const std::map<std::string, WorkerMetrics>& r) {
    auto io = r.find("io-edge");
    if (!io_waiting || io == r.end() || io->second.pid == io_killed_pid) return;
    int64_t first = 0;
    for (const auto& in : io->second.instances)
      if (in.kind == "source") first = in.first_seq;
    std::istringstream in(testing::ReadFile(workers / "io-edge.delivered"));
    for (std::string line; std::getline(in, line);) {
      DeliveryRecord::Entry e;
      if (first > 0 && DeliveryRecord::ParseLine(line, &e) && static_cast<int64_t>(e.seq) >= first) {
        io_recovery_s.push_back(std::chrono::duration<double>(testing::Clock::now() - io_killed).count());
        io_waiting = false;
        return;
      }
    }
  };
  int io_kills = 0;
  for (const auto& victim : victims) {
    auto next = testing::Clock::now() + kEvery;
    ASSERT_TRUE(WaitFor(all_reporting, 30s)) << "a killed worker did not come back";
    long pid = pid_of(victim);
    ASSERT_GT(pid, 0);
    ASSERT_NE(testing::ReadFile("/proc/" + std::to_string(pid) + "/cmdline").find("jellybean-worker"),
              std::string::npos);
    observe();
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
    if (victim == "io-edge") {
      ++io_kills;
      io_killed = testing::Clock::now();
      io_waiting = true;
      io_killed_pid = pid;
    }
    while (testing::Clock::now() < next) {
      check_recovery(observe());
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(WaitFor(all_reporting, 30s)) << "a killed worker did not come back";

  // End the run: the surviving source process emits `count` requests in all, every one of which
  // must be recorded once.
  int64_t count = testing::StopSourcesSoon(c, state);
  ASSERT_GT(count, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        observe();
        return Sum(Reports(state)).acked_min == count;
      },
      60s))
      << "the last source process's requests were not all acknowledged: " << Sum(Reports(state)).acked_min << "/"
      << count << ", " << Sum(Reports(state)).duplicates << " discarded as duplicates";
  auto reports = observe();
  int64_t final_pid = reports["io-edge"].pid;

  // The record: every line is one delivered request.
  std::map<std::pair<std::string, uint64_t>, int> seen;
  std::map<int64_t, int64_t> lines_by_sink_pid;
  int64_t repeats = 0, partial = 0;
  for (const char* f : {"io-edge.delivered.1", "io-edge.delivered"}) {
    std::istringstream in(testing::ReadFile(workers / f));
    for (std::string line; std::getline(in, line);) {
      DeliveryRecord::Entry e;
      ASSERT_TRUE(DeliveryRecord::ParseLine(line, &e)) << line;
      if (++seen[{e.source, e.seq}] > 1) ++repeats;
      if (e.source != "ReadImage+ReadSpeech") ++partial;
      ++lines_by_sink_pid[e.pid];
    }
  }
  auto recorded = [&](int64_t seq) { return seen.count({"ReadImage+ReadSpeech", static_cast<uint64_t>(seq)}) != 0; };
  EXPECT_EQ(repeats, 0) << "requests recorded twice";
  EXPECT_EQ(partial, 0) << "requests recorded without both parts";
  // The surviving source process: everything, once.
  const Emitted& last = emitted[final_pid];
  EXPECT_EQ(last.items_out, count);
  int64_t missing_last = 0;
  for (int64_t s = last.first_seq; s < last.first_seq + count; ++s) missing_last += recorded(s) ? 0 : 1;
  EXPECT_EQ(missing_last, 0) << "requests of the running source process never arrived (discarded or lost)";
  // Killed source processes: at most what each held when it died (a few requests at 40/s).
  int64_t missing_dead = 0, emitted_dead = 0;
  for (const auto& [pid, e] : emitted) {
    if (pid == final_pid) continue;
    emitted_dead += e.items_out;
    for (int64_t s = e.first_seq; s < e.first_seq + e.items_out; ++s) missing_dead += recorded(s) ? 0 : 1;
  }
  EXPECT_LE(missing_dead, 40 * io_kills) << "more lost than the killed source processes could have held";
  // The counters tell the same story as the record, and the status shows them.
  // The sink rewrites its report once per metrics interval, so it may lag its record by one.
  int64_t sink_out = 0, duplicates = 0, drops = 0;
  auto count_reports = [&] {
    sink_out = duplicates = drops = 0;
    for (const auto& [w, m] : reports)
      for (const auto& in : m.instances) {
        if (in.kind == "sink") sink_out += in.items_out;
        duplicates += in.duplicates;
        for (const auto& [r, n] : in.dropped) drops += n;
      }
    return sink_out == lines_by_sink_pid[final_pid];
  };
  EXPECT_TRUE(WaitFor([&] { return count_reports() || (reports = observe(), count_reports()); }, 10s))
      << "the sink's delivered count differs from its record: " << sink_out << " vs " << lines_by_sink_pid[final_pid];
  std::optional<Workflow> wf;
  EXPECT_TRUE(WaitFor(
      [&] {
        wf = GetWorkflow(c);
        return wf && wf->status.observed && wf->status.observed->delivered == sink_out &&
               wf->status.observed->duplicates == duplicates && wf->status.observed->dropped == drops;
      },
      10s))
      << "the status does not show the workers' counts";
  std::string recovery;
  for (double r : io_recovery_s) recovery += (recovery.empty() ? "" : ", ") + std::to_string(r).substr(0, 4) + " s";
  std::printf("[ chaos ] after an io-edge kill, the new source process's first request was recorded %s later\n",
              recovery.empty() ? "(not within the 4 s before the next kill)" : recovery.c_str());
  std::printf(
      "[ chaos ] %d kills (%d of io-edge): %zu requests recorded, none twice; last source process %lld/%lld; killed "
      "source processes emitted %lld, %lld of them lost with them; %lld duplicates discarded, %lld dropped (current "
      "processes)\n",
      kKills, io_kills, seen.size(), static_cast<long long>(count - missing_last), static_cast<long long>(count),
      static_cast<long long>(emitted_dead), static_cast<long long>(missing_dead), static_cast<long long>(duplicates),
      static_cast<long long>(drops));
}

TEST(DataPlane, ARestartedDaemonReadoptsItsWorkersAndDeleteStopsThem) {
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  fs::path manifests = VqaWithCount(dir.path(), 40 * 600);
  std::map<std::string, int64_t> pids;
  {
    Daemon d(state, {}, {"--manifest-dir", manifests.string()});
    HttpClientOptions c;
    pids = WaitVqaReadyWorkerPids(d, state, &c);
    ASSERT_EQ(pids.size(), 6u);
    d.KeepWorkers();
    d.Signal(SIGKILL);  // the daemon dies; its workers keep serving
  }
  int64_t before = Sum(Reports(state)).delivered;
  Daemon d(state, {}, {"--manifest-dir", manifests.string()});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        return wf && ConditionOf(*wf, "Ready") == "True";
      },
      30s));
  // Traffic keeps flowing through the same processes.
  EXPECT_TRUE(WaitFor([&] { return Sum(Reports(state)).delivered > before; }, 30s))
      << "no item delivered after the restart";
  for (const auto& [w, m] : Reports(state)) EXPECT_EQ(m.pid, pids[w]) << w << " was restarted instead of re-adopted";
  auto del = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " delete workflow vqa 2>&1");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& [w, pid] : pids)
          if (::kill(static_cast<pid_t>(pid), 0) == 0 &&
              testing::ReadFile("/proc/" + std::to_string(pid) + "/cmdline").find("jellybean-worker") !=
                  std::string::npos)
            return false;
        return true;
      },
      20s))
      << "workers survived the delete";
}

}  // namespace
}  // namespace jb
