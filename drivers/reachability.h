// Devices behind NAT (worker/dialout.h): which connections unreachable workers open themselves.
// A worker is unreachable when its node (else its tier) says `reachable: false`: workers of other
// tiers cannot connect to it. Workers of one tier are one site and connect to each other directly.
//
// DirectConnections marks, in every worker's routes and drain routes, those to an unreachable
// worker of another tier as dialIn, and gives that worker the listen address of each such sender
// (dialOut), so it dials them. Two unreachable workers of different tiers that exchange items
// could not connect either way: refused (InvalidArgument naming both), the plan must change.
//
// Thread-safety: a pure function.
#pragma once

#include <vector>

#include "api/infrastructure_types.h"
#include "api/worker_config.h"
#include "base/status.h"

namespace jb {

// `workers` carry their final listen addresses (drivers/dispatch.h fills them first).
Status DirectConnections(const InfrastructureSpec& infra, std::vector<WorkerConfig>* workers);

}  // namespace jb
