// Driver: deploys a workflow's workers on the nodes of one tier kind (local processes, ssh hosts,
// device agents, cloud VMs) and reports what is actually running. Implementations live in
// drivers/<name>/; the reconciler only sees this interface.
// A worker is one jellybean-worker process: the operator instances the plan puts on one node, or
// the workflow's sources and sink ("io-<tier>"). The reconciler hands over complete WorkerConfigs
// (drivers/deployment.h) whose route addresses the driver fills in, since only it knows where
// each worker listens.
// Contract: Apply is idempotent and level-based (the given list is the complete desired set of
// that workflow on this driver; workers not in it are stopped). Observe never blocks for long.
// Thread-safety: implementations must be thread-safe (the reconciler calls them from its workers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "api/worker_config.h"

namespace jb {

struct WorkerState {
  std::string name;  // WorkerConfig.name
  std::string node;
  std::string tier;
  bool ready = false;
  std::string message;  // why not ready, or what happened last (restarts)
  int64_t pid = 0;
  int64_t restarts = 0;
  std::optional<WorkerMetrics> metrics;  // the worker's latest report, when it has written one
  bool control_link_lost = false;        // not ready only because the daemon lost its link to the node (#22)
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  // Makes `workers` the desired set of `workflow`. Errors are retried by the caller with back-off.
  virtual Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) = 0;
  // What runs now for `workflow` (empty when nothing).
  virtual std::vector<WorkerState> Observe(const std::string& workflow) = 0;
  // The configs `workflow`'s workers run with now: the last Apply's set, as the driver completed
  // it (addresses filled in), including after a daemon restart. The reconciler's rollouts start
  // from it (make-before-break needs to know what serves now).
  virtual std::vector<WorkerConfig> Desired(const std::string& workflow) = 0;
  // Stops every worker of `workflow`; OK when none were running.
  virtual Status Remove(const std::string& workflow) = 0;
  // Workflows this driver has workers for (including ones adopted after a daemon restart), so the
  // daemon can stop the workers of workflows that were deleted while it was down.
  virtual std::vector<std::string> Workflows() = 0;

  // Multi-driver deployments (drivers/dispatch.h). Whether this driver deploys tiers whose driver
  // type is `type`.
  virtual bool Serves(const std::string& type) const { return type == name(); }
  // Called before Host and Apply with the workflow's Infrastructure, so remote drivers know the
  // nodes' addresses and credentials and the tiers' settings.
  virtual void UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) {
    (void)workflow;
    (void)infra;
  }
  // The host (address) the workers of `node` listen on. Remote drivers may create or wait for a
  // machine here: Unavailable (with the reason) until it is up.
  virtual StatusOr<std::string> Host(const std::string& workflow, const std::string& node) {
    (void)workflow;
    return Status::FailedPrecondition("the " + name() + " driver cannot place node " + node);
  }
  // A worker's log (its stdout and stderr, as the driver keeps them): the bytes from `offset` on, at
  // most `max_bytes`; offset < 0 = the last `max_bytes`. *end = the offset just after the returned
  // bytes (pass it back to follow the log; a log that shrank restarts at 0). kNotFound naming the
  // worker when `workflow` has none of that name; kFailedPrecondition when the driver cannot fetch
  // logs (the default: "the <name> driver cannot fetch worker logs yet").
  virtual StatusOr<std::string> ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                        size_t max_bytes, int64_t* end) {
    (void)workflow;
    (void)worker;
    (void)offset;
    (void)max_bytes;
    *end = 0;
    return Status::FailedPrecondition("the " + name() + " driver cannot fetch worker logs yet");
  }
};

}  // namespace jb
