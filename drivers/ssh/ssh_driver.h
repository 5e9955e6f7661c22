// SshDriver: workers on edge servers reached over ssh (DESIGN.md §6).
//
// - The system ssh client, key auth only (BatchMode), host key checking on: known_hosts lives in
//   <state>/ssh/known_hosts (first contact pins the key unless the tier's `knownHosts` setting
//   names a file of pinned keys, then nothing else is accepted); one multiplexed connection per
//   host (ControlMaster, sockets in <state>/ssh/), closed when the driver goes.
// - Per node, under <remoteDir>/<node> on the host (default remoteDir: .jellybean in the login's
//   home): bin/jellybean-worker and bin/jb-supervise, installed when their sha256 differs from the
//   daemon's copies and checked again after upload; <workflow>/<worker>.yaml (config), .log,
//   .metrics.json, .pid, .sup, .exit, and the durable .seq/.delivered, which Remove deletes with
//   the workflow (a worker dropped from the desired set keeps them, as with the local driver).
// - Each worker runs under jb-supervise (a small sh supervisor, detached with setsid) that restarts
//   it with the local driver's back-off (RestartBackoff); a route/epoch change is uploaded and signalled with SIGHUP, a
//   change of the hosted instances restarts it.
// - A poller runs one ssh command per host every poll interval: whether each supervisor and worker
//   is alive, the age of its metrics and the metrics themselves. A supervisor found dead is started
//   again, with RestartBackoff between attempts. A host that cannot be reached makes its workers not ready with ssh's
//   reason; those that ran are marked control_link_lost (#22): the reconciler keeps them in the plan while
//   their peers report items they acknowledge, and turns the node NotReady after the grace period otherwise.
// - What was deployed is recorded in <state>/ssh/workflows/<workflow>/<worker>.{yaml,target}, so a
//   restarted daemon observes, updates and removes the same workers.
// - Adoption from the host (a new leader of several replicas, whose state dir has no record of
//   what a former leader deployed): a node of the workflow this driver has no record for is asked
//   (one ssh command, after the fencing check, so a former leader is refused from then on) which
//   workers of the workflow it holds (<workflow>/<worker>.yaml), and they are recorded as if this
//   driver had deployed them: first when UseInfrastructure names the node (so Desired, and the
//   dispatcher's choice of addresses, include them), else on Apply. Apply then keeps a worker whose
//   config is unchanged (same PID), reloads by SIGHUP one that differs only in routes, epoch or
//   certificates, replaces one whose instances differ and stops one no longer wanted; no second
//   supervisor is started beside a running one. A node that cannot be asked (unreachable, or
//   fenced: it has seen a newer term) gets nothing started; Apply asks it again while it is wanted.
//
// Settings (tier driver.settings, typed in api/driver_settings.h: SshSettings): user, sshPort (22),
// identityFile, knownHosts, remoteDir, connectTimeoutSeconds (5), portBase. Node: address ([user@]host), credentialsRef
// (private key file: absolute, or relative to <state>/credentials/). Thread-safety: thread-safe. Apply/Remove are
// serialised; Observe returns the poller's last view.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"
#include "drivers/fencing.h"
#include "drivers/worker_process.h"

namespace jb {

struct SshDriverOptions {
  std::string state_dir;
  std::string worker_binary;
  std::string ssh = "ssh";
  std::chrono::milliseconds poll_every{500};
  double command_timeout_s = 60;
  double metrics_interval_s = 0.5;
  // Fencing (drivers/fencing.h): every start, reload and stop first runs `jb-supervise --fence
  // TERM` in the node directory, which refuses a term older than the node's <node dir>/term.
  TermSource term;
};

// How to reach one node.
struct SshTarget {
  std::string user;  // empty: the daemon's login name
  std::string host;
  int port = 22;
  std::string identity;
  std::string known_hosts;  // pinned keys (strict) or empty (pin on first contact)
  std::string remote_dir = ".jellybean";
  double connect_timeout_s = 5;
  bool operator==(const SshTarget&) const = default;
};

class SshDriver : public Driver {
 public:
  explicit SshDriver(SshDriverOptions opts);
  ~SshDriver() override;

  std::string name() const override { return "ssh"; }
  void UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) override
      EXCLUDES(apply_mu_, mu_);
  StatusOr<std::string> Host(const std::string& workflow, const std::string& node) override EXCLUDES(mu_);
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(apply_mu_, mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<WorkerConfig> Desired(const std::string& workflow) override EXCLUDES(mu_);
  Status Remove(const std::string& workflow) override EXCLUDES(apply_mu_, mu_);
  std::vector<std::string> Workflows() override EXCLUDES(mu_);
  // The worker's log on its host (<node dir>/<workflow>/<worker>.log, drivers/ssh/ssh_logs.cc): one
  // ssh command over the multiplexed connection, at most `max_bytes` sent by the host.
  StatusOr<std::string> ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                size_t max_bytes, int64_t* end) override EXCLUDES(mu_);

  // For the cloud driver: deploy onto a target it made (a VM) instead of an Infrastructure node.
  void SetTarget(const std::string& workflow, const std::string& node, const SshTarget& target) EXCLUDES(mu_);
  // Runs `script` on `t` with sh (for bootstrap checks); stdout on success.
  // `timeout_s` 0: the driver's command timeout.
  StatusOr<std::string> RunRemote(const SshTarget& t, const std::string& script,
                                  const std::string& stdin_path = "/dev/null", double timeout_s = 0);

 private:
  struct Deployed {
    WorkerConfig config;
    SshTarget target;
    WorkerState state;  // the poller's last view
    // Restarts of a supervisor found dead: when it was last started by the poller, and when it is
    // due again (unset: not found dead since).
    RestartBackoff supervisor_backoff;
    std::chrono::steady_clock::time_point supervisor_started{};
    std::optional<std::chrono::steady_clock::time_point> supervisor_restart_at;
  };
  std::string Dir(const std::string& workflow) const;
  Status Install(const SshTarget& t, const std::string& node) EXCLUDES(mu_);
  // The node's fencing check as a shell command ("true" without a term source), and the check
  // run alone (before an upload); a refusal is logged and returned.
  std::string FenceCommand() const;
  Status Fence(const Deployed& d);
  Status LogIfFenced(Status s, const Deployed& d);
  Status StartWorker(const Deployed& d);
  // Stops the worker and deletes its files on the host; `with_workflow` (Remove): also its
  // durable state (WorkflowStateSuffixes) and the workflow's directory once empty.
  Status StopWorker(const Deployed& d, bool with_workflow);
  // Of the workers whose supervisor the poller found dead, those due for a start now (their
  // back-off elapsed); schedules the others.
  std::vector<Deployed> DueSupervisorRestarts(const std::vector<Deployed>& dead,
                                              std::chrono::steady_clock::time_point now) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `mode`: of the remote file (configs: 600, they carry the worker's TLS key; written under umask 077).
  Status Upload(const SshTarget& t, const std::string& local, const std::string& remote, const char* mode = "755");
  std::string NodeDir(const Deployed& d) const;
  void Record(const std::string& workflow, const Deployed& d);
  void Forget(const std::string& workflow, const std::string& worker);
  void Adopt() EXCLUDES(mu_);
  // Adoption from the host (see the header comment): each node of `targets` with no worker in
  // `cur` that has not answered yet is asked (one not in `wanted` only once) what it holds for
  // `workflow`; that joins `cur`, deployed_ and the local records. Returns the nodes of `wanted`
  // that could not be asked, with the first error in `error`. Called under apply_mu_.
  std::set<std::string> AdoptFromNodes(const std::string& workflow, const std::map<std::string, SshTarget>& targets,
                                       const std::set<std::string>& wanted, std::map<std::string, Deployed>* cur,
                                       Status* error) EXCLUDES(mu_);
  // The workers of `workflow` that `node` holds (its <workflow>/*.yaml); runs the fencing check first.
  StatusOr<std::vector<WorkerConfig>> AskNode(const std::string& workflow, const std::string& node, const SshTarget& t);
  void Poll() EXCLUDES(mu_);
  std::vector<std::string> SshArgs(const SshTarget& t) const;

  const SshDriverOptions opts_;
  std::string worker_sum_, supervisor_path_, supervisor_sum_;
  Mutex apply_mu_;  // serialises Apply/Remove (they run ssh commands)
  Mutex mu_;
  std::map<std::string, std::map<std::string, SshTarget>> targets_ GUARDED_BY(mu_);  // workflow -> node -> target
  std::map<std::string, std::map<std::string, Status>> target_errors_
      GUARDED_BY(mu_);  // workflow -> node -> why it has no target
  std::map<std::string, std::map<std::string, Deployed>> deployed_ GUARDED_BY(mu_);  // workflow -> worker
  std::set<std::string> installed_ GUARDED_BY(mu_);  // "host:port:dir/node" verified this run
  std::set<std::string> control_ GUARDED_BY(mu_);    // hosts with a control connection
  // workflow -> nodes asked what they hold / that answered (AdoptFromNodes)
  std::map<std::string, std::set<std::string>> asked_ GUARDED_BY(mu_), answered_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  CondVar cv_;
  std::thread poller_;
};

// The target for a node at `address` ([user@]host) with a tier's typed login settings.
SshTarget TargetOf(const SshLogin& login, const std::string& address);

// Quotes `s` for a POSIX shell.
std::string ShellQuote(const std::string& s);

}  // namespace jb
