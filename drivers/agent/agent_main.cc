// jellybean-agent: runs a device's workers for the daemon's agent driver (drivers/agent/agent_driver.h).
//
//   jellybean-agent --server HOST:PORT[,HOST:PORT...] --device NAME --ca FILE --state-dir DIR
//                   [--token-file FILE] [--advertise HOST] [--worker-binary PATH]
//                   [--stop-workers-on-exit]
//
// Several --server addresses: the agent listeners of every daemon replica (etcd store). The agent
// talks to one at a time and moves to the next when it cannot connect, the connection breaks, or
// the daemon answers that it does not lead ("not-leader") or is a former leader ("stale-term"),
// so it finds the new leader after a failover; the workers keep running meanwhile.
//
// First start: makes a P-256 key (DIR/device.key, 0600) and a CSR, registers with the bootstrap
// token from --token-file over TLS (the daemon verified against --ca), and stores the signed
// certificate in DIR/device.crt. Then, over mutual TLS: long-polls the daemon with its heartbeat
// and its workers' states, and applies each new desired state to a LocalDriver under DIR (the
// workers listen on --advertise, default the address it connects from). Connection failures are
// retried with back-off (at most 2 s apart), so a device that was cut off catches up on return.
// Exit status: 0 on SIGTERM/SIGINT, 2 for bad flags, 3 when the daemon refuses the device
// (revoked, wrong token), 1 for other fatal errors.
// Fencing (drivers/fencing.h): every answer carries the daemon's term; the agent keeps the highest
// it has seen in DIR/term and refuses an answer with an older term (a former leader's), logging
// it; its polls carry that term, so such a daemon answers "stale-term" and logs the refusal too. Workers outlive the
// agent unless
// --stop-workers-on-exit; a restarted agent adopts them.
// Under systemd (Type=notify, packaging/systemd/jellybean-agent.service): READY=1 once the local
// driver has adopted the running workers, WATCHDOG=1 from the poll loop on every round trip and
// every retry (so a hung loop stops feeding it), STATUS= on connect, STOPPING=1 on the way out.
// sd_notify is a no-op without NOTIFY_SOCKET.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "drivers/agent/agent_logs.h"
#include "drivers/agent/channel.h"
#include "drivers/agent/pki.h"
#include "drivers/local/local_driver.h"
#include "drivers/process.h"

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
jb::Mutex g_mu;
jb::TlsChannel* g_current GUARDED_BY(g_mu) = nullptr;  // aborted by the signal thread

int Usage() {
  std::fprintf(stderr,
               "usage: jellybean-agent --server HOST:PORT[,HOST:PORT...] --device NAME --ca FILE --state-dir DIR\n"
               "                       [--token-file FILE]\n"
               "                       [--advertise HOST] [--worker-binary PATH] [--stop-workers-on-exit]\n"
               "                       [--poll-timeout S (default 5)]\n");
  return 2;
}

struct Flags {
  std::string host, device, ca, state_dir, token_file, advertise, worker_binary;
  int port = 0;  // host:port = servers[current]
  std::vector<std::pair<std::string, int>> servers;
  size_t current = 0;
  bool stop_workers = false;
  // How long the agent waits for a poll's answer before it takes the daemon as cut off and
  // reconnects (#22; was a fixed 30 s). The poll asks the daemon to answer within 40% of it.
  double poll_timeout_s = 5;
};

std::string Str(const jb::Value& m, const char* key) {
  const jb::Value* v = m.Find(key);
  return v != nullptr && v->is_string() ? v->as_string() : "";
}

// Registers the device (once): key + CSR, token, certificate.
jb::Status Register(const Flags& f, const std::string& key_path, const std::string& cert_path) {
  if (f.token_file.empty())
    return jb::Status::FailedPrecondition("no certificate in " + cert_path + " and no --token-file to register with");
  std::string token = jb::ReadFileOrEmpty(f.token_file);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty())
    return jb::Status::FailedPrecondition("bootstrap token file " + f.token_file + " is empty or unreadable");
  auto kc = jb::MakeKeyAndCsr(f.device);
  if (!kc.ok()) return kc.status();
  auto ch = jb::TlsChannel::Connect(f.host, f.port, f.ca, "", "", 5);
  if (!ch.ok()) return ch.status();
  jb::Value msg = jb::Value::Map();
  msg.Set("type", jb::Value::String("register"));
  msg.Set("device", jb::Value::String(f.device));
  msg.Set("token", jb::Value::String(token));
  msg.Set("csr", jb::Value::String(kc->csr_pem));
  if (auto s = (*ch)->Send(msg); !s.ok()) return s;
  auto reply = (*ch)->Receive(10);
  if (!reply.ok()) return reply.status();
  if (!Str(*reply, "error").empty())
    return jb::Status::Unauthenticated("registration refused: " + Str(*reply, "message"));
  if (auto s = jb::WriteFileCreatingDirs(key_path, kc->key_pem, 0600); !s.ok()) return s;
  return jb::WriteFileCreatingDirs(cert_path, Str(*reply, "cert"), 0644);
}

jb::Value StatesOf(jb::LocalDriver& local) {
  jb::Value states = jb::Value::Seq();
  for (const auto& wf : local.Workflows())
    for (const auto& w : local.Observe(wf)) {
      jb::Value s = jb::Value::Map();
      s.Set("workflow", jb::Value::String(wf));
      s.Set("name", jb::Value::String(w.name));
      s.Set("tier", jb::Value::String(w.tier));
      s.Set("ready", jb::Value::Bool(w.ready));
      s.Set("message", jb::Value::String(w.message));
      s.Set("pid", jb::Value::Integer(w.pid));
      s.Set("restarts", jb::Value::Integer(w.restarts));
      if (w.metrics) s.Set("metrics", jb::Value::String(jb::WorkerMetricsToJson(*w.metrics)));
      states.Append(std::move(s));
    }
  return states;
}

// Applies the daemon's answer: every listed workflow's configs; workflows not listed are removed.
jb::Status ApplyDesired(jb::LocalDriver& local, const jb::Value& reply) {
  std::set<std::string> listed;
  jb::Status first;
  if (const jb::Value* wfs = reply.Find("workflows"); wfs != nullptr && wfs->is_seq())
    for (const auto& w : wfs->items()) {
      std::string wf = Str(w, "name");
      std::vector<jb::WorkerConfig> configs;
      if (const jb::Value* cs = w.Find("configs"); cs != nullptr && cs->is_seq())
        for (const auto& c : cs->items()) {
          auto cfg = jb::ParseWorkerConfig(c.is_string() ? c.as_string() : "", "desired state of " + wf);
          if (!cfg.ok()) return cfg.status();
          configs.push_back(*cfg);
        }
      listed.insert(wf);
      if (auto s = local.Apply(wf, configs); !s.ok() && first.ok()) first = s;
    }
  for (const auto& wf : local.Workflows())
    if (listed.count(wf) == 0) (void)local.Remove(wf);
  return first;
}

// The highest term seen, kept in DIR/term (0 when absent).
int64_t ReadTerm(const std::string& path) {
  std::string text = jb::ReadFileOrEmpty(path);
  return text.empty() ? 0 : std::strtoll(text.c_str(), nullptr, 10);
}

// Checks an answer's term against the highest seen (*highest, persisted at `path` when it grows).
// An error names both terms when the answer comes from a former leader.
jb::Status CheckTerm(const jb::Value& reply, const std::string& path, int64_t* highest) {
  const jb::Value* t = reply.Find("term");
  int64_t term = t != nullptr && t->is_number() ? jb::WireInt(t->as_number()) : 0;
  if (term < *highest)
    return jb::Status::FailedPrecondition("fenced: refusing the daemon's instructions of term " + std::to_string(term) +
                                          ": this agent has seen term " + std::to_string(*highest) +
                                          " (a newer leader acts)");
  if (term > *highest) {
    if (auto s = jb::WriteFileAtomic(path, std::to_string(term) + "\n"); !s.ok()) return s;
    *highest = term;
  }
  return jb::Status::Ok();
}

// Whether an answer comes from a daemon that does not lead: a former leader's own "stale-term"
// refusal or a term older than the highest seen (then it must not be applied), or a replica's
// "not-leader". Logs why; records a newer term.
bool NotFromTheLeader(const Flags& f, const jb::Value& reply, const std::string& term_path, int64_t* highest) {
  const std::string err = Str(reply, "error");
  if (err == "stale-term") {  // another daemon will answer (or this one, re-elected)
    spdlog::error("fenced: the daemon at {}:{} is a former leader: {}", f.host, f.port, Str(reply, "message"));
    return true;
  }
  if (err == "not-leader") {  // a replica that does not lead: the leader is elsewhere
    spdlog::info("the daemon at {}:{} does not lead", f.host, f.port);
    return true;
  }
  if (!err.empty()) return false;
  if (auto s = CheckTerm(reply, term_path, highest); !s.ok()) {
    spdlog::error("{}", s.message());
    return true;
  }
  return false;
}

// `logs`: the answers to the previous answer's log requests (drivers/agent/agent_logs.h).
jb::Value PollMessage(const Flags& f, int64_t version, int64_t term, jb::LocalDriver& local, jb::Value logs) {
  jb::Value msg = jb::Value::Map();
  msg.Set("type", jb::Value::String("poll"));
  msg.Set("version", jb::Value::Integer(version));
  msg.Set("term", jb::Value::Integer(term));
  if (!f.advertise.empty()) msg.Set("address", jb::Value::String(f.advertise));
  msg.Set("states", StatesOf(local));
  msg.Set("hold", jb::Value::Number(0.4 * f.poll_timeout_s));
  if (logs.is_seq() && !logs.items().empty()) msg.Set("logs", std::move(logs));
  return msg;
}

// Reads the command line into `f`. Returns the exit status when the agent should stop here (help:
// 0; bad flags: 2, after the usage), -1 to go on.
int ParseFlags(int argc, char** argv, Flags& f) {
  std::string server;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string* dst) {
      if (i + 1 >= argc) return false;
      *dst = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--server")
      ok = next(&server);
    else if (a == "--device")
      ok = next(&f.device);
    else if (a == "--ca")
      ok = next(&f.ca);
    else if (a == "--state-dir")
      ok = next(&f.state_dir);
    else if (a == "--token-file")
      ok = next(&f.token_file);
    else if (a == "--advertise")
      ok = next(&f.advertise);
    else if (a == "--worker-binary")
      ok = next(&f.worker_binary);
    else if (a == "--stop-workers-on-exit")
      f.stop_workers = true;
    else if (std::string t; a == "--poll-timeout" && next(&t))
      ok = (f.poll_timeout_s = std::atof(t.c_str())) >= 0.5 && f.poll_timeout_s <= 600;
    else if (a == "--help" || a == "-h")
      return Usage() - 2;
    else
      ok = false;
    if (!ok) return Usage();
  }
  if (server.empty() || f.device.empty() || f.ca.empty() || f.state_dir.empty()) return Usage();
  std::stringstream list(server);
  for (std::string one; std::getline(list, one, ',');) {
    auto colon = one.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(one.c_str() + colon + 1);
    if (port <= 0 || port > 65535) {
      std::fprintf(stderr, "jellybean-agent: --server %s: expected HOST:PORT[,HOST:PORT...]\n", server.c_str());
      return 2;
    }
    f.servers.emplace_back(one.substr(0, colon), port);
  }
  f.host = f.servers.front().first;
  f.port = f.servers.front().second;
  return -1;
}

// Moves to the next daemon replica's listener. True when that starts a new round over them (always
// with one --server): only then does the agent wait its back-off, so it tries every replica at once
// after a failover.
bool NextServer(Flags& f) {
  if (f.servers.size() < 2) return true;
  f.current = (f.current + 1) % f.servers.size();
  f.host = f.servers[f.current].first;
  f.port = f.servers[f.current].second;
  spdlog::info("trying the daemon at {}:{}", f.host, f.port);
  return f.current == 0;
}

// Sleeps the back-off and doubles it (at most 2 s).
void BackOff(double* backoff) {
  std::this_thread::sleep_for(std::chrono::duration<double>(*backoff));
  *backoff = std::min(2.0, *backoff * 2);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (int rc = ParseFlags(argc, argv, f); rc >= 0) return rc;
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ agent " + f.device + ": %v");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread sig([set] {
    int s = 0;
    sigwait(&set, &s);
    g_stop = true;
    jb::MutexLock l(&g_mu);
    if (g_current != nullptr) g_current->Abort();
  });
  sig.detach();

  std::string key_path = f.state_dir + "/device.key", cert_path = f.state_dir + "/device.crt";
  std::error_code ec;
  fs::create_directories(f.state_dir, ec);
  jb::LocalDriverOptions lo;
  lo.state_dir = f.state_dir;
  lo.worker_binary =
      f.worker_binary.empty() ? jb::FindWorkerBinary(fs::read_symlink("/proc/self/exe", ec).string()) : f.worker_binary;
  if (!f.advertise.empty()) lo.host = f.advertise;
  jb::LocalDriver local(lo);
  sd_notifyf(0, "READY=1\nSTATUS=connecting to %s:%d", f.host.c_str(), f.port);

  int64_t version = 0;
  const std::string term_path = f.state_dir + "/term";
  int64_t highest_term = ReadTerm(term_path);
  double backoff = 0.1;
  int rc = 0;
  bool connected_once = false;
  while (!g_stop) {
    sd_notify(0, "WATCHDOG=1");
    if (!fs::exists(cert_path, ec)) {
      auto s = Register(f, key_path, cert_path);
      if (!s.ok()) {
        spdlog::error("{}", s.message());
        if (s.code() == jb::Status::Code::kUnauthenticated || s.code() == jb::Status::Code::kFailedPrecondition) {
          rc = 3;
          break;
        }
        if (NextServer(f)) BackOff(&backoff);
        continue;
      }
      spdlog::info("registered; certificate in {}", cert_path);
    }
    auto ch = jb::TlsChannel::Connect(f.host, f.port, f.ca, cert_path, key_path, 5);
    if (!ch.ok()) {
      spdlog::warn("{}", ch.status().message());
      if (NextServer(f)) BackOff(&backoff);
      continue;
    }
    {
      jb::MutexLock l(&g_mu);
      g_current = ch->get();
    }
    if (!connected_once) spdlog::info("connected to {}:{}", f.host, f.port);
    sd_notifyf(0, "STATUS=connected to %s:%d", f.host.c_str(), f.port);
    connected_once = true;
    bool fenced = false;
    jb::Value logs = jb::Value::Seq();  // answers to the daemon's log requests, sent with the next poll
    while (!g_stop) {
      sd_notify(0, "WATCHDOG=1");
      if (auto s = (*ch)->Send(PollMessage(f, version, highest_term, local, std::move(logs))); !s.ok()) {
        spdlog::warn("{}", s.message());
        break;
      }
      auto reply = (*ch)->Receive(f.poll_timeout_s);
      if (!reply.ok()) {
        if (!g_stop) spdlog::warn("{}", reply.status().message());
        break;
      }
      if (NotFromTheLeader(f, *reply, term_path, &highest_term)) {
        fenced = true;
        break;
      }
      std::string err = Str(*reply, "error");
      if (!err.empty()) {
        spdlog::error("the daemon refused this device: {}", Str(*reply, "message"));
        rc = err == "revoked" || err == "unauthenticated" ? 3 : 1;
        g_stop = true;
        break;
      }
      logs = jb::ServeLogRequests(local, *reply);
      const jb::Value* v = reply->Find("version");
      int64_t want = v != nullptr && v->is_number() ? jb::WireInt(v->as_number()) : version;
      backoff = 0.1;
      if (want != version) {
        auto s = ApplyDesired(local, *reply);
        if (!s.ok())
          spdlog::error("applying version {}: {}", want, s.message());
        else
          spdlog::info("runs desired version {}", want);
        version = want;  // (an error is reported in the workers' states; the daemon re-sends on change)
      }
    }
    {
      jb::MutexLock l(&g_mu);
      g_current = nullptr;
    }
    // This one broke off or does not lead: the next replica; a refusal is not retried at once (the
    // daemons' side must change first).
    if (!g_stop && NextServer(f) && fenced) BackOff(&backoff);
  }
  sd_notify(0, "STOPPING=1");
  if (f.stop_workers) local.StopAll();
  return rc;
}
