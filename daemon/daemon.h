// jellybeand's process-level pieces: configuration (file + flags), secure-by-default material
// (TLS CA + server pair and the bearer token, generated into the state dir on first start),
// systemd notification, and applying a manifest directory.
// Thread-safety: functions are called from the main thread during start-up and reload.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "reconciler/store.h"

namespace jb {

struct DaemonConfig {
  std::string listen = "127.0.0.1:8443";  // address:port; port 0 = pick a free one
  std::string state_dir;                  // default $STATE_DIRECTORY or /var/lib/jellybean
  std::string manifest_dir;               // empty = none
  std::string tls_cert, tls_key;          // empty = generated into state_dir/tls
  std::string token_file;                 // default state_dir/token
  std::string log_level = "info";
  bool insecure_plain_http = false;       // only allowed on a loopback address
  int workers = 2;                        // reconcile threads
  double plan_time_limit_s = 10;
  std::string driver = "local";           // local | fake (in-memory, no data plane)
  std::string worker_binary;              // default: found next to jellybeand, else PATH
  bool stop_workers_on_exit = false;      // default: workers keep serving and are re-adopted
  // Remote drivers; each tier names its driver in the Infrastructure.
  std::string local_host = "127.0.0.1";  // address the local driver's workers listen on
  std::string agent_listen;              // HOST:PORT of the device agents' mTLS listener; "" = no agent driver
  std::string agent_token_file;          // bootstrap token for agent registration (mode 0600); "" = no registration
  std::string agent_server_name;         // name/IP in the agent listener's certificate (default: its host)
  double cloud_reconcile_s = 10;         // period of the cloud driver's VM leak check
  // Re-planning (reconciler/replan.h): damping and node health.
  double replan_min_interval_s = 10;      // between re-plans not needed for correctness
  double replan_min_saving = 0.05;        // a cheaper plan must save more than this share (plus churn)
  double node_grace_s = 4;                // a node whose worker is not ready this long leaves the plan
  double node_retry_s = 30;               // and is tried again after this long
  double load_threshold = 0.2;            // re-plan when the offered load differs from the plan's by more ...
  double load_sustain_s = 10;             // ... for this long
};

// Reads `path` (YAML: listen, stateDir, manifestDir, tlsCert, tlsKey, tokenFile, logLevel,
// insecurePlainHttp, workers, planTimeLimitSeconds, driver, workerBinary, stopWorkersOnExit,
// replanMinIntervalSeconds, replanMinSaving, nodeGraceSeconds, nodeRetrySeconds, loadThreshold,
// loadSustainSeconds, localHost, agentListen, agentTokenFile, agentServerName,
// cloudReconcileSeconds) into `cfg`.
// Unknown keys are errors.
Status LoadConfigFile(const std::string& path, DaemonConfig* cfg);
// Applies command-line flags over `cfg`; `config_path` receives --config's value.
Status ParseFlags(const std::vector<std::string>& args, DaemonConfig* cfg, std::string* config_path, bool* help);
// Fills defaults and checks the combination (plain HTTP only on loopback, ...).
Status FinishConfig(DaemonConfig* cfg);
// "host:port" -> host, port (port 0 allowed).
Status SplitListen(const std::string& listen, std::string* host, int* port);
extern const char* kDaemonUsage;

// Ensures state_dir/tls/{ca.crt,ca.key,server.crt,server.key} exist (self-signed CA + server
// certificate for 127.0.0.1/localhost, made with the openssl CLI) unless cert/key are configured.
Status EnsureTls(DaemonConfig* cfg);
// Reads the token file, creating it (32 random bytes, hex, mode 0600) when missing.
StatusOr<std::string> EnsureToken(const std::string& path);

// sd_notify wrapper; a no-op when NOTIFY_SOCKET is unset.
void Notify(const std::string& state);
// Half of WATCHDOG_USEC in microseconds, or 0 when the watchdog is off.
uint64_t WatchdogIntervalUsec();

}  // namespace jb
