#include "reconciler/accuracy_drift.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "reconciler/observed_accuracy.h"
#include "reconciler/replan.h"

namespace jb {

double RaisedFloor(double slo_floor, std::optional<double> current, double planned, double observed_high) {
  double raised = slo_floor + (planned - observed_high);
  return std::min(100.0, std::max({raised, current.value_or(slo_floor), slo_floor}));
}

bool AccuracyDriftTrigger::Observe(double now_s, int64_t epoch, const std::optional<ObservedAccuracy>& acc) {
  if (epoch != epoch_) {
    epoch_ = epoch;
    baseline_ = acc ? acc->total : 0;
    since_.reset();
  }
  if (acc && acc->total < baseline_) baseline_ = 0;  // the sink restarted: its window is all new answers
  fresh_ = acc && acc->total - baseline_ >= acc->count;
  const bool below = acc && AccuracySlo(*acc).met == false;
  if (!below) note.clear();
  if (!below || !fresh_) {
    since_.reset();
    return false;
  }
  if (!since_) since_ = now_s;
  if (now_s - *since_ < opts_.sustain_s) return false;
  since_.reset();
  return true;
}

StatusOr<Plan> PlanAtFloor(const PlanInputs& in, const WorkflowStatus& st, double floor,
                           const planner::SolverOptions& so) {
  WorkflowStatus at = st;
  at.accuracy_floor = floor;
  auto problem = ProblemForStatus(in.wf, in.profiles, in.infra, at);
  if (!problem.ok()) return problem.status();
  auto r = planner::Solve(*problem, so);
  if (!r.ok()) return r.status();
  return r->plan;
}

std::string PlanVariants(const Plan& plan) {
  std::vector<std::string> order;
  std::map<std::string, std::set<std::string>> variants;
  for (const auto& pl : plan.placements) {
    if (variants.count(pl.op) == 0) order.push_back(pl.op);
    variants[pl.op].insert(pl.variant);
  }
  std::string out;
  for (const auto& op : order) {
    std::string vs;
    for (const auto& v : variants[op]) vs += (vs.empty() ? "" : "+") + v;
    out += (out.empty() ? "" : ", ") + op + "=" + vs;
  }
  return out;
}

}  // namespace jb
