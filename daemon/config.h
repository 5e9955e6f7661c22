// DaemonConfig: jellybeand's settings, described once (Describe, api/fields.h) with the flag that
// sets each one. That one table parses the config file (YAML; unknown keys, wrong types and
// out-of-range values are errors naming file:line:col and the key), parses the command-line flags
// (errors name the flag) and prints --help, so the three cannot disagree.
// Precedence: defaults < config file < flags (main.cc reads the file, then applies the flags).
// Thread-safety: plain value type and reentrant functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/fields.h"
#include "base/status.h"

namespace jb {

struct DaemonConfig {
  std::string listen = "127.0.0.1:8443";  // address:port; port 0 = pick a free one
  std::string state_dir;                  // default $STATE_DIRECTORY or /var/lib/jellybean
  std::string replica_id;                 // etcd store: this replica's name (default HOSTNAME-PID)
  double lease_ttl_s = 5;                 // etcd store: the leader's lease TTL
  double lease_renew_s = 1;               // etcd store: lease renewal / follower poll period
  std::string store;              // "" = file store in state_dir; "etcd:URL,...?prefix=P" (daemon/store_backend.h)
  std::string manifest_dir;       // empty = none
  std::string tls_cert, tls_key;  // empty = generated into state_dir/tls
  std::string token_file;         // default state_dir/token
  std::string log_level = "info";
  bool insecure_plain_http = false;  // only allowed on a loopback address
  int64_t workers = 2;               // reconcile threads
  double plan_time_limit_s = 10;
  std::string driver = "local";       // local | fake (in-memory, no data plane)
  std::string worker_binary;          // default: found next to jellybeand, else PATH
  bool stop_workers_on_exit = false;  // default: workers keep serving and are re-adopted
  // Remote drivers; each tier names its driver in the Infrastructure.
  std::string local_host = "127.0.0.1";  // address the local driver's workers listen on
  std::string agent_listen;              // HOST:PORT of the device agents' mTLS listener; "" = no agent driver
  std::string agent_token_file;          // bootstrap token for agent registration (mode 0600); "" = no registration
  std::string agent_server_name;         // name/IP in the agent listener's certificate (default: its host)
  double cloud_reconcile_s = 10;         // period of the cloud driver's VM leak check
  double agent_heartbeat_grace_s = 3;    // an agent silent this long has lost its control link
  double agent_poll_hold_s = 1;          // the longest the daemon holds an agent's poll (its heartbeat)
  std::string cloud_owner;               // owner label of cloud VMs ("" = jellybeand@<hostname>)
  // Re-planning (reconciler/replan.h): damping and node health.
  double replan_min_interval_s = 10;  // between re-plans not needed for correctness
  double replan_min_saving = 0.05;    // a cheaper plan must save more than this share (plus churn)
  double node_grace_s = 4;            // a node whose worker is not ready this long leaves the plan
  double node_retry_s = 30;           // and is tried again after this long
  // Edge autonomy (reconciler/control_link.h): a node cut off from the daemon only keeps its work
  // while its peers' reports show items acknowledged by it within control_data_grace_s, for at most
  // max_autonomy_s.
  double control_data_grace_s = 4;
  double max_autonomy_s = 300;
  double load_threshold = 0.2;      // re-plan when the offered load differs from the plan's by more ...
  double load_sustain_s = 10;       // ... for this long
  bool ingress_plain_http = false;  // serve the ingress as plain HTTP (loopback only) instead of TLS + token
};

// One setting: its config-file key, its flag, the flag's value name ("" for a switch: a bool set
// to true by the bare flag) and the field options (range, enum, and the --help text as Doc).
// Visitors that know flags define Flag(); the api/fields.h visitors only see Field().
template <class V, class T>
void DaemonOption(V& v, const char* key, const char* flag, const char* arg, T& member, const FieldOpts& opts) {
  if constexpr (requires { v.Flag(key, flag, arg, member, opts); }) {
    v.Flag(key, flag, arg, member, opts);
  } else {
    v.Field(key, member, opts);
  }
}

template <class V>
void Describe(V& v, DaemonConfig& o) {
  DaemonOption(v, "listen", "--listen", "ADDR:PORT", o.listen,
               Opt().Min(1).Doc("REST listen address (default 127.0.0.1:8443; port 0 = any free port)"));
  DaemonOption(v, "stateDir", "--state-dir", "DIR", o.state_dir,
               Opt().Doc("state (objects, TLS, token); default $STATE_DIRECTORY or /var/lib/jellybean"));
  DaemonOption(
      v, "store", "--store", "SPEC", o.store,
      Opt().Doc("object store: file:DIR (default: the state directory) or\netcd:URL[,URL...][?prefix=P&cacert=F&"
                "cert=F&key=F] (docs/etcd.md)"));
  DaemonOption(v, "replicaId", "--replica-id", "ID", o.replica_id,
               Opt().Doc("with the etcd store: this replica's name in /readyz (default HOSTNAME-PID)"));
  DaemonOption(v, "leaseTtlSeconds", "--lease-ttl", "S", o.lease_ttl_s,
               Opt().Range(2, 300).Doc("with the etcd store: the leader's lease TTL (default 5); a new leader\n"
                                       "takes over within about S + the renewal period after a leader dies"));
  DaemonOption(v, "leaseRenewSeconds", "--lease-renew", "S", o.lease_renew_s,
               Opt().Range(0.05, 100).Doc("with the etcd store: lease renewal and follower poll period (default 1)"));
  DaemonOption(v, "manifestDir", "--manifest-dir", "DIR", o.manifest_dir,
               Opt().Doc("apply every manifest in DIR at start and on SIGHUP"));
  DaemonOption(v, "tlsCert", "--tls-cert", "FILE", o.tls_cert,
               Opt().Doc("serve with this certificate, with --tls-key (default: the credentials\ntls.crt/tls.key when "
                         "given, else generated into STATE_DIR/tls)"));
  DaemonOption(v, "tlsKey", "--tls-key", "FILE", o.tls_key, Opt().Doc("the certificate's private key"));
  DaemonOption(v, "tokenFile", "--token-file", "FILE", o.token_file,
               Opt().Doc("bearer token (default: the credential \"token\" under systemd's\nLoadCredential=, else "
                         "STATE_DIR/token, generated with mode 0600)"));
  DaemonOption(
      v, "logLevel", "--log-level", "LEVEL", o.log_level,
      Opt().Enum({"trace", "debug", "info", "warn", "error"}).Doc("trace|debug|info|warn|error (default info)"));
  DaemonOption(v, "insecurePlainHttp", "--insecure-plain-http", "", o.insecure_plain_http,
               Opt().Doc("serve plain HTTP (only on a loopback address)"));
  DaemonOption(v, "workers", "--workers", "N", o.workers, Opt().Range(1, 1024).Doc("reconcile threads (default 2)"));
  DaemonOption(v, "planTimeLimitSeconds", "--plan-time-limit", "S", o.plan_time_limit_s,
               Opt().Gt(0).Doc("seconds the planner may spend on one plan (default 10)"));
  DaemonOption(v, "driver", "--driver", "local|fake", o.driver,
               Opt()
                   .Enum({"local", "fake"})
                   .Doc("local: workers run as jellybean-worker processes on this machine\n(default); fake: in-memory, "
                        "nothing runs (control plane only)"));
  DaemonOption(v, "workerBinary", "--worker-binary", "PATH", o.worker_binary,
               Opt().Doc("jellybean-worker to start (default: next to jellybeand, else PATH)"));
  DaemonOption(v, "stopWorkersOnExit", "--stop-workers-on-exit", "", o.stop_workers_on_exit,
               Opt().Doc("stop every local worker when the daemon exits (default: they keep\nserving and the next "
                         "daemon re-adopts them)"));
  DaemonOption(v, "localHost", "--local-host", "ADDR", o.local_host,
               Opt().Min(1).Doc("address local workers listen on (default 127.0.0.1; set the host's\naddress when "
                                "remote tiers send to them)"));
  DaemonOption(v, "agentListen", "--agent-listen", "ADDR:PORT", o.agent_listen,
               Opt().Doc("serve device agents (mutual TLS) here; without it agent tiers are\nreported as not served"));
  DaemonOption(v, "agentTokenFile", "--agent-token-file", "FILE", o.agent_token_file,
               Opt().Doc("bootstrap token agents register with (mode 0600; never logged)"));
  DaemonOption(v, "agentServerName", "--agent-server-name", "NAME", o.agent_server_name,
               Opt().Doc("name or IP in the agent listener's certificate (default: its host)"));
  DaemonOption(v, "cloudReconcileSeconds", "--cloud-reconcile", "S", o.cloud_reconcile_s,
               Opt().Gt(0).Doc("seconds between the cloud driver's VM leak checks (default 10)"));
  DaemonOption(v, "agentHeartbeatGraceSeconds", "--agent-heartbeat-grace", "S", o.agent_heartbeat_grace_s,
               Opt().Range(0.2, 600).Doc("an agent that has not polled for S seconds has lost its control link\n"
                                         "(default 3; keep it above the poll hold)"));
  DaemonOption(v, "agentPollHoldSeconds", "--agent-poll-hold", "S", o.agent_poll_hold_s,
               Opt().Range(0.05, 60).Doc("the longest an agent's poll is held without news, i.e. its heartbeat\n"
                                         "period (default 1)"));
  DaemonOption(v, "cloudOwner", "--cloud-owner", "NAME", o.cloud_owner,
               Opt().MaxLen(63).Doc("owner label of the cloud VMs this daemon creates and adopts (default\n"
                                    "jellybeand@HOST; give HA replicas on different hosts the same one)"));
  DaemonOption(v, "replanMinIntervalSeconds", "--replan-min-interval", "S", o.replan_min_interval_s,
               Opt().Min(0).Doc("seconds between re-plans that only save money (default 10)"));
  DaemonOption(v, "replanMinSaving", "--replan-min-saving", "F", o.replan_min_saving,
               Opt().Min(0).Doc("a cheaper plan is adopted when it saves more than F of the current\ncost plus 0.5% "
                                "per worker it moves (default 0.05)"));
  DaemonOption(v, "nodeGraceSeconds", "--node-grace", "S", o.node_grace_s,
               Opt().Min(0).Doc("a node whose worker stops reporting for S seconds leaves the plan (default 4)"));
  DaemonOption(v, "nodeRetrySeconds", "--node-retry", "S", o.node_retry_s,
               Opt().Min(0).Doc("and is tried again after S seconds (default 30)"));
  DaemonOption(v, "controlDataGraceSeconds", "--control-data-grace", "S", o.control_data_grace_s,
               Opt().Range(0.5, 600).Doc("a node cut off from the daemon only (agent heartbeat or ssh lost) keeps "
                                         "its\nwork while its peers report items it acknowledged within S seconds "
                                         "(default 4)"));
  DaemonOption(v, "maxAutonomySeconds", "--max-autonomy", "S", o.max_autonomy_s,
               Opt().Range(1, 86400).Doc("... for at most S seconds; then it is treated as lost and re-planned\n"
                                         "around (default 300)"));
  DaemonOption(
      v, "loadThreshold", "--load-threshold", "F", o.load_threshold,
      Opt().Min(0).Doc(
          "re-plan when the sources' observed rate differs from the planned one by\nmore than F (default 0.2) ..."));
  DaemonOption(v, "loadSustainSeconds", "--load-sustain", "S", o.load_sustain_s,
               Opt().Min(0).Doc("... for S seconds (default 10)"));
  DaemonOption(v, "ingressPlainHttp", "--ingress-plain-http", "", o.ingress_plain_http,
               Opt().Doc("serve workflows' ingress (the inference endpoint) as plain HTTP, on a\nloopback localHost "
                         "only (default: TLS with a certificate from STATE_DIR/tls/ca.crt\nand the bearer token in "
                         "STATE_DIR/ingress/WORKFLOW.token)"));
}

// Reads the YAML config file `path` (keys: the first argument of each DaemonOption above) over
// `cfg`. InvalidArgument listing every problem as "path:line:col: key: ..." (unknown keys too).
Status LoadConfigFile(const std::string& path, DaemonConfig* cfg);
// Applies command-line flags over `cfg`; `config_path` receives --config's value, `help` is set by
// -h/--help. InvalidArgument naming the flag ("--workers: ...") on the first bad one.
Status ParseFlags(const std::vector<std::string>& args, DaemonConfig* cfg, std::string* config_path, bool* help);
// --help: every flag with its value name and text, from the same table.
std::string DaemonUsage();

}  // namespace jb
