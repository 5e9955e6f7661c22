// The exact solver: the MILP (planner/formulation.h) with CBC, on the merged nodes.
#include <cmath>
#include <optional>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/solver.h"
#include "planner/solver_internal.h"

namespace jb::planner {

namespace internal {

StatusOr<PlanResult> SolveExactMerged(const Problem& p, double time_limit_s, const Solution* warm_start,
                                      MipOptions::Cuts cuts, const SolveLimits& lim) {
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
      if (f.u[n] >= 0)
        lp.SetColBounds(f.u[n], static_cast<double>(warm_start->instances[n]),
                        static_cast<double>(warm_start->instances[n]));
    if (!f.w.empty() && !warm_start->dedicated.empty())
      for (size_t o = 0; o < p.ops.size(); ++o)
        for (size_t n = 0; n < p.nodes.size(); ++n)
          if (f.w[o][n] >= 0)
            lp.SetColBounds(f.w[o][n], static_cast<double>(warm_start->dedicated[o][n]),
                            static_cast<double>(warm_start->dedicated[o][n]));
    if (lp.Solve().ok()) {
      warm.assign(lp.values(), lp.values() + f.model.cols());
      for (int j = 0; j < f.model.cols(); ++j)
        if (f.model.integer[static_cast<size_t>(j)])
          warm[static_cast<size_t>(j)] = std::round(warm[static_cast<size_t>(j)]);
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

}  // namespace internal

StatusOr<PlanResult> SolveExact(const Problem& p, double time_limit_s, const Solution* warm_start, bool aggregate,
                                const SolveLimits& limits) {
  using internal::Contract;
  using internal::Expand;
  using internal::Finish;
  using internal::SolveExactMerged;
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  if (!aggregate) return SolveExactMerged(p, time_limit_s, warm_start, MipOptions::Cuts::kAll, limits);
  Aggregation a = AggregateNodes(p);
  std::optional<Solution> warm;
  if (warm_start != nullptr) warm = Contract(a.merged, a, *warm_start);
  auto r = SolveExactMerged(a.merged, time_limit_s, warm ? &*warm : nullptr, MipOptions::Cuts::kAll, limits);
  if (!r.ok()) return r;
  return Finish(p, Expand(p, a, r->solution), r->plan.solver, r->plan.solve_ms);
}

}  // namespace jb::planner
