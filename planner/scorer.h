// Scorer: recomputes a plan's cost, accuracy and per-node load from scratch, independently of the
// solver that produced it. Traffic is computed by intersecting the key intervals of every pair of
// (upstream placement, downstream placement) and charging the tier path between them; the MILP
// instead uses cumulative shares per tier boundary. Agreement of the two is the check that the
// linear model is exact. The answers' way back (Problem::results) is one more such edge, into a
// sink that holds every key on the sink's tier; it counts in `network` and the boundary traffic
// like any edge, and is the one traffic the no-downward rule allows downward.
// Thread-safety: pure function.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/types.h"
#include "planner/problem.h"

namespace jb::planner {

struct Score {
  double compute = 0;  // USD/h: rent of rented instances
  double network = 0;  // USD/h: cross-tier traffic
  double total = 0;
  double accuracy = 0;
  std::map<std::string, double> node_load;            // busy fraction of a node's rented capacity (<= headroom)
  std::map<std::string, double> boundary_up_kibps;    // tier name -> KiB/s sent up from it
  std::map<std::string, double> boundary_down_kibps;  // tier name -> KiB/s sent down into it
  std::vector<std::string> violations;                // empty when the plan is feasible
  bool feasible() const { return violations.empty(); }
};

// Key-range routing (what the data plane does).
Score ScorePlan(const Problem& p, const Plan& plan);

// Network cost of the same placement under proportional routing (every upstream node spreads its
// output over the downstream nodes in proportion to their rates), the prototype's model.
double ProportionalNetworkCost(const Problem& p, const Plan& plan);

}  // namespace jb::planner
