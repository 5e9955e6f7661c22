#include "drivers/dispatch.h"

#include <cstdlib>
#include <set>

#include "drivers/reachability.h"
#include "drivers/worker_process.h"

namespace jb {

TierDispatcher::TierDispatcher(std::map<std::string, std::unique_ptr<Driver>> drivers) : drivers_(std::move(drivers)) {}

std::string TierDispatcher::name() const {
  std::string out;
  for (const auto& [type, d] : drivers_) out += (out.empty() ? "" : "+") + type;
  return out;
}

Driver* TierDispatcher::Get(const std::string& type) const {
  auto it = drivers_.find(type);
  return it == drivers_.end() ? nullptr : it->second.get();
}

void TierDispatcher::UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) {
  {
    MutexLock l(&mu_);
    infra_[workflow] = infra;
  }
  for (auto& [type, d] : drivers_) d->UseInfrastructure(workflow, infra);
}

namespace {

std::string HostOf(const std::string& listen) {
  auto colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

}  // namespace

Status TierDispatcher::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  InfrastructureSpec infra;
  {
    MutexLock l(&mu_);
    auto it = infra_.find(workflow);
    if (it == infra_.end()) return Status::FailedPrecondition("no Infrastructure known for workflow " + workflow);
    infra = it->second;
  }
  std::map<std::string, const Tier*> tiers;
  for (const auto& t : infra.tiers) tiers[t.name] = &t;

  // What runs now, by worker name: its address is kept while it stays on the same host.
  std::map<std::string, std::string> before;
  for (auto& [type, d] : drivers_)
    for (const auto& c : d->Desired(workflow)) before[c.name] = c.listen;

  std::vector<WorkerConfig> want = workers;
  std::map<std::string, std::string> driver_of, address;
  std::map<std::string, std::set<int>> taken;  // host -> ports of this workflow's workers
  for (auto& w : want) {
    auto t = tiers.find(w.tier);
    if (t == tiers.end())
      return Status::InvalidArgument("worker " + w.name + ": tier " + w.tier + " is not in the Infrastructure");
    Driver* d = Get(t->second->driver.type);
    if (d == nullptr)
      return Status::Unavailable("tier " + w.tier + " uses the " + t->second->driver.type +
                                 " driver, which this daemon does not run");
    if (w.node.empty())
      for (const auto& n : infra.nodes)
        if (n.tier == w.tier) {
          w.node = n.name;
          break;
        }
    if (w.node.empty())
      return Status::InvalidArgument("worker " + w.name + ": tier " + w.tier + " has no node to run it on");
    auto host = d->Host(workflow, w.node);
    if (!host.ok()) return host.status();
    driver_of[w.name] = t->second->driver.type;
    if (w.ingress && !w.ingress->plain_http && driver_of[w.name] != "local") {
      // The local driver writes the ingress's files itself; the others deliver them inline.
      if (!certs_)
        return Status::FailedPrecondition("worker " + w.name + " serves a TLS ingress on tier " + w.tier +
                                          ", and this dispatcher issues no certificates (UseCertificates)");
      if (auto s = certs_->FillIngress(workflow, *host, w); !s.ok()) return s;
    }
    auto prev = before.find(w.name);
    if (prev != before.end() && HostOf(prev->second) == *host && ListenPort(prev->second) > 0) {
      address[w.name] = prev->second;
      taken[*host].insert(ListenPort(prev->second));
    } else {
      address[w.name] = *host + ":0";  // port chosen below, after every kept one is known
    }
  }
  for (auto& w : want) {
    std::string& a = address[w.name];
    if (ListenPort(a) > 0) continue;
    std::string host = HostOf(a);
    int port = 0;
    if (driver_of[w.name] == "local") {
      auto p = PickFreePort();
      if (!p.ok()) return p.status();
      port = *p;
    } else {
      const auto& settings = tiers[w.tier]->driver.settings;
      auto base = settings.find("portBase");
      port = base == settings.end() ? 17100 : std::atoi(base->second.c_str());
      if (port <= 0 || port > 65000)
        return Status::InvalidArgument("tier " + w.tier + ": driver setting portBase \"" + base->second +
                                       "\": expected a port 1..65000");
      while (taken[host].count(port) != 0) ++port;
    }
    taken[host].insert(port);
    a = host + ":" + std::to_string(port);
  }
  std::map<std::string, std::vector<WorkerConfig>> share;
  for (auto& w : want) {
    w.listen = address[w.name];
    for (auto* routes : {&w.routes, &w.drain_routes})
      for (auto& r : *routes) {
        auto it = address.find(r.worker);
        if (it == address.end())
          return Status::InvalidArgument("route of " + r.op + " names worker " + r.worker + ", which is not deployed");
        r.address = it->second;
      }
    if (certs_)
      if (auto s = certs_->Fill(workflow, infra, w); !s.ok()) return s;
  }
  // Devices behind NAT: who dials whom (drivers/reachability.h).
  if (auto s = DirectConnections(infra, &want); !s.ok()) return s;
  for (auto& w : want) share[driver_of[w.name]].push_back(w);
  // Every driver with a share or with workers of this workflow gets its (possibly empty) set.
  Status first;
  for (auto& [type, d] : drivers_) {
    auto it = share.find(type);
    bool has = it != share.end();
    if (!has) {
      auto running = d->Workflows();
      bool any = false;
      for (const auto& wf : running) any |= wf == workflow;
      if (!any) continue;
    }
    Status s = d->Apply(workflow, has ? it->second : std::vector<WorkerConfig>{});
    if (!s.ok() && first.ok()) first = Status::Unavailable(type + " driver: " + s.message());
  }
  return first;
}

std::vector<WorkerState> TierDispatcher::Observe(const std::string& workflow) {
  std::vector<WorkerState> out;
  for (auto& [type, d] : drivers_)
    for (auto& s : d->Observe(workflow)) out.push_back(std::move(s));
  return out;
}

std::vector<WorkerConfig> TierDispatcher::Desired(const std::string& workflow) {
  std::vector<WorkerConfig> out;
  for (auto& [type, d] : drivers_)
    for (auto& c : d->Desired(workflow)) out.push_back(std::move(c));
  return out;
}

Status TierDispatcher::Remove(const std::string& workflow) {
  Status first;
  for (auto& [type, d] : drivers_)
    if (auto s = d->Remove(workflow); !s.ok() && first.ok()) first = s;
  if (certs_) certs_->Forget(workflow);
  MutexLock l(&mu_);
  infra_.erase(workflow);
  return first;
}

std::vector<std::string> TierDispatcher::Workflows() {
  std::set<std::string> all;
  for (auto& [type, d] : drivers_)
    for (auto& wf : d->Workflows()) all.insert(wf);
  return {all.begin(), all.end()};
}

StatusOr<std::string> TierDispatcher::ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                              size_t max_bytes, int64_t* end) {
  std::string names;
  for (auto& [type, d] : drivers_)
    for (const auto& c : d->Desired(workflow)) {
      if (c.name == worker) return d->ReadLog(workflow, worker, offset, max_bytes, end);
      names += (names.empty() ? "" : ", ") + c.name;
    }
  return Status::NotFound("workflow " + workflow + " has no worker \"" + worker + "\"" +
                          (names.empty() ? " (it runs no workers)" : " (its workers: " + names + ")"));
}

}  // namespace jb
