// Re-plan damping: whether a freshly computed plan should replace the running one.
// A plan that is no longer valid under the new inputs (a node gone, capacity short at the new rate,
// accuracy below the floor, a link over its cap) is replaced at once. Otherwise the new plan must
// save more than a threshold that grows with the churn it causes (workers started or stopped), and
// optional re-plans keep a minimum interval, so noisy inputs do not make the deployment flap.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "drivers/driver.h"
#include "planner/linear_model.h"
#include "planner/problem.h"

namespace jb {

struct DampingOptions {
  double min_saving_fraction = 0.05;         // a cheaper plan must save more than 5% of the current cost ...
  double churn_fraction_per_worker = 0.005;  // ... plus 0.5% per worker it starts or stops
  double min_interval_s = 10;                // between re-plans that are not needed for correctness
};

enum class ReplanAction { kAdopt, kKeep, kDefer };

struct ReplanDecision {
  ReplanAction action = ReplanAction::kKeep;
  std::string reason;        // one sentence
  double retry_after_s = 0;  // kDefer: look again after this long
};

// `violations`: why the current plan is invalid under the new inputs (empty = still valid);
// costs in USD/h under the new inputs; `since_last_s`: seconds since the last adopted plan.
// `noisy`: the trigger is a measurement (the load, the observed accuracy), so even a re-plan the
// running plan's violations call for keeps the minimum interval: a load oscillating around the
// threshold causes at most one re-plan per interval (back-pressure protects the workers meanwhile).
ReplanDecision DecideReplan(const std::vector<std::string>& violations, double current_cost, double candidate_cost,
                            int64_t churn, double since_last_s, const DampingOptions& opts = {}, bool noisy = false);

// Load trigger: follows the observed offered load (sum of the sources' observed rates over the sum
// of their planned `rate`s). It fires when the load has stayed beyond `threshold` of what the plan
// is for, in the same direction, for `sustain_s`; the new planned scale is the latest observation
// times (1 + headroom). A load that crosses back inside the threshold restarts the window, so a
// load oscillating around the threshold fires at most once per window (and the damping's minimum
// interval bounds the re-plans on top).
struct LoadTriggerOptions {
  double threshold = 0.2;
  double sustain_s = 10;
  double headroom = 0.1;
};

class LoadTrigger {
 public:
  explicit LoadTrigger(LoadTriggerOptions opts = {}) : opts_(opts) {}
  // One observation at `now_s` (any monotonic clock in seconds). Returns the scale to plan for when
  // the drift has been sustained (the window then restarts), else nullopt.
  std::optional<double> Observe(double now_s, double observed_scale, double planned_scale);
  void Reset() { since_.reset(); }

 private:
  LoadTriggerOptions opts_;
  std::optional<double> since_;
  int direction_ = 0;
};

// The problem a Workflow's status says to plan: its inputs at the observed load (loadScale), without
// the nodes that are out (unavailableNodes), and at the raised accuracy floor (accuracyFloor, when
// set and `popts` names no floor of its own). Used by the reconciler and jbctl's what-if.
StatusOr<planner::Problem> ProblemForStatus(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                            const Infrastructure& infra, const WorkflowStatus& st,
                                            planner::ProblemOptions popts = {});

// `plan` with every placement's rate set to its key share of the operator's rate in `p` (the same
// key ranges at another load).
Plan AtProblemRates(const planner::Problem& p, Plan plan);

// The running plan re-expressed under new inputs: every placement's rate follows its key share of
// the operator's new rate, then the scorer prices it and lists what it violates (including nodes
// the problem no longer allows). The returned plan's cost and accuracy are the scorer's.
struct Rescored {
  Plan plan;
  std::vector<std::string> violations;
};
Rescored RescorePlan(const planner::Problem& p, const Plan& plan);

// When no plan meets the SLO: the most accurate plan that keeps up with the rate, else the plan with
// the highest rate at the accuracy floor (status.accuracyFloor when raised), else the highest rate
// at any accuracy; `why` (a Degraded condition) says which. Each solve plans with at most min(2 s,
// plan_time_limit_s, 90% of what is left of `limits`); stops at `limits` with the best plan found
// so far. nullopt: no plan at all.
std::optional<Plan> BestDegradedPlan(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                     const Infrastructure& infra, const WorkflowStatus& st,
                                     const planner::SolveLimits& limits, double plan_time_limit_s, Condition* why);

// What makes a re-plan decision besides the plans: why it is asked for, when, and the damping.
struct ReplanContext {
  std::string trigger;  // kTriggerUndo adopts without damping; kTriggerLoad, kTriggerProfile and kTriggerAccuracy are
                        // damped as noisy
  double now_s = 0;     // wall clock, seconds since the Unix epoch (status.history[].time is RFC 3339)
  DampingOptions damping;
};

// A freshly computed plan and the workers it needs at the next epoch (status.planEpoch + 1), from
// BuildDeployment; nullopt when they cannot be built (then the churn counts as 0).
struct ReplanCandidate {
  Plan plan;
  std::optional<std::vector<WorkerConfig>> workers;
};

struct ReplanProposal {
  ReplanDecision decision;
  Rescored current;        // the running plan under the new inputs (empty when nothing runs)
  int64_t churn = 0;       // workers the candidate starts or stops against `running`
  int64_t next_epoch = 1;  // the epoch the candidate would get
};

// The damping decision of the reconciler, as one pure function (jbctl plan --what-if calls it too):
// whether `candidate`, planned for `problem`, should replace the plan `status` says runs, on the
// workers `running` (Driver::Desired()). No running plan: adopt ("first plan", or "requested by
// rollout undo"). An undo is adopted without damping. Otherwise DecideReplan on the running plan
// rescored under `problem`, the churn, and the time since the last adopted plan (history's last
// entry; none or unreadable = long ago).
ReplanProposal ProposeReplan(const planner::Problem& problem, const WorkflowStatus& status,
                             const std::vector<WorkerConfig>& running, const ReplanCandidate& candidate,
                             const ReplanContext& ctx);

}  // namespace jb
