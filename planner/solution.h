// Solution: the solvers' index-based result (variant per operator, rate per operator and node,
// rented instances), and its conversion to the API's Plan with key-range routing.
// Thread-safety: plain values.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "planner/problem.h"

namespace jb::planner {

struct Solution {
  std::vector<int> variant;                     // per operator
  std::vector<std::vector<double>> rate;        // [operator][node] items/s
  std::vector<int64_t> instances;               // per node: instances rented
  std::vector<std::vector<int64_t>> dedicated;  // exclusive mode: [operator][node] instances; else empty
  double cost = 0;                              // the solver's objective, USD/h
  double compute_cost = 0;                      // rent part of `cost`
  double lower_bound = 0;                       // proven bound on the optimum
};

// Empty solution shaped for `p`.
Solution EmptySolution(const Problem& p);

// Converts to a Plan. Each operator's key interval [0,1) is split over its nodes in proportion to
// their rates, laid out in tier order (lowest tier first, then node order), which is what makes
// the traffic term linear and makes all inputs of a join meet on one node.
Plan ToPlan(const Problem& p, const Solution& s, const std::string& solver, double solve_ms);

// Relative gap (cost - bound) / cost, 0 when cost is 0.
double RelativeGap(double cost, double bound);

}  // namespace jb::planner
