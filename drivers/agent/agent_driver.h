// AgentDriver: workers on devices that run jellybean-agent (DESIGN.md §6). The daemon
// never connects to a device: the agent connects to the daemon's agent listener, which is the
// driver's own TLS endpoint (drivers/agent/channel.h), separate from the REST API.
//
// - Registration: an agent without a certificate sends {type: register, token, device, csr}; with
//   the bootstrap token (constant-time compare) the CA (drivers/agent/pki.h, <state>/agent/) signs
//   its CSR with CN = device and returns the certificate. From then on every connection is mutual
//   TLS and the device is the certificate's CN; a certificate the CA did not sign fails the
//   handshake, and one whose serial or device is listed in <state>/agent/revoked (one per line,
//   re-read on every request) is refused. A revoked device cannot register again either.
// - Long poll: the agent sends {type: poll, version, address, states}; the listener records the
//   heartbeat and the workers' states and answers when the device's desired version differs from
//   the agent's, or after `poll_hold_s` with the unchanged version. The answer carries every
//   workflow's worker configs for that device; the agent applies them with its own LocalDriver.
// - A device whose last heartbeat is older than `heartbeat_grace_s` has its workers reported not
//   ready ("heartbeat missed"), so the reconciler marks the node NotReady and re-plans; when the
//   agent returns it receives the current desired state on its first poll.
// - Fencing: every answer carries the daemon's term; the agent keeps the highest term it has seen
//   (DIR/term) and refuses an answer with an older one; its polls carry that term, so a former
//   leader learns that it is refused (error "stale-term", logged) instead of being obeyed.
// - Worker logs (ReadLog) ride on the long poll: a request in the next poll answer, the bytes in
//   the agent's following poll (drivers/agent/agent_logs.h); Unavailable when the device is not
//   connected or does not answer within kAgentLogWait.
// - Desired state is kept in <state>/agent/desired/<workflow>/<worker>.yaml, so a restarted daemon
//   serves the same state to the agents.
// - Adoption (a restarted daemon, or a new leader of several replicas, whose desired state may be
//   stale or empty): a device's answer is held (the agent keeps running what it runs) until every
//   workflow the device reports has been applied or removed by this process, so the agent is never
//   told to stop workers merely because the new daemon has not reconciled them yet. Unchanged
//   configs leave the workers as they are; new certificates or routes reach them by SIGHUP (same
//   PIDs). The hold ends after kAdoptionLimit at the latest (a workflow nobody reconciles is then
//   removed from the device, logged).
// - Replicas (etcd store, daemon/leader.h): only the leader serves agents. With a term source whose
//   term is 0 (a replica that does not lead; a single daemon's term is at least 1) a poll is
//   recorded as a heartbeat and answered "not-leader"; an agent given every replica's listener
//   (--server A,B) moves on to the next.
// A device is an Infrastructure node on an `agent` tier; the node name is the device name.
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/value.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"
#include "drivers/fencing.h"

namespace jb {

class Ca;
class TlsChannel;
class TlsListener;

struct AgentDriverOptions {
  std::string state_dir;
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;               // 0: any free port (see port())
  std::string server_name;           // name or IP in the listener certificate (default listen_host)
  std::string bootstrap_token_file;  // "" = registration disabled
  double heartbeat_grace_s = 3;
  double poll_hold_s = 1;
  // Fencing (drivers/fencing.h): every answer carries this term; an agent that has seen a higher
  // one says so in its poll and is answered (and logged) as refusing this daemon. nullptr: term 0.
  TermSource term;
};

// How long a device's answer may be held for adoption (see the header comment).
inline constexpr std::chrono::seconds kAdoptionLimit{60};

class AgentDriver : public Driver {
 public:
  static StatusOr<std::unique_ptr<AgentDriver>> Create(AgentDriverOptions opts);
  ~AgentDriver() override;

  std::string name() const override { return "agent"; }
  void UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) override EXCLUDES(mu_);
  StatusOr<std::string> Host(const std::string& workflow, const std::string& node) override EXCLUDES(mu_);
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<WorkerConfig> Desired(const std::string& workflow) override EXCLUDES(mu_);
  Status Remove(const std::string& workflow) override;
  // The desired state's workflows and those the devices report running (not yet adopted ones too).
  std::vector<std::string> Workflows() override EXCLUDES(mu_);
  StatusOr<std::string> ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                size_t max_bytes, int64_t* end) override EXCLUDES(mu_);

  int port() const;
  std::string ca_file() const;
  // Devices connected within the grace period.
  std::vector<std::string> LiveDevices() EXCLUDES(mu_);

 private:
  explicit AgentDriver(AgentDriverOptions opts);
  struct Device {
    std::string address;  // where its workers listen (the agent's advertised host)
    std::chrono::steady_clock::time_point last_seen{};
    bool seen = false;
    int64_t version = 0;                                               // desired version (see Dev)
    int64_t applied = 0;                                               // what the agent last reported it runs
    std::map<std::string, std::map<std::string, WorkerState>> states;  // workflow -> worker -> state
    bool served = false;  // a poll of it was answered (not refused as "not-leader") by this process
    std::chrono::steady_clock::time_point first_served{};
    bool holding_logged = false;
  };
  void AcceptLoop() EXCLUDES(mu_);
  void Serve(const std::shared_ptr<TlsChannel>& ch) EXCLUDES(mu_);
  Value HandlePoll(const TlsChannel& ch, const Value& msg) EXCLUDES(mu_);
  Value HandleRegister(const TlsChannel& ch, const Value& msg);
  bool Revoked(const std::string& device, const std::string& serial);
  void Persist(const std::string& workflow) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A log read waiting for its device (drivers/agent/agent_logs.h).
  struct LogRequest {
    std::string device, workflow, worker;
    int64_t offset = -1;
    size_t max_bytes = 0;
    bool sent = false;                            // in a poll answer already
    std::optional<StatusOr<std::string>> result;  // the device's answer
    int64_t end = 0;
  };
  // Takes the poll's `logs` answers of `device`; the requests waiting for it as `logRequests`.
  void TakeLogAnswers(const std::string& device, const Value& msg) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool LogRequestWaiting(const std::string& device) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Value SendLogRequests(const std::string& device) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The device's entry; a new one starts at a version no earlier daemon used (ms since the epoch
  // at start-up), so an agent never mistakes a new desired state for one it already runs.
  Device& Dev(const std::string& name) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the device's answer is held for adoption: it reports a workflow this process has not
  // applied or removed yet (and kAdoptionLimit has not passed). Logs the first hold and its end.
  bool Adopting(const std::string& device) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Load() EXCLUDES(mu_);

  const AgentDriverOptions opts_;
  const int64_t base_version_;
  std::unique_ptr<Ca> ca_;
  std::unique_ptr<TlsListener> listener_;
  std::string token_;
  std::thread acceptor_;
  Mutex mu_;
  CondVar changed_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::map<std::string, Device> devices_ GUARDED_BY(mu_);
  // workflow -> worker -> (config, device version at which it was set)
  std::map<std::string, std::map<std::string, std::pair<WorkerConfig, int64_t>>> desired_ GUARDED_BY(mu_);
  std::set<std::string> applied_ GUARDED_BY(mu_);  // workflows applied or removed by this process
  std::map<std::string, std::map<std::string, std::string>> node_address_
      GUARDED_BY(mu_);  // workflow -> node -> address
  struct Conn {
    std::thread thread;
    std::shared_ptr<TlsChannel> channel;
    std::shared_ptr<bool> done;  // set under mu_ when the thread is about to end
  };
  std::vector<Conn> conns_ GUARDED_BY(mu_);
  std::map<int64_t, LogRequest> log_requests_ GUARDED_BY(mu_);  // by id
  int64_t next_log_id_ GUARDED_BY(mu_) = 0;
};

// How long ReadLog waits for a connected device's answer.
inline constexpr std::chrono::seconds kAgentLogWait{10};

}  // namespace jb
