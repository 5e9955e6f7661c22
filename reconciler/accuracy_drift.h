// Accuracy drift: when the observed accuracy's 95% interval lies wholly below the floor
// (slo.minAccuracy) for a sustained window, the plan's profiled accuracy is not what the data plane
// delivers (harder data than profiled, a variant worse than its profile). The Workflow is then
// re-planned at a raised floor (status.accuracyFloor), so the new plan's profiled accuracy has the
// margin the observation says is missing: a PlanRevision with trigger "accuracy".
//
// The rule (RaisedFloor): raised = slo.minAccuracy + (planned - observed.high), at most 100 and
// never below a floor raised before. planned - observed.high is how far the profile overstates the
// running plan's accuracy at the least (the interval's optimistic end, so a 95% bound rather than a
// guess); a new plan whose profile overstates it as much then still lands at the floor. Because the
// trigger needs high < floor, the raised floor lies above the planned accuracy: the re-plan always
// moves to a more accurate plan, and a drift that persists raises the floor again.
//
// Damping (no flapping):
//  - sustained: every observation for sustain_s must have the interval below the floor; one that
//    does not (or has no scored answers) restarts the window;
//  - the new plan's own answers: after a new plan epoch the sink's window still holds answers of
//    the old plan, so observations count only once the sink has scored a full window since the
//    epoch began (scored total - the total at the epoch's first observation >= the window's count;
//    a sink that restarted counts from 0);
//  - after firing the window restarts, and the re-plan is damped as noisy (the damping's minimum
//    interval between re-plans, reconciler/replan.h);
//  - the raised floor only goes up while the inputs stay the same; the reconciler clears it when
//    the Workflow's spec (a new generation) or a ModelProfile it references changes: re-profiling
//    is how a floor comes back down.
// When no plan reaches the raised floor, the floor is not raised: the running plan keeps serving,
// the reconciler says so (a Warning event AccuracyDriftNoPlan and the SLOMet message), and tries
// again after another sustained window.
// Thread-safety: RaisedFloor and PlanAtFloor are pure (PlanAtFloor runs the solver);
// AccuracyDriftTrigger is a value type without locking (the reconciler guards its map of them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/types.h"
#include "planner/solver.h"
#include "reconciler/inputs.h"

namespace jb {

struct AccuracyDriftOptions {
  bool enabled = true;    // false: observed accuracy is reported and judged, never re-planned on
  double sustain_s = 60;  // how long the interval must stay below the floor. Default 60 s.
};

// The floor to plan at (see the rule above), in percent.
double RaisedFloor(double slo_floor, std::optional<double> current, double planned, double observed_high);

class AccuracyDriftTrigger {
 public:
  explicit AccuracyDriftTrigger(AccuracyDriftOptions opts = {}) : opts_(opts) {}

  // One observation at `now_s` (monotonic seconds) while the plan of `epoch` runs; `acc` is nullopt
  // when no answer is scored. True when the interval has stayed below acc->floor, on windows of
  // this epoch's answers, for sustain_s (the window then restarts); false otherwise.
  bool Observe(double now_s, int64_t epoch, const std::optional<ObservedAccuracy>& acc);

  // The epoch of the last observation (-1 before the first), and whether its window held only
  // answers of that epoch.
  int64_t epoch() const { return epoch_; }
  bool fresh() const { return fresh_; }

  // Set by the reconciler when the last firing found no plan at the raised floor (for the SLOMet
  // message); cleared by an observation that is not below the floor.
  std::string note;

 private:
  AccuracyDriftOptions opts_;
  std::optional<double> since_;
  int64_t epoch_ = -1;
  int64_t baseline_ = 0;  // the sinks' scored total when the epoch was first observed
  bool fresh_ = false;
};

// The plan the reconciler would adopt with status.accuracyFloor = `floor` (the solver on
// ProblemForStatus). kInfeasible when no plan reaches it; otherwise the solver's errors.
StatusOr<Plan> PlanAtFloor(const PlanInputs& in, const WorkflowStatus& st, double floor,
                           const planner::SolverOptions& so);

// "OCR=scale-2.0, SpeechRecognition=ps-default": each operator's variant(s) in `plan`, in order.
std::string PlanVariants(const Plan& plan);

}  // namespace jb
