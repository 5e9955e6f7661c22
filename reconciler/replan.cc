#include "reconciler/replan.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>

#include "base/format.h"
#include "planner/scorer.h"
#include "planner/solver.h"
#include "reconciler/conditions.h"
#include "reconciler/inputs.h"
#include "reconciler/rollout.h"

namespace jb {
ReplanDecision DecideReplan(const std::vector<std::string>& violations, double current_cost, double candidate_cost,
                            int64_t churn, double since_last_s, const DampingOptions& opts, bool noisy) {
  ReplanDecision d;
  if (noisy && since_last_s < opts.min_interval_s) {
    d.action = ReplanAction::kDefer;
    d.retry_after_s = opts.min_interval_s - since_last_s;
    d.reason = "a re-plan on a measurement (load, accuracy) waits for the minimum re-plan interval";
    return d;
  }
  if (!violations.empty()) {
    d.action = ReplanAction::kAdopt;
    d.reason = "the running plan is no longer valid: " + violations.front();
    return d;
  }
  double saving = current_cost > 0 ? (current_cost - candidate_cost) / current_cost : 0;
  double needed = opts.min_saving_fraction + opts.churn_fraction_per_worker * static_cast<double>(churn);
  if (saving <= needed) {
    d.action = ReplanAction::kKeep;
    d.reason = "the new plan saves " + FormatPercent(saving) + ", not more than the " + FormatPercent(needed) +
               " its churn of " + std::to_string(churn) + " worker(s) requires";
    return d;
  }
  if (since_last_s < opts.min_interval_s) {
    d.action = ReplanAction::kDefer;
    d.retry_after_s = opts.min_interval_s - since_last_s;
    d.reason = "a plan saving " + FormatPercent(saving) + " waits for the minimum re-plan interval";
    return d;
  }
  d.action = ReplanAction::kAdopt;
  d.reason = "saves " + FormatPercent(saving) + " (more than the " + FormatPercent(needed) +
             " required for a churn of " + std::to_string(churn) + ")";
  return d;
}

std::optional<double> LoadTrigger::Observe(double now_s, double observed_scale, double planned_scale) {
  double drift = planned_scale > 0 ? observed_scale / planned_scale - 1 : 0;
  int dir = drift > opts_.threshold ? 1 : drift < -opts_.threshold ? -1 : 0;
  if (dir == 0 || dir != direction_) {
    since_.reset();
    direction_ = dir;
    if (dir == 0) return std::nullopt;
  }
  if (!since_) since_ = now_s;
  if (now_s - *since_ < opts_.sustain_s) return std::nullopt;
  // The latest observation (already a 5-s average) rather than the window's mean: after a step,
  // the window still holds the ramp, and the plan is for the load that stays.
  double scale = observed_scale * (1 + opts_.headroom);
  since_.reset();
  direction_ = 0;
  return scale;
}

StatusOr<planner::Problem> ProblemForStatus(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                            const Infrastructure& infra, const WorkflowStatus& st,
                                            planner::ProblemOptions popts) {
  popts.rate_scale = popts.rate_scale.value_or(1.0) * st.load_scale.value_or(1.0);
  if (!popts.min_accuracy && st.accuracy_floor)  // accuracy drift (reconciler/accuracy_drift.h)
    popts.min_accuracy = std::max(wf.spec.slo.min_accuracy, *st.accuracy_floor);
  auto problem = planner::BuildProblem(wf, profiles, infra, popts);
  if (!problem.ok()) return problem;
  for (const auto& o : st.unavailable_nodes)
    for (size_t n = 0; n < problem->nodes.size(); ++n)
      if (problem->nodes[n].name == o.node) problem->node_allowed[n] = false;
  return problem;
}

Plan AtProblemRates(const planner::Problem& p, Plan plan) {
  std::map<std::string, double> rate;
  for (const auto& op : p.ops) rate[op.name] = op.rate;
  for (auto& pl : plan.placements)
    if (auto it = rate.find(pl.op); it != rate.end()) pl.rate = it->second * (pl.keys.hi - pl.keys.lo);
  return plan;
}

Rescored RescorePlan(const planner::Problem& p, const Plan& plan) {
  Rescored r;
  r.plan = AtProblemRates(p, plan);
  std::map<std::string, size_t> node;
  for (size_t n = 0; n < p.nodes.size(); ++n) node[p.nodes[n].name] = n;
  for (auto& pl : r.plan.placements) {
    auto n = node.find(pl.node);
    if (n == node.end())
      r.violations.push_back("node " + pl.node + " is gone");
    else if (n->second < p.node_allowed.size() && !p.node_allowed[n->second])
      r.violations.push_back("node " + pl.node + " is not available");
  }
  if (!r.violations.empty()) return r;
  auto score = planner::ScorePlan(p, r.plan);
  for (const auto& v : score.violations) r.violations.push_back(v);
  r.plan.cost.compute_per_hour = score.compute;
  r.plan.cost.network_per_hour = score.network;
  r.plan.cost.total_per_hour = score.total;
  r.plan.accuracy = score.accuracy;
  return r;
}

std::optional<Plan> BestDegradedPlan(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                     const Infrastructure& infra, const WorkflowStatus& st,
                                     const planner::SolveLimits& limits, double plan_time_limit_s, Condition* why) {
  // Each solve plans with at most 2 s and what is left of the reconcile's budget; the bisections
  // stop at the budget with the best plan so far (up to ~37 solves otherwise).
  auto solve = [&](double floor, double scale) -> std::optional<Plan> {
    double budget = std::min({2.0, plan_time_limit_s, 0.9 * limits.SecondsLeft()});
    if (limits.Expired() || budget < 0.05) return std::nullopt;
    planner::ProblemOptions o;
    o.min_accuracy = floor;
    o.rate_scale = scale;
    auto p = ProblemForStatus(wf, profiles, infra, st, o);
    if (!p.ok()) return std::nullopt;
    planner::SolverOptions so;
    so.time_limit_s = budget;
    so.limits = limits;
    auto r = planner::Solve(*p, so);
    if (!r.ok()) return std::nullopt;
    return r->plan;
  };
  // Bisection for the largest x in [lo, hi] with a plan, given one at lo (feasibility is monotone
  // in both the floor and the rate).
  auto highest = [&](double lo, double hi, Plan best, const std::function<std::optional<Plan>(double)>& at) {
    for (int i = 0; i < 12 && hi - lo > 1e-3 * std::max(1.0, hi) && !limits.Expired(); ++i) {
      double mid = (lo + hi) / 2;
      if (auto p = at(mid)) {
        lo = mid;
        best = *p;
      } else {
        hi = mid;
      }
    }
    return best;
  };
  double floor = std::max(wf.spec.slo.min_accuracy, st.accuracy_floor.value_or(0));
  double rate = 0;
  for (const auto& s : wf.spec.sources) rate += s.rate * st.load_scale.value_or(1.0);
  if (auto p = solve(0, 1)) {
    Plan best = highest(0, floor, *p, [&](double f) { return solve(f, 1); });
    *why = Condition{cond::kDegraded, cond::kTrue, cond::kAccuracyBelowFloor,
                     "no plan reaches the accuracy floor " + FormatFixed(floor, 2) +
                         " at the requested rate; deployed the most accurate plan that keeps up (accuracy " +
                         FormatFixed(best.accuracy, 2) + ")",
                     ""};
    return best;
  }
  for (double f : {floor, 0.0}) {
    auto p = solve(f, 1e-3);
    if (!p) continue;
    double got = 1e-3;
    Plan best = highest(1e-3, 1, *p, [&](double x) {
      auto q = solve(f, x);
      if (q) got = std::max(got, x);
      return q;
    });
    *why = Condition{
        cond::kDegraded, cond::kTrue, f > 0 ? cond::kRateBelowTarget : cond::kRateAndAccuracyBelowTarget,
        "capacity is short: the plan serves " + FormatFixed(100 * got, 1) + "% of the requested rate (" +
            FormatFixed(rate * got, 2) + " of " + FormatFixed(rate, 2) + " source items/s)" +
            (f > 0 ? " at the accuracy floor"
                   : " at accuracy " + FormatFixed(best.accuracy, 2) + " (floor " + FormatFixed(floor, 2) + ")"),
        ""};
    return best;
  }
  return std::nullopt;
}

ReplanProposal ProposeReplan(const planner::Problem& problem, const WorkflowStatus& status,
                             const std::vector<WorkerConfig>& running, const ReplanCandidate& candidate,
                             const ReplanContext& ctx) {
  ReplanProposal p;
  const bool undo = ctx.trigger == kTriggerUndo;
  p.decision = ReplanDecision{ReplanAction::kAdopt, undo ? "requested by rollout undo" : "first plan", 0};
  p.next_epoch = status.plan_epoch.value_or(0) + 1;
  if (!status.plan) return p;
  p.current = RescorePlan(problem, *status.plan);
  if (candidate.workers) p.churn = RolloutChurn(running, *candidate.workers, p.next_epoch);
  if (undo) return p;
  double since = 1e18;
  if (!status.history.empty())
    if (auto t = ParseRfc3339(status.history.back().time)) since = ctx.now_s - *t;
  p.decision = DecideReplan(
      p.current.violations, p.current.plan.cost.total_per_hour, candidate.plan.cost.total_per_hour, p.churn, since,
      ctx.damping, ctx.trigger == kTriggerLoad || ctx.trigger == kTriggerProfile || ctx.trigger == kTriggerAccuracy);
  return p;
}

}  // namespace jb
