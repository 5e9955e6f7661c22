// Edge autonomy in the three-tier lab (#22): cutting only a site's control link (an nftables rule
// dropping the agent's connection to the daemon, or the daemon's ssh to the edge host) while every
// worker-to-worker path stays open, under load, for (a) a compute device, (b) the device hosting
// the io worker (source and sink), (c) the ssh edge host: no re-plan (the epoch stays), the
// Workflow shows ControlLinkLost, the throughput is reported truthfully (the sink's own figure,
// or relayed from the items its worker acknowledged) or Unknown — never a made-up 0 — nothing is
// dropped; healed, the site is back within seconds with no rollout. (d) A control cut of the io
// device that coincides with a needed re-plan (its price rises during the cut, so the cheapest
// plan moves its Detect share away, and its io worker needs new routes it cannot receive yet):
// the plan is adopted during the cut and converges once the link returns (rollout complete, every
// live worker at the new epoch, Ready and SLOMet True, nothing lost or counted twice). Then a real
// loss (a device's data ports cut too) still re-plans. Needs root; skips otherwise. Bounded: ~3.5 min.
#include <gtest/gtest.h>

#include <map>

#include "testing/three_tier_lab.h"

namespace jb {
namespace {

using namespace jb::testing;

class Autonomy : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = lab_.Up();
    if (!why.empty()) GTEST_SKIP() << why;
  }
  // A failed run keeps the daemon's and the agents' logs (the lab's directory goes with the test).
  void TearDown() override {
    if ((!HasFailure() && std::getenv("JB_LAB_KEEP_LOGS") == nullptr) || lab_.prefix_.empty()) return;
    const auto keep = std::filesystem::temp_directory_path() / ("jb-autonomy-" + lab_.prefix_);
    std::error_code ec;
    std::filesystem::create_directories(keep, ec);
    for (const auto& f : std::filesystem::directory_iterator(lab_.dir_.path(), ec))
      if (f.path().extension() == ".log") std::filesystem::copy_file(f.path(), keep / f.path().filename(), ec);
    std::printf("[ lab ] logs kept in %s\n", keep.c_str());
  }
  // Drops TCP `port` (either direction) on host k's eth0: its control link only.
  std::string CutPort(int k, int port) {
    const std::string rules =
        "table inet jbcut {\n  chain in { type filter hook input priority 0; iifname \"eth0\" tcp "
        "sport " +
        std::to_string(port) + " drop; iifname \"eth0\" tcp dport " + std::to_string(port) +
        " drop; }\n  chain out { type filter hook output priority 0; oifname \"eth0\" tcp dport " +
        std::to_string(port) + " drop; oifname \"eth0\" tcp sport " + std::to_string(port) + " drop; }\n}\n";
    const auto file = lab_.dir_.path() / ("cut-h" + std::to_string(k) + ".nft");
    std::ofstream(file) << rules;
    return InRoot("/usr/sbin/ip netns exec " + lab_.prefix_ + "-h" + std::to_string(k) + " nft -f " + file.string());
  }
  std::string HealPort(int k) {
    return InRoot("/usr/sbin/ip netns exec " + lab_.prefix_ + "-h" + std::to_string(k) +
                  " nft delete table inet jbcut");
  }
  std::string InRoot(const std::string& cmd) {
    if (::setns(lab_.root_ns_, CLONE_NEWNET) != 0) return "setns failed";
    auto r = jb::testing::Run(cmd + " 2>&1");
    lab_.EnterHost1();
    return r.exit_code == 0 ? "" : r.output;
  }

  // One control cut of `node` (host k, port) for `cut_s`: what is checked, and the times printed.
  void ControlCut(const std::string& label, const std::string& node, int k, int port, std::chrono::seconds cut_s) {
    auto wf = lab_.Get();
    ASSERT_TRUE(wf && wf->status.plan);
    const int64_t epoch = wf->status.plan_epoch.value_or(0);
    ASSERT_EQ(CutPort(k, port), "");
    const auto t0 = Clock::now();
    double shown_s = -1;
    int samples = 0, unknown = 0, relayed = 0;
    std::string seen_time, bad;
    // Sample every new observation for the length of the cut (the predicate never ends it early).
    (void)WaitFor(
        [&] {
          wf = lab_.Get();
          if (!wf || !wf->status.observed || wf->status.observed->time == seen_time) return false;
          const auto& o = *wf->status.observed;
          seen_time = o.time;
          ++samples;
          if (wf->status.plan_epoch.value_or(0) != epoch)
            bad +=
                "re-planned (epoch " + std::to_string(epoch) + " -> " + std::to_string(*wf->status.plan_epoch) + "); ";
          if (wf->status.rollout) bad += "a rollout started; ";
          if (shown_s < 0 && ThreeTierLab::Cond(*wf, "ControlLinkLost").rfind("True", 0) == 0 &&
              ThreeTierLab::Cond(*wf, "ControlLinkLost").find(node) != std::string::npos)
            shown_s = Since(t0);
          const bool t_unknown = FindUnknownFigure(o, "throughput") != nullptr;
          unknown += t_unknown;
          relayed += !o.throughput_source.empty();
          // Truthful: the sink delivers the planned ~20 items/s throughout (its data path is open).
          if (!t_unknown && o.throughput_complete && o.throughput < 0.7 * o.expected_throughput && Since(t0) > 2)
            bad += "throughput " + std::to_string(o.throughput) + " reported as observed at " +
                   std::to_string(Since(t0)) + " s; ";
          if (o.dropped > 0) bad += "dropped " + std::to_string(o.dropped) + "; ";
          return false;
        },
        cut_s);
    EXPECT_TRUE(bad.empty()) << label << ": " << bad;
    EXPECT_GT(shown_s, 0) << label << ": ControlLinkLost never showed " << node << "\n"
                          << (wf ? ThreeTierLab::Cond(*wf, "ControlLinkLost") : "");
    ASSERT_EQ(HealPort(k), "");
    const auto th = Clock::now();
    // Back to normal: every worker ready and serving, ControlLinkLost no longer True, same epoch.
    EXPECT_TRUE(WaitFor(
        [&] {
          return lab_.Serving(&wf) && ThreeTierLab::Cond(*wf, "ControlLinkLost").rfind("True", 0) != 0 &&
                 !FindUnknownFigure(*wf->status.observed, "throughput");
        },
        20s))
        << label << ": "
        << (wf ? ThreeTierLab::Cond(*wf, "ControlLinkLost") + " / " + ThreeTierLab::Cond(*wf, "Ready") : "");
    const double back_s = Since(th);
    ASSERT_TRUE(wf);
    EXPECT_EQ(wf->status.plan_epoch.value_or(0), epoch) << label << ": re-planned after the cut";
    EXPECT_FALSE(wf->status.rollout) << label;
    std::printf(
        "[ lab ] control cut of %s (%s, %lld s): ControlLinkLost shown after %.1f s, epoch %lld kept, %d observations "
        "(%d throughput Unknown, %d relayed from peers); healed -> normal in %.1f s, no rollout\n",
        node.c_str(), label.c_str(), static_cast<long long>(cut_s.count()), shown_s, static_cast<long long>(epoch),
        samples, unknown, relayed, back_s);
  }

  // The plan epoch of every worker process of the workflow that is alive, by worker name, from
  // their metrics files (shared disk and pid space in the lab; a stopped worker's pid is gone).
  std::map<std::string, int64_t> LiveEpochs() {
    std::map<std::string, int64_t> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::recursive_directory_iterator(lab_.dir_.path(), ec)) {
      if (f.path().string().find(".metrics.json") == std::string::npos) continue;
      auto m = ParseWorkerMetrics(ReadFile(f.path()), f.path().string());
      if (m.ok() && m->workflow == "lab-pipeline" && m->pid > 0 && ::kill(static_cast<pid_t>(m->pid), 0) == 0)
        out[m->worker] = m->epoch;
    }
    return out;
  }
  static std::string Show(const std::map<std::string, int64_t>& epochs) {
    std::string s;
    for (const auto& [w, e] : epochs) s += " " + w + "@" + std::to_string(e);
    return s;
  }

  // (d) dev-a (the io device) cut off from the daemon, and its price raised 0.01 -> 1 $/h during the
  // cut: the cheapest plan moves Detect off dev-a (to dev-b and the edge), so the io worker there
  // needs new routes and its Detect worker must stop, neither of which can reach it until the link
  // returns. The new plan is adopted during the cut; healed, its rollout completes.
  void ReplanDuringCut(std::chrono::seconds cut_s) {
    auto wf = lab_.Get();
    ASSERT_TRUE(wf && wf->status.plan && ThreeTierLab::Uses(*wf, "dev-a"));
    const int64_t epoch = wf->status.plan_epoch.value_or(0), emitted0 = wf->status.observed->emitted;
    const double cost0 = wf->status.plan->cost.total_per_hour;
    ASSERT_EQ(CutPort(3, 17443), "");
    const auto t0 = Clock::now();
    // The price changes once the cut is seen (ControlLinkLost names dev-a), so the re-plan meets it.
    ASSERT_TRUE(WaitFor(
        [&] {
          wf = lab_.Get();
          return wf && ThreeTierLab::Cond(*wf, "ControlLinkLost").rfind("True", 0) == 0 &&
                 ThreeTierLab::Cond(*wf, "ControlLinkLost").find("dev-a") != std::string::npos;
        },
        15s))
        << (wf ? ThreeTierLab::Cond(*wf, "ControlLinkLost") : "");
    std::string infra = lab_.InfraYaml();
    const std::string from = "{name: dev-a, tier: device, pricePerHour: 0.01,";
    const auto at = infra.find(from);
    ASSERT_NE(at, std::string::npos);
    infra.replace(at, from.size(), "{name: dev-a, tier: device, pricePerHour: 1.0,");
    ASSERT_EQ(lab_.Put("infrastructures/lab-three-tier", infra), "");
    const auto tp = Clock::now();
    // Adopted during the cut, without dev-a's Detect share (the io worker stays there: the camera).
    EXPECT_TRUE(WaitFor([&] { return (wf = lab_.Get()) && wf->status.plan_epoch.value_or(0) > epoch; }, 15s))
        << (wf ? ThreeTierLab::Cond(*wf, "Planned") : "");
    const double adopted_s = Since(tp);
    ASSERT_TRUE(wf && wf->status.plan);
    const int64_t new_epoch = wf->status.plan_epoch.value_or(0);
    const double cost1 = wf->status.plan->cost.total_per_hour;
    EXPECT_FALSE(ThreeTierLab::Uses(*wf, "dev-a")) << "Detect kept on dev-a at 1 $/h";
    // The rest of the cut: no further re-plan, nothing dropped; the rollout waits for dev-a.
    std::string bad, phase;
    (void)WaitFor(
        [&] {
          if (!(wf = lab_.Get())) return false;
          if (wf->status.plan_epoch.value_or(0) != new_epoch)
            bad = "re-planned again (epoch " + std::to_string(*wf->status.plan_epoch) + "); ";
          if (wf->status.observed && wf->status.observed->dropped > 0) bad = "dropped items; ";
          phase = wf->status.rollout ? wf->status.rollout->phase : "none";
          return false;
        },
        std::chrono::duration_cast<std::chrono::milliseconds>(cut_s - (Clock::now() - t0)));
    EXPECT_TRUE(bad.empty()) << bad;
    ASSERT_EQ(HealPort(3), "");
    const auto th = Clock::now();
    // Converged: the rollout complete, Ready and SLOMet True, serving, every live worker at the epoch.
    std::map<std::string, int64_t> epochs;
    EXPECT_TRUE(WaitFor(
        [&] {
          if (!lab_.Serving(&wf) || ThreeTierLab::Cond(*wf, "Ready").rfind("True", 0) != 0 ||
              ThreeTierLab::Cond(*wf, "SLOMet").rfind("True", 0) != 0)
            return false;
          epochs = LiveEpochs();
          for (const auto& [w, e] : epochs)
            if (e != wf->status.plan_epoch.value_or(0)) return false;
          return !epochs.empty();
        },
        60s))
        << (wf ? "epoch " + std::to_string(wf->status.plan_epoch.value_or(0)) + ", rollout " +
                     (wf->status.rollout ? wf->status.rollout->phase : "none") + "\n" +
                     ThreeTierLab::Cond(*wf, "Deployed") + "\n" + ThreeTierLab::Cond(*wf, "Ready") + "\n" +
                     ThreeTierLab::Cond(*wf, "SLOMet") + "\nlive workers:" + Show(LiveEpochs())
               : "");
    const double converged_s = Since(th);
    ASSERT_TRUE(wf);
    EXPECT_EQ(wf->status.plan_epoch.value_or(0), new_epoch) << "re-planned after the heal";
    // Nothing lost or counted twice: the items emitted since the cut reach the sink.
    ASSERT_TRUE(WaitFor(
        [&] {
          wf = lab_.Get();
          const auto& o = *wf->status.observed;
          return o.emitted > emitted0 && o.emitted - o.delivered <= 40;
        },
        15s))
        << wf->status.observed->emitted << " emitted, " << wf->status.observed->delivered << " delivered";
    const auto& o = *wf->status.observed;
    EXPECT_EQ(o.dropped, 0);
    EXPECT_LE(o.delivered, o.emitted) << "a duplicate reached the sink's count";
    std::printf(
        "[ lab ] control cut of dev-a (%lld s) with a price change during it (dev-a 0.01 -> 1 $/h): epoch %lld -> "
        "%lld adopted %.1f s after the change (%.2f -> %.2f $/h, Detect off dev-a), rollout %s at the heal; "
        "healed -> converged (rollout complete, %zu live workers at epoch %lld, Ready, SLOMet) in %.1f s; "
        "%lld emitted, %lld delivered, %lld dropped, %lld repeat(s) discarded\n",
        static_cast<long long>(cut_s.count()), static_cast<long long>(epoch), static_cast<long long>(new_epoch),
        adopted_s, cost0, cost1, phase.c_str(), epochs.size(), static_cast<long long>(new_epoch), converged_s,
        static_cast<long long>(o.emitted), static_cast<long long>(o.delivered), static_cast<long long>(o.dropped),
        static_cast<long long>(o.duplicates));
  }

  ThreeTierLab lab_;
};

TEST_F(Autonomy, ControlCutsKeepThePlanAndStatusTrueARealLossReplans) {
  ASSERT_TRUE(lab_.StartDaemon()) << ReadFile(lab_.dir_.path() / "state.log");
  lab_.StartAgent(3, "dev-a");
  lab_.StartAgent(4, "dev-b");
  std::string why;
  ASSERT_GT(lab_.ApplyAndWaitServing(false, 90s, &why), 0) << why << "\n" << ReadFile(lab_.dir_.path() / "state.log");
  auto wf = lab_.Get();
  ASSERT_TRUE(wf);
  for (const char* n : {"dev-a", "dev-b", "edge-1"}) ASSERT_TRUE(ThreeTierLab::Uses(*wf, n)) << n;
  const int64_t emitted0 = wf->status.observed->emitted;

  ControlCut("(a) compute device, agent port cut", "dev-b", 4, 17443, 30s);
  ControlCut("(b) device hosting the io worker, agent port cut", "dev-a", 3, 17443, 30s);
  ControlCut("(c) ssh edge host, ssh port cut", "edge-1", 2, 2222, 30s);

  // Nothing lost: what the source emitted during the cuts reached the sink (give the last items a
  // moment), and no item was dropped.
  ASSERT_TRUE(WaitFor(
      [&] {
        wf = lab_.Get();
        const auto& o = *wf->status.observed;
        return o.emitted > emitted0 && o.emitted - o.delivered <= 40;
      },
      15s))
      << wf->status.observed->emitted << " emitted, " << wf->status.observed->delivered << " delivered";
  EXPECT_EQ(wf->status.observed->dropped, 0);
  EXPECT_LE(wf->status.observed->delivered, wf->status.observed->emitted) << "a duplicate reached the sink's count";
  std::printf(
      "[ lab ] after the three cuts: %lld emitted, %lld delivered, %lld dropped, %lld repeat(s) discarded\n",
      static_cast<long long>(wf->status.observed->emitted), static_cast<long long>(wf->status.observed->delivered),
      static_cast<long long>(wf->status.observed->dropped), static_cast<long long>(wf->status.observed->duplicates));

  ReplanDuringCut(30s);

  // A real loss: dev-b's data ports cut too (every packet): it is re-planned around as before.
  wf = lab_.Get();
  ASSERT_TRUE(wf && ThreeTierLab::Uses(*wf, "dev-b"));
  const int64_t epoch = wf->status.plan_epoch.value_or(0);
  ASSERT_EQ(lab_.LabCmd("partition " + lab_.prefix_ + " 4"), "");
  const auto tp = Clock::now();
  EXPECT_TRUE(WaitFor(
      [&] {
        wf = lab_.Get();
        return wf && wf->status.plan_epoch.value_or(0) > epoch && !ThreeTierLab::Uses(*wf, "dev-b");
      },
      45s))
      << (wf ? ThreeTierLab::Cond(*wf, "ControlLinkLost") + " / " + ThreeTierLab::Cond(*wf, "Planned") : "");
  std::printf("[ lab ] real loss of dev-b (every port): re-planned without it in %.1f s\n", Since(tp));
  EXPECT_EQ(lab_.LabCmd("heal " + lab_.prefix_ + " 4"), "");
}

}  // namespace
}  // namespace jb
