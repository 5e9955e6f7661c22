// The heuristic (SolveHeuristic in solver.h): LP relaxation, variant candidates and their local
// search, rounding with local improvement, and CBC on the placement with the variants fixed, with
// BranchingBound strengthening the bound meanwhile.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/solver.h"
#include "planner/solver_internal.h"

namespace jb::planner {

namespace internal {

namespace {

// Candidate variant assignments from an LP solution, best first: table combinations ranked by their
// z value; for composition, the argmax of x repaired to meet the accuracy floor.
std::vector<std::vector<int>> CandidateVariants(const Problem& p, const Formulation& f, const double* val) {
  std::vector<int> base(p.ops.size(), 0);
  for (size_t o = 0; o < p.ops.size(); ++o) {
    double best = -1;
    for (size_t v = 0; v < f.x[o].size(); ++v)
      if (f.x[o][v] >= 0 && val[f.x[o][v]] > best) {
        best = val[f.x[o][v]];
        base[o] = static_cast<int>(v);
      }
  }
  std::vector<std::vector<int>> out;
  if (p.table) {
    std::vector<std::pair<double, size_t>> ranked;
    for (size_t i = 0; i < f.z.size(); ++i) ranked.emplace_back(-val[f.z[i]], f.z_combo[i]);
    std::stable_sort(ranked.begin(), ranked.end());
    for (size_t k = 0; k < ranked.size() && k < 3; ++k) {
      auto var = base;
      for (size_t i = 0; i < p.table->ops.size(); ++i)
        var[static_cast<size_t>(p.table->ops[i])] = p.table->combos[ranked[k].second][i];
      out.push_back(var);
    }
    return out;
  }
  // Composition, first candidate: every operator the LP splits between variants takes the most
  // accurate of them. The LP met the floor with its mixture, and the accuracy is monotone in each
  // operator's variant accuracy, so this meets it too, and only the split operators move.
  std::vector<int> up = base;
  for (size_t o = 0; o < p.ops.size(); ++o) {
    double best_acc = -1;
    for (size_t v = 0; v < f.x[o].size(); ++v) {
      if (f.x[o][v] < 0 || val[f.x[o][v]] <= 1e-6) continue;
      double a = p.ops[o].variants[v].accuracy.value_or(100.0);
      if (a > best_acc) {
        best_acc = a;
        up[o] = static_cast<int>(v);
      }
    }
  }
  if (auto acc = p.Accuracy(up); acc && *acc >= p.min_accuracy - 1e-9) out.push_back(up);
  // Else (or as a second candidate): upgrade the operator whose next more accurate allowed variant
  // adds the most accuracy until the floor is met.
  auto var = base;
  for (int guard = 0; guard < 1000; ++guard) {
    auto acc = p.Accuracy(var);
    if (acc && *acc >= p.min_accuracy - 1e-9) break;
    double best_gain = 0;
    size_t bo = 0;
    int bv = -1;
    for (size_t o = 0; o < p.ops.size(); ++o) {
      double cur = p.ops[o].variants[static_cast<size_t>(var[o])].accuracy.value_or(100.0);
      for (size_t v = 0; v < f.x[o].size(); ++v) {
        if (f.x[o][v] < 0) continue;
        double a = p.ops[o].variants[v].accuracy.value_or(100.0);
        if (a - cur > best_gain) {
          best_gain = a - cur;
          bo = o;
          bv = static_cast<int>(v);
        }
      }
    }
    if (bv < 0) break;
    var[bo] = bv;
  }
  if (out.empty() || var != out.front()) out.push_back(var);
  return out;
}

// A copy of `p` in which every operator has only the variant `var[o]` (the table keeps only the
// matching entry), so that solvers place a fixed variant assignment.
Problem WithVariants(const Problem& p, const std::vector<int>& var) {
  Problem q = p;
  for (size_t o = 0; o < q.ops.size(); ++o) q.ops[o].variants = {p.ops[o].variants[static_cast<size_t>(var[o])]};
  if (q.table) {
    PTable t;
    t.ops = p.table->ops;
    for (size_t c = 0; c < p.table->combos.size(); ++c) {
      bool match = true;
      for (size_t i = 0; i < t.ops.size(); ++i)
        match = match && p.table->combos[c][i] == var[static_cast<size_t>(t.ops[i])];
      if (match) {
        t.combos.push_back(std::vector<int>(t.ops.size(), 0));
        t.accuracy.push_back(p.table->accuracy[c]);
      }
    }
    q.table = std::move(t);
  }
  return q;
}

// Local search over variant assignments (composition mode; a table's candidates are already its
// best combinations): switch one operator's variant at a time while the accuracy floor holds, and
// keep the switch when the LP cost with variants fixed drops. Uses at most half the time budget.
std::vector<std::vector<int>> ImproveVariants(const Problem& p, const Formulation& f,
                                              std::vector<std::vector<int>> cands, Clock::time_point deadline,
                                              double time_limit_s, const SolveLimits& lim) {
  if (p.table || cands.empty()) return cands;
  auto stop = deadline - Seconds(time_limit_s * kPolishShare);
  LpSession lp(f.model, lim);
  auto cost = [&](const std::vector<int>& var) {
    FixVariants(p, f, lp, var);
    return lp.Solve().ok() ? lp.objective() : kInf;
  };
  // Screening, exact: the LP's value is convex in the fixed x values and the reduced costs at the
  // current variants are a subgradient, so switching o from v to w changes the LP cost by at least
  // d[x_ow] - d[x_ov]. A switch whose estimate is not negative cannot lower the cost and is not
  // solved. (When the current LP failed there is nothing to screen with.)
  std::vector<double> rc;
  auto snapshot = [&](double c) {
    if (c < kInf)
      rc.assign(lp.reduced_costs(), lp.reduced_costs() + f.model.cols());
    else
      rc.clear();
  };
  int solved = 0, screened = 0;
  // Each starting candidate (they come from different roundings) is improved in turn while the
  // time lasts; the results go first, cheapest LP first.
  std::vector<std::pair<double, std::vector<int>>> improved_all;
  for (const auto& start : cands) {
    if (Clock::now() >= stop || lim.Expired()) break;
    std::vector<int> best = start;
    double best_cost = cost(best);
    snapshot(best_cost);
    bool improved = true;
    while (improved && Clock::now() < stop && !lim.Expired()) {
      improved = false;
      for (size_t o = 0; o < p.ops.size() && Clock::now() < stop && !lim.Expired(); ++o) {
        for (size_t v = 0; v < f.x[o].size(); ++v) {
          if (f.x[o][v] < 0 || static_cast<int>(v) == best[o]) continue;
          auto var = best;
          var[o] = static_cast<int>(v);
          auto acc = p.Accuracy(var);
          if (!acc || *acc < p.min_accuracy - 1e-9) continue;
          if (!rc.empty() &&
              rc[static_cast<size_t>(f.x[o][v])] - rc[static_cast<size_t>(f.x[o][static_cast<size_t>(best[o])])] >=
                  -1e-9) {
            ++screened;
            continue;
          }
          ++solved;
          double c = cost(var);
          if (c < best_cost - 1e-9) {
            best_cost = c;
            best = var;
            improved = true;
            snapshot(c);
          }
        }
      }
    }
    improved_all.emplace_back(best_cost, best);
  }
  std::stable_sort(improved_all.begin(), improved_all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::vector<int>> out;
  for (auto& [c, var] : improved_all)
    if (std::find(out.begin(), out.end(), var) == out.end()) out.push_back(var);
  for (auto& var : cands)
    if (std::find(out.begin(), out.end(), var) == out.end()) out.push_back(var);
  return out;
}

// Rounds the instance columns of the LP solution `v` up (and, in exclusive mode, the dedicated
// ones) and fixes them in `fx`: capacity only grows, so the flows stay feasible.
void RoundInstancesUp(const Problem& fp, const Formulation& g, LpSession& fx, const std::vector<double>& v) {
  auto ceil_eps = [](double x) { return std::max(0.0, std::ceil(x - 1e-6)); };
  for (size_t n = 0; n < fp.nodes.size(); ++n) {
    if (g.u[n] < 0) continue;
    double need = ceil_eps(v[static_cast<size_t>(g.u[n])]);
    if (!g.w.empty()) {
      double sum = 0;
      for (size_t o = 0; o < fp.ops.size(); ++o)
        if (g.w[o][n] >= 0) {
          double w = ceil_eps(v[static_cast<size_t>(g.w[o][n])]);
          fx.SetColBounds(g.w[o][n], w, w);
          sum += w;
        }
      need = std::max(need, sum);
    }
    need = std::min(need, static_cast<double>(fp.nodes[n].count));
    fx.SetColBounds(g.u[n], need, need);
  }
}

// Local improvement of the rounded placement in `fx` (solved, objective `cost`): give back one
// instance at a time, least-loaded nodes first (by the loads `v`); repeat passes while a pass saves
// money (closing one node can make another closable), until `stop` or the limits. Leaves the last
// accepted instance counts fixed in `fx` (not necessarily solved).
void GiveBackInstances(const Problem& fp, const Formulation& g, LpSession& fx, double cost, std::vector<double> v,
                       Clock::time_point stop, const SolveLimits& lim) {
  std::vector<double> cur(fx.values(), fx.values() + g.model.cols());
  for (bool improved = true; improved;) {
    improved = false;
    std::vector<std::pair<double, size_t>> order;
    for (size_t n = 0; n < fp.nodes.size(); ++n)
      if (g.u[n] >= 0 && fx.col_lower(g.u[n]) > 0.5) {
        double frac = v[static_cast<size_t>(g.u[n])] / fx.col_lower(g.u[n]);
        order.emplace_back(frac, n);
      }
    std::sort(order.begin(), order.end());
    for (const auto& [frac, n] : order) {
      if (Clock::now() > stop || lim.Expired()) break;
      double u0 = fx.col_lower(g.u[n]);
      // In exclusive mode, drop the dedicated instance of the operator using it least.
      int wcol = -1;
      double w0 = 0;
      if (!g.w.empty()) {
        double least = kInf;
        for (size_t o = 0; o < fp.ops.size(); ++o) {
          if (g.w[o][n] < 0 || fx.col_lower(g.w[o][n]) < 0.5) continue;
          double used = cur[static_cast<size_t>(g.w[o][n])];
          if (used < least) {
            least = used;
            wcol = g.w[o][n];
          }
        }
        if (wcol < 0) continue;
        w0 = fx.col_lower(wcol);
        fx.SetColBounds(wcol, w0 - 1, w0 - 1);
      }
      fx.SetColBounds(g.u[n], u0 - 1, u0 - 1);
      if (fx.Solve().ok() && fx.objective() < cost - 1e-9) {
        cost = fx.objective();
        cur.assign(fx.values(), fx.values() + g.model.cols());
        improved = true;
      } else {
        fx.SetColBounds(g.u[n], u0, u0);
        if (wcol >= 0) fx.SetColBounds(wcol, w0, w0);
      }
    }
    // Next pass ranks by the current loads.
    v = cur;
    if (Clock::now() > stop) break;
  }
}

// Rounds each candidate's placement (instances up, then given back one at a time while a pass saves
// money) and returns the cheapest plan. Past the first candidate, only until `later_stop`: the
// rest of the budget belongs to the polish.
std::optional<Solution> RoundCandidates(const Problem& p, const std::vector<std::vector<int>>& candidates,
                                        Clock::time_point deadline, Clock::time_point later_stop, double time_limit_s,
                                        const SolveLimits& lim) {
  const Clock::time_point give_back_stop = deadline - Seconds(time_limit_s * 0.25);
  std::optional<Solution> best;
  std::vector<double> best_values;
  for (const auto& var : candidates) {
    if ((best && Clock::now() > later_stop) || lim.Expired()) break;
    // Re-generate columns with the variants fixed: the columns that matter change with them.
    Problem fp = WithVariants(p, var);
    auto rm2 = ColumnGeneration(fp, deadline, 5e-3, lim);
    if (!rm2.ok()) continue;
    const Formulation& g = rm2->f;
    LpSession fx(g.model, lim);
    if (!fx.Solve().ok()) continue;
    std::vector<double> v(fx.values(), fx.values() + g.model.cols());
    RoundInstancesUp(fp, g, fx, v);
    if (!fx.Solve().ok()) continue;
    GiveBackInstances(fp, g, fx, fx.objective(), std::move(v), give_back_stop, lim);
    if (!fx.Solve().ok()) continue;  // restore the last accepted state's solution
    double cost = fx.objective();
    if (!best || cost < best->cost - 1e-9) {
      best_values.assign(fx.values(), fx.values() + g.model.cols());
      for (int j = 0; j < g.model.cols(); ++j)
        if (g.model.integer[static_cast<size_t>(j)])
          best_values[static_cast<size_t>(j)] = std::round(best_values[static_cast<size_t>(j)]);
      best = Decode(fp, g, best_values, cost);
      best->variant = var;  // fp has one variant per operator: map back to p's indices
    }
  }
  return best;
}

// CBC on the placement alone with the variants `var` fixed (light cuts), optionally warm-started;
// the result carries `var`.
std::optional<Solution> PolishPlacement(const Problem& p, const std::vector<int>& var, double limit_s,
                                        const Solution* warm, const SolveLimits& lim) {
  std::optional<Solution> w;
  if (warm != nullptr) {
    w = *warm;
    w->variant.assign(p.ops.size(), 0);  // the fixed problem keeps one variant per operator
  }
  auto r = SolveExactMerged(WithVariants(p, var), limit_s, w ? &*w : nullptr, MipOptions::Cuts::kLight, lim);
  if (!r.ok()) return std::nullopt;
  Solution s = std::move(r->solution);
  s.variant = var;
  return s;
}

}  // namespace

StatusOr<PlanResult> SolveHeuristicMerged(const Problem& p, double time_limit_s, const SolveLimits& lim) {
  auto t0 = Clock::now();
  auto deadline = DeadlineIn(time_limit_s, t0);
  auto rm = ColumnGeneration(p, deadline, 1e-3, lim);
  if (!rm.ok()) {
    if (rm.status().code() != Status::Code::kInfeasible) return rm.status();
    auto why = DiagnoseWithin(p, lim);
    if (!why.ok()) return why.status();
    return Status::Infeasible(why->empty() ? "the LP relaxation is infeasible" : *why);
  }
  // From here on the restricted model stands in for the full one: its plans are plans of the full
  // problem, and its LP optimum is the full LP optimum.
  const Formulation& f = rm->f;
  const double bound = rm->bound;
  auto candidates = CandidateVariants(p, f, rm->values.data());
  candidates = ImproveVariants(p, f, std::move(candidates), deadline, time_limit_s, lim);

  // Two things run at once from here, each with its own models (nothing is shared but the inputs):
  //  - this thread polishes the first candidate: with its variants fixed, the placement alone is a
  //    much smaller MILP, and CBC gets what is left of the budget (no warm start: on the largest
  //    generated instance CBC proves the placement optimal sooner without one);
  //  - a second thread rounds the candidates (RoundCandidates), the fallback and often the plan on
  //    small instances, and then strengthens the bound with BranchingBound until the polish ends.
  const auto improve_stop = deadline - Seconds(time_limit_s * kPolishShare);
  std::atomic<bool> polish_done{false};
  double strong = bound;
  auto second = std::async(std::launch::async, [&]() {
    std::optional<Solution> rounded = RoundCandidates(p, candidates, deadline, improve_stop, time_limit_s, lim);
    auto until = deadline - Seconds(Overshoot(time_limit_s));
    strong = BranchingBoundUntil(p, bound, rounded ? rounded->cost : kInf, until, &polish_done, lim);
    return rounded;
  });
  std::optional<Solution> polished;
  if (!candidates.empty()) {
    double limit = SecondsLeft(deadline) - Overshoot(time_limit_s);
    if (limit > 0.2) polished = PolishPlacement(p, candidates.front(), limit, nullptr, lim);
  }
  polish_done = true;
  std::optional<Solution> best = second.get();
  if (polished && (!best || polished->cost < best->cost - 1e-9)) {
    best = std::move(polished);
  } else if (best && !candidates.empty() && best->variant != candidates.front()) {
    // A later candidate rounded better than the first one polished: polish it with what is left.
    double left = SecondsLeft(deadline) - Overshoot(time_limit_s);
    if (left > 0.5)
      if (auto r = PolishPlacement(p, best->variant, left, &*best, lim); r && r->cost < best->cost - 1e-9)
        best = std::move(r);
  }
  if (!best && !candidates.empty()) {
    // Rounding can fail when pools are small (exclusive mode). Fall back to a short branch and
    // bound over the placement only, with the variants of the best candidate fixed.
    LinearModel fixed = f.model;
    const auto& var = candidates.front();
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t v = 0; v < f.x[o].size(); ++v)
        if (f.x[o][v] >= 0) {
          double b = static_cast<int>(v) == var[o] ? 1.0 : 0.0;
          fixed.lb[static_cast<size_t>(f.x[o][v])] = b;
          fixed.ub[static_cast<size_t>(f.x[o][v])] = b;
        }
    double left = SecondsLeft(deadline);
    MipOptions mo;
    mo.time_limit_s = std::max(0.5, left);
    mo.limits = lim;
    auto mip = SolveMip(fixed, mo);
    if (mip.ok()) best = Decode(p, f, mip->values, mip->objective);
  }
  if (!best) {
    if (lim.Expired()) return lim.Why();
    auto why = DiagnoseWithin(p, lim);
    if (!why.ok()) return why.status();
    return Status::Infeasible(why->empty() ? "rounding found no feasible plan; try the exact solver" : *why);
  }
  best->lower_bound = std::min(std::max(bound, strong), best->cost);
  return Finish(p, std::move(*best), "heuristic (LP rounding)", MsSince(t0));
}

}  // namespace internal

StatusOr<PlanResult> SolveHeuristic(const Problem& p, double time_limit_s, const SolveLimits& limits) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  Aggregation a = AggregateNodes(p);
  auto r = internal::SolveHeuristicMerged(a.merged, time_limit_s, limits);
  if (!r.ok()) return r;
  return internal::Finish(p, internal::Expand(p, a, r->solution), r->plan.solver, r->plan.solve_ms);
}

}  // namespace jb::planner
