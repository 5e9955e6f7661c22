// Driver: deploys a workflow's workers on the nodes of one tier kind (local processes, ssh hosts,
// device agents, cloud VMs) and reports what is actually running. Implementations live in
// drivers/<name>/; the reconciler only sees this interface.
// Contract: Apply is idempotent and level-based (the given list is the complete desired set of
// that workflow on this driver; workers not in it are stopped). Observe never blocks for long.
// Thread-safety: implementations must be thread-safe (the reconciler calls them from its workers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/types.h"

namespace jb {

struct WorkerSpec {
  std::string workflow;
  std::string op;
  std::string variant;
  std::string node;
  std::string tier;
  double rate = 0;      // items/s the plan routes here
  KeyRange keys;
  std::string runtime = "emulated";
  bool operator==(const WorkerSpec&) const = default;
};

struct WorkerState {
  WorkerSpec spec;
  bool ready = false;
  std::string message;  // why not ready
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  // Makes `workers` the desired set of `workflow`. Errors are retried by the caller with back-off.
  virtual Status Apply(const std::string& workflow, const std::vector<WorkerSpec>& workers) = 0;
  // What runs now for `workflow` (empty when nothing).
  virtual std::vector<WorkerState> Observe(const std::string& workflow) = 0;
  // Stops every worker of `workflow`; OK when none were running.
  virtual Status Remove(const std::string& workflow) = 0;
};

}  // namespace jb
