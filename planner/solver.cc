#include "planner/solver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <numeric>
#include <optional>
#include <sstream>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/scorer.h"

namespace jb::planner {

namespace {

using Clock = std::chrono::steady_clock;

// Of the heuristic's budget: what the variant search and the rounding of later candidates leave
// to the polish at least.
constexpr double kPolishShare = 0.7;
// Seconds kept back from CBC's limit for its overshoot and the work after it.
double Overshoot(double time_limit_s) { return std::min(0.4, 0.08 * time_limit_s); }

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string Fmt(double v, int prec = 2) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(prec);
  s << v;
  return s.str();
}

// Accuracy-feasible variants per operator (those in some acceptable combination).
std::vector<std::vector<bool>> UsefulVariants(const Problem& p) {
  std::vector<std::vector<bool>> ok(p.ops.size());
  for (size_t o = 0; o < p.ops.size(); ++o) ok[o].assign(p.ops[o].variants.size(), !p.table);
  if (p.table) {
    std::vector<bool> in_table(p.ops.size(), false);
    for (int o : p.table->ops) in_table[static_cast<size_t>(o)] = true;
    for (size_t o = 0; o < p.ops.size(); ++o)
      if (!in_table[o]) ok[o].assign(p.ops[o].variants.size(), true);
    for (size_t c = 0; c < p.table->combos.size(); ++c) {
      if (p.table->accuracy[c] < p.min_accuracy - 1e-9) continue;
      for (size_t i = 0; i < p.table->ops.size(); ++i)
        ok[static_cast<size_t>(p.table->ops[i])][static_cast<size_t>(p.table->combos[c][i])] = true;
    }
  } else if (p.composition == "min") {
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
        ok[o][v] = p.ops[o].variants[v].accuracy.value_or(100.0) >= p.min_accuracy - 1e-9;
  }
  return ok;
}

// Fix the x (and z) columns of `lp` to the variant assignment `var`.
void FixVariants(const Problem& p, const Formulation& f, LpSession& lp, const std::vector<int>& var) {
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (size_t v = 0; v < f.x[o].size(); ++v)
      if (f.x[o][v] >= 0) {
        double b = static_cast<int>(v) == var[o] ? 1.0 : 0.0;
        lp.SetColBounds(f.x[o][v], b, b);
      }
  for (size_t i = 0; i < f.z.size(); ++i) {
    const auto& combo = p.table->combos[f.z_combo[i]];
    bool match = true;
    for (size_t k = 0; k < p.table->ops.size(); ++k) match = match && combo[k] == var[static_cast<size_t>(p.table->ops[k])];
    double b = match ? 1.0 : 0.0;
    lp.SetColBounds(f.z[i], b, b);
  }
}

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
      for (size_t i = 0; i < t.ops.size(); ++i) match = match && p.table->combos[c][i] == var[static_cast<size_t>(t.ops[i])];
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
std::vector<std::vector<int>> ImproveVariants(const Problem& p, const Formulation& f, std::vector<std::vector<int>> cands,
                                              Clock::time_point deadline, double time_limit_s, const SolveLimits& lim) {
  if (p.table || cands.empty()) return cands;
  auto stop = deadline - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s * kPolishShare));
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
    if (c < kInf) rc.assign(lp.reduced_costs(), lp.reduced_costs() + f.model.cols());
    else rc.clear();
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
          if (!rc.empty() && rc[static_cast<size_t>(f.x[o][v])] - rc[static_cast<size_t>(f.x[o][static_cast<size_t>(best[o])])] >= -1e-9) {
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
  std::stable_sort(improved_all.begin(), improved_all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::vector<int>> out;
  for (auto& [c, var] : improved_all)
    if (std::find(out.begin(), out.end(), var) == out.end()) out.push_back(var);
  for (auto& var : cands)
    if (std::find(out.begin(), out.end(), var) == out.end()) out.push_back(var);
  return out;
}

PlanResult Finish(const Problem& p, Solution s, const std::string& solver, double ms) {
  PlanResult r;
  r.plan = ToPlan(p, s, solver, ms);
  r.solution = std::move(s);
  return r;
}

}  // namespace

namespace {

struct RestrictedModel {
  ColumnMask mask;
  Formulation f;
  double bound = 0;
  std::vector<double> values;
  size_t columns = 0, full_columns = 0;
  int rounds = 0;
};

// Column generation for the LP relaxation (see SolveRelaxation in solver.h).
// Stops when the Lagrangian bound is within `tolerance` (relative) of the restricted LP.
StatusOr<RestrictedModel> ColumnGeneration(const Problem& p, Clock::time_point deadline, double tolerance, const SolveLimits& lim) {
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
  for (size_t o = 0; o < O; ++o)
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
      for (size_t n = 0; n < N; ++n)
        if (p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0) ++rm.full_columns;
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
        if (rm.mask[o][v][n] && p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0) ++rm.columns;
  return rm;
}

}  // namespace

StatusOr<Relaxation> SolveRelaxation(const Problem& p, double time_limit_s, const SolveLimits& limits) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s));
  // The merged model has the same LP optimum (exact reformulation) and far fewer columns.
  auto rm = ColumnGeneration(AggregateNodes(p).merged, deadline, 0.0, limits);
  if (!rm.ok()) return rm.status();
  Relaxation r{rm->bound, rm->columns, rm->full_columns, rm->rounds, {}};
  r.variant_share.resize(p.ops.size());
  for (size_t o = 0; o < p.ops.size() && o < rm->f.x.size(); ++o)
    for (size_t v = 0; v < rm->f.x[o].size(); ++v)
      r.variant_share[o].push_back(rm->f.x[o][v] >= 0 ? rm->values[static_cast<size_t>(rm->f.x[o][v])] : 0.0);
  return r;
}

namespace {
StatusOr<std::string> DiagnoseWithin(const Problem& p, const SolveLimits& lim);
}  // namespace

StatusOr<PlanResult> SolveExactMerged(const Problem& p, double time_limit_s, const Solution* warm_start, MipOptions::Cuts cuts,
                                      const SolveLimits& lim) {
  auto t0 = Clock::now();
  Formulation f = Formulate(p);
  MipOptions mo;
  mo.time_limit_s = time_limit_s;
  mo.cuts = cuts;
  mo.limits = lim;
  std::vector<double> warm;
  if (warm_start != nullptr) {
    // Complete the warm start's columns by solving the LP with its integer decisions fixed.
    LpSession lp(f.model, lim);
    FixVariants(p, f, lp, warm_start->variant);
    for (size_t n = 0; n < p.nodes.size(); ++n)
      if (f.u[n] >= 0) lp.SetColBounds(f.u[n], static_cast<double>(warm_start->instances[n]), static_cast<double>(warm_start->instances[n]));
    if (!f.w.empty() && !warm_start->dedicated.empty())
      for (size_t o = 0; o < p.ops.size(); ++o)
        for (size_t n = 0; n < p.nodes.size(); ++n)
          if (f.w[o][n] >= 0) lp.SetColBounds(f.w[o][n], static_cast<double>(warm_start->dedicated[o][n]), static_cast<double>(warm_start->dedicated[o][n]));
    if (lp.Solve().ok()) {
      warm.assign(lp.values(), lp.values() + f.model.cols());
      for (int j = 0; j < f.model.cols(); ++j)
        if (f.model.integer[static_cast<size_t>(j)]) warm[static_cast<size_t>(j)] = std::round(warm[static_cast<size_t>(j)]);
      mo.warm_start = &warm;
    }
  }
  auto res = SolveMip(f.model, mo);
  if (!res.ok()) {
    if (res.status().code() == Status::Code::kInfeasible) {
      auto why = DiagnoseWithin(p, lim);
      if (!why.ok()) return why.status();
      return Status::Infeasible(why->empty() ? "no feasible plan" : *why);
    }
    return res.status();
  }
  Solution s = Decode(p, f, res->values, res->objective);
  s.lower_bound = res->bound;
  return Finish(p, std::move(s), "exact (CBC MILP)", MsSince(t0));
}

namespace {

// A lower bound at least as strong as the LP's: a short best-first branch and bound on the full
// model (all rate columns, so every child LP is exact) with strong branching: the most fractional
// integer columns (instance counts, dedicated instances, variant choices) are each tried both ways
// and the one whose weaker child is best is taken. The least LP over the open leaves bounds the
// optimum. Gives up when the model is over `kBoundColumnLimit` columns or when time is up.
constexpr int kBoundColumnLimit = 60000;
constexpr size_t kStrongCandidates = 8;

double BranchingBound(const Problem& p, double lp_bound, double incumbent, Clock::time_point deadline,
                      const std::atomic<bool>* stop, const SolveLimits& lim) {
  auto over = [&] { return Clock::now() >= deadline || stop->load(std::memory_order_relaxed) || lim.Expired(); };
  if (over()) return lp_bound;
  Formulation f = Formulate(p);
  if (f.model.cols() > kBoundColumnLimit) return lp_bound;
  LpSession lp(f.model, lim);
  if (!lp.Solve().ok()) return lp_bound;
  std::vector<int> ints;
  for (int j = 0; j < f.model.cols(); ++j)
    if (f.model.integer[static_cast<size_t>(j)]) ints.push_back(j);
  struct Node {
    double lp = 0;
    std::vector<std::pair<double, double>> range;  // per integer column: its bounds here
  };
  Node root{lp.objective(), {}};
  for (int j : ints) root.range.emplace_back(f.model.lb[static_cast<size_t>(j)], f.model.ub[static_cast<size_t>(j)]);
  auto apply = [&](const Node& nd) {
    for (size_t i = 0; i < ints.size(); ++i) lp.SetColBounds(ints[i], nd.range[i].first, nd.range[i].second);
  };
  auto by_lp = [](const Node& a, const Node& b) { return a.lp > b.lp; };
  std::vector<Node> open;  // min-heap on lp
  double settled = incumbent;  // least LP of the leaves that are integral everywhere
  open.push_back(root);
  while (!open.empty() && !over()) {
    std::pop_heap(open.begin(), open.end(), by_lp);
    Node nd = std::move(open.back());
    open.pop_back();
    if (nd.lp >= incumbent - 1e-9) continue;
    apply(nd);
    if (!lp.Solve().ok()) {
      // Only numerical trouble gets here (its LP was solved when it was made): keep its value.
      settled = std::min(settled, nd.lp);
      continue;
    }
    std::vector<std::pair<double, size_t>> fractional;
    for (size_t i = 0; i < ints.size(); ++i) {
      double x = lp.values()[ints[i]], fr = x - std::floor(x);
      if (fr > 1e-6 && fr < 1 - 1e-6) fractional.emplace_back(-std::min(fr, 1 - fr), i);
    }
    if (fractional.empty()) {
      settled = std::min(settled, nd.lp);
      continue;
    }
    std::sort(fractional.begin(), fractional.end());
    if (fractional.size() > kStrongCandidates) fractional.resize(kStrongCandidates);
    std::vector<double> at(ints.size(), 0.0);
    for (const auto& [neg, i] : fractional) at[i] = lp.values()[ints[i]];
    double best_min = -kInf;
    Node best_down, best_up;
    for (const auto& [neg, i] : fractional) {
      if (over()) break;
      Node down = nd, up = nd;
      down.range[i].second = std::floor(at[i]);
      up.range[i].first = std::ceil(at[i]);
      // A child whose LP fails keeps its parent's value: weaker, never wrong (an infeasible child
      // could be dropped, but CLP's "infeasible" also covers numerical trouble).
      apply(down);
      down.lp = lp.Solve().ok() ? lp.objective() : nd.lp;
      apply(up);
      up.lp = lp.Solve().ok() ? lp.objective() : nd.lp;
      if (std::min(down.lp, up.lp) > best_min) {
        best_min = std::min(down.lp, up.lp);
        best_down = std::move(down);
        best_up = std::move(up);
      }
    }
    if (best_min == -kInf) {  // out of time before any candidate: the node stays open
      open.push_back(std::move(nd));
      std::push_heap(open.begin(), open.end(), by_lp);
      break;
    }
    for (Node* c : {&best_down, &best_up})
      if (c->lp < incumbent - 1e-9) {
        open.push_back(std::move(*c));
        std::push_heap(open.begin(), open.end(), by_lp);
      }
  }
  double b = settled;
  for (const auto& nd : open) b = std::min(b, nd.lp);
  return std::max(lp_bound, std::min(b, incumbent));
}

// Rounds each candidate's placement (instances up, then given back one at a time while a pass saves
// money) and returns the cheapest plan. Past the first candidate, only until `later_stop`: the
// rest of the budget belongs to the polish.
std::optional<Solution> RoundCandidates(const Problem& p, const std::vector<std::vector<int>>& candidates,
                                        Clock::time_point deadline, Clock::time_point later_stop, double time_limit_s,
                                        const SolveLimits& lim) {
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
    // Round instances up: capacity only grows, so the flows stay feasible.
    std::vector<double> v(fx.values(), fx.values() + g.model.cols());
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
    if (!fx.Solve().ok()) continue;
    double cost = fx.objective();
    // Local improvement: give back one instance at a time, least-loaded nodes first; repeat passes
    // while a pass saves money (closing one node can make another closable).
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
      if (Clock::now() > deadline - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s * 0.25)) ||
          lim.Expired())
        break;
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
    if (Clock::now() > deadline - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s * 0.25)))
      break;
    }
    if (!fx.Solve().ok()) continue;  // restore the last accepted state's solution
    cost = fx.objective();
    if (!best || cost < best->cost - 1e-9) {
      best_values.assign(fx.values(), fx.values() + g.model.cols());
      for (int j = 0; j < g.model.cols(); ++j)
        if (g.model.integer[static_cast<size_t>(j)]) best_values[static_cast<size_t>(j)] = std::round(best_values[static_cast<size_t>(j)]);
      best = Decode(fp, g, best_values, cost);
      best->variant = var;  // fp has one variant per operator: map back to p's indices
    }
  }
  return best;
}

// CBC on the placement alone with the variants `var` fixed (light cuts), optionally warm-started;
// the result carries `var`.
std::optional<Solution> PolishPlacement(const Problem& p, const std::vector<int>& var, double limit_s, const Solution* warm,
                                        const SolveLimits& lim) {
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

double SecondsLeft(Clock::time_point deadline) { return std::chrono::duration<double>(deadline - Clock::now()).count(); }

}  // namespace

double BranchingBound(const Problem& p, double time_limit_s, double incumbent) {
  if (!CheckNumbers(p).ok()) return 0;  // the trivial bound: the solver cannot take the problem
  Problem merged = AggregateNodes(p).merged;
  Formulation f = Formulate(merged);
  LpSession lp(f.model);
  if (!lp.Solve().ok()) return kInf;
  std::atomic<bool> stop{false};
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s));
  return BranchingBound(merged, lp.objective(), incumbent, deadline, &stop, SolveLimits{});
}

StatusOr<PlanResult> SolveHeuristicMerged(const Problem& p, double time_limit_s, const SolveLimits& lim) {
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s));
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
  const auto improve_stop = deadline - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_limit_s * kPolishShare));
  std::atomic<bool> polish_done{false};
  double strong = bound;
  auto second = std::async(std::launch::async, [&]() {
    std::optional<Solution> rounded = RoundCandidates(p, candidates, deadline, improve_stop, time_limit_s, lim);
    auto until = deadline - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(Overshoot(time_limit_s)));
    strong = BranchingBound(p, bound, rounded ? rounded->cost : kInf, until, &polish_done, lim);
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
      if (auto r = PolishPlacement(p, best->variant, left, &*best, lim); r && r->cost < best->cost - 1e-9) best = std::move(r);
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
    double left = std::chrono::duration<double>(deadline - Clock::now()).count();
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

namespace {

// Maps a solution of the merged problem back to the original nodes: rented instances go to the
// cheapest members first, and each operator's load fills the members' instances in order.
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
  for (size_t n = 0; n < p.nodes.size(); ++n) out.compute_cost += static_cast<double>(out.instances[n]) * p.nodes[n].price;
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

}  // namespace

StatusOr<PlanResult> SolveExact(const Problem& p, double time_limit_s, const Solution* warm_start, bool aggregate,
                                const SolveLimits& limits) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  if (!aggregate) return SolveExactMerged(p, time_limit_s, warm_start, MipOptions::Cuts::kAll, limits);
  Aggregation a = AggregateNodes(p);
  std::optional<Solution> warm;
  if (warm_start != nullptr) warm = Contract(a.merged, a, *warm_start);
  auto r = SolveExactMerged(a.merged, time_limit_s, warm ? &*warm : nullptr, MipOptions::Cuts::kAll, limits);
  if (!r.ok()) return r;
  return Finish(p, Expand(p, a, r->solution), r->plan.solver, r->plan.solve_ms);
}

StatusOr<PlanResult> SolveHeuristic(const Problem& p, double time_limit_s, const SolveLimits& limits) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  Aggregation a = AggregateNodes(p);
  auto r = SolveHeuristicMerged(a.merged, time_limit_s, limits);
  if (!r.ok()) return r;
  return Finish(p, Expand(p, a, r->solution), r->plan.solver, r->plan.solve_ms);
}

// Above this many rate columns, `auto` does not run CBC on the full model.
constexpr size_t kExactColumnLimit = 20000;

StatusOr<PlanResult> Solve(const Problem& p, const SolverOptions& opts) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  if (!(opts.time_limit_s > 0) || !std::isfinite(opts.time_limit_s))
    return Status::InvalidArgument("the solver time limit must be a positive number of seconds");
  const SolveLimits& lim = opts.limits;
  if (opts.solver == "exact") return SolveExact(p, opts.time_limit_s, nullptr, true, lim);
  if (opts.solver == "heuristic") return SolveHeuristic(p, opts.time_limit_s, lim);
  if (opts.solver != "auto") return Status::InvalidArgument("unknown solver \"" + opts.solver + "\"; expected exact, heuristic or auto");
  auto t0 = Clock::now();
  auto h = SolveHeuristic(p, opts.time_limit_s * 0.5, lim);
  if (!h.ok()) {
    const Status::Code code = h.status().code();
    if (code == Status::Code::kInfeasible || code == Status::Code::kInvalidArgument || lim.Expired()) return h;
    return SolveExact(p, opts.time_limit_s, nullptr, true, lim);
  }
  if (h->plan.gap <= 1e-9) return h;
  double left = opts.time_limit_s - std::chrono::duration<double>(Clock::now() - t0).count();
  if (left <= 0.05) return h;
  // CBC's root LP alone overruns any budget on models with tens of thousands of rate columns;
  // there the heuristic's plan and its bound are the answer.
  const Problem merged = AggregateNodes(p).merged;
  size_t columns = 0;
  for (size_t o = 0; o < merged.ops.size(); ++o)
    for (size_t v = 0; v < merged.ops[o].variants.size(); ++v)
      for (size_t n = 0; n < merged.nodes.size(); ++n)
        if (merged.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0) ++columns;
  if (columns > kExactColumnLimit) return h;
  if (lim.Expired()) return h;
  auto e = SolveExact(p, left, &h->solution, true, lim);
  if (!e.ok() || e->solution.cost > h->solution.cost + 1e-9) {
    h->plan.solve_ms = MsSince(t0);
    return h;
  }
  // The bound is the better of the LP bound and CBC's.
  e->solution.lower_bound = std::max(e->solution.lower_bound, h->solution.lower_bound);
  e->plan.lower_bound = e->solution.lower_bound;
  e->plan.gap = RelativeGap(e->solution.cost, e->solution.lower_bound);
  e->plan.optimal = e->plan.gap <= 1e-6;
  e->plan.solver = "auto: heuristic + exact (CBC MILP)";
  e->plan.solve_ms = MsSince(t0);
  return e;
}

std::string Diagnose(const Problem& p) {
  if (auto s = CheckNumbers(p); !s.ok()) return s.message();
  auto why = DiagnoseWithin(p, SolveLimits{});
  return why.ok() ? *why : why.status().message();
}

namespace {

StatusOr<std::string> DiagnoseWithin(const Problem& p, const SolveLimits& lim) {
  // 1. Accuracy.
  std::vector<std::vector<bool>> runnable(p.ops.size());
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      bool r = false;
      for (size_t n = 0; n < p.nodes.size(); ++n) r = r || p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0;
      runnable[o].push_back(r);
    }
  for (size_t o = 0; o < p.ops.size(); ++o)
    if (std::find(runnable[o].begin(), runnable[o].end(), true) == runnable[o].end())
      return "operator " + p.ops[o].name + " has no variant that can run on any allowed node";
  double best_acc = -1;
  std::string best_desc;
  if (p.table) {
    for (size_t c = 0; c < p.table->combos.size(); ++c) {
      bool ok = true;
      std::string d;
      for (size_t i = 0; i < p.table->ops.size(); ++i) {
        size_t o = static_cast<size_t>(p.table->ops[i]);
        ok = ok && runnable[o][static_cast<size_t>(p.table->combos[c][i])];
        d += (i ? " + " : "") + p.ops[o].variants[static_cast<size_t>(p.table->combos[c][i])].name;
      }
      if (ok && p.table->accuracy[c] > best_acc) {
        best_acc = p.table->accuracy[c];
        best_desc = d;
      }
    }
  } else {
    std::vector<int> var(p.ops.size(), 0);
    for (size_t o = 0; o < p.ops.size(); ++o) {
      double b = -1;
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
        if (runnable[o][v] && p.ops[o].variants[v].accuracy.value_or(100.0) > b) {
          b = p.ops[o].variants[v].accuracy.value_or(100.0);
          var[o] = static_cast<int>(v);
        }
      best_desc += (o ? " + " : "") + p.ops[o].variants[static_cast<size_t>(var[o])].name;
    }
    best_acc = p.Accuracy(var).value_or(0.0);
  }
  if (best_acc < p.min_accuracy - 1e-9)
    return "no variant combination reaches the accuracy floor " + Fmt(p.min_accuracy) + "; the most accurate runnable one (" +
           best_desc + ") gives " + Fmt(best_acc);
  // 2. Per-operator capacity with its best accuracy-feasible variant.
  auto useful = UsefulVariants(p);
  for (size_t o = 0; o < p.ops.size(); ++o) {
    double best = 0;
    std::string bv;
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      if (!useful[o][v]) continue;
      double cap = 0;
      for (size_t n = 0; n < p.nodes.size(); ++n)
        cap += p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) * static_cast<double>(p.nodes[n].count);
      if (cap > best) {
        best = cap;
        bv = p.ops[o].variants[v].name;
      }
    }
    if (best < p.ops[o].rate - 1e-9)
      return "capacity short by " + Fmt(p.ops[o].rate - best) + " items/s for operator " + p.ops[o].name + ": it needs " +
             Fmt(p.ops[o].rate) + " items/s and all allowed nodes together serve at most " + Fmt(best) +
             " items/s (variant " + bv + ", headroom " + Fmt(p.headroom) + ")";
  }
  // 3. The LP relaxation, with and without bandwidth caps.
  // A solve the limits stopped (or a model the backend refused) says nothing about feasibility.
  auto conclusive = [&](const Status& s) { return s.ok() || s.code() == Status::Code::kInfeasible; };
  if (lim.Expired()) return lim.Why();
  Formulation f = Formulate(p);
  LpSession lp(f.model, lim);
  Status relaxed = lp.Solve();
  if (!conclusive(relaxed)) return relaxed;
  if (relaxed.ok()) {
    MipOptions mo;
    mo.time_limit_s = 2.0;
    mo.limits = lim;
    auto mip = SolveMip(f.model, mo);
    if (mip.ok()) return std::string();
    if (!conclusive(mip.status())) return mip.status();
    return std::string("no integer assignment exists although capacity suffices in total") +
           (p.exclusive ? ": with exclusive nodes (one operator per node) there are too few nodes for the operators" : "");
  }
  for (size_t i = 0; i < f.bandwidth_rows.size(); ++i) {
    LpSession one(f.model, lim);
    one.SetRowBounds(f.bandwidth_rows[i], -kInf, kInf);
    Status s = one.Solve();
    if (!conclusive(s)) return s;
    if (s.ok())
      return "bandwidth of link " + f.bandwidth_names[i] + " cannot carry the traffic the plan needs; raise its bandwidthMbps or allow placements that send less across it";
  }
  if (!f.bandwidth_rows.empty()) {
    LpSession all(f.model, lim);
    for (int r : f.bandwidth_rows) all.SetRowBounds(r, -kInf, kInf);
    Status s = all.Solve();
    if (!conclusive(s)) return s;
    if (s.ok()) return std::string("the bandwidth caps of the links together cannot carry the traffic the plan needs");
  }
  double need = 0;
  for (size_t o = 0; o < p.ops.size(); ++o) need += p.ops[o].rate;
  return "the nodes together are short of capacity: the operators need " + Fmt(need) +
         " items/s in total and no split over the allowed nodes serves it";
}

}  // namespace


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

StatusOr<PlanResult> MostAccurate(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& inf,
                                  const ProblemOptions& base, double time_limit_s) {
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
        size_t v = static_cast<size_t>(p.table->combos[c][i]);
        bool r = false;
        for (size_t n = 0; n < p.nodes.size(); ++n) r = r || p.Capacity(static_cast<int>(op), static_cast<int>(v), static_cast<int>(n)) > 0;
        ok = ok && r;
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

StatusOr<PlanResult> Prototype(const Problem& p, int beam_width) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  auto t0 = Clock::now();
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
      if (!ok) continue;
      for (size_t n = 0; n < N; ++n) s.compute_cost += static_cast<double>(s.instances[n]) * p.nodes[n].price;
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
