// bench_autonomy (#22): in the three-tier lab (testing/three_tier_lab.h), a compute device (dev-b)
// cut off in two ways, side by side:
//   control cut   only its agent's connection to the daemon (TCP 17443 dropped on its eth0): the
//                 time until the Workflow shows ControlLinkLost for it, and after healing until
//                 the condition clears with every worker ready (the same epoch: no rollout);
//   data loss     every packet of the device (netlab.sh partition): the time until it is left out
//                 (status.unavailableNodes) and until a plan without it serves, and after healing
//                 until it is back in a serving plan.
//   bench_autonomy [RUNS] [CUT_SECONDS]   (defaults 1 and 15; needs root for the network namespaces)
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/format.h"
#include "testing/three_tier_lab.h"

using namespace jb;
using namespace jb::testing;

namespace {

struct Figures {
  double detect_s = -1;    // cut -> the daemon shows it (ControlLinkLost / node left out)
  double restored_s = -1;  // data loss only: cut -> a plan without the device serves
  double converge_s = -1;  // heal -> back to normal
  bool replanned = false;  // a new epoch during the cut
};

std::string InRoot(ThreeTierLab& lab, const std::string& cmd) {
  if (::setns(lab.root_ns_, CLONE_NEWNET) != 0) return "setns failed";
  auto r = Run(cmd + " 2>&1");
  lab.EnterHost1();
  return r.exit_code == 0 ? "" : r.output;
}

Figures ControlCut(ThreeTierLab& lab, std::chrono::seconds cut) {
  Figures f;
  auto wf = lab.Get();
  if (!wf) return f;
  const int64_t epoch = wf->status.plan_epoch.value_or(0);
  const auto file = lab.dir_.path() / "cut.nft";
  std::ofstream(file)
      << "table inet jbcut {\n  chain in { type filter hook input priority 0; iifname \"eth0\" tcp sport "
         "17443 drop; }\n  chain out { type filter hook output priority 0; oifname \"eth0\" tcp dport "
         "17443 drop; }\n}\n";
  const std::string ns = "/usr/sbin/ip netns exec " + lab.prefix_ + "-h4 ";
  if (auto e = InRoot(lab, ns + "nft -f " + file.string()); !e.empty()) {
    std::fprintf(stderr, "nft: %s\n", e.c_str());
    return f;
  }
  const auto t0 = Clock::now();
  auto lost = [&] {
    wf = lab.Get();
    return wf && ThreeTierLab::Cond(*wf, "ControlLinkLost").rfind("True", 0) == 0;
  };
  if (WaitFor(lost, cut)) f.detect_s = Since(t0);
  (void)WaitFor(
      [&] {
        wf = lab.Get();
        f.replanned |= wf && wf->status.plan_epoch.value_or(0) != epoch;
        return false;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(cut - (Clock::now() - t0)));
  (void)InRoot(lab, ns + "nft delete table inet jbcut");
  const auto th = Clock::now();
  if (WaitFor([&] { return lab.Serving(&wf) && !lost(); }, 60s)) f.converge_s = Since(th);
  return f;
}

Figures DataLoss(ThreeTierLab& lab) {
  Figures f;
  auto wf = lab.Get();
  if (!wf) return f;
  const int64_t epoch = wf->status.plan_epoch.value_or(0);
  if (!lab.LabCmd("partition " + lab.prefix_ + " 4").empty()) return f;
  const auto t0 = Clock::now();
  if (WaitFor(
          [&] {
            wf = lab.Get();
            if (!wf) return false;
            for (const auto& o : wf->status.unavailable_nodes)
              if (o.node == "dev-b") return true;
            return false;
          },
          60s))
    f.detect_s = Since(t0);
  if (WaitFor(
          [&] {
            return lab.Serving(&wf) && wf->status.plan_epoch.value_or(0) > epoch && !ThreeTierLab::Uses(*wf, "dev-b");
          },
          60s))
    f.restored_s = Since(t0);
  f.replanned = wf && wf->status.plan_epoch.value_or(0) > epoch;
  const int64_t without = wf ? wf->status.plan_epoch.value_or(0) : epoch;
  (void)lab.LabCmd("heal " + lab.prefix_ + " 4");
  const auto th = Clock::now();
  if (WaitFor(
          [&] {
            return lab.Serving(&wf) && wf->status.plan_epoch.value_or(0) > without && ThreeTierLab::Uses(*wf, "dev-b");
          },
          90s))
    f.converge_s = Since(th);
  return f;
}

std::string S(double s) { return s < 0 ? "  n/a" : FormatFixed(s, 1); }

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  const auto cut = std::chrono::seconds(argc > 2 ? std::max(5, std::atoi(argv[2])) : 15);
  std::printf("%-4s %-13s %10s %12s %12s %10s\n", "run", "cut", "detect s", "restored s", "converge s", "re-plan");
  for (int run = 1; run <= runs; ++run) {
    ThreeTierLab lab;
    if (auto why = lab.Up(); !why.empty()) {
      std::fprintf(stderr, "bench_autonomy: %s\n", why.c_str());
      return 77;
    }
    if (!lab.StartDaemon()) return 1;
    lab.StartAgent(3, "dev-a");
    lab.StartAgent(4, "dev-b");
    std::string why;
    if (lab.ApplyAndWaitServing(false, 90s, &why) < 0) {
      std::fprintf(stderr, "bench_autonomy: not serving: %s\n", why.c_str());
      return 1;
    }
    const Figures c = ControlCut(lab, cut);
    const Figures d = DataLoss(lab);
    std::printf("%-4d %-13s %10s %12s %12s %10s\n", run, "control only", S(c.detect_s).c_str(), "(kept)",
                S(c.converge_s).c_str(), c.replanned ? "yes" : "no");
    std::printf("%-4d %-13s %10s %12s %12s %10s\n", run, "data path", S(d.detect_s).c_str(), S(d.restored_s).c_str(),
                S(d.converge_s).c_str(), d.replanned ? "yes" : "no");
  }
  return 0;
}
