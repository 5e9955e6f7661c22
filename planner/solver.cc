// Solve (the "auto" combination of the heuristic and the exact solver) and the helpers the
// solver's implementation files share (planner/solver_internal.h). The solvers themselves live in
// exact.cc, relaxation.cc, heuristic.cc, branching_bound.cc, diagnose.cc and baselines.cc.
#include "planner/solver.h"

#include <cmath>
#include <sstream>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/solver_internal.h"

namespace jb::planner {

namespace internal {

PlanResult Finish(const Problem& p, Solution s, const std::string& solver, double ms) {
  PlanResult r;
  r.plan = ToPlan(p, s, solver, ms);
  r.solution = std::move(s);
  return r;
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
    for (size_t k = 0; k < p.table->ops.size(); ++k)
      match = match && combo[k] == var[static_cast<size_t>(p.table->ops[k])];
    double b = match ? 1.0 : 0.0;
    lp.SetColBounds(f.z[i], b, b);
  }
}

}  // namespace internal

namespace {
using internal::Clock;
using internal::MsSince;
using internal::SecondsSince;

// Above this many rate columns, `auto` does not run CBC on the full model.
constexpr size_t kExactColumnLimit = 20000;

}  // namespace

StatusOr<PlanResult> Solve(const Problem& p, const SolverOptions& opts) {
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  if (!(opts.time_limit_s > 0) || !std::isfinite(opts.time_limit_s))
    return Status::InvalidArgument("the solver time limit must be a positive number of seconds");
  const SolveLimits& lim = opts.limits;
  if (opts.solver == "exact") return SolveExact(p, opts.time_limit_s, nullptr, true, lim);
  if (opts.solver == "heuristic") return SolveHeuristic(p, opts.time_limit_s, lim);
  if (opts.solver != "auto")
    return Status::InvalidArgument("unknown solver \"" + opts.solver + "\"; expected exact, heuristic or auto");
  auto t0 = Clock::now();
  auto h = SolveHeuristic(p, opts.time_limit_s * 0.5, lim);
  if (!h.ok()) {
    const Status::Code code = h.status().code();
    if (code == Status::Code::kInfeasible || code == Status::Code::kInvalidArgument || lim.Expired()) return h;
    return SolveExact(p, opts.time_limit_s, nullptr, true, lim);
  }
  if (h->plan.gap <= 1e-9) return h;
  double left = opts.time_limit_s - SecondsSince(t0);
  if (left <= 0.05) return h;
  // CBC's root LP alone overruns any budget on models with tens of thousands of rate columns;
  // there the heuristic's plan and its bound are the answer.
  if (RateColumns(AggregateNodes(p).merged) > kExactColumnLimit) return h;
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

}  // namespace jb::planner
