#include "planner/solution.h"

#include <algorithm>
#include <cmath>

namespace jb::planner {

Solution EmptySolution(const Problem& p) {
  Solution s;
  s.variant.assign(p.ops.size(), 0);
  s.rate.assign(p.ops.size(), std::vector<double>(p.nodes.size(), 0.0));
  s.instances.assign(p.nodes.size(), 0);
  return s;
}

double RelativeGap(double cost, double bound) {
  if (cost <= 1e-12) return 0;
  return std::max(0.0, (cost - bound) / cost);
}

Plan ToPlan(const Problem& p, const Solution& s, const std::string& solver, double solve_ms) {
  Plan plan;
  std::vector<int> order(p.nodes.size());
  for (size_t n = 0; n < order.size(); ++n) order[n] = static_cast<int>(n);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return p.nodes[static_cast<size_t>(a)].tier < p.nodes[static_cast<size_t>(b)].tier;
  });
  for (size_t o = 0; o < p.ops.size(); ++o) {
    const auto& op = p.ops[o];
    const auto& var = op.variants[static_cast<size_t>(s.variant[o])];
    plan.variants[op.name] = var.name;
    double total = 0;
    for (int n : order) total += s.rate[o][static_cast<size_t>(n)];
    double lo = 0, acc = 0;
    int last = -1;
    for (int n : order)
      if (s.rate[o][static_cast<size_t>(n)] > 1e-9) last = n;
    for (int n : order) {
      double r = s.rate[o][static_cast<size_t>(n)];
      if (r <= 1e-9) continue;
      acc += r;
      double hi = n == last ? 1.0 : std::min(1.0, acc / total);
      const auto& node = p.nodes[static_cast<size_t>(n)];
      Placement pl;
      pl.op = op.name;
      pl.variant = var.name;
      pl.node = node.name;
      pl.tier = p.tiers[static_cast<size_t>(node.tier)];
      // Rates follow the key share exactly so that routing and accounting agree.
      pl.rate = op.rate * (hi - lo);
      pl.keys = KeyRange{lo, hi};
      double cap = 1000.0 / var.latency_ms[static_cast<size_t>(n)];
      int64_t rented = std::max<int64_t>(1, s.instances[static_cast<size_t>(n)]);
      pl.instances = s.dedicated.empty() ? rented : std::max<int64_t>(1, s.dedicated[o][static_cast<size_t>(n)]);
      // Fraction of the capacity this operator holds on the node (dedicated instances when exclusive).
      pl.utilisation = pl.rate / (cap * static_cast<double>(pl.instances));
      plan.placements.push_back(pl);
      lo = hi;
    }
  }
  for (size_t n = 0; n < p.nodes.size(); ++n)
    if (s.instances[n] > 0) plan.node_instances[p.nodes[n].name] = s.instances[n];
  plan.cost.compute_per_hour = s.compute_cost;
  plan.cost.network_per_hour = s.cost - s.compute_cost;
  plan.cost.total_per_hour = s.cost;
  std::vector<int> vars(s.variant.begin(), s.variant.end());
  plan.accuracy = p.Accuracy(vars).value_or(0.0);
  plan.lower_bound = s.lower_bound;
  plan.gap = RelativeGap(s.cost, s.lower_bound);
  plan.optimal = plan.gap <= 1e-6;
  plan.solver = solver;
  plan.solve_ms = solve_ms;
  return plan;
}

}  // namespace jb::planner
