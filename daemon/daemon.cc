#include "daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/manifest.h"
#include "base/file.h"
#include "base/format.h"
#include "daemon/startup_checks.h"
#include "drivers/process.h"

namespace jb {

namespace fs = std::filesystem;

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

Status FinishConfig(DaemonConfig* cfg) {
  if (cfg->state_dir.empty()) {
    const char* sd = std::getenv("STATE_DIRECTORY");  // set by systemd's StateDirectory=
    cfg->state_dir = sd != nullptr && *sd ? std::string(sd).substr(0, std::string(sd).find(':')) : "/var/lib/jellybean";
  }
  // Secrets handed over by systemd (LoadCredential=): used unless the configuration names files.
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY"); creds != nullptr && *creds) {
    auto cred = [&](const char* name, std::string* field) {
      std::error_code ec;
      if (field->empty() && fs::is_regular_file(fs::path(creds) / name, ec)) *field = (fs::path(creds) / name).string();
    };
    cred("token", &cfg->token_file);
    cred("tls.crt", &cfg->tls_cert);
    cred("tls.key", &cfg->tls_key);
    if (!cfg->agent_listen.empty()) cred("agent-token", &cfg->agent_token_file);
  }
  if (cfg->token_file.empty()) cfg->token_file = (fs::path(cfg->state_dir) / "token").string();
  std::string host;
  int port = 0;
  if (auto s = SplitListen(cfg->listen, &host, &port); !s.ok()) return s;
  if (cfg->insecure_plain_http) {
    if (auto s = CheckLoopbackHost(host); !s.ok())
      return Status::InvalidArgument("--insecure-plain-http is only allowed on a loopback address, not " + host + ": " +
                                     s.message());
  }
  if (cfg->tls_cert.empty() != cfg->tls_key.empty())
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  // An agent polls at least every poll hold: a grace not above it would lose every idle agent.
  if (cfg->agent_heartbeat_grace_s <= cfg->agent_poll_hold_s)
    return Status::InvalidArgument("agentHeartbeatGraceSeconds (--agent-heartbeat-grace) " +
                                   FormatFixed(cfg->agent_heartbeat_grace_s, 2) +
                                   " must be above agentPollHoldSeconds (--agent-poll-hold) " +
                                   FormatFixed(cfg->agent_poll_hold_s, 2) + ": an idle agent polls that often");
  if (!cfg->agent_listen.empty()) {
    std::string ah;
    int ap = 0;
    if (auto s = SplitListen(cfg->agent_listen, &ah, &ap); !s.ok())
      return Status::InvalidArgument("--agent-listen: " + s.message());
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
      {!cfg->agent_listen.empty() && cfg->driver == "fake", "--agent-listen (agentListen)",
       "--driver local (the fake driver serves no agents)"},
      {!cfg->worker_binary.empty() && cfg->driver == "fake", "--worker-binary (workerBinary)",
       "--driver local (the fake driver starts no workers)"},
      {cfg->stop_workers_on_exit && cfg->driver == "fake", "--stop-workers-on-exit (stopWorkersOnExit)",
       "--driver local (the fake driver starts no workers)"},
      {cfg->local_host != defaults.local_host && cfg->driver == "fake", "--local-host (localHost)",
       "--driver local (the fake driver starts no workers)"},
      {cfg->cloud_reconcile_s != defaults.cloud_reconcile_s && cfg->driver == "fake",
       "--cloud-reconcile (cloudReconcileSeconds)", "--driver local (the fake driver has no cloud tier)"},
      {!cfg->agent_token_file.empty() && cfg->agent_listen.empty(), "--agent-token-file (agentTokenFile)",
       "--agent-listen"},
      {!cfg->agent_server_name.empty() && cfg->agent_listen.empty(), "--agent-server-name (agentServerName)",
       "--agent-listen"},
  };
  for (const auto& n : needs)
    if (n.set)
      return Status::InvalidArgument(std::string(n.flag) + " has no effect without " + n.what +
                                     "; remove it or change the driver");
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  bool ok = false;
  for (const char* l : kLevels) ok = ok || cfg->log_level == l;
  if (!ok)
    return Status::InvalidArgument("log level \"" + cfg->log_level + "\": expected trace, debug, info, warn or error");
  std::error_code ec;
  fs::create_directories(cfg->state_dir, ec);
  if (ec) return Status::Unavailable("cannot create state dir " + cfg->state_dir + ": " + ec.message());
  ::chmod(cfg->state_dir.c_str(), 0700);
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
