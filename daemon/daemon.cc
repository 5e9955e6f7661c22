#include "daemon/daemon.h"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/manifest.h"
#include "base/file.h"
#include "daemon/startup_checks.h"
#include "drivers/process.h"

extern char** environ;

namespace jb {

namespace fs = std::filesystem;

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
      return Status::InvalidArgument("--insecure-plain-http is only allowed on a loopback address, not " + host + ": " +
                                     s.message());
  }
  if (cfg->tls_cert.empty() != cfg->tls_key.empty())
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
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

namespace {

void WarnValidity(const std::string& cert_file, const CertValidity& v) {
  if (v.expired)
    spdlog::warn(
        "TLS certificate {} expired on {}: clients will refuse it; renew it (or remove --tls-cert/--tls-key to use a "
        "generated one)",
        cert_file, v.not_after);
  if (v.not_yet_valid)
    spdlog::warn("TLS certificate {} is not valid before {}: check this machine's clock", cert_file, v.not_before);
}

// The server pair is usable: parses, key matches, in its validity period, signed by the CA.
Status UsableServerPair(const std::string& crt, const std::string& key, const std::string& ca) {
  auto v = LoadTlsPair(crt, key);
  if (!v.ok()) return v.status();
  if (v->expired) return Status::InvalidArgument("TLS certificate " + crt + " expired on " + v->not_after);
  if (v->not_yet_valid)
    return Status::InvalidArgument("TLS certificate " + crt + " is not valid before " + v->not_before);
  return CheckSignedBy(crt, ca);
}

}  // namespace

Status EnsureTls(DaemonConfig* cfg) {
  if (cfg->insecure_plain_http) return Status::Ok();
  fs::path dir = fs::path(cfg->state_dir) / "tls";
  std::string ca_key = (dir / "ca.key").string(), ca = (dir / "ca.crt").string();
  std::string key = (dir / "server.key").string(), csr = (dir / "server.csr").string(),
              crt = (dir / "server.crt").string();
  std::string ext = (dir / "server.ext").string();
  auto same = [](const std::string& a, const std::string& b) {
    return fs::path(a).lexically_normal() == fs::path(b).lexically_normal();
  };
  bool generated = cfg->tls_cert.empty() || (same(cfg->tls_cert, crt) && same(cfg->tls_key, key));
  if (!generated) {
    // The operator's own pair: never touched, but refused at start when it cannot serve.
    auto v = LoadTlsPair(cfg->tls_cert, cfg->tls_key);
    if (!v.ok())
      return Status::InvalidArgument(
          v.status().message() +
          "; give --tls-cert/--tls-key (tlsCert/tlsKey) a PEM certificate and its private key, " +
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
    if (existed)
      spdlog::warn(
          "generated TLS CA unusable ({}); making a new CA and server certificate in {} (clients must fetch the new "
          "{})",
          ca_pair.ok() ? "expired or not yet valid" : ca_pair.status().message(), dir.string(), ca);
    for (const auto& f : {ca, ca_key, crt, key}) fs::remove(f, ec);
    if (auto s = Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", ca_key, "-out", ca, "-days", "3650", "-subj", "/CN=jellybeand local CA"});
        !s.ok())
      return s;
  } else if (existed) {
    spdlog::warn("generated TLS server certificate unusable ({}); issuing a new one from the CA in {}",
                 server.message(), dir.string());
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
