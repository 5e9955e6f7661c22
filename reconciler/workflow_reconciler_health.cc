// WorkflowReconciler's two measured inputs of a plan: the offered load and node health (declared
// in reconciler/workflow_reconciler.h; split from workflow_reconciler.cc to keep each file short).
#include <algorithm>
#include <cmath>
#include <set>

#include "api/names.h"
#include "base/format.h"
#include "base/rfc3339.h"
#include "reconciler/conditions.h"
#include "reconciler/deployment.h"
#include "reconciler/workflow_reconciler.h"

namespace jb {

void WorkflowReconciler::UpdateLoad(const Workflow& wf, const std::vector<WorkerState>& observed, WorkflowStatus* st) {
  // Offered load: what the sources emit (over their last 5 s), against the rates the spec plans for.
  // An inference endpoint's load is whatever clients send: its rate in the spec is the capacity
  // to keep, and an idle endpoint must not shrink the plan to nothing (it did: 0.67 -> 0 $/h).
  for (const auto& s : wf.spec.sources)
    if (s.type.value_or("generator") == "ingress") return;
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
        if (limit[in.name] > 0 &&
            static_cast<double>(in.items_out) + in.rate * 6 >= static_cast<double>(limit[in.name]))
          complete = false;
      }
  }
  if (!complete || sources != static_cast<int>(wf.spec.sources.size())) return;
  double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::optional<double> next;
  {
    MutexLock l(&mu_);
    auto [it, fresh] = load_.try_emplace(wf.metadata.name, opts_.load);
    next = it->second.Observe(now, seen / spec, st->load_scale.value_or(1.0));
  }
  if (!next) return;
  if (events_ != nullptr)
    events_->Record("Workflow", wf.metadata.name, "Normal", "LoadChanged",
                    "the sources offer " + FormatFixed(seen, 2) + " items/s against " +
                        FormatFixed(spec * st->load_scale.value_or(1.0), 2) + " planned for " +
                        FormatFixed(opts_.load.sustain_s, 0) + " s; re-planning for " + FormatFixed(spec * *next, 2) +
                        " items/s");
  st->load_scale = *next;
}

namespace {

// ControlLinkLost=True while a node is cut off from the daemon only; False once none is (absent
// until the first cut, so workflows that never had one show no extra condition).
void UpdateControlLinkCondition(const std::map<std::string, ControlLinkCut>& cuts,
                                std::chrono::steady_clock::time_point now, const Clock& clock, WorkflowStatus* st) {
  const std::string msg = ControlLinkMessage(cuts, now, clock);
  if (!msg.empty()) {
    SetCondition(st, kControlLinkLost, cond::kTrue, kControlLinkLost, msg);
    return;
  }
  const Condition* c = FindCondition(*st, kControlLinkLost);
  if (c == nullptr || c->status != cond::kTrue) return;
  std::string lost;
  for (const auto& [node, cut] : cuts) lost += (lost.empty() ? "" : ", ") + node;
  if (lost.empty())
    SetCondition(st, kControlLinkLost, cond::kFalse, "ControlLinkRestored", "every node's control link is up");
  else
    SetCondition(st, kControlLinkLost, cond::kFalse, "TreatedAsLost",
                 "node(s) " + lost + " cut off with no data-path movement or beyond the autonomy limit: left out");
}

}  // namespace

void WorkflowReconciler::UpdateNodeHealth(const std::string& name, const std::vector<WorkerState>& observed,
                                          WorkflowStatus* st) {
  // A listed node whose workers all report ready again is back at once (its old workers outlived the
  // outage, e.g. a cut link that healed), instead of after node_retry_s.
  std::map<std::string, bool> node_ready;  // node -> every (non-io) worker on it is ready
  for (const auto& w : observed) {
    if (w.node.empty() || w.name.rfind(kIoWorkerPrefix, 0) == 0) continue;
    auto [it, fresh] = node_ready.try_emplace(w.node, true);
    it->second = it->second && w.ready;
  }
  // Outages expire: the node is tried again (a plan that uses it must still pass the damping).
  for (auto it = st->unavailable_nodes.begin(); it != st->unavailable_nodes.end();) {
    const auto back = node_ready.find(it->node);
    if (back != node_ready.end() && back->second) {
      if (events_ != nullptr)
        events_->Record("Workflow", name, "Normal", "NodeBack",
                        "node " + it->node + " reports ready again after " +
                            FormatFixed(ClockSecondsSince(*opts_.clock, it->since), 1) + " s out of the plan");
      it = st->unavailable_nodes.erase(it);
    } else if (ClockSecondsSince(*opts_.clock, it->since) >= opts_.node_retry_s) {
      if (events_ != nullptr)
        events_->Record(
            "Workflow", name, "Normal", "NodeRetried",
            "node " + it->node + " is tried again after " + FormatFixed(opts_.node_retry_s, 0) + " s out of the plan");
      it = st->unavailable_nodes.erase(it);
    } else {
      ++it;
    }
  }
  auto now = opts_.clock->Now();
  // Nodes cut off from the daemon only keep their part of the plan (control_link.h).
  const auto cuts = control_.Observe(name, observed, now);
  UpdateControlLinkCondition(cuts, now, *opts_.clock, st);
  MutexLock l(&mu_);
  auto& since = not_ready_since_[name];
  std::set<std::string> seen;
  for (const auto& w : observed) {
    if (w.node.empty() || w.name.rfind(kIoWorkerPrefix, 0) == 0) continue;
    seen.insert(w.node);
    if (w.ready) {
      since.erase(w.node);
      continue;
    }
    auto [it, fresh] = since.try_emplace(w.node, now);
    if (auto c = cuts.find(w.node); c != cuts.end() && c->second.autonomous) continue;
    bool listed = false;
    for (const auto& o : st->unavailable_nodes) listed |= o.node == w.node;
    if (listed || now - it->second < opts_.node_grace) continue;
    st->unavailable_nodes.push_back(NodeOutage{w.node, w.message, ClockRfc3339Millis(*opts_.clock)});
    if (events_ != nullptr)
      events_->Record("Workflow", name, "Warning", "NodeNotReady",
                      "node " + w.node + " is left out of the plan: " + w.message);
  }
  for (auto it = since.begin(); it != since.end();) it = seen.count(it->first) == 0 ? since.erase(it) : std::next(it);
}

}  // namespace jb
