#include "reconciler/workflow_reconciler.h"

#include "api/manifest.h"
#include "planner/solver.h"
#include "reconciler/deployment.h"
#include "reconciler/replan.h"
#include "reconciler/rollout.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <functional>
#include <sstream>

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

namespace {

// Rate columns of the planning model before nodes are merged: the (operator, variant, node) triples
// that can run. What makes a plan large.
size_t RateColumns(const planner::Problem& p) {
  size_t columns = 0;
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
      for (size_t n = 0; n < p.nodes.size(); ++n)
        if (p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0) ++columns;
  return columns;
}

// Takes the large-plan slot for its lifetime when given one (nullptr: a small plan, always held).
class LargePlanSlot {
 public:
  explicit LargePlanSlot(std::atomic<bool>* slot) {
    bool expected = false;
    if (slot == nullptr || slot->compare_exchange_strong(expected, true)) {
      slot_ = slot;
      held_ = true;
    }
  }
  ~LargePlanSlot() {
    if (held_ && slot_ != nullptr) slot_->store(false);
  }
  LargePlanSlot(const LargePlanSlot&) = delete;
  LargePlanSlot& operator=(const LargePlanSlot&) = delete;
  bool held() const { return held_; }

 private:
  std::atomic<bool>* slot_ = nullptr;
  bool held_ = false;
};

// Which input changed between two `plannedFrom` fingerprints.
std::string Trigger(const std::string& before, const std::string& after) {
  auto parts = [](const std::string& s) {
    std::set<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.insert(item);
    return out;
  };
  auto a = parts(before), b = parts(after);
  auto kind = [](const std::string& part) -> std::string {
    if (part.rfind("down:", 0) == 0) return "node";
    if (part.rfind("load:", 0) == 0) return "load";
    auto slash = part.find('/');
    return slash == std::string::npos ? "inputs" : part.substr(0, slash);
  };
  for (const auto& part : b)
    if (a.count(part) == 0) return kind(part);
  for (const auto& part : a)
    if (b.count(part) == 0) return kind(part);
  return "inputs";
}

}  // namespace

std::optional<Plan> WorkflowReconciler::BestDegraded(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                                     const Infrastructure& infra, const WorkflowStatus& st,
                                                     const planner::SolveLimits& limits, Condition* why) const {
  // Each solve plans with at most 2 s and what is left of the reconcile's budget; the bisections
  // stop at the budget with the best plan so far (up to ~37 solves otherwise).
  auto solve = [&](double floor, double scale) -> std::optional<Plan> {
    double budget = std::min({2.0, opts_.plan_time_limit_s, 0.9 * limits.SecondsLeft()});
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
  double floor = wf.spec.slo.min_accuracy;
  double rate = 0;
  for (const auto& s : wf.spec.sources) rate += s.rate * st.load_scale.value_or(1.0);
  if (auto p = solve(0, 1)) {
    Plan best = highest(0, floor, *p, [&](double f) { return solve(f, 1); });
    *why = Condition{"Degraded", "True", "AccuracyBelowFloor",
                     "no plan reaches the accuracy floor " + Fixed(floor, 2) + " at the requested rate; deployed the most accurate plan that keeps up (accuracy " +
                         Fixed(best.accuracy, 2) + ")",
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
    *why = Condition{"Degraded", "True", f > 0 ? "RateBelowTarget" : "RateAndAccuracyBelowTarget",
                     "capacity is short: the plan serves " + Fixed(100 * got, 1) + "% of the requested rate (" + Fixed(rate * got, 2) +
                         " of " + Fixed(rate, 2) + " source items/s)" +
                         (f > 0 ? " at the accuracy floor" : " at accuracy " + Fixed(best.accuracy, 2) + " (floor " + Fixed(floor, 2) + ")"),
                     ""};
    return best;
  }
  return std::nullopt;
}

void WorkflowReconciler::UpdateLoad(const Workflow& wf, const std::vector<WorkerState>& observed, WorkflowStatus* st) {
  // Offered load: what the sources emit (over their last 5 s), against the rates the spec plans for.
  double spec = 0, seen = 0;
  for (const auto& s : wf.spec.sources) spec += s.rate;
  bool complete = spec > 0;
  std::map<std::string, int64_t> limit;
  for (const auto& s : wf.spec.sources) limit[s.name] = s.count.value_or(0);
  int sources = 0;
  for (const auto& w : observed) {
    if (!w.metrics) continue;
    for (const auto& in : w.metrics->instances)
      if (in.kind == "source") {
        complete &= std::isfinite(in.rate) && in.rate >= 0;  // a worker's report is not trusted blindly
        seen += in.rate;
        ++sources;
        complete &= w.ready && w.metrics->uptime_s >= 6;  // a full rate window
        // A source near the end of its `count` stops on purpose: that is not a load change.
        // (In doubles: a worker's reported rate is not trusted to fit an integer.)
        if (limit[in.name] > 0 && static_cast<double>(in.items_out) + in.rate * 6 >= static_cast<double>(limit[in.name])) complete = false;
      }
  }
  if (!complete || sources != static_cast<int>(wf.spec.sources.size())) return;
  double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::optional<double> next;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto [it, fresh] = load_.try_emplace(wf.metadata.name, opts_.load);
    next = it->second.Observe(now, seen / spec, st->load_scale.value_or(1.0));
  }
  if (!next) return;
  if (events_ != nullptr)
    events_->Record("Workflow", wf.metadata.name, "Normal", "LoadChanged",
                    "the sources offer " + Fixed(seen, 2) + " items/s against " + Fixed(spec * st->load_scale.value_or(1.0), 2) +
                        " planned for " + Fixed(opts_.load.sustain_s, 0) + " s; re-planning for " + Fixed(spec * *next, 2) + " items/s");
  st->load_scale = *next;
}

void WorkflowReconciler::UpdateNodeHealth(const std::string& name, const std::vector<WorkerState>& observed, WorkflowStatus* st) {
  // Outages expire: the node is tried again (a plan that uses it must still pass the damping).
  for (auto it = st->unavailable_nodes.begin(); it != st->unavailable_nodes.end();) {
    if (SecondsSince(it->since) >= opts_.node_retry_s) {
      if (events_ != nullptr) events_->Record("Workflow", name, "Normal", "NodeRetried", "node " + it->node + " is tried again after " +
                                                                                           Fixed(opts_.node_retry_s, 0) + " s out of the plan");
      it = st->unavailable_nodes.erase(it);
    } else {
      ++it;
    }
  }
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  auto& since = not_ready_since_[name];
  std::set<std::string> seen;
  for (const auto& w : observed) {
    if (w.node.empty() || w.name.rfind("io-", 0) == 0) continue;
    seen.insert(w.node);
    if (w.ready) {
      since.erase(w.node);
      continue;
    }
    auto [it, fresh] = since.try_emplace(w.node, now);
    bool listed = false;
    for (const auto& o : st->unavailable_nodes) listed |= o.node == w.node;
    if (listed || now - it->second < opts_.node_grace) continue;
    st->unavailable_nodes.push_back(NodeOutage{w.node, w.message, NowRfc3339Millis()});
    if (events_ != nullptr)
      events_->Record("Workflow", name, "Warning", "NodeNotReady", "node " + w.node + " is left out of the plan: " + w.message);
  }
  for (auto it = since.begin(); it != since.end();) it = seen.count(it->first) == 0 ? since.erase(it) : std::next(it);
}

void WorkflowReconciler::RecordTransitions(const std::string& name, const WorkflowStatus& before, const WorkflowStatus& after) {
  if (events_ == nullptr) return;
  for (const auto& c : after.conditions) {
    const Condition* old = FindCondition(before, c.type);
    if (old != nullptr && old->status == c.status && old->reason == c.reason) continue;
    bool bad = (c.type == "Degraded") ? c.status == "True" : c.status == "False";
    events_->Record("Workflow", name, bad ? "Warning" : "Normal", c.reason, c.type + "=" + c.status + ": " + c.message);
  }
}

StatusOr<Object> WorkflowReconciler::Save(const Workflow& wf, const WorkflowStatus& after) {
  RecordTransitions(wf.metadata.name, wf.status, after);
  // Conditional on the version read: a concurrent write (a spec change, a rollback request) wins,
  // and this pass is retried from the new state instead of overwriting it.
  return store_->PutStatus(wf.metadata.name, after, wf.metadata.resource_version.value_or(""));
}

ReconcileResult WorkflowReconciler::Reconcile(const std::string& name) {
  // The boundary: nothing a stored object contains may take the daemon down. The planner returns
  // Status for everything it knows (numbers the solver cannot take included); this catches what
  // remains (allocation failures, a library's exception) and makes it a condition.
  std::string what;
  try {
    return ReconcileUnguarded(name);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  RecordFailure(name, what);
  return ReconcileResult{Status::Internal("reconcile of Workflow " + name + " failed: " + what), {}};
}

void WorkflowReconciler::RecordFailure(const std::string& name, const std::string& why) {
  try {
    auto got = store_->Get("Workflow", name);
    if (!got.ok()) return;
    const Workflow& wf = std::get<Workflow>(*got);
    WorkflowStatus st = wf.status;
    st.observed_generation = wf.metadata.generation;
    SetCondition(&st, "Planned", "False", "ReconcileError", "internal error while reconciling (retried with back-off): " + why);
    (void)Save(wf, st);
  } catch (...) {
    // Recording is best effort; the caller still reports the error and retries with back-off.
  }
}

ReconcileResult WorkflowReconciler::ReconcileUnguarded(const std::string& name) {
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
  // The Workflow's part of the fingerprint: its spec without what only the emulated load generator
  // uses (generatorRate, count), so changing the emulated load is left to the load trigger.
  WorkflowSpec planned_spec = wf.spec;
  for (auto& s : planned_spec.sources) {
    s.generator_rate.reset();
    s.count.reset();
  }
  char spec_hash[32];
  std::snprintf(spec_hash, sizeof(spec_hash), "%016zx", std::hash<std::string>{}(ToJson(Encoder::Encode(planned_spec))));
  std::string inputs = "Workflow/" + name + "@" + spec_hash;
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
    auto put = Save(wf, st);
    return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
  }

  // Node health: nodes whose workers stopped reporting are left out of the plan for a while.
  const auto& infra = std::get<Infrastructure>(*inf);
  auto before = driver_->Observe(name);
  UpdateNodeHealth(name, before, &st);
  for (const auto& o : st.unavailable_nodes) inputs += ",down:" + o.node;
  if (st.plan && !st.rollout) UpdateLoad(wf, before, &st);
  if (st.load_scale) inputs += ",load:" + Fixed(*st.load_scale, 4);

  ReconcileResult res;
  // One rollout at a time, unless one has hung (a new worker that never becomes ready): then a new
  // plan may replace it, starting from whatever the driver runs.
  bool rolling = st.rollout.has_value() && SecondsSince(st.rollout->triggered) < opts_.rollout_stuck_s;
  bool replan = !st.plan || st.planned_from != inputs || st.undo_to.has_value();
  if (replan && rolling) {
    res.requeue_after = std::chrono::milliseconds(200);  // one rollout at a time: look again when it is done
  } else if (replan) {
    // The planning budget covers validation, the problem and every solve from here on.
    const auto plan_start = std::chrono::steady_clock::now();
    planner::SolveLimits limits;
    limits.deadline = plan_start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(std::max(0.0, opts_.plan_time_limit_s)));
    limits.cancel = &cancel_;
    ValidateSet(&docs);
    std::string errors;
    for (const auto& line : FormatDiagnostics(docs)) errors += (errors.empty() ? "" : "; ") + line;
    if (!errors.empty()) {
      NotPlanned(&st, "Invalid", errors);
      auto put = Save(wf, st);
      return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
    }
    auto problem = ProblemForStatus(wf, profiles, infra, st);
    if (!problem.ok()) {
      NotPlanned(&st, "Invalid", problem.status().message());
      auto put = Save(wf, st);
      return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
    }
    std::string trigger = !st.plan ? "initial" : Trigger(st.planned_from.value_or(""), inputs);
    std::optional<Plan> candidate;
    std::optional<Condition> candidate_degraded;
    std::string solved_msg;
    if (st.undo_to) {
      trigger = "undo";
      for (const auto& rev : st.history)
        if (rev.epoch == *st.undo_to) candidate = rev.plan;
      if (!candidate && events_ != nullptr)
        events_->Record("Workflow", name, "Warning", "UndoFailed", "no plan revision with epoch " + std::to_string(*st.undo_to) + " in the history");
      st.undo_to.reset();
      if (!candidate) {
        auto put = Save(wf, st);
        return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
      }
      candidate = RescorePlan(*problem, *candidate).plan;
      solved_msg = "re-adopted the plan of an earlier epoch (rollout undo)";
    } else {
      // Fairness: one large plan at a time (see ReconcilerOptions::large_plan_columns).
      const size_t columns = RateColumns(*problem);
      LargePlanSlot slot(columns > opts_.large_plan_columns ? &large_plan_running_ : nullptr);
      if (!slot.held()) {
        res.requeue_after = opts_.large_plan_retry;  // another large plan holds the slot; no thread waits for it
        return res;
      }
      planner::SolverOptions so;
      so.time_limit_s = std::max(0.05, 0.9 * std::chrono::duration<double>(limits.deadline - std::chrono::steady_clock::now()).count());
      so.limits = limits;
      auto result = planner::Solve(*problem, so);
      Condition why;
      std::optional<Plan> degraded;
      if (!result.ok() && result.status().code() == Status::Code::kInfeasible)
        degraded = BestDegraded(wf, profiles, infra, st, limits, &why);
      if (cancel_.load()) return ReconcileResult{Status::Unavailable("planning of Workflow " + name + " cancelled (shutting down)"), {}};
      const bool timeout = !result.ok() && result.status().code() == Status::Code::kDeadlineExceeded;
      if (timeout) {
        char budget[160];
        std::snprintf(budget, sizeof(budget), "no plan within the planning budget of %.1f s (%zu operators, %zu nodes, %zu rate columns)",
                      opts_.plan_time_limit_s, problem->ops.size(), problem->nodes.size(), columns);
        std::string msg = std::string(budget) + "; raise the planning budget or split the workflow";
        if (events_ != nullptr) events_->Record("Workflow", name, "Warning", "PlanningTimeout", msg);
        st.planned_from = inputs;  // planned again when the inputs change
        if (!st.plan) {
          NotPlanned(&st, "PlanningTimeout", msg);
          auto put = Save(wf, st);
          return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
        }
        SetCondition(&st, "Planned", "False", "PlanningTimeout",
                     msg + "; the plan of epoch " + std::to_string(st.plan_epoch.value_or(0)) + " keeps running");
      } else if (!result.ok() && !degraded) {
        NotPlanned(&st, result.status().code() == Status::Code::kInfeasible ? "Infeasible" : "SolverError", result.status().message());
        st.plan.reset();
        st.planned_from = inputs;
        auto put = Save(wf, st);
        return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
      }
      if (timeout) {
        // the running plan stays (above)
      } else if (degraded) {
        why.message += "; the SLO cannot be met: " + result.status().message();
        candidate_degraded = why;
        candidate = *degraded;
        solved_msg = "degraded (" + why.reason + ")";
      } else {
        candidate = result->plan;
      }
    }
    if (candidate) {  // else the planning timed out and the running plan stays
      // Damping: compare with the running plan under the new inputs.
      ReplanDecision decision{ReplanAction::kAdopt, trigger == "undo" ? "requested by rollout undo" : "first plan", 0};
      Rescored current;
      int64_t next_epoch = st.plan_epoch.value_or(0) + 1;
      int64_t churn = 0;
      if (st.plan) {
        current = RescorePlan(*problem, *st.plan);
        if (current.violations.empty()) st.degraded.reset();  // the running plan meets the (new) SLO
        auto target = BuildDeployment(wf, profiles, infra, *candidate, next_epoch, opts_.deployment);
        if (target.ok()) churn = RolloutChurn(driver_->Desired(name), *target, next_epoch);
        if (trigger != "undo") {
          double since = st.history.empty() ? 1e18 : SecondsSince(st.history.back().time);
          decision = DecideReplan(current.violations, current.plan.cost.total_per_hour, candidate->cost.total_per_hour, churn, since,
                                  opts_.damping, trigger == "load");
        }
      }
      if (decision.action == ReplanAction::kDefer) {
        // Clamped: the history's time is stored data and may lie in the future.
        res.requeue_after = std::chrono::milliseconds(static_cast<int64_t>(std::clamp(decision.retry_after_s, 0.0, 3600.0) * 1000) + 1);
      } else if (decision.action == ReplanAction::kKeep) {
        st.plan = current.plan;  // priced under the new inputs
        st.planned_from = inputs;
        SetCondition(&st, "Planned", "True", "Kept",
                     Fixed(st.plan->cost.total_per_hour, 4) + " $/h (compute " + Fixed(st.plan->cost.compute_per_hour, 4) + " + network " +
                         Fixed(st.plan->cost.network_per_hour, 4) + ") at today's inputs, accuracy " + Fixed(st.plan->accuracy, 2) +
                         "; a re-plan was not worth it: " + decision.reason);
        if (events_ != nullptr)
          events_->Record("Workflow", name, "Normal", "PlanKept",
                          "kept epoch " + std::to_string(st.plan_epoch.value_or(0)) + " (trigger: " + trigger + "): " + decision.reason);
      } else {
        PlanRevision rev;
        rev.epoch = next_epoch;
        rev.time = NowRfc3339Millis();
        rev.trigger = trigger;
        rev.reason = decision.reason;
        rev.old_cost = st.plan ? current.plan.cost.total_per_hour : 0;
        rev.old_accuracy = st.plan ? current.plan.accuracy : 0;
        rev.new_cost = candidate->cost.total_per_hour;
        rev.new_accuracy = candidate->accuracy;
        rev.workers_moved = churn;
        rev.plan = *candidate;
        st.history.push_back(rev);
        while (st.history.size() > 10) st.history.erase(st.history.begin());
        RolloutStatus ro;
        ro.from_epoch = st.plan ? st.plan_epoch.value_or(0) : 0;
        ro.to_epoch = next_epoch;
        ro.phase = "Starting";
        ro.trigger = trigger;
        ro.triggered = rev.time;
        st.rollout = ro;
        st.plan = *candidate;
        st.degraded = candidate_degraded;
        st.plan_epoch = next_epoch;
        st.observed.reset();  // observations of the previous plan no longer apply
        st.planned_from = inputs;
        if (events_ != nullptr && trigger != "initial")
          events_->Record("Workflow", name, "Normal", "Replanned",
                          "epoch " + std::to_string(next_epoch) + " (trigger: " + trigger + "): " + Fixed(rev.old_cost, 4) + " -> " +
                              Fixed(rev.new_cost, 4) + " $/h, " + decision.reason);
        const Plan& pl = *st.plan;
        char msg[512];
        std::snprintf(msg, sizeof(msg), "%.4f $/h (compute %.4f + network %.4f), accuracy %.2f, %s, %s", pl.cost.total_per_hour,
                      pl.cost.compute_per_hour, pl.cost.network_per_hour, pl.accuracy,
                      !solved_msg.empty() ? solved_msg.c_str()
                      : pl.optimal        ? "proven optimal"
                                          : ("gap " + Fixed(100 * pl.gap, 2) + "%").c_str(),
                      pl.solver.c_str());
        SetCondition(&st, "Planned", "True", "Solved", msg);
      }
    }
  }
  if (!st.plan) {  // planned before and infeasible; inputs unchanged
    auto put = Save(wf, st);
    return ReconcileResult{put.ok() ? Status::Ok() : put.status(), {}};
  }

  // Deploy: every tier the plan uses must be served by this daemon's driver.
  std::string unserved;
  for (const auto& t : infra.spec.tiers) {
    bool used = false;
    for (const auto& pl : st.plan->placements) used |= pl.tier == t.name;
    for (const auto& s : wf.spec.sources) used |= s.tier == t.name;
    if (used && !driver_->Serves(t.driver.type))
      unserved += (unserved.empty() ? "" : ", ") + t.name + " (driver " + t.driver.type + ")";
  }
  int64_t epoch = st.plan_epoch.value_or(1);
  auto desired = BuildDeployment(wf, profiles, infra, *st.plan, epoch, opts_.deployment);
  RolloutStep step;
  if (desired.ok()) {
    double since_switch = st.rollout && !st.rollout->switched.empty() ? SecondsSince(st.rollout->switched) : -1;
    step = NextRolloutStep(driver_->Desired(name), *desired, before, epoch, since_switch, opts_.rollout);
  }
  if (unserved.empty()) driver_->UseInfrastructure(name, infra.spec);
  Status applied = !unserved.empty() ? Status::Unavailable("no driver for tier(s) " + unserved + "; this daemon runs the " +
                                                                 driver_->name() + " driver(s)")
                   : !desired.ok()   ? desired.status()
                                     : driver_->Apply(name, step.apply);
  if (!applied.ok()) {
    SetCondition(&st, "Deployed", "False", unserved.empty() ? "DriverError" : "DriverUnavailable",
                 driver_->name() + " driver: " + applied.message());
    SetCondition(&st, "Ready", "False", "NotDeployed", "the plan is not deployed");
    res.error = applied;
  } else {
    size_t want = step.apply.size();
    auto observed = driver_->Observe(name);
    if (st.rollout) {
      // Serving: the new routes are on every worker of the new epoch and each has reported them.
      bool serving = step.switched;
      for (const auto& w : step.apply)
        if (w.epoch == epoch) {
          bool ok = false;
          for (const auto& o : observed) ok |= o.name == w.name && o.ready;
          serving &= ok;
        }
      if (serving && st.rollout->switched.empty()) {
        st.rollout->switched = NowRfc3339Millis();
        double took = SecondsSince(st.rollout->triggered);
        for (auto& rev : st.history)
          if (rev.epoch == epoch) rev.serving_s = took;
        if (events_ != nullptr && st.rollout->trigger != "initial")
          events_->Record("Workflow", name, "Normal", "Switched",
                          "epoch " + std::to_string(epoch) + " serves " + Fixed(took, 3) + " s after its trigger (" + st.rollout->trigger + ")");
      }
      if (step.done && !st.rollout->switched.empty()) {
        if (events_ != nullptr && st.rollout->trigger != "initial") events_->Record("Workflow", name, "Normal", "RolloutComplete", step.message);
        st.rollout.reset();
      } else if (!step.done) {
        st.rollout->phase = step.phase;
      }
    }
    if (st.rollout && !step.done)
      SetCondition(&st, "Deployed", "True", "RollingOut", step.message);
    else
      SetCondition(&st, "Deployed", "True", "Applied",
                   std::to_string(want) + " worker(s) of plan epoch " + std::to_string(epoch) + " handed to the " + driver_->name() +
                       " driver");
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
    auto recheck = all_ready ? opts_.observe_every : opts_.not_ready_recheck;
    if (st.rollout) recheck = std::chrono::milliseconds(200);  // move the rollout on promptly
    if (res.requeue_after.count() == 0 || recheck < res.requeue_after) res.requeue_after = recheck;
    // Observations: only from workers that report (the fake driver runs none).
    bool reporting = false;
    for (const auto& w : observed) reporting |= w.metrics.has_value();
    // SLOMet is judged against the load offered (the generator's rate when it emulates one).
    Workflow offered = wf;
    for (auto& s : offered.spec.sources) s.rate = s.generator_rate.value_or(s.rate);
    auto problem = planner::BuildProblem(offered, profiles, infra);
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
  if (st.degraded) {
    SetCondition(&st, "Degraded", "True", st.degraded->reason, st.degraded->message);
    SetCondition(&st, "SLOMet", "False", "DegradedPlan", "the deployed plan is a degraded one: " + st.degraded->message);
  } else {
    SetCondition(&st, "Degraded", "False", "PlanMeetsSLO", "the deployed plan meets the accuracy floor at the requested rate");
  }
  auto put = Save(wf, st);
  if (!put.ok() && res.error.ok()) res.error = put.status();
  return res;
}

}  // namespace jb
