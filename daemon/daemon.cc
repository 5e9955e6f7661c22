#include "daemon/daemon.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "base/file.h"
#include "api/manifest.h"
#include "daemon/startup_checks.h"
#include "drivers/process.h"

extern char** environ;

namespace jb {

namespace fs = std::filesystem;

const char* kDaemonUsage = R"(Usage: jellybeand [--config FILE] [flags]

Flags (override the config file, default /etc/jellybean/jellybeand.yaml when it exists):
  --listen ADDR:PORT        REST listen address (default 127.0.0.1:8443; port 0 = any free port)
  --state-dir DIR           state (objects, TLS, token); default $STATE_DIRECTORY or /var/lib/jellybean
  --manifest-dir DIR        apply every manifest in DIR at start and on SIGHUP
  --tls-cert FILE --tls-key FILE   serve with this pair (default: generated into STATE_DIR/tls)
  --token-file FILE         bearer token (default STATE_DIR/token, generated with mode 0600)
  --log-level LEVEL         trace|debug|info|warn|error (default info)
  --insecure-plain-http     serve plain HTTP (only on a loopback address)
  --workers N               reconcile threads (default 2)
  --driver local|fake       local: workers run as jellybean-worker processes on this machine
                            (default); fake: in-memory, nothing runs (control plane only)
  --worker-binary PATH      jellybean-worker to start (default: next to jellybeand, else PATH)
  --stop-workers-on-exit    stop every local worker when the daemon exits (default: they keep
                            serving and the next daemon re-adopts them)
  --local-host ADDR         address local workers listen on (default 127.0.0.1; set the host's
                            address when remote tiers send to them)
  --agent-listen ADDR:PORT  serve device agents (mutual TLS) here; without it agent tiers are
                            reported as not served
  --agent-token-file FILE   bootstrap token agents register with (mode 0600; never logged)
  --agent-server-name NAME  name or IP in the agent listener's certificate (default: its host)
  --cloud-reconcile S       seconds between the cloud driver's VM leak checks (default 10)
  --replan-min-interval S   seconds between re-plans that only save money (default 10)
  --replan-min-saving F     a cheaper plan is adopted when it saves more than F of the current
                            cost plus 0.5% per worker it moves (default 0.05)
  --node-grace S            a node whose worker stops reporting for S seconds leaves the plan (default 4)
  --node-retry S            and is tried again after S seconds (default 30)
  --load-threshold F        re-plan when the sources' observed rate differs from the planned one by
                            more than F (default 0.2) ...
  --load-sustain S          ... for S seconds (default 10)
)";

namespace {



Status Run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Status::Unavailable(argv[0] + ": cannot start: " + std::strerror(rc));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Status::Unavailable(argv[0] + " " + argv[1] + " failed");
  return Status::Ok();
}

}  // namespace

Status SplitListen(const std::string& listen, std::string* host, int* port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("listen \"" + listen + "\": expected ADDRESS:PORT");
  *host = listen.substr(0, colon);
  char* end = nullptr;
  long p = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) return Status::InvalidArgument("listen \"" + listen + "\": bad port");
  *port = static_cast<int>(p);
  return Status::Ok();
}

Status LoadConfigFile(const std::string& path, DaemonConfig* cfg) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto docs = ParseYamlStream(*text);
  if (docs.empty()) return Status::Ok();
  if (!docs[0].error.ok())
    return Status::InvalidArgument(path + ":" + std::to_string(docs[0].error_mark.line) + ": " + docs[0].error.message());
  const Value& root = docs[0].root;
  if (!root.is_map()) return Status::InvalidArgument(path + ": expected a mapping");
  for (const auto& e : root.entries()) {
    std::string where = path + ":" + std::to_string(e.key_mark.line) + ":" + std::to_string(e.key_mark.column) + ": " + e.key;
    auto str = [&](std::string* out) -> Status {
      if (!e.value.is_string()) return Status::InvalidArgument(where + ": expected a string");
      *out = e.value.as_string();
      return Status::Ok();
    };
    Status s;
    if (e.key == "listen") s = str(&cfg->listen);
    else if (e.key == "stateDir") s = str(&cfg->state_dir);
    else if (e.key == "manifestDir") s = str(&cfg->manifest_dir);
    else if (e.key == "tlsCert") s = str(&cfg->tls_cert);
    else if (e.key == "tlsKey") s = str(&cfg->tls_key);
    else if (e.key == "tokenFile") s = str(&cfg->token_file);
    else if (e.key == "logLevel") s = str(&cfg->log_level);
    else if (e.key == "insecurePlainHttp") {
      if (!e.value.is_bool()) return Status::InvalidArgument(where + ": expected true or false");
      cfg->insecure_plain_http = e.value.as_bool();
    } else if (e.key == "workers") {
      if (!e.value.is_integer() || e.value.as_number() < 1) return Status::InvalidArgument(where + ": expected an integer >= 1");
      cfg->workers = static_cast<int>(e.value.as_number());
    } else if (e.key == "driver") {
      s = str(&cfg->driver);
    } else if (e.key == "workerBinary") {
      s = str(&cfg->worker_binary);
    } else if (e.key == "localHost") {
      s = str(&cfg->local_host);
    } else if (e.key == "agentListen") {
      s = str(&cfg->agent_listen);
    } else if (e.key == "agentTokenFile") {
      s = str(&cfg->agent_token_file);
    } else if (e.key == "agentServerName") {
      s = str(&cfg->agent_server_name);
    } else if (e.key == "cloudReconcileSeconds") {
      if (!e.value.is_number() || e.value.as_number() <= 0) return Status::InvalidArgument(where + ": expected a number > 0");
      cfg->cloud_reconcile_s = e.value.as_number();
    } else if (e.key == "stopWorkersOnExit") {
      if (!e.value.is_bool()) return Status::InvalidArgument(where + ": expected true or false");
      cfg->stop_workers_on_exit = e.value.as_bool();
    } else if (e.key == "planTimeLimitSeconds") {
      if (!e.value.is_number() || e.value.as_number() <= 0) return Status::InvalidArgument(where + ": expected a number > 0");
      cfg->plan_time_limit_s = e.value.as_number();
    } else if (e.key == "replanMinIntervalSeconds" || e.key == "replanMinSaving" || e.key == "nodeGraceSeconds" ||
               e.key == "nodeRetrySeconds" || e.key == "loadThreshold" || e.key == "loadSustainSeconds") {
      if (!e.value.is_number() || e.value.as_number() < 0) return Status::InvalidArgument(where + ": expected a number >= 0");
      double v = e.value.as_number();
      if (e.key == "replanMinIntervalSeconds") cfg->replan_min_interval_s = v;
      else if (e.key == "replanMinSaving") cfg->replan_min_saving = v;
      else if (e.key == "nodeGraceSeconds") cfg->node_grace_s = v;
      else if (e.key == "nodeRetrySeconds") cfg->node_retry_s = v;
      else if (e.key == "loadThreshold") cfg->load_threshold = v;
      else cfg->load_sustain_s = v;
    } else {
      return Status::InvalidArgument(where + ": unknown key; expected listen, stateDir, manifestDir, tlsCert, tlsKey, tokenFile, logLevel, insecurePlainHttp, workers, planTimeLimitSeconds, driver, workerBinary, stopWorkersOnExit, replanMinIntervalSeconds, replanMinSaving, nodeGraceSeconds, nodeRetrySeconds, loadThreshold, loadSustainSeconds, localHost, agentListen, agentTokenFile, agentServerName, cloudReconcileSeconds");
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ParseFlags(const std::vector<std::string>& args, DaemonConfig* cfg, std::string* config_path, bool* help) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) -> Status {
      if (i + 1 >= args.size()) return Status::InvalidArgument(a + " needs a value");
      *out = args[++i];
      return Status::Ok();
    };
    Status s;
    if (a == "-h" || a == "--help") *help = true;
    else if (a == "--config") s = value(config_path);
    else if (a == "--listen") s = value(&cfg->listen);
    else if (a == "--state-dir") s = value(&cfg->state_dir);
    else if (a == "--manifest-dir") s = value(&cfg->manifest_dir);
    else if (a == "--tls-cert") s = value(&cfg->tls_cert);
    else if (a == "--tls-key") s = value(&cfg->tls_key);
    else if (a == "--token-file") s = value(&cfg->token_file);
    else if (a == "--log-level") s = value(&cfg->log_level);
    else if (a == "--insecure-plain-http") cfg->insecure_plain_http = true;
    else if (a == "--driver") s = value(&cfg->driver);
    else if (a == "--worker-binary") s = value(&cfg->worker_binary);
    else if (a == "--stop-workers-on-exit") cfg->stop_workers_on_exit = true;
    else if (a == "--local-host") s = value(&cfg->local_host);
    else if (a == "--agent-listen") s = value(&cfg->agent_listen);
    else if (a == "--agent-token-file") s = value(&cfg->agent_token_file);
    else if (a == "--agent-server-name") s = value(&cfg->agent_server_name);
    else if (a == "--cloud-reconcile") {
      std::string v;
      s = value(&v);
      char* end = nullptr;
      double d = s.ok() ? std::strtod(v.c_str(), &end) : 0;
      if (s.ok() && (end == v.c_str() || *end != '\0' || d <= 0)) return Status::InvalidArgument(a + ": expected a number > 0, got \"" + v + "\"");
      cfg->cloud_reconcile_s = d;
    }
    else if (a == "--replan-min-interval" || a == "--replan-min-saving" || a == "--node-grace" || a == "--node-retry" ||
             a == "--load-threshold" || a == "--load-sustain") {
      std::string v;
      s = value(&v);
      char* end = nullptr;
      double d = s.ok() ? std::strtod(v.c_str(), &end) : 0;
      if (s.ok() && (end == v.c_str() || *end != '\0' || d < 0)) return Status::InvalidArgument(a + ": expected a number >= 0, got \"" + v + "\"");
      if (a == "--replan-min-interval") cfg->replan_min_interval_s = d;
      else if (a == "--replan-min-saving") cfg->replan_min_saving = d;
      else if (a == "--node-grace") cfg->node_grace_s = d;
      else if (a == "--node-retry") cfg->node_retry_s = d;
      else if (a == "--load-threshold") cfg->load_threshold = d;
      else cfg->load_sustain_s = d;
    }
    else if (a == "--workers") {
      std::string v;
      s = value(&v);
      if (s.ok()) cfg->workers = std::max(1, std::atoi(v.c_str()));
    } else {
      return Status::InvalidArgument("unknown flag \"" + a + "\"");
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status FinishConfig(DaemonConfig* cfg) {
  if (cfg->state_dir.empty()) {
    const char* sd = std::getenv("STATE_DIRECTORY");  // set by systemd's StateDirectory=
    cfg->state_dir = sd != nullptr && *sd ? std::string(sd).substr(0, std::string(sd).find(':')) : "/var/lib/jellybean";
  }
  if (cfg->token_file.empty()) cfg->token_file = (fs::path(cfg->state_dir) / "token").string();
  std::string host;
  int port = 0;
  if (auto s = SplitListen(cfg->listen, &host, &port); !s.ok()) return s;
  if (cfg->insecure_plain_http) {
    if (auto s = CheckLoopbackHost(host); !s.ok())
      return Status::InvalidArgument("--insecure-plain-http is only allowed on a loopback address, not " + host + ": " + s.message());
  }
  if (cfg->tls_cert.empty() != cfg->tls_key.empty()) return Status::InvalidArgument("--tls-cert and --tls-key go together");
  if (!cfg->agent_listen.empty()) {
    std::string ah;
    int ap = 0;
    if (auto s = SplitListen(cfg->agent_listen, &ah, &ap); !s.ok()) return Status::InvalidArgument("--agent-listen: " + s.message());
  }
  if (cfg->driver != "local" && cfg->driver != "fake")
    return Status::InvalidArgument("driver \"" + cfg->driver + "\": expected local or fake");
  // A flag the configuration cannot use is an error, not silently ignored: an operator who asks for
  // an agent listener must not get a daemon that looks healthy and serves no agent.
  const DaemonConfig defaults;
  struct Needs {
    bool set;
    const char* flag;
    const char* what;  // what it needs
  };
  const Needs needs[] = {
      {!cfg->agent_listen.empty() && cfg->driver == "fake", "--agent-listen (agentListen)", "--driver local (the fake driver serves no agents)"},
      {!cfg->worker_binary.empty() && cfg->driver == "fake", "--worker-binary (workerBinary)", "--driver local (the fake driver starts no workers)"},
      {cfg->stop_workers_on_exit && cfg->driver == "fake", "--stop-workers-on-exit (stopWorkersOnExit)", "--driver local (the fake driver starts no workers)"},
      {cfg->local_host != defaults.local_host && cfg->driver == "fake", "--local-host (localHost)", "--driver local (the fake driver starts no workers)"},
      {cfg->cloud_reconcile_s != defaults.cloud_reconcile_s && cfg->driver == "fake", "--cloud-reconcile (cloudReconcileSeconds)",
       "--driver local (the fake driver has no cloud tier)"},
      {!cfg->agent_token_file.empty() && cfg->agent_listen.empty(), "--agent-token-file (agentTokenFile)", "--agent-listen"},
      {!cfg->agent_server_name.empty() && cfg->agent_listen.empty(), "--agent-server-name (agentServerName)", "--agent-listen"},
  };
  for (const auto& n : needs)
    if (n.set) return Status::InvalidArgument(std::string(n.flag) + " has no effect without " + n.what + "; remove it or change the driver");
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  bool ok = false;
  for (const char* l : kLevels) ok = ok || cfg->log_level == l;
  if (!ok) return Status::InvalidArgument("log level \"" + cfg->log_level + "\": expected trace, debug, info, warn or error");
  std::error_code ec;
  fs::create_directories(cfg->state_dir, ec);
  if (ec) return Status::Unavailable("cannot create state dir " + cfg->state_dir + ": " + ec.message());
  ::chmod(cfg->state_dir.c_str(), 0700);
  return Status::Ok();
}

namespace {

void WarnValidity(const std::string& cert_file, const CertValidity& v) {
  if (v.expired)
    spdlog::warn("TLS certificate {} expired on {}: clients will refuse it; renew it (or remove --tls-cert/--tls-key to use a generated one)",
                 cert_file, v.not_after);
  if (v.not_yet_valid) spdlog::warn("TLS certificate {} is not valid before {}: check this machine's clock", cert_file, v.not_before);
}

// The server pair is usable: parses, key matches, in its validity period, signed by the CA.
Status UsableServerPair(const std::string& crt, const std::string& key, const std::string& ca) {
  auto v = LoadTlsPair(crt, key);
  if (!v.ok()) return v.status();
  if (v->expired) return Status::InvalidArgument("TLS certificate " + crt + " expired on " + v->not_after);
  if (v->not_yet_valid) return Status::InvalidArgument("TLS certificate " + crt + " is not valid before " + v->not_before);
  return CheckSignedBy(crt, ca);
}

}  // namespace

Status EnsureTls(DaemonConfig* cfg) {
  if (cfg->insecure_plain_http) return Status::Ok();
  fs::path dir = fs::path(cfg->state_dir) / "tls";
  std::string ca_key = (dir / "ca.key").string(), ca = (dir / "ca.crt").string();
  std::string key = (dir / "server.key").string(), csr = (dir / "server.csr").string(), crt = (dir / "server.crt").string();
  std::string ext = (dir / "server.ext").string();
  auto same = [](const std::string& a, const std::string& b) { return fs::path(a).lexically_normal() == fs::path(b).lexically_normal(); };
  bool generated = cfg->tls_cert.empty() || (same(cfg->tls_cert, crt) && same(cfg->tls_key, key));
  if (!generated) {
    // The operator's own pair: never touched, but refused at start when it cannot serve.
    auto v = LoadTlsPair(cfg->tls_cert, cfg->tls_key);
    if (!v.ok())
      return Status::InvalidArgument(v.status().message() + "; give --tls-cert/--tls-key (tlsCert/tlsKey) a PEM certificate and its private key, " +
                                     "or leave both out and jellybeand generates a pair in " + dir.string());
    WarnValidity(cfg->tls_cert, *v);
    return Status::Ok();
  }
  cfg->tls_cert = crt;
  cfg->tls_key = key;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  // Our own files: whatever is wrong with them (zero bytes after a full disk, a half-written key,
  // an expired certificate) is repaired by making them again. A good CA is kept, so clients that
  // trust it keep working; only the server pair is re-issued.
  auto ca_pair = LoadTlsPair(ca, ca_key);
  bool ca_ok = ca_pair.ok() && !ca_pair->expired && !ca_pair->not_yet_valid;
  Status server = ca_ok ? UsableServerPair(crt, key, ca) : Status::InvalidArgument("no usable CA");
  if (ca_ok && server.ok()) return Status::Ok();
  bool existed = fs::exists(crt, ec) || fs::exists(ca, ec);
  ::umask(077);
  if (!ca_ok) {
    if (existed) spdlog::warn("generated TLS CA unusable ({}); making a new CA and server certificate in {} (clients must fetch the new {})",
                              ca_pair.ok() ? "expired or not yet valid" : ca_pair.status().message(), dir.string(), ca);
    for (const auto& f : {ca, ca_key, crt, key}) fs::remove(f, ec);
    if (auto s = Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", ca_key, "-out", ca, "-days", "3650", "-subj", "/CN=jellybeand local CA"});
        !s.ok())
      return s;
  } else if (existed) {
    spdlog::warn("generated TLS server certificate unusable ({}); issuing a new one from the CA in {}", server.message(), dir.string());
  }
  for (const auto& f : {crt, key}) fs::remove(f, ec);
  if (auto s = Run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    key, "-out", csr, "-subj", "/CN=jellybeand"});
      !s.ok())
    return s;
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
  if (auto s = Run({"openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
                    "-days", "825", "-extfile", ext});
      !s.ok())
    return s;
  fs::remove(csr, ec);
  fs::remove(ext, ec);
  if (auto s = UsableServerPair(crt, key, ca); !s.ok())
    return Status::Unavailable("the TLS pair just generated in " + dir.string() + " is unusable (" + s.message() +
                               "); is the disk full? Free space and start again");
  return Status::Ok();
}

StatusOr<std::string> EnsureToken(const std::string& path) {
  if (fs::exists(path)) {
    // Refused like the agent's bootstrap token: a bearer token others can read is everyone's.
    if (auto s = CheckPrivateFile(path, "token file"); !s.ok()) return s;
    auto read = ReadFile(path);
    if (!read.ok()) return read.status();
    std::string t = std::move(*read);
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.size() < 16) return Status::InvalidArgument("token file " + path + " holds fewer than 16 characters");
    return t;
  }
  std::ifstream rnd("/dev/urandom", std::ios::binary);
  unsigned char buf[32];
  if (!rnd.read(reinterpret_cast<char*>(buf), sizeof(buf))) return Status::Unavailable("cannot read /dev/urandom");
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (unsigned char c : buf) {
    t += hex[c >> 4];
    t += hex[c & 15];
  }
  if (auto s = WriteFileCreatingDirs(path, t + "\n", 0600); !s.ok()) return s;
  ::chmod(path.c_str(), 0600);
  return t;
}

void Notify(const std::string& state) { sd_notify(0, state.c_str()); }

uint64_t WatchdogIntervalUsec() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return usec / 2;
  return 0;
}

}  // namespace jb
