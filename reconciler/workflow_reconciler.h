// WorkflowReconciler: level-triggered reconcile of one Workflow (controller-runtime style).
// Re-reads the Workflow and what it references, plans when the inputs changed, hands the plan to
// the driver, observes the workers and records conditions (Planned, Deployed, Ready, SLOMet,
// Degraded) with observedGeneration. Never depends on which event woke it.
// Thread-safety: Reconcile may run concurrently for different names (the work queue never runs
// one name twice at once).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"
#include "planner/linear_model.h"
#include "reconciler/accuracy_drift.h"
#include "reconciler/control_link.h"
#include "reconciler/convergence.h"
#include "reconciler/deployment.h"
#include "reconciler/events.h"
#include "reconciler/inputs.h"
#include "reconciler/observed_truth.h"
#include "reconciler/profile_drift.h"
#include "reconciler/replan.h"
#include "reconciler/rollout.h"
#include "reconciler/store.h"

namespace jb {

struct ReconcileResult {
  Status error;                                // non-OK = retry with back-off
  std::chrono::milliseconds requeue_after{0};  // > 0 = look again after this long
};

struct ReconcilerOptions {
  // Wall-clock budget for all the planning of one reconcile (building the problem, the LP, the
  // heuristic, CBC, the search for a degraded plan). The solver plans with 90% of it; at the budget
  // every phase stops (CLP and CBC check it as they iterate). A plan found by then is used; else
  // the Workflow gets Planned=False reason=PlanningTimeout (a running plan keeps running) and is
  // planned again when its inputs change.
  double plan_time_limit_s = 10;
  // Fairness: a problem with more rate columns than this (operators x variants x nodes that can run
  // them) is a large plan; at most one large plan runs at a time, so with two or more reconcile
  // threads the others stay free for the other Workflows. A large plan that finds another one
  // running is requeued after large_plan_retry without planning (no thread waits).
  size_t large_plan_columns = 20000;
  std::chrono::milliseconds large_plan_retry{1000};
  std::chrono::milliseconds not_ready_recheck{1000};
  std::chrono::milliseconds observe_every{2000};  // refresh observations while deployed
  double slo_throughput_fraction = 0.99;          // SLOMet needs this share of the planned sink rate
  DeploymentOptions deployment;
  DampingOptions damping;
  RolloutOptions rollout;
  std::chrono::milliseconds node_grace{4000};  // a node whose worker is not ready this long leaves the plan ...
  double node_retry_s = 30;                    // ... and is tried again after this long (sooner when
                                               // its workers report ready again)
  ConvergenceOptions convergence;              // the next look after a pass without a plan (convergence.h)
  ControlLinkOptions control_link;             // a node cut off from the daemon only (control_link.h)
  LoadTriggerOptions load;
  double rollout_stuck_s = 120;  // a rollout older than this no longer holds back a new plan
  // Observed service times beyond the profiled ones (profile_drift.h); the clock of its window and
  // of the observation times.
  ProfileDriftOptions profile_drift;
  // Accuracy drift (reconciler/accuracy_drift.h), and the clock its sustained window is measured
  // with (tests: a FakeClock; not owned).
  AccuracyDriftOptions accuracy_drift;
  Clock* clock = Clock::Real();
};

class WorkflowReconciler {
 public:
  // Borrows `store`, `driver` and `events` (may be null); all must outlive the reconciler.
  WorkflowReconciler(Store* store, Driver* driver, ReconcilerOptions opts = {}, EventRecorder* events = nullptr)
      : store_(store),
        driver_(driver),
        opts_(opts),
        events_(events),
        drift_(opts.profile_drift),
        converge_(opts.convergence),
        control_(opts.control_link),
        reports_(opts.clock) {}

  // Never throws and never aborts on stored data: an unexpected error becomes Planned=False
  // reason=ReconcileError and a retry with back-off.
  ReconcileResult Reconcile(const std::string& name);

  // Stops planning in progress (and any that starts later) within about a second: the solver
  // returns, the reconcile returns kUnavailable without writing status. For shutdown; irreversible.
  // Thread-safe.
  void Cancel() { cancel_.store(true); }

 private:
  // The steps of one reconcile; each reads and updates `st` (saved once, by Finish).
  // GatherInputs (reconciler/inputs.h) -> node health and load -> PlanStep -> DeployStep
  // (-> ObserveStep) -> Finish.
  ReconcileResult ReconcileUnguarded(const std::string& name);
  // What a step tells the reconcile to do next.
  enum class Next {
    kContinue,  // on to the next step
    kFinish,    // save the status and return
    kReturn,    // return the result as it is, without saving (cancelled; requeued without planning)
  };
  // Plans when the inputs changed (or an undo was asked for): validates, solves (or takes the undo
  // plan), and adopts, keeps or defers the candidate as ProposeReplan decides.
  Next PlanStep(const PlanInputs& in, WorkflowStatus* st, ReconcileResult* res);
  // Plan, solve and degraded fallback; `candidate` stays empty when the planning timed out and the
  // running plan stays.
  struct Candidate {
    Plan plan;
    std::optional<Condition> degraded;  // the plan is a degraded one, and why
    std::string solved_msg;             // how it was found, for the Planned message ("" = the solver's gap)
  };
  Next SolveStep(const PlanInputs& in, const planner::Problem& problem, const planner::SolveLimits& limits,
                 const Fingerprint& fp, WorkflowStatus* st, ReconcileResult* res, std::optional<Candidate>* candidate);
  // The damping decision on `c` (ProposeReplan) and its effect on `st`.
  void DecideStep(const PlanInputs& in, const planner::Problem& problem, const std::string& trigger,
                  const Fingerprint& fp, const Candidate& c, WorkflowStatus* st, ReconcileResult* res);
  // Adopts `c` as the plan of epoch p.next_epoch: a history entry, a rollout, the Planned condition.
  void AdoptStep(const std::string& name, const std::string& trigger, const Fingerprint& fp, const Candidate& c,
                 const ReplanProposal& p, WorkflowStatus* st);
  // Hands the plan to the driver (one rollout step at a time); then ObserveStep.
  void DeployStep(const PlanInputs& in, const std::vector<WorkerState>& before, WorkflowStatus* st,
                  ReconcileResult* res);
  // The rollout's switch and completion as the workers report them.
  void AdvanceRollout(const std::string& name, const RolloutStep& step, int64_t epoch,
                      const std::vector<WorkerState>& observed, WorkflowStatus* st);
  // Deployed, Ready and SLOMet from the workers' reports; the next look.
  void ObserveStep(const PlanInputs& in, const RolloutStep& step, int64_t epoch,
                   const std::vector<WorkerState>& observed, WorkflowStatus* st, ReconcileResult* res);
  // SLOMet from the workers' metrics against the plan at the offered load (kept as it was while no
  // worker reports); sets status.observed.
  void UpdateSLOMet(const PlanInputs& in, const std::vector<WorkerState>& observed, bool all_ready, WorkflowStatus* st);
  // Seconds the plan of st.planEpoch has served (its routes on every worker), by opts_.clock, when
  // it replaced another plan (a re-plan or an undo; the first plan's window is the sink's own);
  // nullopt when it replaced none or the status cannot tell; -1 while it does not serve yet.
  std::optional<double> ReplanServingFor(const std::string& name, const WorkflowStatus& st) EXCLUDES(mu_);
  // The drivers that run something of `plan`: driver_'s name when it is one driver, else those of
  // the tiers the plan uses (a daemon with local+ssh+agent names only "local" for a local plan).
  std::string DriverNames(const PlanInputs& in, const Plan& plan) const {
    const std::string all = driver_->name();
    const std::string used = DriversOfPlan(in.wf, in.infra, plan);
    return all.find('+') == std::string::npos || used.empty() ? all : used;
  }
  // Saves `st` once; a failed save becomes the result's error unless it has one.
  ReconcileResult Finish(const Workflow& wf, const WorkflowStatus& st, ReconcileResult res);
  // Records `why` (an exception's message) as Planned=False reason=ReconcileError, if it can.
  void RecordFailure(const std::string& name, const std::string& why);

  // Records an event for every condition whose status changed between `before` and `after`.
  void RecordTransitions(const std::string& name, const WorkflowStatus& before, const WorkflowStatus& after);
  // Records the transitions from wf.status, then writes `after` if wf is still the stored version.
  StatusOr<Object> Save(const Workflow& wf, const WorkflowStatus& after);

  // Feeds the observed source rates to the load trigger; sets status.loadScale when it fires.
  void UpdateLoad(const Workflow& wf, const std::vector<WorkerState>& observed, WorkflowStatus* st) EXCLUDES(mu_);
  // Closed-loop profiles (profile_drift.h): this workflow's observations into the status of the
  // ModelProfiles it uses (`in->profiles` get the written status); with `judge`, a sustained drift
  // adopts the observed figures (then the inputs' fingerprint names trigger "profile").
  void UpdateProfiles(const Workflow& wf, PlanInputs* in, const std::vector<WorkerState>& observed, bool judge);
  // Accuracy drift (reconciler/accuracy_drift.h; workflow_reconciler_accuracy.cc): clears a raised
  // floor when `stored`'s spec or a profile changed; feeds the observed accuracy to the trigger and,
  // when it fires (and accuracy_drift.enabled), sets status.accuracyFloor (a re-plan) or records
  // that no plan reaches it.
  void UpdateAccuracyDrift(const Workflow& stored, const PlanInputs& in, const std::vector<WorkerState>& observed,
                           WorkflowStatus* st) EXCLUDES(mu_);
  // What the SLOMet message adds to the observed accuracy of plan `epoch`: that the sink's window
  // still holds answers of an earlier plan, and that the last drift found no plan; else "".
  std::string AccuracyDriftNote(const std::string& name, int64_t epoch) EXCLUDES(mu_);
  // Marks nodes whose worker stayed not ready for node_grace as unavailable; expires old outages.
  void UpdateNodeHealth(const std::string& name, const std::vector<WorkerState>& observed, WorkflowStatus* st)
      EXCLUDES(mu_);

  Store* store_;
  Driver* driver_;
  ReconcilerOptions opts_;
  EventRecorder* events_;
  Mutex mu_;
  std::map<std::string, std::map<std::string, std::chrono::steady_clock::time_point>> not_ready_since_ GUARDED_BY(mu_);
  std::map<std::string, LoadTrigger> load_ GUARDED_BY(mu_);
  ProfileObservations profile_obs_;
  ProfileDriftTrigger drift_;
  std::map<std::string, AccuracyDriftTrigger> accuracy_drift_ GUARDED_BY(mu_);
  // When each workflow's latest epoch began to serve (opts_.clock), for SLOMet's window.
  std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> serving_since_ GUARDED_BY(mu_);
  ConvergenceBackoff converge_;  // no pass without a plan or with nodes left out ends without a next look
  ControlLinkTracker control_;   // nodes cut off from the daemon whose data path works keep their work
  ReportCache reports_;          // cut-off workers' last reports: their figures are Unknown, not 0 (#22)
  std::atomic<bool> cancel_{false};
  std::atomic<bool> large_plan_running_{false};  // the one large-plan slot (see ReconcilerOptions)
};

// Sets (or updates) a condition; lastTransitionTime changes only when the status changes.
void SetCondition(WorkflowStatus* st, const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message);
const Condition* FindCondition(const WorkflowStatus& st, const std::string& type);

}  // namespace jb
