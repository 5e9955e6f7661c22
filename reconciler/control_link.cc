#include "reconciler/control_link.h"

#include <ctime>

#include "base/format.h"
#include "base/rfc3339.h"

namespace jb {

std::map<std::string, ControlLinkCut> ControlLinkTracker::Observe(const std::string& workflow,
                                                                  const std::vector<WorkerState>& observed,
                                                                  std::chrono::steady_clock::time_point now) {
  MutexLock l(&mu_);
  WorkflowState& ws = state_[workflow];
  // Item movement on every link reported by a worker that reports (a cut-off worker's own report
  // is stale and is not read).
  std::map<std::string, std::string> node_of;
  for (const auto& w : observed) node_of[w.name] = w.node;
  std::map<std::string, std::chrono::steady_clock::time_point> moved_to;  // node -> latest movement
  std::set<std::string> reported;
  for (const auto& w : observed) {
    if (w.control_link_lost || !w.metrics) continue;
    for (const auto& link : w.metrics->links) {
      const std::string key = w.name + "->" + link.worker;
      reported.insert(key);
      LinkSeen& seen = ws.links[key];
      // Acknowledged items, not sent ones: a sender keeps sending into a cut link until its window
      // is full (many seconds at low rates), but only a reachable node acknowledges.
      const int64_t acked = link.items - link.inflight;
      if (seen.items >= 0 && acked > seen.items && link.connected) seen.moved = now;
      seen.items = acked;
      auto to = node_of.find(link.worker);
      if (to == node_of.end() || seen.moved == std::chrono::steady_clock::time_point{}) continue;
      auto [it, fresh] = moved_to.try_emplace(to->second, seen.moved);
      if (!fresh && seen.moved > it->second) it->second = seen.moved;
    }
  }
  for (auto it = ws.links.begin(); it != ws.links.end();)
    it = reported.count(it->first) ? std::next(it) : ws.links.erase(it);
  // Nodes whose workers are cut off from the daemon (and none is otherwise not ready).
  std::map<std::string, bool> cut;  // node -> every non-ready worker is control_link_lost
  for (const auto& w : observed) {
    if (w.node.empty() || w.ready) continue;
    auto [it, fresh] = cut.try_emplace(w.node, true);
    it->second = it->second && w.control_link_lost;
  }
  std::map<std::string, ControlLinkCut> out;
  for (const auto& [node, lost] : cut) {
    if (!lost) continue;
    auto [s, fresh] = ws.cut_since.try_emplace(node, now);
    ControlLinkCut c{node, s->second, false, false};
    auto m = moved_to.find(node);
    c.data_path_alive = m != moved_to.end() && now - m->second <= opts_.data_grace;
    c.autonomous = c.data_path_alive && std::chrono::duration<double>(now - c.since).count() < opts_.max_autonomous_s;
    out.emplace(node, c);
  }
  for (auto it = ws.cut_since.begin(); it != ws.cut_since.end();)
    it = out.count(it->first) ? std::next(it) : ws.cut_since.erase(it);
  return out;
}

void ControlLinkTracker::Forget(const std::string& workflow) {
  MutexLock l(&mu_);
  state_.erase(workflow);
}

std::string ControlLinkMessage(const std::map<std::string, ControlLinkCut>& cuts,
                               std::chrono::steady_clock::time_point now, const Clock& clock) {
  std::string msg;
  for (const auto& [node, c] : cuts) {
    if (!c.autonomous) continue;
    const double ago = std::chrono::duration<double>(now - c.since).count();
    const auto wall = clock.WallNow() - std::chrono::duration_cast<std::chrono::system_clock::duration>(now - c.since);
    const std::time_t t = std::chrono::system_clock::to_time_t(wall);
    msg += (msg.empty() ? "" : "; ") + std::string("node ") + node + " since " + FormatRfc3339(t) + " (" +
           FormatFixed(ago, 1) + " s)";
  }
  return msg.empty() ? msg
                     : msg +
                           ": control link lost, data path working; the node keeps its part of the plan "
                           "(no re-plan for it alone)";
}

}  // namespace jb
