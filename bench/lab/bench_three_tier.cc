// bench_three_tier: in the three-tier lab (testing/three_tier_lab.h), the time from
// applying the lab workflow to serving it across the three remote drivers (agent devices, ssh edge,
// a hook-created cloud VM), and from a device partition to restored throughput, each beside its
// baseline measured in the same run: the same workflow and the same hosts' daemon with every tier
// on the local driver (cold deployment; and a device's worker frozen with SIGSTOP, which the local
// driver sees as a missed heartbeat).
//   bench_three_tier [RUNS]     (default 1; needs root for the network namespaces)
#include <signal.h>

#include <cstdio>

#include "testing/three_tier_lab.h"

using namespace jb;
using namespace jb::testing;

namespace {

struct Figures {
  double apply_s = -1, partition_s = -1;
};

// Waits for a new epoch without `node` that serves again; seconds from `t0`, or -1.
double RestoredWithout(ThreeTierLab& lab, int64_t epoch, const std::string& node, Clock::time_point t0) {
  std::optional<Workflow> wf;
  bool ok = WaitFor(
      [&] { return lab.Serving(&wf) && wf->status.plan_epoch.value_or(0) > epoch && !ThreeTierLab::Uses(*wf, node); },
      90s);
  return ok ? Since(t0) : -1;
}

Figures Local(ThreeTierLab& lab, int run) {
  Figures f;
  std::string why;
  if (!lab.StartDaemon("local-" + std::to_string(run))) return f;
  f.apply_s = lab.ApplyAndWaitServing(true, 90s, &why);
  if (f.apply_s < 0) {
    std::fprintf(stderr, "local: %s\n", why.c_str());
    return f;
  }
  auto wf = lab.Get();
  pid_t frozen = -1;
  for (const auto& e : std::filesystem::recursive_directory_iterator(lab.state_ / "workers"))
    if (e.path().filename() == "dev-b.pid") frozen = static_cast<pid_t>(std::atol(ReadFile(e.path()).c_str()));
  if (frozen <= 0 || !wf) return f;
  auto t0 = Clock::now();
  ::kill(frozen, SIGSTOP);
  f.partition_s = RestoredWithout(lab, wf->status.plan_epoch.value_or(0), "dev-b", t0);
  ::kill(frozen, SIGCONT);
  (void)HttpCall(lab.c_, "DELETE", kApi + "workflows/lab-pipeline");
  WaitFor([&] { return !lab.Get(); }, 30s);
  lab.daemon_.reset();
  return f;
}

Figures Remote(ThreeTierLab& lab, int run) {
  Figures f;
  std::string why;
  if (!lab.StartDaemon("remote-" + std::to_string(run))) return f;
  for (pid_t p : lab.agents_) ::kill(p, SIGTERM);  // they stop their workers
  for (pid_t p : lab.agents_) ::waitpid(p, nullptr, 0);
  lab.agents_.clear();
  std::error_code ec;
  std::filesystem::remove_all(lab.dir_.path() / "agent-dev-a", ec);  // register with this daemon's CA
  std::filesystem::remove_all(lab.dir_.path() / "agent-dev-b", ec);
  lab.StartAgent(3, "dev-a");
  lab.StartAgent(4, "dev-b");
  f.apply_s = lab.ApplyAndWaitServing(false, 120s, &why);
  if (f.apply_s < 0) {
    std::fprintf(stderr, "remote: %s\n", why.c_str());
    return f;
  }
  auto wf = lab.Get();
  auto t0 = Clock::now();
  if (!lab.LabCmd("partition " + lab.prefix_ + " 4").empty() || !wf) return f;
  f.partition_s = RestoredWithout(lab, wf->status.plan_epoch.value_or(0), "dev-b", t0);
  lab.LabCmd("heal " + lab.prefix_ + " 4");
  (void)HttpCall(lab.c_, "DELETE", kApi + "workflows/lab-pipeline");
  WaitFor([&] { return lab.Vms().empty(); }, 60s);
  lab.daemon_.reset();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  ThreeTierLab lab;
  std::string why = lab.Up();
  if (!why.empty()) {
    std::printf("bench_three_tier: skipped: %s\n", why.c_str());
    return 0;
  }
  std::printf("three-tier lab, tests/lab/three-tier/ (20 items/s; node grace 2 s; agent heartbeat grace 3 s)\n");
  std::printf("%-4s %-34s %12s %12s %8s\n", "run", "figure", "local (s)", "remote (s)", "ratio");
  for (int r = 1; r <= runs; ++r) {
    Figures l = Local(lab, r);
    Figures m = Remote(lab, r);
    std::printf("%-4d %-34s %12.2f %12.2f %8.2f\n", r, "apply -> serving", l.apply_s, m.apply_s, m.apply_s / l.apply_s);
    std::printf("%-4d %-34s %12.2f %12.2f %8.2f\n", r, "device lost -> throughput restored", l.partition_s,
                m.partition_s, m.partition_s / l.partition_s);
    std::fflush(stdout);
  }
  return 0;
}
