// Deployment: turns a Plan into the workers that run it, and the workers' reports back into the
// Workflow's observed status. Pure functions on snapshots.
//
// Layout: one worker per node the plan uses (named after the node; its operator instances are the
// plan's placements there, with `servers` = rented pool instances), plus one "io-<tier>" worker
// per source tier hosting the sources of that tier; the first one also hosts the sink. Routes
// carry the plan's key ranges; the sink route has no tier, because the plan does not price the
// delivery of results (the sink stands for wherever the application reads them).
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "drivers/driver.h"
#include "planner/problem.h"

namespace jb {

struct DeploymentOptions {
  double join_timeout_s = 10;
  int64_t window = 256;
  std::string state_dir;  // unused by the builder; drivers place files themselves
};

// Workers for `plan` at `epoch`. Route addresses are left empty for the driver to fill.
StatusOr<std::vector<WorkerConfig>> BuildDeployment(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                                    const Infrastructure& inf, const Plan& plan, int64_t epoch,
                                                    const DeploymentOptions& opts = {});

// Summarises the workers' metrics: throughput and latency at the sink, counts, observed
// cross-tier traffic, live cost (rent of the plan's nodes + observed traffic x link prices), and
// the observed accuracy when the sinks score labelled answers (SummarizeAccuracy, with the plan's
// accuracy as planned and p.min_accuracy as the floor).
ObservedStatus Summarize(const planner::Problem& p, const Plan& plan, const std::vector<WorkerState>& workers);

}  // namespace jb
