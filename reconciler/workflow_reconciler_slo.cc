// WorkflowReconciler's SLOMet: the workers' observations judged against the plan at the offered
// load, and only over a window measured wholly under the current plan epoch (declared in
// reconciler/workflow_reconciler.h; split from workflow_reconciler.cc to keep each file short).
#include <algorithm>
#include <chrono>

#include "base/format.h"
#include "base/rfc3339.h"
#include "planner/problem.h"
#include "reconciler/conditions.h"
#include "reconciler/deployment.h"
#include "reconciler/observed_accuracy.h"
#include "reconciler/workflow_reconciler.h"

namespace jb {

void WorkflowReconciler::UpdateSLOMet(const PlanInputs& in, const std::vector<WorkerState>& observed, bool all_ready,
                                      WorkflowStatus* st) {
  const Workflow& wf = in.wf;
  // Observations: only from workers that report (the fake driver runs none).
  bool reporting = false;
  for (const auto& w : observed) reporting |= w.metrics.has_value();
  // SLOMet is judged against the load offered (the generator's rate when it emulates one).
  Workflow offered = wf;
  for (auto& s : offered.spec.sources) s.rate = s.generator_rate.value_or(s.rate);
  std::optional<planner::Problem> problem;
  if (reporting) {
    if (auto built = planner::BuildProblem(offered, in.profiles, in.infra); built.ok()) problem = std::move(*built);
  }
  if (!problem) {
    const Condition* slo = FindCondition(*st, cond::kSLOMet);
    if (slo == nullptr || slo->reason != cond::kObserved)
      SetCondition(st, cond::kSLOMet, cond::kUnknown, cond::kNoObservations,
                   "the plan predicts the SLO is met; no throughput observations yet (the " +
                       DriverNames(in, *st->plan) + " driver reports none)");
    return;
  }
  // Workers cut off from the daemon count with their last reports, their figures listed as Unknown
  // (observed_truth.h): a cut-off reporter is no 0.0.
  const FilledReports filled = reports_.Fill(wf.metadata.name, observed);
  ObservedStatus o = Summarize(*problem, *st->plan, filled.workers);
  MarkUnobservable(filled, &o);
  const bool throughput_known = FindUnknownFigure(o, "throughput") == nullptr;
  const bool latency_known = FindUnknownFigure(o, "latencyP99Ms") == nullptr;
  double floor = o.expected_throughput * opts_.slo_throughput_fraction;
  std::string label = o.emulated ? " [EMULATED runtime: profiled latencies, synthetic payloads]" : "";
  std::string what =
      "observed " +
      (throughput_known ? FormatFixed(o.throughput, 2) + " items/s" : "throughput " + UnknownNote(o, "throughput")) +
      " at the sink" + (o.throughput_source.empty() ? "" : " [" + o.throughput_source + "]") +
      " (plan: " + FormatFixed(o.expected_throughput, 2) + "), latency " +
      (latency_known ? "p50 " + FormatFixed(o.latency_p50_ms, 1) + " ms p99 " + FormatFixed(o.latency_p99_ms, 1) + " ms"
                     : UnknownNote(o, "latencyP99Ms")) +
      ", accuracy " + FormatFixed(st->plan->accuracy, 2) + " (floor " + FormatFixed(wf.spec.slo.min_accuracy, 2) + ")" +
      label;
  const auto acc = o.accuracy ? AccuracySlo(*o.accuracy) : ingress::AccuracySloVerdict{};
  if (o.accuracy) what = acc.message + AccuracyDriftNote(wf.metadata.name, st->plan_epoch.value_or(0)) + "; " + what;
  bool latency_ok = !latency_known || !wf.spec.slo.max_latency_ms || o.latency_p99_ms <= *wf.spec.slo.max_latency_ms;
  // After a re-plan the sink's window still holds items of the plan before: judged only once a
  // whole window (5 s of emission, measured 2 x p99 = 2..30 s late, as worker/sink.h) lies after the
  // switch, so a planned rate change is no false alarm and the old plan's figures no false "met".
  const double window_s = 5 + std::clamp(2 * o.latency_p99_ms / 1000, 2.0, 30.0) + 0.2;
  const std::optional<double> served = ReplanServingFor(wf.metadata.name, *st);
  if (!all_ready)
    SetCondition(st, cond::kSLOMet, cond::kUnknown, cond::kWorkersNotReady, "waiting for every worker; " + what);
  else if (served && *served < window_s)
    SetCondition(st, cond::kSLOMet, cond::kUnknown, cond::kMeasuring,
                 "measuring the plan of epoch " + std::to_string(st->plan_epoch.value_or(0)) + ": " +
                     (*served < 0 ? std::string("its routes are not on every worker yet")
                                  : "it serves for " + FormatFixed(*served, 1) + " s") +
                     ", a full window under it takes " + FormatFixed(window_s, 1) + " s; " + what);
  else if (!o.unknown.empty() && !throughput_known)
    SetCondition(st, cond::kSLOMet, cond::kUnknown, cond::kMeasuring, "a reporter is cut off; " + what);
  else if (o.throughput_complete && o.throughput + 1e-9 < floor)
    SetCondition(st, cond::kSLOMet, cond::kFalse, cond::kThroughputBelowTarget,
                 what + "; below " + FormatFixed(100 * opts_.slo_throughput_fraction, 0) + "% of the plan");
  else if (o.throughput_complete && !latency_ok)
    SetCondition(st, cond::kSLOMet, cond::kFalse, cond::kLatencyAboveTarget,
                 what + "; p99 above maxLatencyMs " + FormatFixed(*wf.spec.slo.max_latency_ms, 1));
  else if (acc.met == false)  // labelled answers: the interval lies wholly below the floor
    SetCondition(st, cond::kSLOMet, cond::kFalse, cond::kAccuracyBelowFloor, what);
  else if (!o.throughput_complete)
    SetCondition(st, cond::kSLOMet, cond::kUnknown, cond::kMeasuring,
                 "the first throughput window is not complete yet; " + what);
  else
    SetCondition(st, cond::kSLOMet, cond::kTrue, cond::kObserved, what);
  st->observed = o;
}

std::optional<double> WorkflowReconciler::ReplanServingFor(const std::string& name, const WorkflowStatus& st) {
  const int64_t epoch = st.plan_epoch.value_or(0);
  const PlanRevision* rev = nullptr;
  for (const auto& r : st.history)
    if (r.epoch == epoch) rev = &r;
  if (rev == nullptr || rev->trigger == kTriggerInitial) return std::nullopt;
  {
    MutexLock l(&mu_);
    if (auto it = serving_since_.find(name); it != serving_since_.end() && it->second.first == epoch)
      return std::chrono::duration<double>(opts_.clock->Now() - it->second.second).count();
  }
  if (st.rollout && st.rollout->to_epoch == epoch && st.rollout->switched.empty()) return -1.0;
  // Switched before this daemon started: from the history's times (wall clock).
  if (!rev->serving_s) return std::nullopt;
  auto adopted = ParseRfc3339(rev->time);
  if (!adopted) return std::nullopt;
  const double now = std::chrono::duration<double>(opts_.clock->WallNow().time_since_epoch()).count();
  return now - (*adopted + *rev->serving_s);
}

}  // namespace jb
