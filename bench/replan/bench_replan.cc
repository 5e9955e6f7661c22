// Re-planning benchmark: for each trigger kind, the time from the trigger to the new
// plan serving (new routes on every worker of the new epoch, each of which has reported them) and
// the items lost, with VQA running through the real daemon and the local driver (emulated
// runtime). Baseline, same run: a cold deployment (apply to serving) of the same workflow.
//
// Two clocks per row: "serving" is the reconciler's own figure, from the moment it saw the trigger
// (for a node: the missed heartbeat past the grace period; for load: the drift sustained); "wall"
// is the benchmark's, from the moment it caused the change (PUT, SIGSTOP, generator change) to the
// rollout being complete.
// Usage: bench_replan   (about a minute; starts and stops its own jellybeand)
#include <signal.h>

#include <cstdio>
#include <functional>

#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"

namespace jb {
namespace {

using namespace jb::testing;

int Main() {
  TempDir dir;
  fs::path state = dir.path() / "state";
  Daemon d(state, {},
           {"--stop-workers-on-exit", "--replan-min-interval", "0", "--replan-min-saving", "0.02", "--node-grace", "2",
            "--node-retry", "8", "--load-sustain", "3"});
  HttpClientOptions c;
  if (!d.WaitReady(&c)) {
    std::fprintf(stderr, "bench_replan: jellybeand did not start: %s\n", ReadFile(dir.path() / "state.log").c_str());
    return 2;
  }
  std::printf("re-planning, VQA through jellybeand + local driver (EMULATED runtime), 40 items/s per source\n\n");
  auto t0 = Clock::now();
  std::string why;
  if (!ApplyVqaObjects(c, WorkflowYaml(40, kMany), &why)) {
    std::fprintf(stderr, "bench_replan: apply failed: %s\n", why.c_str());
    return 2;
  }
  int64_t epoch = WaitForNewEpoch(c, 0, 30s);
  double cold = std::chrono::duration<double>(Clock::now() - t0).count();
  if (epoch != 1) return 2;
  auto first = GetWorkflow(c);
  double cold_serving =
      first && !first->status.history.empty() ? first->status.history.back().serving_s.value_or(-1) : -1;
  WaitFor([&] { return SinkDelivered(state) >= 80; }, 20s);

  pid_t frozen = -1;
  struct Kind {
    std::string name;
    std::function<bool()> act;
  };
  // The node to freeze: cpu-5 carries part of every stage in the plan at the base inputs, and
  // without it the plan costs 7.01 instead of 5.33 $/h, so its return is worth a re-plan too.
  const std::string kNode = "workflow-compute-cpu-5";
  std::vector<Kind> kinds = {
      {"Workflow: rate x2", [&] { return PutObject(c, "workflows/vqa", WorkflowYaml(80, kMany)); }},
      {"Workflow: rate back", [&] { return PutObject(c, "workflows/vqa", WorkflowYaml(40, kMany)); }},
      {"Infrastructure: cloud x0.1", [&] { return PutObject(c, "infrastructures/vqa-medium", InfraYaml(0.1)); }},
      {"Infrastructure: cloud x1", [&] { return PutObject(c, "infrastructures/vqa-medium", InfraYaml(1)); }},
      {"node: heartbeat lost",
       [&] {
         for (const auto& [w, m] : Reports(state))
           if (w.rfind(kNode, 0) == 0) frozen = static_cast<pid_t>(m.pid);
         return frozen > 0 && ::kill(frozen, SIGSTOP) == 0;
       }},
      {"node: back (retried)", [] { return true; }},
      {"load: offered 60/s", [&] { return PutObject(c, "workflows/vqa", WorkflowYaml(40, kMany, 60)); }},
      {"load: offered 40/s", [&] { return PutObject(c, "workflows/vqa", WorkflowYaml(40, kMany, 40)); }},
      {"undo: previous plan", [&] { return HttpCall(c, "POST", kApi + "workflows/vqa/rollback", "").ok(); }},
  };
  std::printf("%-28s %6s %10s %10s %12s %8s\n", "trigger", "epoch", "serving s", "wall s", "$/h after", "moved");
  std::printf("%-28s %6d %10.3f %10.3f %12s %8s   <- baseline: cold deployment (apply -> serving)\n", "initial apply",
              1, cold_serving, cold, "", "");
  for (const auto& k : kinds) {
    auto s = Clock::now();
    if (!k.act()) {
      std::printf("%-28s could not be triggered\n", k.name.c_str());
      continue;
    }
    int64_t next = WaitForNewEpoch(c, epoch, 60s);
    double wall = std::chrono::duration<double>(Clock::now() - s).count();
    auto wf = GetWorkflow(c);
    if (next <= epoch || !wf) {
      std::printf("%-28s no new plan within 60 s\n", k.name.c_str());
      continue;
    }
    const auto& rev = wf->status.history.back();
    std::printf("%-28s %6lld %10.3f %10.3f %12.4f %8lld\n", k.name.c_str(), static_cast<long long>(next),
                rev.serving_s.value_or(-1), wall, rev.new_cost, static_cast<long long>(rev.workers_moved));
    epoch = next;
  }
  if (frozen > 0) ::kill(frozen, SIGCONT);
  int64_t count = StopSourcesSoon(c, state, 40);
  WaitFor([&] { return AllDelivered(Sum(Reports(state)), count); }, 60s);
  Totals t = Sum(Reports(state));
  std::printf(
      "\nitems: %lld requests per source, %lld delivered at the sink, lost %lld (must be 0), %lld re-sent, %lld "
      "duplicate(s) discarded\n",
      static_cast<long long>(count), static_cast<long long>(t.delivered), static_cast<long long>(count - t.delivered),
      static_cast<long long>(t.resent), static_cast<long long>(t.duplicates));
  d.Stop();
  return count > 0 && t.delivered == count ? 0 : 1;
}

}  // namespace
}  // namespace jb

int main() { return jb::Main(); }
