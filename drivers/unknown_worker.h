// The answer of a driver's ReadLog for a worker it does not run: kNotFound naming the workflow's
// workers, so the caller can pick one (local, ssh and agent drivers).
#pragma once

#include <string>

#include "base/status.h"

namespace jb {

// `workers`: the workflow's workers keyed by name (any map), null when it runs none.
template <class WorkerMap>
Status UnknownWorker(const std::string& workflow, const std::string& worker, const WorkerMap* workers) {
  std::string names;
  if (workers != nullptr)
    for (const auto& kv : *workers) names += (names.empty() ? "" : ", ") + kv.first;
  return Status::NotFound("workflow " + workflow + " has no worker \"" + worker + "\"" +
                          (names.empty() ? " (it runs no workers)" : " (its workers: " + names + ")"));
}

}  // namespace jb
