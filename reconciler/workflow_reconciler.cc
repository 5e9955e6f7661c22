#include "reconciler/workflow_reconciler.h"

#include "api/manifest.h"
#include "planner/solver.h"

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

std::vector<WorkerSpec> WorkersOf(const std::string& workflow, const Plan& plan) {
  std::vector<WorkerSpec> out;
  for (const auto& pl : plan.placements)
    out.push_back(WorkerSpec{workflow, pl.op, pl.variant, pl.node, pl.tier, pl.rate, pl.keys, "emulated"});
  return out;
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

  // Deploy and observe.
  auto desired = WorkersOf(name, *st.plan);
  ReconcileResult res;
  if (auto s = driver_->Apply(name, desired); !s.ok()) {
    SetCondition(&st, "Deployed", "False", "DriverError", driver_->name() + " driver: " + s.message());
    SetCondition(&st, "Ready", "False", "NotDeployed", "the plan is not deployed");
    res.error = s;
  } else {
    SetCondition(&st, "Deployed", "True", "Applied",
                 std::to_string(desired.size()) + " worker(s) handed to the " + driver_->name() + " driver");
    auto observed = driver_->Observe(name);
    size_t ready = 0;
    std::string why;
    for (const auto& w : observed) {
      if (w.ready) ++ready;
      else if (why.empty()) why = w.spec.op + " on " + w.spec.node + ": " + w.message;
    }
    if (ready == desired.size() && observed.size() == desired.size()) {
      SetCondition(&st, "Ready", "True", "WorkersReady", std::to_string(ready) + "/" + std::to_string(desired.size()) + " workers ready");
    } else {
      SetCondition(&st, "Ready", "False", "WorkersNotReady",
                   std::to_string(ready) + "/" + std::to_string(desired.size()) + " workers ready" + (why.empty() ? "" : "; " + why));
      res.requeue_after = opts_.not_ready_recheck;
    }
  }
  // SLOMet needs observed throughput from the data plane; the plan alone only predicts it.
  if (!FindCondition(st, "SLOMet") || FindCondition(st, "SLOMet")->reason != "Observed")
    SetCondition(&st, "SLOMet", "Unknown", "NoObservations",
                 "the plan predicts the SLO is met; no throughput observations yet (the driver reports none)");
  SetCondition(&st, "Degraded", "False", "PlanMeetsSLO", "the deployed plan meets the accuracy floor at the requested rate");
  auto put = Save(name, wf.status, st);
  if (!put.ok() && res.error.ok()) res.error = put.status();
  return res;
}

}  // namespace jb
