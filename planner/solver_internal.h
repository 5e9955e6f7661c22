// INTERNAL to planner/: not part of the planner's API. What the solver's implementation files
// (solver.cc, exact.cc, relaxation.cc, heuristic.cc, branching_bound.cc, diagnose.cc,
// baselines.cc, aggregation.cc) share with each other. Code outside planner/ (and tests) uses
// planner/solver.h and planner/problem.h instead; nothing here is stable.
// Thread-safety: every function is a pure function of its arguments; safe to call concurrently.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "base/format.h"
#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/problem.h"
#include "planner/solution.h"
#include "planner/solver.h"

namespace jb::planner::internal {

using Clock = std::chrono::steady_clock;

// ---- Time -------------------------------------------------------------------------------------

// `seconds` (a double, as the options carry it) as a steady-clock duration.
inline Clock::duration Seconds(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
// The time point `seconds` after `from` (default: now).
inline Clock::time_point DeadlineIn(double seconds, Clock::time_point from = Clock::now()) {
  return from + Seconds(seconds);
}
// Seconds from now until `deadline` (negative once it has passed).
inline double SecondsLeft(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}
// Seconds since `t0`.
inline double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
// Milliseconds since `t0` (a plan's solve_ms).
inline double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Of the heuristic's budget: what the variant search and the rounding of later candidates leave
// to the polish at least.
inline constexpr double kPolishShare = 0.7;
// Seconds kept back from CBC's limit for its overshoot and the work after it.
inline double Overshoot(double time_limit_s) { return std::min(0.4, 0.08 * time_limit_s); }

// ---- Shared helpers (solver.cc) ---------------------------------------------------------------

// `v` in fixed notation with `prec` decimals (for diagnosis messages).
inline std::string Fmt(double v, int prec = 2) { return FormatFixed(v, prec); }

// The plan of `s` (ToPlan) together with `s`.
PlanResult Finish(const Problem& p, Solution s, const std::string& solver, double ms);

// Fixes the x (and z) columns of `lp` to the variant assignment `var`.
void FixVariants(const Problem& p, const Formulation& f, LpSession& lp, const std::vector<int>& var);

// ---- Exact solve (exact.cc) -------------------------------------------------------------------

// SolveExact without aggregation or CheckNumbers: CBC on `p` as given, with `cuts`. On
// infeasibility returns kInfeasible with DiagnoseWithin's explanation.
StatusOr<PlanResult> SolveExactMerged(const Problem& p, double time_limit_s, const Solution* warm_start,
                                      MipOptions::Cuts cuts, const SolveLimits& lim);

// ---- LP relaxation by column generation (relaxation.cc) ---------------------------------------

struct RestrictedModel {
  ColumnMask mask;
  Formulation f;
  double bound = 0;
  std::vector<double> values;
  size_t columns = 0, full_columns = 0;
  int rounds = 0;
};

// Column generation for the LP relaxation (see SolveRelaxation in solver.h). Stops when the
// Lagrangian bound is within `tolerance` (relative) of the restricted LP, or at `deadline` with the
// best bound so far. kInfeasible when even the full LP is infeasible; the limits' status when they
// stopped it.
StatusOr<RestrictedModel> ColumnGeneration(const Problem& p, Clock::time_point deadline, double tolerance,
                                           const SolveLimits& lim);

// ---- Branching bound (branching_bound.cc) -----------------------------------------------------

// The bound of BranchingBound (solver.h) on the merged problem `p`, given its LP bound, until
// `deadline`, `*stop` or `lim` ends it. Never below `lp_bound`, never above `incumbent`.
double BranchingBoundUntil(const Problem& p, double lp_bound, double incumbent, Clock::time_point deadline,
                           const std::atomic<bool>* stop, const SolveLimits& lim);

// ---- Heuristic (heuristic.cc) -----------------------------------------------------------------

// SolveHeuristic on the merged problem `p`, without aggregation or CheckNumbers.
StatusOr<PlanResult> SolveHeuristicMerged(const Problem& p, double time_limit_s, const SolveLimits& lim);

// ---- Diagnosis (diagnose.cc) ------------------------------------------------------------------

// Diagnose (solver.h) within `lim`: the explanation, an empty string when feasible, or the limits'
// status (or a refused model's) when a solve was stopped and so proves nothing.
StatusOr<std::string> DiagnoseWithin(const Problem& p, const SolveLimits& lim);

// ---- Node aggregation (aggregation.cc, beside AggregateNodes) ---------------------------------

// Maps a solution of the merged problem back to the original nodes: rented instances go to the
// cheapest members first, and each operator's load fills the members' instances in order.
Solution Expand(const Problem& p, const Aggregation& a, const Solution& s);
// The inverse, for warm starts: sums members into their merged node.
Solution Contract(const Problem& merged, const Aggregation& a, const Solution& s);

}  // namespace jb::planner::internal
