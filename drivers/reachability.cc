#include "drivers/reachability.h"

#include <map>

namespace jb {

Status DirectConnections(const InfrastructureSpec& infra, std::vector<WorkerConfig>* workers) {
  std::map<std::string, WorkerConfig*> by_name;
  for (auto& w : *workers) {
    w.reachable = NodeReachable(infra, w.node);
    w.dial_out.clear();
    by_name[w.name] = &w;
  }
  for (auto& w : *workers)
    for (auto* routes : {&w.routes, &w.drain_routes})
      for (auto& r : *routes) {
        auto it = by_name.find(r.worker);
        r.dial_in = false;
        if (it == by_name.end() || it->second == &w) continue;
        WorkerConfig& to = *it->second;
        if (to.reachable || to.tier == w.tier) continue;
        if (!w.reachable)
          return Status::InvalidArgument(
              "workers " + w.name + " (tier " + w.tier + ") and " + to.name + " (tier " + to.tier +
              ") are both unreachable (reachable: false) and " + w.name + " sends items to " + to.name +
              ": neither can accept the other's connection; make one of their nodes or tiers reachable");
        r.dial_in = true;
        bool known = false;
        for (const auto& p : to.dial_out) known |= p.worker == w.name;
        if (!known) to.dial_out.push_back({w.name, w.listen, w.tier});
      }
  return Status::Ok();
}

}  // namespace jb
