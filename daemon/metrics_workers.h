// The per-worker and per-operator families of /metrics, from what the drivers observe
// (Driver::Observe: each worker's state and its latest metrics report, which reaches the daemon
// the way the reconciler reads it — the local driver's metrics file, ssh, the agent's frames — so
// no worker opens a port for Prometheus). Labels: workflow, worker, tier; instances add kind
// (source|operator|sink) and name (operator or source name, "sink").
//   jellybean_worker_up / jellybean_worker_ready                  1/0 per worker the drivers run
//   jellybean_worker_restarts_total                               restarts by the driver
//   jellybean_worker_uptime_seconds                               of the current process
//   jellybean_worker_held_items / jellybean_worker_held_items_limit   items in memory and their bound
//   jellybean_worker_credit_window                                per-link credit window (items in flight)
//   jellybean_worker_tls_refused_total                            connections refused by the TLS peer check
//   jellybean_items_in_total / jellybean_items_out_total          per instance
//   jellybean_items_dropped_total{reason}                         per instance
//   jellybean_items_duplicates_total                              per instance
//   jellybean_queue_depth                                         items waiting to run (join parts included)
//   jellybean_operator_service_seconds                            histogram: an operator's run time per item
//   jellybean_workflow_latency_seconds                            histogram: source to sink, summed over sinks
//   jellybean_ingress_responses_total{code}                       ingress sources' HTTP answers
//   jellybean_link_connected, jellybean_link_items_total, jellybean_link_resent_items_total,
//   jellybean_link_payload_bytes_total, jellybean_link_wire_bytes_total, jellybean_link_inflight_items,
//   jellybean_link_pending_items                                  per link, labels add to, to_tier
//   jellybean_cross_tier_bytes_total{from_tier,to_tier}           payload bytes observed crossing tiers
//   jellybean_cross_tier_bytes_per_second{from_tier,to_tier}      the same, last 5 s
//   jellybean_cross_tier_planned_bytes_per_second{tier,direction} the plan's prediction per tier boundary
//                                                                 (direction up = sent up from the tier,
//                                                                 down = sent down into it)
// Thread-safety: pure functions of their arguments.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/worker_config.h"
#include "daemon/metrics_exposition.h"
#include "drivers/driver.h"

namespace jb {

// What the drivers report for one workflow.
struct WorkflowWorkers {
  std::string workflow;
  std::vector<WorkerState> states;
  std::map<std::string, int64_t> window;  // worker -> credit window of its config
  // The plan's predicted payload bytes/s per tier boundary: "up"/"down" -> tier -> bytes/s.
  std::map<std::string, std::map<std::string, double>> planned_boundary_bps;
};

void WriteWorkerMetrics(const std::vector<WorkflowWorkers>& workflows, Exposition& x);

}  // namespace jb
