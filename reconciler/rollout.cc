#include "reconciler/rollout.h"

#include <algorithm>
#include <map>
#include <set>

namespace jb {
namespace {

bool IsIo(const WorkerConfig& c) {
  for (const auto& i : c.instances)
    if (i.kind == "source" || i.kind == "sink") return true;
  return false;
}

// "<node>~e7" -> "<node>".
std::string BaseName(const std::string& name) {
  auto at = name.rfind("~e");
  return at == std::string::npos ? name : name.substr(0, at);
}

// What identifies "the same place" across epochs: the io worker of a tier, or a node.
std::string PlaceKey(const WorkerConfig& c) { return IsIo(c) ? "io:" + BaseName(c.name) : "node:" + c.node; }

bool Reusable(const WorkerConfig& running, WorkerConfig wanted) {
  wanted.name = running.name;
  // Reachability is derived by the dispatcher (drivers/reachability.h) after this step: a target
  // never carries it, a running worker on an unreachable node always does. Compared, no worker
  // there was ever reused, and every pass started yet another one (the rollout never finished).
  // Should a node's reachability change, the driver restarts the reused worker in place.
  wanted.reachable = running.reachable;
  return SameInstances(running, wanted);
}

// Gives every target worker its deployed name (reusing a running worker with the same instances
// at the same place) and rewrites the routes to those names.
void AssignNames(const std::vector<WorkerConfig>& current, std::vector<WorkerConfig>* target, int64_t epoch) {
  std::set<std::string> taken;
  for (const auto& c : current) taken.insert(c.name);
  std::set<std::string> used;  // names given to target workers
  std::map<std::string, std::string> rename;
  for (auto& t : *target) {
    std::string base = t.name, name;
    for (const auto& c : current)
      if (PlaceKey(c) == PlaceKey(t) && used.count(c.name) == 0 && Reusable(c, t)) {
        name = c.name;
        break;
      }
    if (name.empty()) {
      name = base;
      for (int k = 0; taken.count(name) != 0 || used.count(name) != 0; ++k)
        name = base + "~e" + std::to_string(epoch) + (k == 0 ? "" : "." + std::to_string(k));
    }
    used.insert(name);
    rename[base] = name;
  }
  for (auto& t : *target) {
    t.name = rename[t.name];
    for (auto& r : t.routes)
      if (auto it = rename.find(r.worker); it != rename.end()) r.worker = it->second;
  }
}

const WorkerState* Find(const std::vector<WorkerState>& observed, const std::string& name) {
  for (const auto& w : observed)
    if (w.name == name) return &w;
  return nullptr;
}

bool Ready(const std::vector<WorkerState>& observed, const std::string& name) {
  const WorkerState* w = Find(observed, name);
  return w != nullptr && w->ready;
}

// The epoch being replaced: the newest older epoch any worker still runs or drains; its routes
// go to `old_routes`. 0 when there is none.
int64_t ReplacedEpoch(const std::vector<WorkerConfig>& current, int64_t epoch, std::vector<WorkerRoute>* old_routes) {
  int64_t from = 0;
  for (const auto& c : current) {
    if (c.epoch < epoch && c.epoch > from) {
      from = c.epoch;
      *old_routes = c.routes;
    }
    if (c.epoch == epoch && c.drain_epoch > from) {
      from = c.drain_epoch;
      *old_routes = c.drain_routes;
    }
  }
  return from;
}

// Items of epochs older than `epoch` still held by workers that can finish them (targets, and old
// workers that are up); 0 when no drain routes were installed.
int64_t HeldOldItems(const std::vector<WorkerConfig>& current, const std::map<std::string, const WorkerConfig*>& tgt,
                     const std::vector<WorkerState>& observed, int64_t epoch) {
  int64_t held_old = 0;
  for (const auto& w : observed) {
    if (!w.metrics) continue;
    bool in_target = tgt.count(w.name) != 0;
    if (!in_target && !w.ready) continue;  // down: what it held is re-sent by its senders
    for (const auto& [e, n] : w.metrics->held_by_epoch)
      if (std::atoll(e.c_str()) < epoch) held_old += n;
  }
  // Switched without drain routes (an old worker was down): the senders re-route everything the old
  // workers hold as soon as they no longer route to them, so there is nothing to wait for.
  bool drain_installed = false;
  for (const auto& c : current) drain_installed |= tgt.count(c.name) != 0 && c.drain_epoch > 0;
  return drain_installed ? held_old : 0;
}

}  // namespace

int64_t RolloutChurn(const std::vector<WorkerConfig>& current, std::vector<WorkerConfig> target, int64_t epoch) {
  AssignNames(current, &target, epoch);
  std::set<std::string> cur, tgt;
  for (const auto& c : current) cur.insert(c.name);
  for (const auto& t : target) tgt.insert(t.name);
  int64_t moved = 0;
  for (const auto& n : tgt) moved += cur.count(n) == 0;
  for (const auto& n : cur) moved += tgt.count(n) == 0;
  return moved;
}

RolloutStep NextRolloutStep(const std::vector<WorkerConfig>& current, std::vector<WorkerConfig> target,
                            const std::vector<WorkerState>& observed, int64_t epoch, double since_switch_s,
                            const RolloutOptions& opts) {
  RolloutStep step;
  if (current.empty()) {  // first deployment: nothing to keep serving
    step.apply = std::move(target);
    step.phase = "Steady";
    step.done = step.switched = true;
    step.message = "first deployment of epoch " + std::to_string(epoch);
    return step;
  }
  AssignNames(current, &target, epoch);
  std::map<std::string, const WorkerConfig*> cur, tgt;
  for (const auto& c : current) cur[c.name] = &c;
  for (const auto& t : target) tgt[t.name] = &t;

  std::vector<WorkerRoute> old_routes;
  const int64_t from = ReplacedEpoch(current, epoch, &old_routes);
  step.from_epoch = from;
  std::vector<const WorkerConfig*> old_only;
  for (const auto& c : current)
    if (tgt.count(c.name) == 0) old_only.push_back(&c);

  // Starting: new workers first, old ones untouched.
  std::vector<std::string> starting, not_ready;
  for (const auto& t : target)
    if (cur.count(t.name) == 0) starting.push_back(t.name);
  for (const auto& t : target)
    if (cur.count(t.name) != 0 && cur[t.name]->epoch == epoch && !Ready(observed, t.name)) not_ready.push_back(t.name);
  bool switched = true;
  for (const auto& t : target)
    if (cur.count(t.name) != 0 && cur[t.name]->epoch < epoch) switched = false;
  if (!switched && (!starting.empty() || !not_ready.empty())) {
    step.apply = current;
    for (const auto& t : target)
      if (cur.count(t.name) == 0) step.apply.push_back(t);
    step.phase = "Starting";
    size_t waiting = starting.size() + not_ready.size();
    step.message = "rolling out epoch " + std::to_string(epoch) + ": starting " + std::to_string(waiting) +
                   " new worker(s) beside the " + std::to_string(current.size()) + " of epoch " + std::to_string(from) +
                   " (" + (starting.empty() ? not_ready.front() : starting.front()) + (waiting > 1 ? ", ..." : "") +
                   ")";
    return step;
  }

  // Drain routes only when every old worker is there to drain through.
  bool drainable = from > 0 && !old_routes.empty();
  for (const auto* c : old_only) drainable &= Ready(observed, c->name);
  auto with_drain = [&](bool drain) {
    std::vector<WorkerConfig> out;
    for (auto t : target) {
      if (drain) {
        t.drain_epoch = from;
        t.drain_routes = old_routes;
      }
      out.push_back(std::move(t));
    }
    return out;
  };

  if (!switched) {
    step.apply = with_drain(drainable);
    for (const auto* c : old_only) step.apply.push_back(*c);
    step.phase = "Switching";
    step.message = "rolling out epoch " + std::to_string(epoch) + ": switching routing from epoch " +
                   std::to_string(from) +
                   (drainable ? " (its items finish along its own routes)"
                              : " (old workers are down: senders re-route their items)");
    return step;
  }
  step.switched = true;

  // Draining: until no worker holds an item of an older epoch.
  bool leftovers = !old_only.empty();
  for (const auto& c : current) leftovers |= c.drain_epoch > 0;
  if (!leftovers) {
    step.apply = with_drain(false);
    step.phase = "Steady";
    step.done = true;
    step.message = "epoch " + std::to_string(epoch) + " serves";
    return step;
  }
  bool all_new_ready = true;
  for (const auto& t : target) all_new_ready &= Ready(observed, t.name);
  const int64_t held_old = HeldOldItems(current, tgt, observed, epoch);
  bool drained = all_new_ready && held_old == 0;
  bool timed_out = since_switch_s >= opts.drain_timeout_s;
  if (!drained && !timed_out) {
    step.apply = current;  // as switched
    step.phase = "Draining";
    step.message = "rolling out epoch " + std::to_string(epoch) + ": draining epoch " + std::to_string(from) + ", " +
                   std::to_string(held_old) + " item(s) still in flight on " + std::to_string(old_only.size()) +
                   " old worker(s)";
    return step;
  }
  step.apply = with_drain(false);
  step.phase = "Steady";
  step.done = true;
  step.message = "epoch " + std::to_string(epoch) + " serves; " + std::to_string(old_only.size()) +
                 " worker(s) of epoch " + std::to_string(from) + " stopped" +
                 (drained ? ""
                          : " after the " + std::to_string(static_cast<int>(opts.drain_timeout_s)) +
                                " s drain timeout (" + std::to_string(held_old) + " item(s) re-sent by their senders)");
  return step;
}

}  // namespace jb
