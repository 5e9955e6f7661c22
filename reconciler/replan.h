// Re-plan damping (issue #7): whether a freshly computed plan should replace the running one.
// A plan that is no longer valid under the new inputs (a node gone, capacity short at the new rate,
// accuracy below the floor, a link over its cap) is replaced at once. Otherwise the new plan must
// save more than a threshold that grows with the churn it causes (workers started or stopped), and
// optional re-plans keep a minimum interval, so noisy inputs do not make the deployment flap.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/types.h"
#include "planner/problem.h"

namespace jb {

struct DampingOptions {
  double min_saving_fraction = 0.05;         // a cheaper plan must save more than 5% of the current cost ...
  double churn_fraction_per_worker = 0.005;  // ... plus 0.5% per worker it starts or stops
  double min_interval_s = 10;                // between re-plans that are not needed for correctness
};

enum class ReplanAction { kAdopt, kKeep, kDefer };

struct ReplanDecision {
  ReplanAction action = ReplanAction::kKeep;
  std::string reason;        // one sentence
  double retry_after_s = 0;  // kDefer: look again after this long
};

// `violations`: why the current plan is invalid under the new inputs (empty = still valid);
// costs in USD/h under the new inputs; `since_last_s`: seconds since the last adopted plan.
ReplanDecision DecideReplan(const std::vector<std::string>& violations, double current_cost, double candidate_cost, int64_t churn,
                            double since_last_s, const DampingOptions& opts = {});

// The running plan re-expressed under new inputs: every placement's rate follows its key share of
// the operator's new rate, then the scorer prices it and lists what it violates (including nodes
// the problem no longer allows). The returned plan's cost and accuracy are the scorer's.
struct Rescored {
  Plan plan;
  std::vector<std::string> violations;
};
Rescored RescorePlan(const planner::Problem& p, const Plan& plan);

}  // namespace jb
