// Infeasibility diagnosis (Diagnose in solver.h): the accuracy floor, each operator's capacity,
// then the LP relaxation with and without the links' bandwidth caps.
#include <algorithm>
#include <string>
#include <vector>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/solver.h"
#include "planner/solver_internal.h"

namespace jb::planner {

namespace internal {

namespace {

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

}  // namespace

StatusOr<std::string> DiagnoseWithin(const Problem& p, const SolveLimits& lim) {
  // 1. Accuracy.
  std::vector<std::vector<bool>> runnable(p.ops.size());
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
      runnable[o].push_back(p.Runnable(static_cast<int>(o), static_cast<int>(v)));
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
    return "no variant combination reaches the accuracy floor " + Fmt(p.min_accuracy) +
           "; the most accurate runnable one (" + best_desc + ") gives " + Fmt(best_acc);
  // 2. Per-operator capacity with its best accuracy-feasible variant.
  auto useful = UsefulVariants(p);
  for (size_t o = 0; o < p.ops.size(); ++o) {
    double best = 0;
    std::string bv;
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      if (!useful[o][v]) continue;
      double cap = 0;
      for (size_t n = 0; n < p.nodes.size(); ++n)
        cap += p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) *
               static_cast<double>(p.nodes[n].count);
      if (cap > best) {
        best = cap;
        bv = p.ops[o].variants[v].name;
      }
    }
    if (best < p.ops[o].rate - 1e-9)
      return "capacity short by " + Fmt(p.ops[o].rate - best) + " items/s for operator " + p.ops[o].name +
             ": it needs " + Fmt(p.ops[o].rate) + " items/s and all allowed nodes together serve at most " + Fmt(best) +
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
           (p.exclusive ? ": with exclusive nodes (one operator per node) there are too few nodes for the operators"
                        : "");
  }
  for (size_t i = 0; i < f.bandwidth_rows.size(); ++i) {
    LpSession one(f.model, lim);
    one.SetRowBounds(f.bandwidth_rows[i], -kInf, kInf);
    Status s = one.Solve();
    if (!conclusive(s)) return s;
    if (s.ok())
      return "bandwidth of link " + f.bandwidth_names[i] +
             " cannot carry the traffic the plan needs; raise its bandwidthMbps or allow placements that send less "
             "across it";
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

}  // namespace internal

std::string Diagnose(const Problem& p) {
  if (auto s = CheckNumbers(p); !s.ok()) return s.message();
  auto why = internal::DiagnoseWithin(p, SolveLimits{});
  return why.ok() ? *why : why.status().message();
}

}  // namespace jb::planner
