// The driver registry: each tier driver type by name, with how to create it. The daemon creates
// every registered driver through it (behind a TierDispatcher) instead of wiring them by hand; a
// new driver is one row here plus its settings schema in api/driver_settings.h.
//
// Layering: the names and the settings schemas live in api/ (api/driver_settings.h), below
// drivers/, so that `jbctl validate` checks a tier's driver and settings without linking any
// driver; this table adds what only drivers/ can: the factories. RegisteredDriverTypes() and
// api's DriverTypeNames() must name the same drivers (a test checks it).
// Thread-safety: the table is immutable; CreateDrivers is reentrant.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "drivers/dispatch.h"
#include "drivers/driver.h"
#include "drivers/fencing.h"

namespace jb {

// What the daemon gives the drivers it creates.
struct DriverEnvironment {
  std::string state_dir;
  std::string worker_binary;             // jellybean-worker (installed on remote hosts as is)
  std::string local_host = "127.0.0.1";  // address the local driver's workers listen on
  double cloud_reconcile_s = 10;         // period of the cloud driver's VM leak check
  std::string cloud_owner;               // owner label of cloud VMs ("" = the driver's default)
  double agent_heartbeat_grace_s = 3;    // AgentDriverOptions::heartbeat_grace_s
  double agent_poll_hold_s = 1;          // AgentDriverOptions::poll_hold_s
  // The agent driver's mTLS listener; agent_listen_port < 0: no agent driver.
  std::string agent_listen_host = "127.0.0.1";
  int agent_listen_port = -1;
  std::string agent_server_name;
  std::string agent_token_file;
  // The term every deployment action carries (drivers/fencing.h); nullptr: no fencing.
  TermSource term;
};

struct DriverRegistration {
  std::string type;
  // The driver, or nullptr when `env` leaves it disabled (the agent driver without a listener);
  // an error when it cannot start (the listener cannot bind).
  StatusOr<std::unique_ptr<Driver>> (*create)(const DriverEnvironment& env);
};

// local, ssh, agent, cloud.
const std::vector<DriverRegistration>& DriverRegistry();
std::vector<std::string> RegisteredDriverTypes();

// Every enabled driver, behind one TierDispatcher; `log` receives one line per driver started.
StatusOr<std::unique_ptr<TierDispatcher>> CreateDrivers(const DriverEnvironment& env, std::vector<std::string>* log);

}  // namespace jb
