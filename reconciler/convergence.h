// Convergence: no Workflow is left without a next look (#22). A reconcile pass that ends without a
// plan (Infeasible, SolverError, Invalid, MissingReference, a PlanningTimeout with nothing
// running, no nodes left) is followed by another after a back-off (first_empty, doubling per
// empty pass, capped at max_empty); a pass that ends with nodes left out of the plan
// (status.unavailableNodes) is followed by one at the earliest time such a node is tried again
// (its outage's `since` + node_retry_s). So a workflow converges once the cause is gone, with no
// other change (before: a workflow made infeasible by an edge host's cut stayed so 135 s after the
// host came back, until something else changed).
// Also: wall-clock stamps and ages read from a Clock, so outages can be tested with a FakeClock.
// Thread-safety: ConvergenceBackoff is thread-safe; the free functions are pure.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "api/types.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace jb {

struct ConvergenceOptions {
  std::chrono::milliseconds first_empty{1000};  // the look after the first pass without a plan ...
  std::chrono::milliseconds max_empty{30000};   // ... doubling per empty pass up to this
};

class ConvergenceBackoff {
 public:
  explicit ConvergenceBackoff(ConvergenceOptions opts = {}) : opts_(opts) {}

  // The requeue after a pass of `name` that ended with `st` at wall time `now`, given the pass's own
  // `requeue` (0 = none): the smallest of `requeue`, the empty-plan back-off (when st has no plan,
  // or a Planned condition that is not True)
  // and the next node retry (when st lists unavailable nodes). 0 only when none applies.
  // A pass with a plan resets the back-off.
  std::chrono::milliseconds Next(const std::string& name, const WorkflowStatus& st, double node_retry_s,
                                 std::chrono::system_clock::time_point now, std::chrono::milliseconds requeue)
      EXCLUDES(mu_);
  // Drops `name`'s back-off (the Workflow is gone).
  void Forget(const std::string& name) EXCLUDES(mu_);

 private:
  const ConvergenceOptions opts_;
  Mutex mu_;
  std::map<std::string, int> empty_passes_ GUARDED_BY(mu_);
};

// Milliseconds until the first outage of `st` expires (since + node_retry_s), at least 1 ms (an
// expired or malformed one is due now); nullopt when st lists none.
std::optional<std::chrono::milliseconds> NextNodeRetry(const WorkflowStatus& st, double node_retry_s,
                                                       std::chrono::system_clock::time_point now);

// Whether st's plan places work on a node st lists as unavailable: a rollout to that plan cannot
// complete, so it must not hold back the re-plan around the node (it did, for rollout_stuck_s).
bool PlanUsesUnavailableNode(const WorkflowStatus& st);

// "YYYY-MM-DDTHH:MM:SS.fffZ" of `clock`'s wall time.
std::string ClockRfc3339Millis(const Clock& clock);
// Seconds from `rfc3339` to `clock`'s wall time (huge when it is empty or malformed).
double ClockSecondsSince(const Clock& clock, const std::string& rfc3339);

}  // namespace jb
