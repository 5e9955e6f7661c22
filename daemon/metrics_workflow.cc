#include "daemon/metrics_workflow.h"

#include <functional>
#include <optional>

namespace jb {

const std::vector<double>& PlanHistoryTracker::RolloutBuckets() {
  static const std::vector<double> b{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return b;
}

void PlanHistoryTracker::Update(const std::vector<Workflow>& workflows) {
  MutexLock l(&mu_);
  std::map<std::string, int64_t> seen;
  for (const auto& wf : workflows) {
    const std::string& name = wf.metadata.name;
    int64_t counted = 0;
    if (auto it = counted_epoch_.find(name); it != counted_epoch_.end()) counted = it->second;
    int64_t newest = wf.status.history.empty() ? 0 : wf.status.history.back().epoch;
    if (newest < counted) counted = 0;  // deleted and created again: epochs start over
    for (const auto& rev : wf.status.history) {
      if (rev.epoch <= counted) continue;
      ++replans_[{name, rev.trigger.empty() ? "unknown" : rev.trigger}];
      if (rev.serving_s) {
        auto& h = rollouts_[name];
        if (h.bounds.empty()) h.bounds = RolloutBuckets();
        h.Observe(*rev.serving_s);
      }
    }
    seen[name] = std::max(counted, newest);
  }
  for (auto it = replans_.begin(); it != replans_.end();)
    it = seen.count(it->first.first) ? std::next(it) : replans_.erase(it);
  for (auto it = rollouts_.begin(); it != rollouts_.end();)
    it = seen.count(it->first) ? std::next(it) : rollouts_.erase(it);
  counted_epoch_ = std::move(seen);
}

void PlanHistoryTracker::Write(Exposition& x) const {
  MutexLock l(&mu_);
  auto replans = x.Family("jellybean_workflow_replans_total", "counter",
                          "Plans adopted (status.history), by trigger (initial, Workflow, Infrastructure, "
                          "ModelProfile, load, node, profile, accuracy, undo).");
  for (const auto& [key, n] : replans_)
    replans.Sample({{"workflow", key.first}, {"trigger", key.second}}, static_cast<double>(n));
  auto rollout = x.Family("jellybean_workflow_rollout_duration_seconds", "histogram",
                          "Rollout duration: from the trigger to the new routes on every worker.");
  for (const auto& [wf, h] : rollouts_) rollout.Histogram({{"workflow", wf}}, h);
}

namespace {

using Getter = std::function<std::optional<double>(const Workflow&)>;

// A figure of status.observed; none while it is Unknown (its reporter cut off from the daemon: the
// field holds the last observed value, jellybean_workflow_observed_unknown_age_seconds its age).
std::optional<double> Observed(const Workflow& wf, double ObservedStatus::*field, const char* figure) {
  if (!wf.status.observed || FindUnknownFigure(*wf.status.observed, figure) != nullptr) return std::nullopt;
  return (*wf.status.observed).*field;
}

std::optional<double> ObservedCount(const Workflow& wf, int64_t ObservedStatus::*field, const char* figure = "") {
  if (!wf.status.observed || FindUnknownFigure(*wf.status.observed, figure) != nullptr) return std::nullopt;
  return static_cast<double>((*wf.status.observed).*field);
}

}  // namespace

void WriteWorkflowStatusMetrics(const std::vector<Workflow>& workflows,
                                const std::map<std::string, double>& planned_cross_tier_bps, Exposition& x) {
  // One sample per workflow that has the figure.
  auto simple = [&](const std::string& name, const std::string& type, const std::string& help, const Getter& get) {
    auto f = x.Family(name, type, help);
    for (const auto& wf : workflows)
      if (auto v = get(wf)) f.Sample({{"workflow", wf.metadata.name}}, *v);
  };
  auto cond = x.Family(
      "jellybean_workflow_condition", "gauge",
      "Workflow conditions (Planned, Deployed, Ready, SLOMet, Degraded, ControlLinkLost): 1 for the condition's "
      "current status, 0 for the other two.");
  for (const auto& wf : workflows)
    for (const auto& c : wf.status.conditions)
      for (const char* s : {"True", "False", "Unknown"})
        cond.Sample({{"workflow", wf.metadata.name}, {"type", c.type}, {"status", s}}, c.status == s ? 1 : 0);
  auto plan = [](const Workflow& wf) { return wf.status.plan ? &*wf.status.plan : nullptr; };
  simple("jellybean_workflow_plan_epoch", "gauge", "Epoch of the current plan (increases with every new plan).",
         [](const Workflow& wf) -> std::optional<double> {
           if (!wf.status.plan_epoch) return std::nullopt;
           return static_cast<double>(*wf.status.plan_epoch);
         });
  simple("jellybean_workflow_plan_solve_seconds", "gauge", "Solver time of the current plan.",
         [&](const Workflow& wf) -> std::optional<double> {
           if (!plan(wf)) return std::nullopt;
           return plan(wf)->solve_ms / 1000.0;
         });
  simple("jellybean_workflow_plan_gap_ratio", "gauge",
         "Relative gap of the current plan's cost to the proven lower bound (0 = optimal).",
         [&](const Workflow& wf) -> std::optional<double> {
           if (!plan(wf)) return std::nullopt;
           return plan(wf)->gap;
         });
  simple("jellybean_workflow_plan_optimal", "gauge", "1 when the current plan is proven optimal.",
         [&](const Workflow& wf) -> std::optional<double> {
           if (!plan(wf)) return std::nullopt;
           return plan(wf)->optimal ? 1 : 0;
         });
  simple("jellybean_workflow_load_scale", "gauge", "The current plan is for the sources' rates times this.",
         [&](const Workflow& wf) -> std::optional<double> {
           if (!plan(wf)) return std::nullopt;
           return wf.status.load_scale.value_or(1.0);
         });
  simple("jellybean_workflow_unavailable_nodes", "gauge",
         "Nodes left out of the plan (their workers stopped reporting).",
         [](const Workflow& wf) -> std::optional<double> {
           return static_cast<double>(wf.status.unavailable_nodes.size());
         });
  auto rollout = x.Family("jellybean_workflow_rollout_in_progress", "gauge",
                          "1 while a make-before-break rollout runs, labelled with its phase.");
  for (const auto& wf : workflows)
    if (wf.status.rollout) rollout.Sample({{"workflow", wf.metadata.name}, {"phase", wf.status.rollout->phase}}, 1);
  simple("jellybean_workflow_last_rollout_duration_seconds", "gauge",
         "Trigger to new routes on every worker, for the newest plan revision that measured it.",
         [](const Workflow& wf) -> std::optional<double> {
           for (auto it = wf.status.history.rbegin(); it != wf.status.history.rend(); ++it)
             if (it->serving_s) return *it->serving_s;
           return std::nullopt;
         });
  simple("jellybean_workflow_observed_throughput_items_per_second", "gauge",
         "Items per second delivered at the sink (requests emitted in a recent 5 s window).",
         [](const Workflow& wf) { return Observed(wf, &ObservedStatus::throughput, "throughput"); });
  auto age = x.Family("jellybean_workflow_observed_unknown_age_seconds", "gauge",
                      "Figures of the observed status that cannot be observed now (a reporter is cut off from the "
                      "daemon; their own samples are left out): age of the last observation, by figure.");
  for (const auto& wf : workflows)
    if (wf.status.observed)
      for (const auto& u : wf.status.observed->unknown)
        if (u.age_s >= 0) age.Sample({{"workflow", wf.metadata.name}, {"figure", u.figure}}, u.age_s);
  simple("jellybean_workflow_planned_throughput_items_per_second", "gauge",
         "Items per second the plan must deliver at the sink.",
         [](const Workflow& wf) { return Observed(wf, &ObservedStatus::expected_throughput, ""); });
  simple("jellybean_workflow_throughput_window_complete", "gauge",
         "1 when the observed throughput rests on a full window (not the start-up).",
         [](const Workflow& wf) -> std::optional<double> {
           if (!wf.status.observed) return std::nullopt;
           return wf.status.observed->throughput_complete ? 1 : 0;
         });
  simple("jellybean_workflow_items_emitted_total", "counter", "Items the sources emitted (current worker processes).",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::emitted, "emitted"); });
  simple("jellybean_workflow_items_delivered_total", "counter", "Distinct items delivered at the sink.",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::delivered, "delivered"); });
  simple("jellybean_workflow_items_dropped_total", "counter",
         "Counted drops (join timeouts, model failures, ...); by reason in jellybean_items_dropped_total.",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::dropped, "dropped"); });
  simple("jellybean_workflow_duplicates_total", "counter", "Repeats discarded after re-sends.",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::duplicates, "duplicates"); });
  simple("jellybean_workflow_workers", "gauge", "Workers the drivers run for the workflow.",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::workers); });
  simple("jellybean_workflow_workers_ready", "gauge", "Of which ready.",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::workers_ready); });
  simple("jellybean_workflow_worker_restarts_total", "counter", "Worker restarts by the drivers.",
         [](const Workflow& wf) { return ObservedCount(wf, &ObservedStatus::restarts); });
  simple("jellybean_workflow_live_cost_dollars_per_hour", "gauge",
         "Live cost: rent of the used nodes plus the observed network cost, USD per hour.",
         [](const Workflow& wf) { return Observed(wf, &ObservedStatus::live_cost_per_hour, "liveCostPerHour"); });
  simple("jellybean_workflow_observed_network_cost_dollars_per_hour", "gauge",
         "Observed cross-tier traffic times the link prices, USD per hour.",
         [](const Workflow& wf) { return Observed(wf, &ObservedStatus::network_cost_per_hour, "networkCostPerHour"); });
  simple("jellybean_workflow_observed_cross_tier_bytes_per_second", "gauge",
         "Observed payload bytes per second crossing tier boundaries (last 5 s, answers' way back included).",
         [](const Workflow& wf) -> std::optional<double> {
           auto v = Observed(wf, &ObservedStatus::cross_tier_kibps, "crossTierKiBps");
           if (v) *v *= 1024;
           return v;
         });
  simple("jellybean_workflow_planned_cross_tier_bytes_per_second", "gauge",
         "The plan's predicted payload bytes per second crossing tier boundaries, at the offered load.",
         [&](const Workflow& wf) -> std::optional<double> {
           auto it = planned_cross_tier_bps.find(wf.metadata.name);
           if (it == planned_cross_tier_bps.end()) return std::nullopt;
           return it->second;
         });
}

}  // namespace jb
