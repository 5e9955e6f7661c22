// Node aggregation: AggregateNodes (problem.h) merges interchangeable nodes; Expand and Contract
// (solver_internal.h) map solutions between the merged and the original nodes.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "planner/problem.h"
#include "planner/solution.h"
#include "planner/solver_internal.h"

namespace jb::planner {

Aggregation AggregateNodes(const Problem& p) {
  Aggregation a;
  a.merged = p;
  a.merged.nodes.clear();
  a.merged.node_allowed.clear();
  std::map<std::pair<int, std::vector<double>>, size_t> classes;
  std::vector<std::vector<int>> groups;
  for (size_t n = 0; n < p.nodes.size(); ++n) {
    std::vector<double> caps;
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
        caps.push_back(p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)));
    auto key = std::make_pair(p.nodes[n].tier, caps);
    auto it = classes.find(key);
    if (it == classes.end()) {
      classes.emplace(key, groups.size());
      groups.push_back({static_cast<int>(n)});
    } else {
      groups[it->second].push_back(static_cast<int>(n));
    }
  }
  for (auto& g : groups) {
    std::stable_sort(g.begin(), g.end(), [&](int x, int y) {
      return p.nodes[static_cast<size_t>(x)].price < p.nodes[static_cast<size_t>(y)].price;
    });
    const PNode& first = p.nodes[static_cast<size_t>(g[0])];
    PNode m = first;
    if (g.size() > 1) {
      m.name = first.name + "+" + std::to_string(g.size() - 1);
      m.count = 0;
      for (int n : g) {
        m.member_prices.push_back(p.nodes[static_cast<size_t>(n)].price);
        m.member_counts.push_back(p.nodes[static_cast<size_t>(n)].count);
        m.count += p.nodes[static_cast<size_t>(n)].count;
      }
    }
    a.merged.nodes.push_back(m);
    a.merged.node_allowed.push_back(p.node_allowed[static_cast<size_t>(g[0])]);
    a.members.push_back(g);
  }
  // Per-node latency vectors follow the merged node order.
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      auto& lat = a.merged.ops[o].variants[v].latency_ms;
      lat.clear();
      for (const auto& g : a.members) lat.push_back(p.ops[o].variants[v].latency_ms[static_cast<size_t>(g[0])]);
    }
  return a;
}

namespace internal {

Solution Expand(const Problem& p, const Aggregation& a, const Solution& s) {
  Solution out = EmptySolution(p);
  out.variant = s.variant;
  out.cost = s.cost;
  out.lower_bound = s.lower_bound;
  if (!s.dedicated.empty()) out.dedicated.assign(p.ops.size(), std::vector<int64_t>(p.nodes.size(), 0));
  for (size_t j = 0; j < a.members.size(); ++j) {
    const auto& g = a.members[j];
    int64_t left = s.instances[j];
    std::vector<double> free(g.size(), 0.0);
    std::vector<int64_t> free_inst(g.size(), 0);
    for (size_t k = 0; k < g.size(); ++k) {
      int64_t take = std::min(left, p.nodes[static_cast<size_t>(g[k])].count);
      out.instances[static_cast<size_t>(g[k])] = take;
      free[k] = static_cast<double>(take);
      free_inst[k] = take;
      left -= take;
    }
    for (size_t o = 0; o < p.ops.size(); ++o) {
      double r = s.rate[o][j];
      if (r <= 0) continue;
      double cap = p.Capacity(static_cast<int>(o), s.variant[o], g[0]);
      if (!s.dedicated.empty()) {
        int64_t w = s.dedicated[o][j], wl = w;
        for (size_t k = 0; k < g.size() && wl > 0; ++k) {
          int64_t d = std::min(wl, free_inst[k]);
          if (d <= 0) continue;
          out.dedicated[o][static_cast<size_t>(g[k])] += d;
          out.rate[o][static_cast<size_t>(g[k])] += r * static_cast<double>(d) / static_cast<double>(w);
          free_inst[k] -= d;
          wl -= d;
        }
        continue;
      }
      double load = r / cap;
      size_t last = 0;
      for (size_t k = 0; k < g.size() && load > 1e-12; ++k) {
        if (free[k] <= 0) continue;
        double take = std::min(load, free[k]);
        out.rate[o][static_cast<size_t>(g[k])] += take * cap;
        free[k] -= take;
        load -= take;
        last = k;
      }
      if (load > 1e-12) out.rate[o][static_cast<size_t>(g[last])] += load * cap;  // rounding dust
    }
  }
  for (size_t n = 0; n < p.nodes.size(); ++n)
    out.compute_cost += static_cast<double>(out.instances[n]) * p.nodes[n].price;
  return out;
}

// The inverse, for warm starts: sums members into their merged node.
Solution Contract(const Problem& merged, const Aggregation& a, const Solution& s) {
  Solution out = EmptySolution(merged);
  out.variant = s.variant;
  out.cost = s.cost;
  if (!s.dedicated.empty()) out.dedicated.assign(merged.ops.size(), std::vector<int64_t>(merged.nodes.size(), 0));
  for (size_t j = 0; j < a.members.size(); ++j)
    for (int n : a.members[j]) {
      out.instances[j] += s.instances[static_cast<size_t>(n)];
      for (size_t o = 0; o < merged.ops.size(); ++o) {
        out.rate[o][j] += s.rate[o][static_cast<size_t>(n)];
        if (!s.dedicated.empty()) out.dedicated[o][j] += s.dedicated[o][static_cast<size_t>(n)];
      }
    }
  return out;
}

}  // namespace internal

}  // namespace jb::planner
