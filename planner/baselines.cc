// The baselines (solver.h): cloud-only, most-accurate, and the JellyBean prototype's algorithm.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "planner/scorer.h"
#include "planner/solver.h"
#include "planner/solver_internal.h"

namespace jb::planner {

StatusOr<PlanResult> CloudOnly(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& inf,
                               const ProblemOptions& base, double time_limit_s) {
  if (inf.spec.tiers.empty()) return Status::InvalidArgument("no tiers");
  ProblemOptions o = base;
  o.allowed_tiers = {inf.spec.tiers.back().name};
  auto p = BuildProblem(wf, profiles, inf, o);
  if (!p.ok()) return p.status();
  auto r = SolveExact(*p, time_limit_s);
  if (r.ok()) r->plan.solver = "baseline cloud-only (exact placement on tier " + inf.spec.tiers.back().name + ")";
  return r;
}

StatusOr<PlanResult> MostAccurate(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                  const Infrastructure& inf, const ProblemOptions& base, double time_limit_s) {
  auto full = BuildProblem(wf, profiles, inf, base);
  if (!full.ok()) return full.status();
  const Problem& p = *full;
  // The most accurate combination of runnable variants.
  ProblemOptions o = base;
  if (p.table) {
    double best = -1;
    size_t bc = 0;
    for (size_t c = 0; c < p.table->combos.size(); ++c) {
      bool ok = true;
      for (size_t i = 0; i < p.table->ops.size(); ++i) {
        size_t op = static_cast<size_t>(p.table->ops[i]);
        ok = ok && p.Runnable(static_cast<int>(op), p.table->combos[c][i]);
      }
      if (ok && p.table->accuracy[c] > best) {
        best = p.table->accuracy[c];
        bc = c;
      }
    }
    for (size_t i = 0; i < p.table->ops.size(); ++i) {
      size_t op = static_cast<size_t>(p.table->ops[i]);
      o.fixed_variants[p.ops[op].name] = p.ops[op].variants[static_cast<size_t>(p.table->combos[bc][i])].name;
    }
  } else {
    for (const auto& op : p.ops) {
      double best = -1;
      std::string name;
      for (const auto& v : op.variants)
        if (v.accuracy.value_or(100.0) > best) {
          best = v.accuracy.value_or(100.0);
          name = v.name;
        }
      o.fixed_variants[op.name] = name;
    }
  }
  auto q = BuildProblem(wf, profiles, inf, o);
  if (!q.ok()) return q.status();
  auto r = SolveExact(*q, time_limit_s);
  if (r.ok()) r->plan.solver = "baseline most-accurate (exact placement)";
  return r;
}

namespace {

using internal::Clock;
using internal::MsSince;

// Variant assignments with their ranking cost, best first.
using Beam = std::vector<std::pair<double, std::vector<int>>>;

// The prototype's variant search: a beam of width `beam_width` over the operators in topological
// order, ranked by the variants' fastest latency; states that can no longer reach the accuracy
// floor are pruned. Empty when no assignment reaches it.
Beam BeamSearchVariants(const Problem& p, int beam_width) {
  const size_t O = p.ops.size(), N = p.nodes.size();
  // Ranking cost of a variant: its fastest latency on any allowed node (a unitless weight, like the
  // prototype's per-variant cost).
  auto rank = [&](size_t o, size_t v) {
    double best = kInf;
    for (size_t n = 0; n < N; ++n)
      if (p.node_allowed[n]) best = std::min(best, p.ops[o].variants[v].latency_ms[n]);
    return best;
  };
  // Beam search over variants in topological order; prune states that can no longer reach the floor.
  std::function<bool(const std::vector<int>&)> can_reach = [&](const std::vector<int>& partial) {
    if (p.table) {
      for (size_t c = 0; c < p.table->combos.size(); ++c) {
        if (p.table->accuracy[c] < p.min_accuracy - 1e-9) continue;
        bool ok = true;
        for (size_t i = 0; i < p.table->ops.size(); ++i) {
          size_t op = static_cast<size_t>(p.table->ops[i]);
          ok = ok && (op >= partial.size() || partial[op] == p.table->combos[c][i]);
        }
        if (ok) return true;
      }
      return false;
    }
    std::vector<int> full = partial;
    for (size_t o = partial.size(); o < O; ++o) {
      int bv = 0;
      double b = -1;
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
        if (p.ops[o].variants[v].accuracy.value_or(100.0) > b) {
          b = p.ops[o].variants[v].accuracy.value_or(100.0);
          bv = static_cast<int>(v);
        }
      full.push_back(bv);
    }
    auto a = p.Accuracy(full);
    return a && *a >= p.min_accuracy - 1e-9;
  };
  std::vector<std::pair<double, std::vector<int>>> beam = {{0.0, {}}};
  for (size_t o = 0; o < O; ++o) {
    std::vector<std::pair<double, std::vector<int>>> next;
    for (const auto& [cost, partial] : beam)
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
        double r = rank(o, v);
        if (!std::isfinite(r)) continue;
        auto np = partial;
        np.push_back(static_cast<int>(v));
        if (!can_reach(np)) continue;
        next.emplace_back(cost + r, std::move(np));
      }
    std::stable_sort(next.begin(), next.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (next.size() > static_cast<size_t>(beam_width)) next.resize(static_cast<size_t>(beam_width));
    beam = std::move(next);
  }
  return beam;
}

// The prototype's greedy assignment of the variants `var`: one operator per node instance, nodes
// taken in the tier preference order `torder` (empty: none, cheapest capacity first). The solution
// carries its compute cost; nullopt when an operator runs out of free instances.
std::optional<Solution> GreedyAssign(const Problem& p, const std::vector<int>& var, const std::vector<int>& torder) {
  const size_t O = p.ops.size(), N = p.nodes.size();
  Solution s = EmptySolution(p);
  s.variant = var;
  s.dedicated.assign(O, std::vector<int64_t>(N, 0));
  std::vector<int64_t> free_inst(N);
  for (size_t n = 0; n < N; ++n) free_inst[n] = p.node_allowed[n] ? p.nodes[n].count : 0;
  bool ok = true;
  for (size_t o = 0; o < O && ok; ++o) {
    size_t v = static_cast<size_t>(var[o]);
    std::vector<size_t> cand;
    for (size_t n = 0; n < N; ++n)
      if (p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0) cand.push_back(n);
    auto tier_rank = [&](size_t n) {
      if (torder.empty()) return 0;
      return static_cast<int>(std::find(torder.begin(), torder.end(), p.nodes[n].tier) - torder.begin());
    };
    std::stable_sort(cand.begin(), cand.end(), [&](size_t a, size_t b) {
      if (tier_rank(a) != tier_rank(b)) return tier_rank(a) < tier_rank(b);
      double ca = p.nodes[a].price / p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(a));
      double cb = p.nodes[b].price / p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(b));
      return ca < cb;
    });
    double left = p.ops[o].rate;
    while (left > 1e-9) {
      // Work within the most preferred tier that still has free instances: the cheapest single
      // instance that covers the rest (best fit), else the best price per capacity.
      int group = -1;
      for (size_t n : cand)
        if (free_inst[n] > 0) {
          group = tier_rank(n);
          break;
        }
      int pick = -1;
      double pick_price = kInf;
      for (size_t n : cand)
        if (free_inst[n] > 0 && tier_rank(n) == group &&
            p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) >= left - 1e-9 &&
            p.nodes[n].price < pick_price) {
          pick = static_cast<int>(n);
          pick_price = p.nodes[n].price;
        }
      if (pick < 0)
        for (size_t n : cand)
          if (free_inst[n] > 0) {
            pick = static_cast<int>(n);
            break;
          }
      if (pick < 0) {
        ok = false;
        break;
      }
      size_t n = static_cast<size_t>(pick);
      double take = std::min(left, p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)));
      s.rate[o][n] += take;
      s.dedicated[o][n] += 1;
      s.instances[n] += 1;
      free_inst[n] -= 1;
      left -= take;
    }
  }
  if (!ok) return std::nullopt;
  for (size_t n = 0; n < N; ++n) s.compute_cost += static_cast<double>(s.instances[n]) * p.nodes[n].price;
  return s;
}

}  // namespace

StatusOr<PlanResult> Prototype(const Problem& p, int beam_width) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  auto t0 = Clock::now();
  Beam beam = BeamSearchVariants(p, beam_width);
  if (beam.empty()) return Status::Infeasible(Diagnose(p));

  // Greedy assignment, one operator per node instance; several tier preference orders.
  std::vector<std::vector<int>> tier_orders;
  std::vector<int> up(static_cast<size_t>(p.K())), down(static_cast<size_t>(p.K()));
  std::iota(up.begin(), up.end(), 0);
  std::iota(down.rbegin(), down.rend(), 0);
  tier_orders.push_back({});  // empty = no tier preference, cheapest capacity first
  tier_orders.push_back(up);
  tier_orders.push_back(down);
  std::optional<PlanResult> best;
  for (const auto& [rank_cost, var] : beam) {
    for (const auto& torder : tier_orders) {
      std::optional<Solution> assigned = GreedyAssign(p, var, torder);
      if (!assigned) continue;
      Solution s = std::move(*assigned);
      Plan plan = ToPlan(p, s, "baseline prototype (beam search + greedy, proportional routing)", 0);
      s.cost = s.compute_cost + ProportionalNetworkCost(p, plan);
      if (!best || s.cost < best->solution.cost - 1e-12) {
        plan.cost.network_per_hour = s.cost - s.compute_cost;
        plan.cost.total_per_hour = s.cost;
        s.lower_bound = 0;
        plan.gap = 0;
        plan.lower_bound = 0;
        plan.optimal = false;
        best = PlanResult{plan, s};
      }
    }
  }
  if (!best) return Status::Infeasible("prototype greedy assignment found no placement: " + Diagnose(p));
  best->plan.solve_ms = MsSince(t0);
  return std::move(*best);
}

}  // namespace jb::planner
