// The LP relaxation by column generation over the rate columns (SolveRelaxation in solver.h);
// the heuristic starts from the same restricted model.
#include <algorithm>
#include <cmath>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/solver.h"
#include "planner/solver_internal.h"

namespace jb::planner {

namespace internal {

// Column generation for the LP relaxation (see SolveRelaxation in solver.h).
// Stops when the Lagrangian bound is within `tolerance` (relative) of the restricted LP.
StatusOr<RestrictedModel> ColumnGeneration(const Problem& p, Clock::time_point deadline, double tolerance,
                                           const SolveLimits& lim) {
  const size_t O = p.ops.size(), N = p.nodes.size();
  const int K = p.K();
  RestrictedModel rm;
  rm.mask.assign(O, {});
  // Cheapest `per_tier` nodes by price per capacity, per operator, variant and tier.
  auto seed = [&](size_t per_tier) {
    for (size_t o = 0; o < O; ++o) {
      rm.mask[o].resize(p.ops[o].variants.size(), std::vector<char>(N, 0));
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
        std::vector<std::vector<std::pair<double, size_t>>> by_tier(static_cast<size_t>(K));
        for (size_t n = 0; n < N; ++n) {
          double cap = p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n));
          if (cap > 0) by_tier[static_cast<size_t>(p.nodes[n].tier)].emplace_back(p.nodes[n].price / cap, n);
        }
        for (auto& t : by_tier) {
          std::sort(t.begin(), t.end());
          for (size_t i = 0; i < t.size() && i < per_tier; ++i) rm.mask[o][v][t[i].second] = 1;
        }
      }
    }
  };
  size_t per_tier = 8;
  seed(per_tier);
  rm.full_columns = RateColumns(p);
  while (true) {
    ++rm.rounds;
    if (lim.Expired()) return lim.Why();
    rm.f = Formulate(p, &rm.mask);
    LpSession lp(rm.f.model, lim);
    Status solved = lp.Solve();
    if (!solved.ok()) {
      // Out of time, cancelled or a refused model: not a statement about feasibility.
      if (solved.code() != Status::Code::kInfeasible) return solved;
      // The restricted model lacks capacity; widen the seed (the full model is the last resort).
      if (per_tier >= N) return Status::Infeasible("the LP relaxation is infeasible");
      per_tier *= 4;
      seed(per_tier);
      continue;
    }
    const double* dual = lp.row_duals();
    struct Cand {
      double d;
      size_t o, v, n;
    };
    std::vector<Cand> cands;
    std::vector<double> min_d(O, 0.0);
    const Formulation& f = rm.f;
    for (size_t o = 0; o < O; ++o)
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
        if (f.link_row[o][v] < 0) continue;
        double pl = dual[f.link_row[o][v]];
        for (size_t n = 0; n < N; ++n) {
          if (rm.mask[o][v][n]) continue;
          double cap = p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n));
          if (cap <= 0) continue;
          int k = p.nodes[n].tier;
          double pt = k + 1 < K ? dual[f.tier_row[o][v][static_cast<size_t>(k)]] : 0.0;
          // Reduced cost of y (with the capacity it needs): c - Σ dual * coefficient.
          double d;
          if (!p.exclusive) {
            d = f.cap_row[n] >= 0 ? -pl - pt - dual[f.cap_row[n]] / cap : p.nodes[n].price / cap - pl - pt;
          } else if (f.op_cap_row[o][n] >= 0) {
            d = -pl - pt - dual[f.op_cap_row[o][n]] / cap;
          } else if (f.dedicated_row[n] >= 0) {
            d = -pl - pt - dual[f.dedicated_row[n]] / cap;  // a new dedicated instance on a rented node
          } else {
            d = p.nodes[n].price / cap - pl - pt;
          }
          if (d < -1e-9) cands.push_back(Cand{d, o, v, n});
          min_d[o] = std::min(min_d[o], d);
        }
      }
    // Lagrangian (Farley) bound: the missing columns of operator o carry at most r_o items/s in
    // total (Σ_v Σ_n y = r_o), so the full LP is at least the restricted one plus Σ_o r_o min d.
    // The combined "rate + capacity" column prices a node exactly, since the LP's rent is linear.
    double lagrange = lp.objective();
    for (size_t o = 0; o < O; ++o) lagrange += p.ops[o].rate * min_d[o];
    rm.bound = std::max(0.0, rm.rounds == 1 ? lagrange : std::max(rm.bound, lagrange));
    rm.values.assign(lp.values(), lp.values() + rm.f.model.cols());
    if (cands.empty()) {
      rm.bound = lp.objective();
      break;
    }
    if (lp.objective() - rm.bound <= tolerance * std::max(1e-9, std::fabs(lp.objective()))) break;
    if (Clock::now() > deadline) break;  // keep the restricted model and the best bound so far
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.d < b.d; });
    size_t add = std::min<size_t>(cands.size(), 20000);
    for (size_t i = 0; i < cands.size() && i < add; ++i) rm.mask[cands[i].o][cands[i].v][cands[i].n] = 1;
  }
  for (size_t o = 0; o < O; ++o)
    for (size_t v = 0; v < rm.mask[o].size(); ++v)
      for (size_t n = 0; n < N; ++n)
        if (rm.mask[o][v][n] && p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0)
          ++rm.columns;
  return rm;
}

}  // namespace internal

StatusOr<Relaxation> SolveRelaxation(const Problem& p, double time_limit_s, const SolveLimits& limits) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  auto deadline = internal::DeadlineIn(time_limit_s);
  // The merged model has the same LP optimum (exact reformulation) and far fewer columns.
  auto rm = internal::ColumnGeneration(AggregateNodes(p).merged, deadline, 0.0, limits);
  if (!rm.ok()) return rm.status();
  Relaxation r{rm->bound, rm->columns, rm->full_columns, rm->rounds, {}};
  r.variant_share.resize(p.ops.size());
  for (size_t o = 0; o < p.ops.size() && o < rm->f.x.size(); ++o)
    for (size_t v = 0; v < rm->f.x[o].size(); ++v)
      r.variant_share[o].push_back(rm->f.x[o][v] >= 0 ? rm->values[static_cast<size_t>(rm->f.x[o][v])] : 0.0);
  return r;
}

}  // namespace jb::planner
