// CloudDriver: workers on cloud VMs created and deleted through provider hooks
// (drivers/cloud/hooks.h; DESIGN.md §6).
//
// - A node on a `cloud` tier is a pool. The first time the dispatcher asks for the host of a pool
//   a workflow uses, the driver finds this daemon's VM for (workflow, pool) in `list` (by its
//   owner/workflow/pool labels) or runs `create`; the pool's worker runs on that VM (one VM per
//   used pool; a pool's instance count runs as the worker's parallel executors). Until the VM is
//   running and answers ssh, Host is Unavailable with the reason (the reconciler retries).
// - Bootstrap is the ssh path: an inner SshDriver (state under <state>/cloud/) installs the worker
//   on the VM, supervises and observes it. Tier settings for it: sshPort, user, identityFile,
//   knownHosts, remoteDir, connectTimeoutSeconds, besides the hook settings.
// - Never leaks a VM: when an Apply changes the pools in use, on Remove, and every
//   `reconcile_every`, `list` is compared
//   with what the deployed workers use (PlanVms); our VMs no worker uses are deleted, including
//   ones created before a daemon crash that no record mentions. VMs whose creation is in progress
//   (Host called, Apply not yet) are kept for `pending_grace`. Hook settings are kept in
//   <state>/cloud/providers/<workflow>.settings so a restarted daemon can reconcile before any apply.
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/cloud/hooks.h"
#include "drivers/driver.h"
#include "drivers/ssh/ssh_driver.h"

namespace jb {

struct CloudDriverOptions {
  std::string state_dir;
  std::string worker_binary;
  std::string owner;  // value of the owner label (default "jellybeand@<hostname>")
  std::chrono::milliseconds reconcile_every{10000};
  std::chrono::milliseconds poll_every{500};
  std::chrono::seconds pending_grace{300};
  std::chrono::seconds boot_wait{20};  // how long Host waits for a new VM to answer ssh
  double metrics_interval_s = 0.5;
  TermSource term;  // fencing (drivers/fencing.h): JB_TERM of the hooks, the ssh supervisors' term
};

class CloudDriver : public Driver {
 public:
  explicit CloudDriver(CloudDriverOptions opts);
  ~CloudDriver() override;

  std::string name() const override { return "cloud"; }
  void UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) override EXCLUDES(mu_);
  StatusOr<std::string> Host(const std::string& workflow, const std::string& node) override EXCLUDES(mu_);
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override { return ssh_->Observe(workflow); }
  std::vector<WorkerConfig> Desired(const std::string& workflow) override { return ssh_->Desired(workflow); }
  // The VM's worker log, read over the bootstrap ssh path (the provider hooks have no log call).
  StatusOr<std::string> ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                size_t max_bytes, int64_t* end) override {
    return ssh_->ReadLog(workflow, worker, offset, max_bytes, end);
  }
  Status Remove(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<std::string> Workflows() override;

  // One pass of the leak check over every provider known; returns the first hook error.
  Status ReconcileVms() EXCLUDES(mu_);

 private:
  struct Pool {
    std::string tier;
    std::map<std::string, std::string> settings;  // the tier's driver settings
  };
  StatusOr<SshTarget> TargetFor(const Pool& pool, const std::string& address) const;
  Status ReconcileWorkflow(const std::string& workflow, const std::map<std::string, Pool>& pools) EXCLUDES(mu_);
  void Loop() EXCLUDES(mu_);
  std::string SettingsFile(const std::string& workflow) const;

  CloudDriverOptions opts_;
  std::unique_ptr<SshDriver> ssh_;
  Mutex mu_;
  std::map<std::string, std::map<std::string, Pool>> pools_ GUARDED_BY(mu_);  // workflow -> pool node -> tier settings
  std::map<std::string, std::map<std::string, Vm>> vms_ GUARDED_BY(mu_);      // workflow -> pool -> our VM
  std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point> pending_ GUARDED_BY(mu_);
  std::set<std::string> reachable_ GUARDED_BY(mu_);                   // VM ids that answered ssh
  std::map<std::string, std::string> settings_text_ GUARDED_BY(mu_);  // workflow -> providers file as written
  std::map<std::string, std::set<std::string>> reconciled_pools_
      GUARDED_BY(mu_);  // workflow -> pools at the last leak check
  bool stopping_ GUARDED_BY(mu_) = false;
  CondVar cv_;
  std::thread loop_;
};

}  // namespace jb
