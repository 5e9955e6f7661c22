#include "reconciler/workflow_reconciler.h"

#include "api/manifest.h"
#include "planner/solver.h"
#include "reconciler/deployment.h"

#include <set>

namespace jb {

void SetCondition(WorkflowStatus* st, const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message) {
  for (auto& c : st->conditions) {
    if (c.type != type) continue;
    if (c.status != status) c.last_transition_time = NowRfc3339();
    c.status = status;
    c.reason = reason;
    c.message = message;
    return;
  }
  st->conditions.push_back(Condition{type, status, reason, message, NowRfc3339()});
}

const Condition* FindCondition(const WorkflowStatus& st, const std::string& type) {
  for (const auto& c : st.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

void NotPlanned(WorkflowStatus* st, const std::string& reason, const std::string& message) {
  SetCondition(st, "Planned", "False", reason, message);
  SetCondition(st, "Deployed", "False", "NotPlanned", "nothing to deploy until the workflow is planned");
  SetCondition(st, "Ready", "False", "NotPlanned", "nothing runs until the workflow is planned");
  SetCondition(st, "SLOMet", "False", reason, message);
  SetCondition(st, "Degraded", "False", "NotPlanned", "no plan is deployed");
}

}  // namespace

void WorkflowReconciler::RecordTransitions(const std::string& name, const WorkflowStatus& before, const WorkflowStatus& after) {
  if (events_ == nullptr) return;
  for (const auto& c : after.conditions) {
    const Condition* old = FindCondition(before, c.type);
    if (old != nullptr && old->status == c.status && old->reason == c.reason) continue;
    bool bad = (c.type == "Degraded") ? c.status == "True" : c.status == "False";
    events_->Record("Workflow", name, bad ? "Warning" : "Normal", c.reason, c.type + "=" + c.status + ": " + c.message);
  }
}

StatusOr<Object> WorkflowReconciler::Save(const std::string& name, const WorkflowStatus& before, const WorkflowStatus& after) {
  RecordTransitions(name, before, after);
  return store_->PutStatus(name, after);
}

ReconcileResult WorkflowReconciler::Reconcile(const std::string& name) {
  auto got = store_->Get("Workflow", name);
  if (!got.ok()) {
    // Gone (after its finalizer ran, or never existed): make sure nothing keeps running.
    return ReconcileResult{driver_->Remove(name), {}};
  }
  Workflow wf = std::get<Workflow>(*got);
  if (wf.metadata.deletion_timestamp) {
    // Finalizer: stop the workers before the object disappears.
    if (auto s = driver_->Remove(name); !s.ok()) return ReconcileResult{s, {}};
    return ReconcileResult{store_->RemoveFinalizer("Workflow", name, kWorkersFinalizer), {}};
  }
  WorkflowStatus st = wf.status;
  st.observed_generation = wf.metadata.generation;

  // Gather the inputs and validate them together.
  std::vector<Document> docs(1);
  docs[0].file = "Workflow/" + name;
  docs[0].object = Object(wf);
  std::string inputs = "Workflow/" + name + "@" + std::to_string(wf.metadata.generation.value_or(0));
  std::string missing;
  auto inf = store_->Get("Infrastructure", wf.spec.infrastructure);
  if (!inf.ok()) missing += "Infrastructure \"" + wf.spec.infrastructure + "\"";
  else {
    docs.emplace_back();
    docs.back().file = "Infrastructure/" + wf.spec.infrastructure;
    docs.back().object = *inf;
    inputs += ",Infrastructure/" + wf.spec.infrastructure + "@" + MetaOf(*inf).resource_version.value_or("");
  }
  std::vector<ModelProfile> profiles;
  std::set<std::string> seen;
  for (const auto& op : wf.spec.operators) {
    if (!seen.insert(op.profile).second) continue;
    auto mp = store_->Get("ModelProfile", op.profile);
    if (!mp.ok()) {
      missing += (missing.empty() ? "" : ", ") + std::string("ModelProfile \"") + op.profile + "\"";
      continue;
    }
    profiles.push_back(std::get<ModelProfile>(*mp));
    docs.emplace_back();
    docs.back().file = "ModelProfile/" + op.profile;
    docs.back().object = *mp;
    inputs += ",ModelProfile/" + op.profile + "@" + MetaOf(*mp).resource_version.value_or("");
  }
  if (!missing.empty()) {
    NotPlanned(&st, "MissingReference", "waiting for " + missing);
    auto put = Save(name, wf.status, st);
    return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
  }

  if (!st.plan || st.planned_from != inputs) {
    ValidateSet(&docs);
    std::string errors;
    for (const auto& line : FormatDiagnostics(docs)) errors += (errors.empty() ? "" : "; ") + line;
    if (!errors.empty()) {
      NotPlanned(&st, "Invalid", errors);
      auto put = Save(name, wf.status, st);
      return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
    }
    auto problem = planner::BuildProblem(wf, profiles, std::get<Infrastructure>(*inf));
    if (!problem.ok()) {
      NotPlanned(&st, "Invalid", problem.status().message());
      auto put = Save(name, wf.status, st);
      return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
    }
    auto result = planner::Solve(*problem, planner::SolverOptions{"auto", opts_.plan_time_limit_s});
    if (!result.ok()) {
      NotPlanned(&st, result.status().code() == Status::Code::kInfeasible ? "Infeasible" : "SolverError",
                 result.status().message());
      st.plan.reset();
      st.planned_from = inputs;
      auto put = Save(name, wf.status, st);
      return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
    }
    st.plan = result->plan;
    st.plan_epoch = st.plan_epoch.value_or(0) + 1;
    st.observed.reset();  // observations of the previous plan no longer apply
    st.planned_from = inputs;
    char msg[256];
    std::snprintf(msg, sizeof(msg), "%.4f $/h (compute %.4f + network %.4f), accuracy %.2f, %s, %s", result->plan.cost.total_per_hour,
                  result->plan.cost.compute_per_hour, result->plan.cost.network_per_hour, result->plan.accuracy,
                  result->plan.optimal ? "proven optimal" : ("gap " + std::to_string(100 * result->plan.gap) + "%").c_str(),
                  result->plan.solver.c_str());
    SetCondition(&st, "Planned", "True", "Solved", msg);
  }
  if (!st.plan) {  // planned before and infeasible; inputs unchanged
    auto put = Save(name, wf.status, st);
    return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
  }

  // Deploy: every tier the plan uses must be served by this daemon's driver.
  const auto& infra = std::get<Infrastructure>(*inf);
  std::string unserved;
  for (const auto& t : infra.spec.tiers) {
    bool used = false;
    for (const auto& pl : st.plan->placements) used |= pl.tier == t.name;
    for (const auto& s : wf.spec.sources) used |= s.tier == t.name;
    if (used && t.driver.type != driver_->name() && driver_->name() != "fake")
      unserved += (unserved.empty() ? "" : ", ") + t.name + " (driver " + t.driver.type + ")";
  }
  ReconcileResult res;
  auto desired = BuildDeployment(wf, profiles, infra, *st.plan, st.plan_epoch.value_or(1), opts_.deployment);
  Status applied = !unserved.empty() ? Status::Unavailable("no " + driver_->name() + " driver for tier(s) " + unserved +
                                                                 "; this daemon runs the " + driver_->name() + " driver only")
                   : !desired.ok()   ? desired.status()
                                     : driver_->Apply(name, *desired);
  if (!applied.ok()) {
    SetCondition(&st, "Deployed", "False", unserved.empty() ? "DriverError" : "DriverUnavailable",
                 driver_->name() + " driver: " + applied.message());
    SetCondition(&st, "Ready", "False", "NotDeployed", "the plan is not deployed");
    res.error = applied;
  } else {
    size_t want = desired->size();
    SetCondition(&st, "Deployed", "True", "Applied",
                 std::to_string(want) + " worker(s) of plan epoch " + std::to_string(st.plan_epoch.value_or(1)) + " handed to the " +
                     driver_->name() + " driver");
    auto observed = driver_->Observe(name);
    size_t ready = 0;
    std::string why;
    for (const auto& w : observed) {
      if (w.ready) ++ready;
      else if (why.empty()) why = w.name + ": " + w.message;
    }
    bool all_ready = ready == want && observed.size() == want;
    if (all_ready) {
      SetCondition(&st, "Ready", "True", "WorkersReady", std::to_string(ready) + "/" + std::to_string(want) + " workers ready");
    } else {
      SetCondition(&st, "Ready", "False", "WorkersNotReady",
                   std::to_string(ready) + "/" + std::to_string(want) + " workers ready" + (why.empty() ? "" : "; " + why));
    }
    res.requeue_after = all_ready ? opts_.observe_every : opts_.not_ready_recheck;
    // Observations: only from workers that report (the fake driver runs none).
    bool reporting = false;
    for (const auto& w : observed) reporting |= w.metrics.has_value();
    auto problem = planner::BuildProblem(wf, profiles, infra);
    if (reporting && problem.ok()) {
      ObservedStatus o = Summarize(*problem, *st.plan, observed);
      double floor = o.expected_throughput * opts_.slo_throughput_fraction;
      std::string label = o.emulated ? " [EMULATED runtime: profiled latencies, synthetic payloads]" : "";
      std::string what = "observed " + Fixed(o.throughput, 2) + " items/s at the sink (plan: " + Fixed(o.expected_throughput, 2) +
                         "), latency p50 " + Fixed(o.latency_p50_ms, 1) + " ms p99 " + Fixed(o.latency_p99_ms, 1) + " ms, accuracy " +
                         Fixed(st.plan->accuracy, 2) + " (floor " + Fixed(wf.spec.slo.min_accuracy, 2) + ")" + label;
      bool latency_ok = !wf.spec.slo.max_latency_ms || o.latency_p99_ms <= *wf.spec.slo.max_latency_ms;
      if (!all_ready) SetCondition(&st, "SLOMet", "Unknown", "WorkersNotReady", "waiting for every worker; " + what);
      else if (!o.throughput_complete)
        SetCondition(&st, "SLOMet", "Unknown", "Measuring", "the first throughput window is not complete yet; " + what);
      else if (o.throughput + 1e-9 >= floor && latency_ok) SetCondition(&st, "SLOMet", "True", "Observed", what);
      else if (o.throughput + 1e-9 < floor)
        SetCondition(&st, "SLOMet", "False", "ThroughputBelowTarget",
                     what + "; below " + Fixed(100 * opts_.slo_throughput_fraction, 0) + "% of the plan");
      else SetCondition(&st, "SLOMet", "False", "LatencyAboveTarget", what + "; p99 above maxLatencyMs " + Fixed(*wf.spec.slo.max_latency_ms, 1));
      st.observed = o;
    } else if (!FindCondition(st, "SLOMet") || FindCondition(st, "SLOMet")->reason != "Observed") {
      SetCondition(&st, "SLOMet", "Unknown", "NoObservations",
                   "the plan predicts the SLO is met; no throughput observations yet (the " + driver_->name() + " driver reports none)");
    }
  }
  SetCondition(&st, "Degraded", "False", "PlanMeetsSLO", "the deployed plan meets the accuracy floor at the requested rate");
  auto put = Save(name, wf.status, st);
  if (!put.ok() && res.error.ok()) res.error = put.status();
  return res;
}

}  // namespace jb
