// Deployment: turns a Plan into the workers that run it, and the workers' reports back into the
// Workflow's observed status. Pure functions on snapshots.
//
// Layout: one worker per node the plan uses (named after the node; its operator instances are the
// plan's placements there, with `servers` = rented pool instances), plus one "io-<tier>" worker
// per source tier hosting the sources of that tier; the one of the sink's tier (planner::SinkTier:
// the first ingress source's tier, else the first source's) also hosts the sink. Routes carry the
// plan's key ranges and their tier, the sink route too: the plan prices the answers' way back to
// the sink, and the observed cross-tier traffic counts it like any other link.
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
  // The inference endpoint (ingress sources) listens on `ingress_host` (the daemon's localHost). By
  // default it is TLS with a bearer token: the driver fills certFile/keyFile/tokenFile
  // (drivers/local/ingress_tls.h). With `ingress_plain_http` (the daemon's ingressPlainHttp) it is
  // plain HTTP, allowed on a loopback host only: otherwise the workflow is refused.
  bool ingress_plain_http = false;
  std::string ingress_host = "127.0.0.1";
};

// Workers for `plan` at `epoch`. Route addresses are left empty for the driver to fill.
StatusOr<std::vector<WorkerConfig>> BuildDeployment(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                                    const Infrastructure& inf, const Plan& plan, int64_t epoch,
                                                    const DeploymentOptions& opts = {});

// The driver types that run something of `plan` ("local", "local+ssh"; sorted, '+'-joined): the
// drivers of the tiers with a placement or a source. "" when none.
std::string DriversOfPlan(const Workflow& wf, const Infrastructure& inf, const Plan& plan);

// Summarises the workers' metrics: throughput and latency at the sink, counts, observed
// cross-tier traffic, live cost (rent of the plan's nodes + observed traffic x link prices), and
// the observed accuracy when the sinks score labelled answers (SummarizeAccuracy, with the plan's
// accuracy as planned and p.min_accuracy as the floor).
ObservedStatus Summarize(const planner::Problem& p, const Plan& plan, const std::vector<WorkerState>& workers);

}  // namespace jb
