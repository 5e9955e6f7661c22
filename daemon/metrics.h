// DaemonMetrics: the whole of jellybeand's /metrics page (Prometheus text format 0.0.4, rendered
// by daemon/metrics_exposition.h), read at scrape time from the store, the controller and the
// drivers:
//   jellybean_build_info{version,commit}        1 (version from debian/changelog, commit from git at configure time)
//   jellybean_objects{kind}                     objects in the store
//   jellybean_api_*                             daemon/metrics_api.h (requests by method and code, latency)
//   jellybean_reconcile_total, jellybean_reconcile_errors_total, jellybean_reconcile_duration_seconds
//   (summary: _sum and _count), jellybean_workqueue_depth    the controller's
//   jellybean_plan_cost_dollars_per_hour{workflow,part}      predicted cost of the current plan
//   jellybean_workflow_*                        daemon/metrics_workflow.h (status, history) and
//                                               daemon/workflow_metrics.h (accuracy vs floor)
//   jellybean_worker_*, jellybean_items_*, jellybean_link_*, jellybean_cross_tier_*, histograms of
//   service time and source-to-sink latency     daemon/metrics_workers.h (what the drivers observe)
// Without a driver (SetDriver not called) the worker families have HELP and TYPE and no samples.
// Thread-safety: thread-safe; SetDriver before the first Render.
#pragma once

#include <atomic>
#include <string>

#include "daemon/metrics_api.h"
#include "daemon/metrics_workflow.h"
#include "drivers/driver.h"
#include "reconciler/controller.h"
#include "reconciler/store.h"

namespace jb {

class DaemonMetrics {
 public:
  // Borrows both; controller may be null (tests).
  DaemonMetrics(const Store* store, const Controller* controller) : store_(store), controller_(controller) {}
  void SetDriver(Driver* driver) { driver_.store(driver); }
  // One answered REST request (ApiServer::Handle).
  void ObserveRequest(const std::string& method, int code, double seconds) { api_.Observe(method, code, seconds); }
  // The page.
  std::string Render() const;

 private:
  const Store* store_;
  const Controller* controller_;
  std::atomic<Driver*> driver_{nullptr};
  ApiRequestMetrics api_;
  mutable PlanHistoryTracker history_;
};

// The build's version and git commit ("unknown" when the build had none).
std::string BuildVersion();
std::string BuildCommit();

}  // namespace jb
