// The planner's entry points: exact MILP (CBC), LP-rounding heuristic for large instances, the
// automatic combination of both, infeasibility diagnosis, and the baselines (cloud-only,
// most-accurate, and our implementation of the JellyBean prototype's algorithm).
// All functions are pure functions of the Problem snapshot.
// Thread-safety: safe to call concurrently on different or the same (const) Problem.
#pragma once

#include <string>

#include "api/types.h"
#include "planner/linear_model.h"
#include "planner/problem.h"
#include "planner/solution.h"

namespace jb::planner {

struct SolverOptions {
  // A constructor rather than an aggregate so that SolverOptions{"auto", 10} stays warning-free.
  SolverOptions(std::string solver_name = "auto", double time_limit = 10.0, SolveLimits hard = {})
      : solver(std::move(solver_name)), time_limit_s(time_limit), limits(hard) {}
  std::string solver = "auto";  // "exact" | "heuristic" | "auto" (heuristic, then exact warm-started)
  double time_limit_s = 10.0;   // total wall-clock budget the phases plan with (soft: CBC may overrun it a little)
  // Hard limits (default: none): a deadline and a cancellation flag that every phase checks,
  // down to CLP's simplex iterations and CBC's nodes. When they stop the solve before any plan,
  // it returns kDeadlineExceeded (deadline) or kUnavailable (cancelled).
  SolveLimits limits;
};

struct PlanResult {
  Plan plan;
  Solution solution;
};

// Exact: MILP with CBC. The plan's gap is CBC's proven gap (0 when optimal within the limit).
// Interchangeable nodes are merged first (AggregateNodes); `aggregate = false` solves the model
// node by node (kept for tests that check the merge is exact).
// Every entry point refuses, with CheckNumbers' InvalidArgument, a problem whose numbers the solver
// cannot take; none of them passes such a number to CLP/CBC.
StatusOr<PlanResult> SolveExact(const Problem& p, double time_limit_s, const Solution* warm_start = nullptr,
                                bool aggregate = true, const SolveLimits& limits = {});

// Heuristic: LP relaxation (the lower bound), variant fixing, instance rounding and local
// improvement by closing instances, then CBC on the placement with the variants fixed. The gap
// is reported against the better of the LP bound and BranchingBound, run meanwhile.
StatusOr<PlanResult> SolveHeuristic(const Problem& p, double time_limit_s, const SolveLimits& limits = {});

// The LP relaxation, on the merged model (AggregateNodes), solved by column generation over the
// rate columns (operator, variant, node):
// start from the cheapest nodes per tier, add every column with negative reduced cost, repeat.
// At convergence the restricted LP's optimum equals the full LP's: `bound` is a valid lower bound.
struct Relaxation {
  double bound = 0;
  size_t columns = 0;       // rate columns in the final restricted model
  size_t full_columns = 0;  // rate columns the full merged model would have
  int rounds = 0;
  std::vector<std::vector<double>> variant_share;  // [operator][variant]: the LP's x (composition mode)
};
StatusOr<Relaxation> SolveRelaxation(const Problem& p, double time_limit_s, const SolveLimits& limits = {});

// A lower bound at least as strong as the LP relaxation's: a best-first branch and bound on the
// merged model with strong branching, for at most `time_limit_s`; the least open LP is the bound.
// Subtrees whose LP reaches `incumbent` (a known plan's cost) are pruned and the result never
// exceeds it. The heuristic runs it beside its polish step. kInf when the LP is infeasible.
double BranchingBound(const Problem& p, double time_limit_s, double incumbent = kInf);

// Chooses per options. On infeasibility returns kInfeasible with Diagnose()'s explanation.
StatusOr<PlanResult> Solve(const Problem& p, const SolverOptions& opts);

// Explains why no plan exists: the accuracy floor is unreachable, an operator's capacity is short
// by X items/s, the nodes together are short, or a link's bandwidth cap cannot carry the traffic.
// Returns an empty string when the problem is feasible.
std::string Diagnose(const Problem& p);

// Baselines, on the same problem.
StatusOr<PlanResult> CloudOnly(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& inf,
                               const ProblemOptions& base, double time_limit_s);
StatusOr<PlanResult> MostAccurate(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                  const Infrastructure& inf, const ProblemOptions& base, double time_limit_s);
// The JellyBean prototype's algorithm as described in DESIGN.md §4: beam search over variant
// combinations (width 10, ranked by the variants' fastest latency), then for each candidate a
// greedy worker assignment with one operator per worker, and proportional routing. Its stated
// cost uses proportional routing (the prototype's own model).
StatusOr<PlanResult> Prototype(const Problem& p, int beam_width = 10);

}  // namespace jb::planner
