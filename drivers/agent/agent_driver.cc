#include "drivers/agent/agent_driver.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "base/log.h"
#include "drivers/agent/agent_logs.h"
#include "drivers/agent/channel.h"
#include "drivers/agent/pki.h"
#include "drivers/process.h"
#include "drivers/unknown_worker.h"

namespace jb {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxAgentConnections = 1024;  // one per device; beyond this, new ones are refused

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string Str(const Value& m, const char* key) {
  const Value* v = m.Find(key);
  return v != nullptr && v->is_string() ? v->as_string() : "";
}

double Num(const Value& m, const char* key) {
  const Value* v = m.Find(key);
  return v != nullptr && v->is_number() ? v->as_number() : 0;
}

Value Error(const std::string& code, const std::string& message) {
  Value v = Value::Map();
  v.Set("error", Value::String(code));
  v.Set("message", Value::String(message));
  return v;
}

bool ValidDeviceName(const std::string& s) {
  static const std::regex re("[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?");
  return std::regex_match(s, re);
}

}  // namespace

AgentDriver::AgentDriver(AgentDriverOptions opts)
    : opts_(std::move(opts)),
      base_version_(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count()) {}

AgentDriver::Device& AgentDriver::Dev(const std::string& name) {
  Device& d = devices_[name];
  if (d.version == 0) d.version = base_version_;
  return d;
}

StatusOr<std::unique_ptr<AgentDriver>> AgentDriver::Create(AgentDriverOptions opts) {
  std::unique_ptr<AgentDriver> d(new AgentDriver(std::move(opts)));
  std::string dir = d->opts_.state_dir + "/agent";
  auto ca = Ca::LoadOrCreate(dir);
  if (!ca.ok()) return ca.status();
  d->ca_ = std::move(*ca);
  std::string name = d->opts_.server_name.empty() ? d->opts_.listen_host : d->opts_.server_name;
  if (auto s = d->ca_->EnsureServerCert(dir, name); !s.ok()) return s;
  if (!d->opts_.bootstrap_token_file.empty()) {
    if (auto s = CheckPrivateFile(d->opts_.bootstrap_token_file, "bootstrap token file"); !s.ok()) return s;
    d->token_ = Trim(ReadFileOrEmpty(d->opts_.bootstrap_token_file));
    if (d->token_.size() < 16)
      return Status::InvalidArgument("bootstrap token in " + d->opts_.bootstrap_token_file +
                                     " is shorter than 16 characters");
  }
  auto l = TlsListener::Listen(d->opts_.listen_host, d->opts_.listen_port, dir + "/server.crt", dir + "/server.key",
                               dir + "/ca.crt");
  if (!l.ok()) return l.status();
  d->listener_ = std::move(*l);
  d->Load();
  d->acceptor_ = std::thread([p = d.get()] { p->AcceptLoop(); });
  return d;
}

AgentDriver::~AgentDriver() {
  std::vector<Conn> conns;
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  if (listener_) listener_->Close();
  if (acceptor_.joinable()) acceptor_.join();
  {
    MutexLock l(&mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) c.channel->Abort();
  for (auto& c : conns) c.thread.join();
}

int AgentDriver::port() const { return listener_->port(); }
std::string AgentDriver::ca_file() const { return opts_.state_dir + "/agent/ca.crt"; }

void AgentDriver::AcceptLoop() {
  for (;;) {
    auto ch = listener_->Accept(10);
    MutexLock l(&mu_);
    // Join connection threads that have finished.
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (*it->done) {
        it->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
    if (stopping_) return;
    if (!ch.ok()) {
      if (ch.status().code() == Status::Code::kUnavailable && stopping_) return;
      spdlog::warn("agent listener: {}", ch.status().message());
      continue;
    }
    if (conns_.size() >= kMaxAgentConnections) {
      spdlog::warn("agent listener: {} connections open; refusing one from {}", conns_.size(), (*ch)->peer_address());
      continue;  // the channel's destructor closes it
    }
    std::shared_ptr<TlsChannel> shared(std::move(*ch));
    auto done = std::make_shared<bool>(false);
    conns_.push_back(Conn{std::thread([this, shared, done] {
                            Serve(shared);
                            shared->Close();  // now, not when the next connection is accepted
                            MutexLock g(&mu_);
                            *done = true;
                          }),
                          shared, done});
  }
}

void AgentDriver::Serve(const std::shared_ptr<TlsChannel>& ch) {
  if (auto s = ch->Handshake(); !s.ok()) {
    spdlog::warn("agent listener: {}", s.message());
    return;
  }
  for (;;) {
    {
      MutexLock l(&mu_);
      if (stopping_) return;
    }
    auto msg = ch->Receive(30);
    if (!msg.ok()) return;  // closed, timed out or garbage: the agent reconnects
    std::string type = Str(*msg, "type");
    Value reply = type == "register" ? HandleRegister(*ch, *msg)
                  : type == "poll"
                      ? HandlePoll(*ch, *msg)
                      : Error("bad-request", "unknown message type \"" + type + "\"; expected register or poll");
    if (!ch->Send(reply).ok()) return;
    if (reply.Find("error") != nullptr) return;  // one refusal, then the connection is closed
  }
}

bool AgentDriver::Revoked(const std::string& device, const std::string& serial) {
  std::istringstream in(ReadFileOrEmpty(opts_.state_dir + "/agent/revoked"));
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line == device || (!serial.empty() && line == serial)) return true;
  }
  return false;
}

Value AgentDriver::HandleRegister(const TlsChannel& ch, const Value& msg) {
  std::string device = Str(msg, "device"), token = Str(msg, "token"), csr = Str(msg, "csr");
  if (token_.empty()) return Error("registration-disabled", "this daemon has no bootstrap token (--agent-token-file)");
  if (token.size() != token_.size() || CRYPTO_memcmp(token.data(), token_.data(), token.size()) != 0) {
    spdlog::warn("agent registration from {} for device \"{}\" refused: wrong bootstrap token", ch.peer_address(),
                 device);
    return Error("unauthenticated", "wrong bootstrap token");
  }
  if (!ValidDeviceName(device))
    return Error("bad-request",
                 "device name \"" + device + "\": expected a DNS label (lowercase letters, digits, '-', '.')");
  if (Revoked(device, "")) return Error("revoked", "device " + device + " is revoked");
  auto cert = ca_->SignClient(csr, device);
  if (!cert.ok()) return Error("bad-request", cert.status().message());
  spdlog::info("agent: device {} registered from {} (certificate serial {})", device, ch.peer_address(),
               cert->serial_hex);
  Value v = Value::Map();
  v.Set("cert", Value::String(cert->cert_pem));
  v.Set("ca", Value::String(ca_->cert_pem()));
  return v;
}

bool AgentDriver::Adopting(const std::string& device) {
  Device& d = Dev(device);
  std::string pending;
  for (const auto& [wf, workers] : d.states)
    if (applied_.count(wf) == 0) pending += (pending.empty() ? "" : ", ") + wf;
  if (pending.empty()) {
    if (d.holding_logged) spdlog::info("agent: device {} adopted: every workflow it runs is reconciled", device);
    d.holding_logged = false;
    return false;
  }
  if (Clock::now() - d.first_served >= kAdoptionLimit) {
    if (d.holding_logged)
      spdlog::warn("agent: device {} runs workflow(s) {} that nothing reconciled within {} s: they are removed there",
                   device, pending, kAdoptionLimit.count());
    d.holding_logged = false;
    return false;
  }
  if (!d.holding_logged)
    spdlog::info(
        "agent: device {} runs workflow(s) {} not yet reconciled by this daemon: its workers are kept as "
        "they are until they are (adoption)",
        device, pending);
  d.holding_logged = true;
  return true;
}

Value AgentDriver::HandlePoll(const TlsChannel& ch, const Value& msg) {
  if (!ch.peer_verified()) return Error("unauthenticated", "poll needs a device certificate (register first)");
  const std::string& device = ch.peer_cn();
  if (Revoked(device, ch.peer_serial())) {
    spdlog::warn("agent: refused revoked device {} (serial {}) from {}", device, ch.peer_serial(), ch.peer_address());
    return Error("revoked", "the certificate of device " + device + " is revoked");
  }
  auto have = WireInt(Num(msg, "version"));
  const int64_t term = TermOf(opts_.term), seen = WireInt(Num(msg, "term"));
  if (seen > term) {
    spdlog::error(
        "agent: device {} refuses this daemon's instructions: it has seen term {}, this daemon's is {} "
        "(a newer leader acts)",
        device, seen, term);
    return Error("stale-term", "this daemon's term " + std::to_string(term) + " is older than term " +
                                   std::to_string(seen) + ", which the device has seen");
  }
  MutexLock l(&mu_);
  TakeLogAnswers(device, msg);
  Device& d = Dev(device);
  bool was_silent = !d.seen || Clock::now() - d.last_seen > std::chrono::duration<double>(opts_.heartbeat_grace_s);
  d.seen = true;
  d.last_seen = Clock::now();
  std::string address = Str(msg, "address");
  d.address = address.empty() ? ch.peer_address() : address;
  d.applied = have;
  const auto before = std::move(d.states);  // to notice restarts
  d.states.clear();
  if (const Value* states = msg.Find("states"); states != nullptr && states->is_seq())
    for (const auto& s : states->items()) {
      WorkerState st;
      st.name = Str(s, "name");
      st.node = device;
      st.tier = Str(s, "tier");
      const Value* ready = s.Find("ready");
      st.ready = ready != nullptr && ready->is_bool() && ready->as_bool();
      st.message = Str(s, "message");
      st.pid = WireInt(Num(s, "pid"));
      st.restarts = WireInt(Num(s, "restarts"));
      std::string metrics = Str(s, "metrics");
      if (!metrics.empty()) {
        auto m = ParseWorkerMetrics(metrics, device + "/" + st.name);
        if (m.ok()) st.metrics = std::move(*m);
      }
      const std::string wf = Str(s, "workflow");
      if (auto w = before.find(wf); w != before.end())
        if (auto o = w->second.find(st.name); o != w->second.end() && st.restarts > o->second.restarts)
          log::Warn(log::Fields{wf, std::nullopt, st.name, "WorkerRestarted"},
                    "worker on device " + device + " exited and was restarted (restart " + std::to_string(st.restarts) +
                        "): " + st.message);
      d.states[wf][st.name] = std::move(st);
    }
  if (was_silent)
    spdlog::info("agent: device {} reports from {} (runs version {}, desired {})", device, d.address, have, d.version);
  if (opts_.term && TermOf(opts_.term) == 0)
    return Error("not-leader", "this daemon replica does not lead; another one serves the agents");
  if (!d.served) {  // the adoption limit counts from here, not from polls refused as a follower
    d.served = true;
    d.first_served = Clock::now();
  }
  // Long poll: answer at once when the agent is behind, else when something changes or at the hold.
  // The agent's own hold (its poll timeout's share, #22), when shorter than the daemon's.
  double hold = opts_.poll_hold_s;
  if (const Value* h = msg.Find("hold"); h != nullptr && h->is_number() && h->as_number() > 0)
    hold = std::min(hold, h->as_number());
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(hold));
  changed_.WaitUntil(&mu_, until, [&]() REQUIRES(mu_) {
    return stopping_ || (!Adopting(device) && Dev(device).version != have) || LogRequestWaiting(device);
  });
  const bool adopting = Adopting(device);
  Device& now = Dev(device);
  Value reply = Value::Map();
  // While adopting: the version the agent runs, so it changes nothing.
  reply.Set("version", Value::Integer(adopting ? have : now.version));
  // The term when the answer is made, not when the poll came: it may have changed during the hold
  // (stepped down, or a former leader's instructions), and the agent checks it against its own.
  reply.Set("term", Value::Integer(TermOf(opts_.term)));
  Value wfs = Value::Seq();
  // Log requests go out while adopting too (they change nothing; a waiting one ended the hold).
  if (Value reqs = SendLogRequests(device); !reqs.items().empty()) reply.Set("logRequests", std::move(reqs));
  if (adopting) {
    reply.Set("workflows", std::move(wfs));
    return reply;
  }
  for (const auto& [wf, workers] : desired_) {
    Value configs = Value::Seq();
    for (const auto& [name, cv] : workers)
      if (cv.first.node == device) configs.Append(Value::String(WorkerConfigToYaml(cv.first)));
    if (configs.items().empty()) continue;
    Value w = Value::Map();
    w.Set("name", Value::String(wf));
    w.Set("configs", std::move(configs));
    wfs.Append(std::move(w));
  }
  reply.Set("workflows", std::move(wfs));
  return reply;
}

void AgentDriver::UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) {
  std::map<std::string, std::string> addr;
  std::set<std::string> agent_tiers;
  for (const auto& t : infra.tiers)
    if (t.driver.type == "agent") agent_tiers.insert(t.name);
  for (const auto& n : infra.nodes)
    if (agent_tiers.count(n.tier) != 0) addr[n.name] = n.address.value_or("");
  MutexLock l(&mu_);
  node_address_[workflow] = std::move(addr);
}

StatusOr<std::string> AgentDriver::Host(const std::string& workflow, const std::string& node) {
  MutexLock l(&mu_);
  auto d = devices_.find(node);
  if (d != devices_.end() && d->second.seen && !d->second.address.empty()) return d->second.address;
  auto w = node_address_.find(workflow);
  if (w != node_address_.end())
    if (auto it = w->second.find(node); it != w->second.end() && !it->second.empty()) return it->second;
  return Status::Unavailable("device " + node + " has not connected yet (start jellybean-agent --device " + node +
                             " on it)");
}

Status AgentDriver::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  MutexLock l(&mu_);
  auto& cur = desired_[workflow];
  std::map<std::string, std::pair<WorkerConfig, int64_t>> next;
  std::set<std::string> touched;  // devices whose desired state changes
  for (const auto& w : workers) {
    if (auto s = ValidateWorkerConfig(w, workflow + "/" + w.name); !s.ok()) return s;
    auto it = cur.find(w.name);
    if (it != cur.end() && it->second.first == w) {
      next[w.name] = it->second;
      continue;
    }
    touched.insert(w.node);
    if (it != cur.end()) touched.insert(it->second.first.node);
    next[w.name] = {w, 0};
  }
  for (const auto& [name, cv] : cur)
    if (next.count(name) == 0) touched.insert(cv.first.node);
  // Applied by this process: devices running it need no longer wait for it (adoption).
  if (applied_.insert(workflow).second) changed_.SignalAll();
  if (touched.empty()) {  // the same desired state (every reconcile applies it): nothing to do
    if (cur.empty()) desired_.erase(workflow);
    return Status::Ok();
  }
  for (const auto& dev : touched) ++Dev(dev).version;
  for (auto& [name, cv] : next)
    if (cv.second == 0) cv.second = Dev(cv.first.node).version;
  cur = std::move(next);
  Persist(workflow);
  if (cur.empty()) desired_.erase(workflow);
  changed_.SignalAll();
  return Status::Ok();
}

std::vector<WorkerState> AgentDriver::Observe(const std::string& workflow) {
  MutexLock l(&mu_);
  std::vector<WorkerState> out;
  auto w = desired_.find(workflow);
  if (w == desired_.end()) return out;
  auto now = Clock::now();
  for (const auto& [name, cv] : w->second) {
    const WorkerConfig& c = cv.first;
    WorkerState st{name, c.node, c.tier, false, "", 0, 0, std::nullopt};
    auto d = devices_.find(c.node);
    if (d == devices_.end() || !d->second.seen) {
      st.message = "device " + c.node + " has not connected (no jellybean-agent heartbeat)";
    } else if (double silent = std::chrono::duration<double>(now - d->second.last_seen).count();
               silent > opts_.heartbeat_grace_s) {
      char buf[160];
      std::snprintf(buf, sizeof(buf), "heartbeat missed: device %s silent for %.1f s", c.node.c_str(), silent);
      st.message = buf;
      st.control_link_lost = true;
    } else if (d->second.applied < cv.second) {
      st.message = "device " + c.node + " has not taken version " + std::to_string(cv.second) + " yet (runs " +
                   std::to_string(d->second.applied) + ")";
    } else {
      auto ws = d->second.states.find(workflow);
      auto it = ws == d->second.states.end() ? decltype(ws->second.end()){} : ws->second.find(name);
      if (ws == d->second.states.end() || it == ws->second.end()) {
        st.message = "device " + c.node + " reports no such worker yet";
      } else {
        st = it->second;
        st.node = c.node;
        st.tier = c.tier;
      }
    }
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<WorkerConfig> AgentDriver::Desired(const std::string& workflow) {
  MutexLock l(&mu_);
  std::vector<WorkerConfig> out;
  if (auto w = desired_.find(workflow); w != desired_.end())
    for (const auto& [name, cv] : w->second) out.push_back(cv.first);
  return out;
}

Status AgentDriver::Remove(const std::string& workflow) { return Apply(workflow, {}); }

std::vector<std::string> AgentDriver::Workflows() {
  MutexLock l(&mu_);
  std::set<std::string> out;
  for (const auto& [wf, ws] : desired_)
    if (!ws.empty()) out.insert(wf);
  // What devices report running counts too (adoption: the desired state may not know it yet).
  for (const auto& [name, d] : devices_)
    for (const auto& [wf, workers] : d.states)
      if (!workers.empty()) out.insert(wf);
  return {out.begin(), out.end()};
}

std::vector<std::string> AgentDriver::LiveDevices() {
  MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, d] : devices_)
    if (d.seen && Clock::now() - d.last_seen <= std::chrono::duration<double>(opts_.heartbeat_grace_s))
      out.push_back(name);
  return out;
}

void AgentDriver::Persist(const std::string& workflow) {
  std::string dir = opts_.state_dir + "/agent/desired/" + workflow;
  std::error_code ec;
  std::set<std::string> keep;
  for (const auto& [name, cv] : desired_[workflow]) {
    keep.insert(name + ".yaml");
    if (auto s = WriteFileCreatingDirs(dir + "/" + name + ".yaml", WorkerConfigToYaml(cv.first), 0600); !s.ok())
      spdlog::error("agent driver: {}", s.message());
  }
  if (fs::exists(dir, ec))
    for (const auto& f : fs::directory_iterator(dir, ec))
      if (keep.count(f.path().filename().string()) == 0) fs::remove(f.path(), ec);
  if (keep.empty()) fs::remove_all(dir, ec);
}

void AgentDriver::Load() {
  MutexLock l(&mu_);
  std::error_code ec;
  fs::path root = opts_.state_dir + "/agent/desired";
  if (!fs::exists(root, ec)) return;
  for (const auto& wfdir : fs::directory_iterator(root, ec))
    for (const auto& f : fs::directory_iterator(wfdir.path(), ec)) {
      auto c = ParseWorkerConfig(ReadFileOrEmpty(f.path().string()), f.path().string());
      if (!c.ok()) continue;
      desired_[wfdir.path().filename().string()][c->name] = {*c, Dev(c->node).version};
    }
}

StatusOr<std::string> AgentDriver::ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                           size_t max_bytes, int64_t* end) {
  *end = 0;
  MutexLock l(&mu_);
  auto w = desired_.find(workflow);
  if (w == desired_.end() || w->second.count(worker) == 0) {
    return UnknownWorker(workflow, worker, w == desired_.end() ? nullptr : &w->second);
  }
  const std::string device = w->second.at(worker).first.node;
  auto d = devices_.find(device);
  if (d == devices_.end() || !d->second.seen ||
      Clock::now() - d->second.last_seen > std::chrono::duration<double>(opts_.heartbeat_grace_s))
    return Status::Unavailable("device " + device + " is not connected (no jellybean-agent heartbeat): the log of " +
                               worker + " cannot be read now");
  const int64_t id = ++next_log_id_;
  LogRequest& req = log_requests_[id];
  req.device = device;
  req.workflow = workflow;
  req.worker = worker;
  req.offset = offset;
  req.max_bytes = std::min(max_bytes, kMaxAgentLogBytes);
  changed_.SignalAll();  // a held poll of the device answers now
  changed_.WaitUntil(&mu_, Clock::now() + kAgentLogWait,
                     [&]() REQUIRES(mu_) { return stopping_ || log_requests_.at(id).result.has_value(); });
  LogRequest done = std::move(log_requests_.at(id));
  log_requests_.erase(id);
  if (!done.result)
    return Status::Unavailable("device " + device + " did not send the log of " + worker + " within " +
                               std::to_string(kAgentLogWait.count()) + " s");
  *end = done.end;
  return std::move(*done.result);
}

void AgentDriver::TakeLogAnswers(const std::string& device, const Value& msg) {
  const Value* logs = msg.Find("logs");
  if (logs == nullptr || !logs->is_seq()) return;
  bool any = false;
  for (const auto& a : logs->items()) {
    const Value* id = a.Find("id");
    auto it = id != nullptr && id->is_number() ? log_requests_.find(WireInt(id->as_number())) : log_requests_.end();
    // Only answers to what this device was asked (another device's id, or a late one, is ignored).
    if (it == log_requests_.end() || it->second.device != device || !it->second.sent || it->second.result) continue;
    int64_t end = 0;
    auto text = DecodeLogAnswer(a, it->second.max_bytes, &end);
    if (!text.ok() && text.status().code() == Status::Code::kInvalidArgument) {
      spdlog::warn("agent: device {} sent a bad log answer for {}: {}", device, it->second.worker,
                   text.status().message());
      text = Status::Unavailable("device " + device + " sent a bad log answer: " + text.status().message());
    }
    it->second.end = end;
    it->second.result = std::move(text);
    any = true;
  }
  if (any) changed_.SignalAll();
}

bool AgentDriver::LogRequestWaiting(const std::string& device) {
  for (const auto& [id, r] : log_requests_)
    if (r.device == device && !r.sent) return true;
  return false;
}

Value AgentDriver::SendLogRequests(const std::string& device) {
  Value reqs = Value::Seq();
  for (auto& [id, r] : log_requests_) {
    if (r.device != device || r.sent) continue;
    if (reqs.items().size() >= kMaxLogRequestsPerAnswer) break;
    Value q = Value::Map();
    q.Set("id", Value::Integer(id));
    q.Set("workflow", Value::String(r.workflow));
    q.Set("worker", Value::String(r.worker));
    q.Set("offset", Value::Integer(r.offset));
    q.Set("maxBytes", Value::Integer(static_cast<int64_t>(r.max_bytes)));
    reqs.Append(std::move(q));
    r.sent = true;
  }
  return reqs;
}

}  // namespace jb
