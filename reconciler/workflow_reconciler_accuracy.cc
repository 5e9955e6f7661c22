// WorkflowReconciler's accuracy-drift step (reconciler/accuracy_drift.h states the rule and its
// damping); kept beside the reconciler's main file so the trigger's glue stays in one place.
#include <algorithm>
#include <chrono>

#include "base/format.h"
#include "reconciler/conditions.h"
#include "reconciler/observed_accuracy.h"
#include "reconciler/workflow_reconciler.h"

namespace jb {

void WorkflowReconciler::UpdateAccuracyDrift(const Workflow& stored, const PlanInputs& in,
                                             const std::vector<WorkerState>& observed, WorkflowStatus* st) {
  const std::string& name = in.wf.metadata.name;
  if (st->accuracy_floor) {
    // A raised floor holds for the inputs it was raised on: a new spec or new profiles plan afresh.
    const bool spec_changed = stored.status.observed_generation != stored.metadata.generation;
    const auto planned_from = st->planned_from ? Fingerprint::Decode(*st->planned_from) : std::nullopt;
    const bool profiles_changed = planned_from && planned_from->profiles != FingerprintOf(in, *st).profiles;
    if (spec_changed || profiles_changed) {
      if (events_ != nullptr)
        events_->Record("Workflow", name, "Normal", "AccuracyFloorCleared",
                        "the raised accuracy floor " + FormatFixed(*st->accuracy_floor, 1) + "% is cleared: the " +
                            (spec_changed ? "Workflow's spec" : "ModelProfiles") + " changed");
      st->accuracy_floor.reset();
    }
  }
  if (!st->plan || st->rollout) return;
  const double floor = in.wf.spec.slo.min_accuracy;
  const auto acc = SummarizeAccuracy(observed, st->plan->accuracy, floor);
  const double now = std::chrono::duration<double>(opts_.clock->Now().time_since_epoch()).count();
  {
    MutexLock l(&mu_);
    auto [it, fresh] = accuracy_drift_.try_emplace(name, opts_.accuracy_drift);
    if (!it->second.Observe(now, st->plan_epoch.value_or(0), acc) || !opts_.accuracy_drift.enabled) return;
  }
  // Fired: acc is set and its interval lies below the floor.
  const double raised = RaisedFloor(floor, st->accuracy_floor, st->plan->accuracy, acc->high);
  planner::SolverOptions so;
  so.time_limit_s = std::clamp(opts_.plan_time_limit_s, 0.05, 2.0);
  so.limits.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(1000 * so.time_limit_s));
  so.limits.cancel = &cancel_;
  const auto plan = PlanAtFloor(in, *st, raised, so);
  const std::string what = "observed accuracy " + FormatObservedAccuracy(*acc) + " stayed below the floor " +
                           FormatFixed(floor, 1) + "% for " + FormatFixed(opts_.accuracy_drift.sustain_s, 0) +
                           " s (planned " + FormatFixed(acc->planned, 1) + "%)";
  if (plan.ok()) {
    st->accuracy_floor = raised;
    if (events_ != nullptr)
      events_->Record("Workflow", name, "Warning", "AccuracyDrift",
                      what + "; re-planning at a raised floor of " + FormatFixed(raised, 1) +
                          "% (the floor plus planned minus the interval's high end): the plan found has profiled "
                          "accuracy " +
                          FormatFixed(plan->accuracy, 2) + "% at " + FormatFixed(plan->cost.total_per_hour, 4) +
                          " $/h (" + PlanVariants(*plan) + ")");
    return;
  }
  const std::string note = "; no plan reaches a profiled accuracy of " + FormatFixed(raised, 1) +
                           "% (the floor plus the shortfall): " + plan.status().message() + "; the plan of epoch " +
                           std::to_string(st->plan_epoch.value_or(0)) + " keeps serving";
  {
    MutexLock l(&mu_);
    accuracy_drift_.try_emplace(name, opts_.accuracy_drift).first->second.note = note;
  }
  if (events_ != nullptr) events_->Record("Workflow", name, "Warning", "AccuracyDriftNoPlan", what + note);
}

std::string WorkflowReconciler::AccuracyDriftNote(const std::string& name, int64_t epoch) {
  MutexLock l(&mu_);
  auto it = accuracy_drift_.find(name);
  if (it == accuracy_drift_.end()) return "";
  const bool stale = it->second.epoch() == epoch && !it->second.fresh();
  return (stale ? " (the window may still hold answers of an earlier plan)" : "") + it->second.note;
}

}  // namespace jb
