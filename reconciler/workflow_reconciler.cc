#include "reconciler/workflow_reconciler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "api/manifest.h"
#include "api/names.h"
#include "base/format.h"
#include "base/log.h"
#include "planner/solver.h"
#include "reconciler/conditions.h"
#include "reconciler/deployment.h"
#include "reconciler/observed_accuracy.h"
#include "reconciler/replan.h"
#include "reconciler/rollout.h"

namespace jb {

void SetCondition(WorkflowStatus* st, const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message) {
  for (auto& c : st->conditions) {
    if (c.type != type) continue;
    if (c.status != status) c.last_transition_time = NowRfc3339();
    c.status = status;
    c.reason = reason;
    c.message = message;
    return;
  }
  st->conditions.push_back(Condition{type, status, reason, message, NowRfc3339()});
}

const Condition* FindCondition(const WorkflowStatus& st, const std::string& type) {
  for (const auto& c : st.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

namespace {

void NotPlanned(WorkflowStatus* st, const std::string& reason, const std::string& message) {
  SetCondition(st, cond::kPlanned, cond::kFalse, reason, message);
  SetCondition(st, cond::kDeployed, cond::kFalse, cond::kNotPlanned, "nothing to deploy until the workflow is planned");
  SetCondition(st, cond::kReady, cond::kFalse, cond::kNotPlanned, "nothing runs until the workflow is planned");
  SetCondition(st, cond::kSLOMet, cond::kFalse, reason, message);
  SetCondition(st, cond::kDegraded, cond::kFalse, cond::kNotPlanned, "no plan is deployed");
}

}  // namespace

namespace {

// Takes the large-plan slot for its lifetime when given one (nullptr: a small plan, always held).
class LargePlanSlot {
 public:
  explicit LargePlanSlot(std::atomic<bool>* slot) {
    bool expected = false;
    if (slot == nullptr || slot->compare_exchange_strong(expected, true)) {
      slot_ = slot;
      held_ = true;
    }
  }
  ~LargePlanSlot() {
    if (held_ && slot_ != nullptr) slot_->store(false);
  }
  LargePlanSlot(const LargePlanSlot&) = delete;
  LargePlanSlot& operator=(const LargePlanSlot&) = delete;
  bool held() const { return held_; }

 private:
  std::atomic<bool>* slot_ = nullptr;
  bool held_ = false;
};

}  // namespace

void WorkflowReconciler::RecordTransitions(const std::string& name, const WorkflowStatus& before,
                                           const WorkflowStatus& after) {
  for (const auto& c : after.conditions) {
    const Condition* old = FindCondition(before, c.type);
    if (old != nullptr && old->status == c.status && old->reason == c.reason) continue;
    bool bad = (c.type == cond::kDegraded) ? c.status == cond::kTrue : c.status == cond::kFalse;
    const std::string msg = c.type + "=" + c.status + ": " + c.message;
    if (events_ != nullptr)
      events_->Record("Workflow", name, bad ? "Warning" : "Normal", c.reason, msg);  // logs it too
    else
      log::Log(bad ? log::Level::kWarn : log::Level::kInfo, log::Fields{name, after.plan_epoch, "", c.reason}, msg);
  }
}

StatusOr<Object> WorkflowReconciler::Save(const Workflow& wf, const WorkflowStatus& after) {
  RecordTransitions(wf.metadata.name, wf.status, after);
  // Conditional on the version read: a concurrent write (a spec change, a rollback request) wins,
  // and this pass is retried from the new state instead of overwriting it.
  return store_->PutStatus(wf.metadata.name, after, wf.metadata.resource_version.value_or(""));
}

ReconcileResult WorkflowReconciler::Reconcile(const std::string& name) {
  // The boundary: nothing a stored object contains may take the daemon down. The planner returns
  // Status for everything it knows (numbers the solver cannot take included); this catches what
  // remains (allocation failures, a library's exception) and makes it a condition.
  std::string what;
  try {
    return ReconcileUnguarded(name);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  RecordFailure(name, what);
  return ReconcileResult{Status::Internal("reconcile of Workflow " + name + " failed: " + what), {}};
}

void WorkflowReconciler::RecordFailure(const std::string& name, const std::string& why) {
  try {
    auto got = store_->Get("Workflow", name);
    if (!got.ok()) return;
    const Workflow& wf = std::get<Workflow>(*got);
    WorkflowStatus st = wf.status;
    st.observed_generation = wf.metadata.generation;
    SetCondition(&st, cond::kPlanned, cond::kFalse, cond::kReconcileError,
                 "internal error while reconciling (retried with back-off): " + why);
    (void)Save(wf, st);
  } catch (...) {
    // Recording is best effort; the caller still reports the error and retries with back-off.
  }
}

ReconcileResult WorkflowReconciler::ReconcileUnguarded(const std::string& name) {
  auto got = store_->Get("Workflow", name);
  if (!got.ok()) {
    // Gone (after its finalizer ran, or never existed): make sure nothing keeps running.
    profile_obs_.Set(name, {});  // its observations leave the profiles' status
    converge_.Forget(name);
    control_.Forget(name);
    reports_.Forget(name);
    return ReconcileResult{driver_->Remove(name), {}};
  }
  const Workflow wf = std::get<Workflow>(*got);
  if (wf.metadata.deletion_timestamp) {
    // Finalizer: stop the workers before the object disappears.
    if (auto s = driver_->Remove(name); !s.ok()) return ReconcileResult{s, {}};
    return ReconcileResult{store_->RemoveFinalizer("Workflow", name, kWorkersFinalizer), {}};
  }
  WorkflowStatus st = wf.status;
  st.observed_generation = wf.metadata.generation;

  PlanInputs in = GatherInputs(*store_, wf);
  if (!in.missing.empty()) {
    NotPlanned(&st, cond::kMissingReference, "waiting for " + in.missing);
    return Finish(wf, st, {});
  }
  // Node health and load: nodes whose workers stopped reporting are left out of the plan for a
  // while; a sustained change of the offered load re-plans. Both are inputs of the plan.
  const auto before = driver_->Observe(name);
  UpdateNodeHealth(name, before, &st);
  if (st.plan && !st.rollout) UpdateLoad(wf, before, &st);
  UpdateProfiles(wf, &in, before, st.plan && !st.rollout);
  UpdateAccuracyDrift(wf, in, before, &st);

  ReconcileResult res;
  switch (PlanStep(in, &st, &res)) {
    case Next::kReturn:
      return res;
    case Next::kFinish:
      return Finish(wf, st, {});
    case Next::kContinue:
      break;
  }
  if (!st.plan) return Finish(wf, st, {});  // planned before and infeasible; inputs unchanged
  DeployStep(in, before, &st, &res);
  if (st.degraded) {
    SetCondition(&st, cond::kDegraded, cond::kTrue, st.degraded->reason, st.degraded->message);
    SetCondition(&st, cond::kSLOMet, cond::kFalse, cond::kDegradedPlan,
                 "the deployed plan is a degraded one: " + st.degraded->message);
  } else {
    SetCondition(&st, cond::kDegraded, cond::kFalse, cond::kPlanMeetsSLO,
                 "the deployed plan meets the accuracy floor at the requested rate");
  }
  return Finish(wf, st, res);
}

ReconcileResult WorkflowReconciler::Finish(const Workflow& wf, const WorkflowStatus& st, ReconcileResult res) {
  // No stuck states: a pass without a plan, or with nodes left out, always has a next look.
  if (res.error.ok())
    res.requeue_after =
        converge_.Next(wf.metadata.name, st, opts_.node_retry_s, opts_.clock->WallNow(), res.requeue_after);
  auto put = Save(wf, st);
  if (!put.ok() && res.error.ok()) res.error = put.status();
  return res;
}

WorkflowReconciler::Next WorkflowReconciler::PlanStep(const PlanInputs& in, WorkflowStatus* st, ReconcileResult* res) {
  const Fingerprint fp = FingerprintOf(in, *st);
  const InputsChange change = CompareInputs(st->planned_from, in, *st);
  if (change.same) st->planned_from = fp.Encode();  // rewrites an older daemon's form of the same inputs
  // One rollout at a time, unless one has hung (a new worker that never becomes ready): then a new
  // plan may replace it, starting from whatever the driver runs.
  // A rollout to a plan on a node now left out cannot complete, nor can one whose plan was cleared
  // (no plan was found since): neither holds back a new plan.
  const bool rolling = st->rollout.has_value() && st->plan.has_value() &&
                       SecondsSince(st->rollout->triggered) < opts_.rollout_stuck_s && !PlanUsesUnavailableNode(*st);
  const bool replan = !st->plan || !change.same || st->undo_to.has_value();
  if (!replan) return Next::kContinue;
  if (rolling) {
    res->requeue_after = std::chrono::milliseconds(200);  // look again when the rollout is done
    return Next::kContinue;
  }
  // The planning budget covers validation, the problem and every solve from here on.
  planner::SolveLimits limits;
  limits.deadline =
      std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::chrono::duration<double>(std::max(0.0, opts_.plan_time_limit_s)));
  limits.cancel = &cancel_;
  std::vector<Document> docs = in.Documents();
  ValidateSet(&docs);
  std::string errors;
  for (const auto& line : FormatDiagnostics(docs)) errors += (errors.empty() ? "" : "; ") + line;
  if (!errors.empty()) {
    NotPlanned(st, cond::kInvalid, errors);
    return Next::kFinish;
  }
  auto problem = ProblemForStatus(in.wf, PlanningProfiles(in.profiles), in.infra, *st);
  if (!problem.ok()) {
    NotPlanned(st, cond::kInvalid, problem.status().message());
    return Next::kFinish;
  }
  const std::string trigger = st->undo_to ? kTriggerUndo : !st->plan ? kTriggerInitial : change.trigger;
  log::Info(log::Fields{in.wf.metadata.name, st->plan_epoch, "", trigger},
            !st->plan ? std::string("planning (first plan)")
            : trigger == kTriggerUndo
                ? "rollout undo to epoch " + std::to_string(st->undo_to.value_or(0)) + " requested"
                : "re-planning: " + trigger + " changed since the plan of epoch " +
                      std::to_string(st->plan_epoch.value_or(0)) + " was made");
  std::optional<Candidate> candidate;
  if (st->undo_to) {
    const Plan* earlier = nullptr;
    for (const auto& rev : st->history)
      if (rev.epoch == *st->undo_to) earlier = &rev.plan;
    if (earlier == nullptr && events_ != nullptr)
      events_->Record("Workflow", in.wf.metadata.name, "Warning", "UndoFailed",
                      "no plan revision with epoch " + std::to_string(*st->undo_to) + " in the history");
    if (earlier != nullptr)
      candidate = Candidate{RescorePlan(*problem, *earlier).plan, std::nullopt,
                            "re-adopted the plan of an earlier epoch (rollout undo)"};
    st->undo_to.reset();
    if (!candidate) return Next::kFinish;
  } else if (Next next = SolveStep(in, *problem, limits, fp, st, res, &candidate); next != Next::kContinue) {
    return next;
  }
  if (candidate)
    DecideStep(in, *problem, trigger, fp, *candidate, st, res);  // else the planning timed out; the running plan stays
  return Next::kContinue;
}

WorkflowReconciler::Next WorkflowReconciler::SolveStep(const PlanInputs& in, const planner::Problem& problem,
                                                       const planner::SolveLimits& limits, const Fingerprint& fp,
                                                       WorkflowStatus* st, ReconcileResult* res,
                                                       std::optional<Candidate>* candidate) {
  const std::string& name = in.wf.metadata.name;
  // Fairness: one large plan at a time (see ReconcilerOptions::large_plan_columns).
  const size_t columns = planner::RateColumns(problem);
  LargePlanSlot slot(columns > opts_.large_plan_columns ? &large_plan_running_ : nullptr);
  if (!slot.held()) {
    res->requeue_after = opts_.large_plan_retry;  // another large plan holds the slot; no thread waits for it
    return Next::kReturn;
  }
  planner::SolverOptions so;
  so.time_limit_s =
      std::max(0.05, 0.9 * std::chrono::duration<double>(limits.deadline - std::chrono::steady_clock::now()).count());
  so.limits = limits;
  auto result = planner::Solve(problem, so);
  Condition why;
  std::optional<Plan> degraded;
  if (!result.ok() && result.status().code() == Status::Code::kInfeasible)
    degraded =
        BestDegradedPlan(in.wf, PlanningProfiles(in.profiles), in.infra, *st, limits, opts_.plan_time_limit_s, &why);
  if (cancel_.load()) {
    *res = ReconcileResult{Status::Unavailable("planning of Workflow " + name + " cancelled (shutting down)"), {}};
    return Next::kReturn;
  }
  if (!result.ok() && result.status().code() == Status::Code::kDeadlineExceeded) {
    char budget[160];
    std::snprintf(budget, sizeof(budget),
                  "no plan within the planning budget of %.1f s (%zu operators, %zu nodes, %zu rate columns)",
                  opts_.plan_time_limit_s, problem.ops.size(), problem.nodes.size(), columns);
    std::string msg = std::string(budget) + "; raise the planning budget or split the workflow";
    if (events_ != nullptr) events_->Record("Workflow", name, "Warning", cond::kPlanningTimeout, msg);
    st->planned_from = fp.Encode();  // planned again when the inputs change
    if (!st->plan) {
      NotPlanned(st, cond::kPlanningTimeout, msg);
      return Next::kFinish;
    }
    SetCondition(st, cond::kPlanned, cond::kFalse, cond::kPlanningTimeout,
                 msg + "; the plan of epoch " + std::to_string(st->plan_epoch.value_or(0)) + " keeps running");
    return Next::kContinue;  // the running plan stays
  }
  if (!result.ok() && !degraded) {
    NotPlanned(st, result.status().code() == Status::Code::kInfeasible ? cond::kInfeasible : cond::kSolverError,
               result.status().message());
    st->plan.reset();
    st->planned_from = fp.Encode();
    return Next::kFinish;
  }
  if (degraded) {
    why.message += "; the SLO cannot be met: " + result.status().message();
    *candidate = Candidate{*degraded, why, "degraded (" + why.reason + ")"};
  } else {
    *candidate = Candidate{result->plan, std::nullopt, ""};
  }
  return Next::kContinue;
}

void WorkflowReconciler::DecideStep(const PlanInputs& in, const planner::Problem& problem, const std::string& trigger,
                                    const Fingerprint& fp, const Candidate& c, WorkflowStatus* st,
                                    ReconcileResult* res) {
  const std::string& name = in.wf.metadata.name;
  ReplanCandidate rc{c.plan, std::nullopt};
  std::vector<WorkerConfig> running;
  if (st->plan) {  // the churn: against what the driver runs
    auto target =
        BuildDeployment(in.wf, in.profiles, in.infra, c.plan, st->plan_epoch.value_or(0) + 1, opts_.deployment);
    if (target.ok()) {
      rc.workers = std::move(*target);
      running = driver_->Desired(name);
    }
  }
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const ReplanProposal p = ProposeReplan(problem, *st, running, rc, ReplanContext{trigger, now, opts_.damping});
  const Rescored& current = p.current;
  const ReplanDecision& decision = p.decision;
  if (st->plan && current.violations.empty()) st->degraded.reset();  // the running plan meets the (new) SLO
  if (decision.action == ReplanAction::kDefer) {
    // Clamped: the history's time is stored data and may lie in the future.
    res->requeue_after =
        std::chrono::milliseconds(static_cast<int64_t>(std::clamp(decision.retry_after_s, 0.0, 3600.0) * 1000) + 1);
    return;
  }
  if (decision.action == ReplanAction::kKeep) {
    st->plan = current.plan;  // priced under the new inputs
    st->planned_from = fp.Encode();
    SetCondition(st, cond::kPlanned, cond::kTrue, cond::kKept,
                 FormatFixed(st->plan->cost.total_per_hour, 4) + " $/h (compute " +
                     FormatFixed(st->plan->cost.compute_per_hour, 4) + " + network " +
                     FormatFixed(st->plan->cost.network_per_hour, 4) + ") at today's inputs, accuracy " +
                     FormatFixed(st->plan->accuracy, 2) + "; a re-plan was not worth it: " + decision.reason);
    if (events_ != nullptr)
      events_->Record("Workflow", name, "Normal", "PlanKept",
                      "kept epoch " + std::to_string(st->plan_epoch.value_or(0)) + " (trigger: " + trigger +
                          "): " + decision.reason);
    return;
  }
  AdoptStep(name, trigger, fp, c, p, st);
}

void WorkflowReconciler::AdoptStep(const std::string& name, const std::string& trigger, const Fingerprint& fp,
                                   const Candidate& c, const ReplanProposal& p, WorkflowStatus* st) {
  const Rescored& current = p.current;
  const ReplanDecision& decision = p.decision;
  PlanRevision rev;
  rev.epoch = p.next_epoch;
  rev.time = NowRfc3339Millis();
  rev.trigger = trigger;
  rev.reason = decision.reason;
  rev.old_cost = st->plan ? current.plan.cost.total_per_hour : 0;
  rev.old_accuracy = st->plan ? current.plan.accuracy : 0;
  rev.new_cost = c.plan.cost.total_per_hour;
  rev.new_accuracy = c.plan.accuracy;
  rev.workers_moved = p.churn;
  rev.plan = c.plan;
  st->history.push_back(rev);
  while (st->history.size() > 10) st->history.erase(st->history.begin());
  RolloutStatus ro;
  ro.from_epoch = st->plan ? st->plan_epoch.value_or(0) : 0;
  ro.to_epoch = p.next_epoch;
  ro.phase = "Starting";
  ro.trigger = trigger;
  ro.triggered = rev.time;
  st->rollout = ro;
  st->plan = c.plan;
  st->degraded = c.degraded;
  st->plan_epoch = p.next_epoch;
  st->observed.reset();  // observations of the previous plan no longer apply
  st->planned_from = fp.Encode();
  if (events_ != nullptr && trigger != kTriggerInitial)
    events_->Record("Workflow", name, "Normal", "Replanned",
                    "epoch " + std::to_string(p.next_epoch) + " (trigger: " + trigger +
                        "): " + FormatFixed(rev.old_cost, 4) + " -> " + FormatFixed(rev.new_cost, 4) + " $/h, " +
                        decision.reason);
  const Plan& pl = *st->plan;
  char msg[512];
  std::snprintf(msg, sizeof(msg), "%.4f $/h (compute %.4f + network %.4f), accuracy %.2f, %s, %s",
                pl.cost.total_per_hour, pl.cost.compute_per_hour, pl.cost.network_per_hour, pl.accuracy,
                !c.solved_msg.empty() ? c.solved_msg.c_str()
                : pl.optimal          ? "proven optimal"
                                      : ("gap " + FormatFixed(100 * pl.gap, 2) + "%").c_str(),
                pl.solver.c_str());
  SetCondition(st, cond::kPlanned, cond::kTrue, cond::kSolved, msg);
  log::Info(log::Fields{name, p.next_epoch, "", trigger},
            "adopted plan epoch " + std::to_string(p.next_epoch) + " (trigger " + trigger + ", " + decision.reason +
                "): " + msg + "; rollout from epoch " + std::to_string(ro.from_epoch) + ", " + std::to_string(p.churn) +
                " worker(s) started or stopped");
}

void WorkflowReconciler::DeployStep(const PlanInputs& in, const std::vector<WorkerState>& before, WorkflowStatus* st,
                                    ReconcileResult* res) {
  const std::string& name = in.wf.metadata.name;
  // Every tier the plan uses must be served by this daemon's driver.
  std::string unserved;
  for (const auto& t : in.infra.spec.tiers) {
    bool used = false;
    for (const auto& pl : st->plan->placements) used |= pl.tier == t.name;
    for (const auto& s : in.wf.spec.sources) used |= s.tier == t.name;
    if (used && !driver_->Serves(t.driver.type))
      unserved += (unserved.empty() ? "" : ", ") + t.name + " (driver " + t.driver.type + ")";
  }
  const int64_t epoch = st->plan_epoch.value_or(1);
  auto desired = BuildDeployment(in.wf, in.profiles, in.infra, *st->plan, epoch, opts_.deployment);
  RolloutStep step;
  if (desired.ok()) {
    double since_switch = st->rollout && !st->rollout->switched.empty() ? SecondsSince(st->rollout->switched) : -1;
    step = NextRolloutStep(driver_->Desired(name), *desired, before, epoch, since_switch, opts_.rollout);
  }
  if (unserved.empty()) driver_->UseInfrastructure(name, in.infra.spec);
  Status applied = !unserved.empty() ? Status::Unavailable("no driver for tier(s) " + unserved +
                                                           "; this daemon runs the " + driver_->name() + " driver(s)")
                   : !desired.ok()   ? desired.status()
                                     : driver_->Apply(name, step.apply);
  if (!applied.ok()) {
    SetCondition(st, cond::kDeployed, cond::kFalse, unserved.empty() ? cond::kDriverError : cond::kDriverUnavailable,
                 (unserved.empty() ? DriverNames(in, *st->plan) : driver_->name()) + " driver: " + applied.message());
    SetCondition(st, cond::kReady, cond::kFalse, cond::kNotDeployed, "the plan is not deployed");
    res->error = applied;
    return;
  }
  const auto observed = driver_->Observe(name);
  AdvanceRollout(name, step, epoch, observed, st);
  ObserveStep(in, step, epoch, observed, st, res);
}

void WorkflowReconciler::AdvanceRollout(const std::string& name, const RolloutStep& step, int64_t epoch,
                                        const std::vector<WorkerState>& observed, WorkflowStatus* st) {
  if (!st->rollout) return;
  // Serving: the new routes are on every worker of the new epoch and each has reported them.
  bool serving = step.switched;
  for (const auto& w : step.apply)
    if (w.epoch == epoch) {
      bool ok = false;
      for (const auto& o : observed) ok |= o.name == w.name && o.ready;
      serving &= ok;
    }
  if (serving && st->rollout->switched.empty()) {
    st->rollout->switched = NowRfc3339Millis();
    {
      MutexLock l(&mu_);
      serving_since_[name] = {epoch, opts_.clock->Now()};
    }
    double took = SecondsSince(st->rollout->triggered);
    for (auto& rev : st->history)
      if (rev.epoch == epoch) rev.serving_s = took;
    if (events_ != nullptr && st->rollout->trigger != kTriggerInitial)
      events_->Record("Workflow", name, "Normal", "Switched",
                      "epoch " + std::to_string(epoch) + " serves " + FormatFixed(took, 3) + " s after its trigger (" +
                          st->rollout->trigger + ")");
  }
  const log::Fields f{name, epoch, "", "Rollout"};
  if (step.done && !st->rollout->switched.empty()) {
    if (events_ != nullptr && st->rollout->trigger != kTriggerInitial)
      events_->Record("Workflow", name, "Normal", "RolloutComplete", step.message);
    log::Info(f, "rollout to epoch " + std::to_string(epoch) + " complete: " + step.message);
    st->rollout.reset();
  } else if (!step.done) {
    if (st->rollout->phase != step.phase)
      log::Info(f, "rollout to epoch " + std::to_string(epoch) + ": phase " + st->rollout->phase + " -> " + step.phase +
                       ": " + step.message);
    st->rollout->phase = step.phase;
  }
}

void WorkflowReconciler::ObserveStep(const PlanInputs& in, const RolloutStep& step, int64_t epoch,
                                     const std::vector<WorkerState>& observed, WorkflowStatus* st,
                                     ReconcileResult* res) {
  const size_t want = step.apply.size();
  if (st->rollout && !step.done)
    SetCondition(st, cond::kDeployed, cond::kTrue, cond::kRollingOut, step.message);
  else
    SetCondition(st, cond::kDeployed, cond::kTrue, cond::kApplied,
                 std::to_string(want) + " worker(s) of plan epoch " + std::to_string(epoch) + " handed to the " +
                     DriverNames(in, *st->plan) + " driver");
  size_t ready = 0;
  std::string why;
  for (const auto& w : observed) {
    if (w.ready)
      ++ready;
    else if (why.empty())
      why = w.name + ": " + w.message;
  }
  const bool all_ready = ready == want && observed.size() == want;
  const std::string count = std::to_string(ready) + "/" + std::to_string(want) + " workers ready";
  if (all_ready)
    SetCondition(st, cond::kReady, cond::kTrue, cond::kWorkersReady, count);
  else
    SetCondition(st, cond::kReady, cond::kFalse, cond::kWorkersNotReady, count + (why.empty() ? "" : "; " + why));
  auto recheck = all_ready ? opts_.observe_every : opts_.not_ready_recheck;
  if (st->rollout) recheck = std::chrono::milliseconds(200);  // move the rollout on promptly
  if (res->requeue_after.count() == 0 || recheck < res->requeue_after) res->requeue_after = recheck;
  UpdateSLOMet(in, observed, all_ready, st);
}

}  // namespace jb
