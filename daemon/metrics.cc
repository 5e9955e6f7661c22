#include "daemon/metrics.h"

#include <sstream>

#include "daemon/metrics_workers.h"
#include "daemon/workflow_metrics.h"
#include "planner/scorer.h"
#include "reconciler/inputs.h"
#include "reconciler/replan.h"

#ifndef JB_BUILD_VERSION
#define JB_BUILD_VERSION "unknown"
#endif
#ifndef JB_BUILD_COMMIT
#define JB_BUILD_COMMIT "unknown"
#endif

namespace jb {

std::string BuildVersion() { return JB_BUILD_VERSION[0] ? JB_BUILD_VERSION : "unknown"; }
std::string BuildCommit() { return JB_BUILD_COMMIT[0] ? JB_BUILD_COMMIT : "unknown"; }

namespace {

// The plan's predicted payload bytes/s per tier boundary at the offered load, as the reconciler's
// Summarize predicts it ("up"/"down" -> tier -> bytes/s); empty when it cannot be computed.
std::map<std::string, std::map<std::string, double>> PlannedBoundary(const Store& store, const Workflow& wf) {
  std::map<std::string, std::map<std::string, double>> out;
  if (!wf.status.plan) return out;
  PlanInputs in = GatherInputs(store, wf);
  if (!in.missing.empty()) return out;
  Workflow offered = in.wf;
  for (auto& s : offered.spec.sources) s.rate = s.generator_rate.value_or(s.rate);
  auto p = planner::BuildProblem(offered, in.profiles, in.infra);
  if (!p.ok()) return out;
  auto score = planner::ScorePlan(*p, AtProblemRates(*p, *wf.status.plan));
  for (const auto& [t, v] : score.boundary_up_kibps) out["up"][t] = v * 1024;
  for (const auto& [t, v] : score.boundary_down_kibps) out["down"][t] = v * 1024;
  return out;
}

void WriteControlPlane(const Store& store, const Controller* controller, Exposition& x) {
  x.Family("jellybean_build_info", "gauge", "The daemon's build: version and git commit (value 1).")
      .Sample({{"version", BuildVersion()}, {"commit", BuildCommit()}}, 1);
  auto objects = x.Family("jellybean_objects", "gauge", "Objects in the store.");
  for (const char* kind : {"Workflow", "ModelProfile", "Infrastructure"})
    objects.Sample({{"kind", kind}}, static_cast<double>(store.List(kind).size()));
  if (controller == nullptr) return;
  auto c = controller->Metrics();
  x.Family("jellybean_reconcile_total", "counter", "Reconciles run.").Sample({}, static_cast<double>(c.reconciles));
  x.Family("jellybean_reconcile_errors_total", "counter", "Reconciles that failed (retried with back-off).")
      .Sample({}, static_cast<double>(c.errors));
  x.Family("jellybean_reconcile_duration_seconds", "summary", "Time spent reconciling.")
      .Suffixed("_sum", {}, c.seconds_total)
      .Suffixed("_count", {}, static_cast<double>(c.reconciles));
  x.Family("jellybean_workqueue_depth", "gauge", "Keys waiting in the work queue.")
      .Sample({}, static_cast<double>(c.queue_depth));
}

}  // namespace

std::string DaemonMetrics::Render() const {
  Exposition x;
  WriteControlPlane(*store_, controller_, x);
  api_.Write(x);
  std::vector<Workflow> wfs;
  for (const auto& o : store_->List("Workflow"))
    if (const auto* wf = std::get_if<Workflow>(&o)) wfs.push_back(*wf);
  auto cost = x.Family("jellybean_plan_cost_dollars_per_hour", "gauge", "Predicted cost of the current plan.");
  for (const auto& wf : wfs)
    if (wf.status.plan) {
      cost.Sample({{"workflow", wf.metadata.name}, {"part", "compute"}}, wf.status.plan->cost.compute_per_hour);
      cost.Sample({{"workflow", wf.metadata.name}, {"part", "network"}}, wf.status.plan->cost.network_per_hour);
    }
  std::vector<WorkflowWorkers> workers;
  std::map<std::string, double> planned_cross;
  Driver* driver = driver_.load();
  for (const auto& wf : wfs) {
    WorkflowWorkers w;
    w.workflow = wf.metadata.name;
    w.planned_boundary_bps = PlannedBoundary(*store_, wf);
    if (!w.planned_boundary_bps.empty()) {
      double& sum = planned_cross[wf.metadata.name];
      for (const auto& [dir, tiers] : w.planned_boundary_bps)
        for (const auto& [tier, bps] : tiers) sum += bps;
    }
    if (driver != nullptr) {
      w.states = driver->Observe(wf.metadata.name);
      for (const auto& c : driver->Desired(wf.metadata.name)) w.window[c.name] = c.window;
    }
    workers.push_back(std::move(w));
  }
  history_.Update(wfs);
  WriteWorkflowStatusMetrics(wfs, planned_cross, x);
  history_.Write(x);
  WriteWorkerMetrics(workers, x);
  std::ostringstream accuracy;
  std::vector<Object> objects(wfs.begin(), wfs.end());
  WriteWorkflowAccuracyMetrics(objects, accuracy);
  return x.Text() + accuracy.str();
}

}  // namespace jb
