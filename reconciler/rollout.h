// Rollout: make-before-break deployment of a new plan epoch, as a pure function of what
// the driver runs now, what the new plan needs and what the workers report. The reconciler calls
// it on every pass and hands `apply` to the driver; the phases follow from the state alone, so a
// daemon restart in the middle resumes where the driver's state says it is.
//
//   Starting   the new epoch's workers that do not exist yet start beside the old ones;
//   Switching  once they are ready, every worker gets the new routes and epoch (sources stamp new
//              items with it), and the old epoch's routes as drain routes, so items already in
//              flight finish along the old table (joins still meet);
//   Draining   workers of the old plan that the new one does not use keep running until no worker
//              holds an item of an older epoch (held_by_epoch), or until the drain timeout;
//   Steady     the old workers are stopped and the drain routes removed.
//
// A worker whose instances are unchanged is reused in place (same name, new routes by SIGHUP). A
// node whose instances change gets a new worker ("<node>~e<epoch>") beside the old one.
// When an old worker is not running (its node failed), there is nothing to drain through it: the
// switch installs no drain routes and senders re-route what they held for it.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "drivers/driver.h"

namespace jb {

struct RolloutStep {
  std::vector<WorkerConfig> apply;  // the complete desired set to hand to the driver now
  std::string phase;                // Starting | Switching | Draining | Steady
  std::string message;              // one sentence for the Deployed condition
  bool switched = false;            // every new-epoch worker runs the new routes
  bool done = false;                // the new epoch serves alone (phase Steady)
  int64_t from_epoch = 0;           // the epoch being replaced (0 = none)
};

struct RolloutOptions {
  double drain_timeout_s = 30;  // then the old workers stop anyway; senders re-route their items
};

// `current`: Driver::Desired(); `target`: BuildDeployment() of the new plan at `epoch` (workers
// named after their nodes); `observed`: Driver::Observe(); `since_switch_s`: seconds since the
// switch (negative before it), from the reconciler's status.
RolloutStep NextRolloutStep(const std::vector<WorkerConfig>& current, std::vector<WorkerConfig> target,
                            const std::vector<WorkerState>& observed, int64_t epoch, double since_switch_s,
                            const RolloutOptions& opts = {});

// Workers `target` would start or stop against `current` (after name assignment): the churn a
// re-plan costs.
int64_t RolloutChurn(const std::vector<WorkerConfig>& current, std::vector<WorkerConfig> target, int64_t epoch);

}  // namespace jb
