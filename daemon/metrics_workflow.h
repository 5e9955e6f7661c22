// The per-Workflow families of /metrics that come from what the reconciler writes into the
// Workflow's status (conditions, plan, observed, rollout, history), label workflow="NAME":
//   jellybean_workflow_condition{type,status}                 1 for the condition's status, 0 for the others
//   jellybean_workflow_plan_epoch                             the current plan's epoch
//   jellybean_workflow_plan_solve_seconds                     solver time of the current plan
//   jellybean_workflow_plan_gap_ratio                         relative MIP gap (0 = proven optimal)
//   jellybean_workflow_plan_optimal                           1 when proven optimal
//   jellybean_workflow_load_scale                             the plan is for the sources' rates x this
//   jellybean_workflow_unavailable_nodes                      nodes left out of the plan
//   jellybean_workflow_rollout_in_progress{phase}             1 while a rollout runs
//   jellybean_workflow_observed_throughput_items_per_second   at the sink, last 5 s
//   jellybean_workflow_planned_throughput_items_per_second    what the plan must deliver at the sink
//   jellybean_workflow_throughput_window_complete             1 when the observed window is a full one
//   jellybean_workflow_items_emitted_total / _delivered_total / _dropped_total, jellybean_workflow_duplicates_total
//   jellybean_workflow_workers, jellybean_workflow_workers_ready, jellybean_workflow_worker_restarts_total
//   jellybean_workflow_live_cost_dollars_per_hour             rent of the used nodes + observed network
//   jellybean_workflow_observed_network_cost_dollars_per_hour observed cross-tier traffic x link prices
//   jellybean_workflow_observed_cross_tier_bytes_per_second   summed over tier boundaries
//   jellybean_workflow_planned_cross_tier_bytes_per_second    the plan's prediction, same sum
//   jellybean_workflow_replans_total{trigger}                 plans adopted, by trigger (counter)
//   jellybean_workflow_rollout_duration_seconds               trigger -> new routes on every worker (histogram)
//   jellybean_workflow_last_rollout_duration_seconds          the same for the newest revision that has it
// Re-plans and rollout durations are read from status.history, which keeps the last 10 revisions:
// PlanHistoryTracker remembers the newest epoch counted per workflow, so each revision is counted
// once per daemon process (the counters start again at a daemon restart, as Prometheus expects).
// Thread-safety: PlanHistoryTracker is thread-safe; the functions are pure.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/types.h"
#include "base/mutex.h"
#include "daemon/metrics_exposition.h"

namespace jb {

class PlanHistoryTracker {
 public:
  static const std::vector<double>& RolloutBuckets();
  // Counts the revisions of `workflows` not counted yet; forgets workflows no longer listed.
  void Update(const std::vector<Workflow>& workflows) EXCLUDES(mu_);
  // jellybean_workflow_replans_total and jellybean_workflow_rollout_duration_seconds.
  void Write(Exposition& x) const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::map<std::string, int64_t> counted_epoch_ GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, int64_t> replans_ GUARDED_BY(mu_);
  std::map<std::string, HistogramData> rollouts_ GUARDED_BY(mu_);
};

// The status-derived families above except the tracker's. `planned_cross_tier_bps` holds the
// planned cross-tier bytes/s per workflow (absent: not computable, no sample).
void WriteWorkflowStatusMetrics(const std::vector<Workflow>& workflows,
                                const std::map<std::string, double>& planned_cross_tier_bps, Exposition& x);

}  // namespace jb
