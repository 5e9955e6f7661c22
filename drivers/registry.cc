#include "drivers/registry.h"

#include "drivers/agent/agent_driver.h"
#include "drivers/cloud/cloud_driver.h"
#include "drivers/local/local_driver.h"
#include "drivers/ssh/ssh_driver.h"

namespace jb {
namespace {

StatusOr<std::unique_ptr<Driver>> CreateLocal(const DriverEnvironment& env) {
  LocalDriverOptions o;
  o.state_dir = env.state_dir;
  o.worker_binary = env.worker_binary;
  o.host = env.local_host;
  return std::unique_ptr<Driver>(std::make_unique<LocalDriver>(o));
}

StatusOr<std::unique_ptr<Driver>> CreateSsh(const DriverEnvironment& env) {
  SshDriverOptions o;
  o.state_dir = env.state_dir;
  o.worker_binary = env.worker_binary;
  o.term = env.term;
  return std::unique_ptr<Driver>(std::make_unique<SshDriver>(o));
}

StatusOr<std::unique_ptr<Driver>> CreateAgent(const DriverEnvironment& env) {
  if (env.agent_listen_port < 0) return std::unique_ptr<Driver>();
  AgentDriverOptions o;
  o.state_dir = env.state_dir;
  o.listen_host = env.agent_listen_host;
  o.listen_port = env.agent_listen_port;
  o.server_name = env.agent_server_name;
  o.bootstrap_token_file = env.agent_token_file;
  o.heartbeat_grace_s = env.agent_heartbeat_grace_s;
  o.poll_hold_s = env.agent_poll_hold_s;
  o.term = env.term;
  auto a = AgentDriver::Create(o);
  if (!a.ok()) return Status::Unavailable("agent listener: " + a.status().message());
  return std::unique_ptr<Driver>(std::move(*a));
}

StatusOr<std::unique_ptr<Driver>> CreateCloud(const DriverEnvironment& env) {
  CloudDriverOptions o;
  o.state_dir = env.state_dir;
  o.worker_binary = env.worker_binary;
  o.reconcile_every = std::chrono::milliseconds(static_cast<int64_t>(env.cloud_reconcile_s * 1000));
  if (!env.cloud_owner.empty()) o.owner = env.cloud_owner;
  o.term = env.term;
  return std::unique_ptr<Driver>(std::make_unique<CloudDriver>(o));
}

}  // namespace

const std::vector<DriverRegistration>& DriverRegistry() {
  static const std::vector<DriverRegistration> kRegistry = {
      {"local", CreateLocal},
      {"ssh", CreateSsh},
      {"agent", CreateAgent},
      {"cloud", CreateCloud},
  };
  return kRegistry;
}

std::vector<std::string> RegisteredDriverTypes() {
  std::vector<std::string> out;
  for (const auto& r : DriverRegistry()) out.push_back(r.type);
  return out;
}

StatusOr<std::unique_ptr<TierDispatcher>> CreateDrivers(const DriverEnvironment& env, std::vector<std::string>* log) {
  std::map<std::string, std::unique_ptr<Driver>> drivers;
  for (const auto& r : DriverRegistry()) {
    auto d = r.create(env);
    if (!d.ok()) return d.status();
    if (*d == nullptr) continue;
    if (auto* a = dynamic_cast<AgentDriver*>(d->get()); a != nullptr && log != nullptr)
      log->push_back("agent driver: devices connect to " + env.agent_listen_host + ":" + std::to_string(a->port()) +
                     " (mutual TLS; CA " + a->ca_file() + ")");
    drivers[r.type] = std::move(*d);
  }
  auto dispatcher = std::make_unique<TierDispatcher>(std::move(drivers));
  dispatcher->UseCertificates(env.state_dir);  // the daemon's CA (<state>/tls)
  return dispatcher;
}

}  // namespace jb
