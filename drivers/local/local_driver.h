// LocalDriver: the embedded default driver (DESIGN.md §6). Every worker of a tier with
// `driver: {type: local}` runs as a jellybean-worker child process on this machine.
//
// - Each worker gets its own loopback port, kept for its lifetime, so a restarted worker comes back
//   where its senders look (they re-send what it had not acknowledged).
// - Files per worker under <state>/workers/<workflow>/: <name>.yaml (config), <name>.log (stdout
//   and stderr), <name>.metrics.json (its reports), <name>.pid (pid, port, start time); an io
//   worker whose ingress is not plainHttp also gets its TLS certificate, key and bearer token
//   (drivers/local/ingress_tls.h), which Apply fills into its ingress settings and renews.
// - Spawned with inherited fds closed and in their own session; a supervisor thread restarts a
//   worker that exits, with exponential back-off (RestartBackoff, drivers/worker_process.h).
// - Workers outlive the daemon (so a daemon restart does not interrupt traffic). A new driver
//   re-adopts the workers recorded in the state dir whose process is still the same worker
//   (checked through /proc/<pid>/cmdline); Apply keeps an adopted worker whose config is unchanged,
//   and Remove/Apply stop the ones no longer wanted. StopAll() stops everything (used with
//   --stop-workers-on-exit).
// - A route/epoch change is written to the config and signalled with SIGHUP; a change of the
//   hosted instances restarts the worker.
// Thread-safety: thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/agent/pki.h"
#include "drivers/driver.h"
#include "drivers/worker_process.h"

namespace jb {

struct LocalDriverOptions {
  std::string state_dir;      // workers live under <state_dir>/workers
  std::string worker_binary;  // path of jellybean-worker
  std::string host = "127.0.0.1";
  double metrics_interval_s = 0.5;
  std::chrono::milliseconds supervise_every{100};
  std::chrono::milliseconds stop_grace{2000};
};

class LocalDriver : public Driver {
 public:
  explicit LocalDriver(LocalDriverOptions opts);
  ~LocalDriver() override;

  std::string name() const override { return "local"; }
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(mu_);
  Status Remove(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<std::string> Workflows() override EXCLUDES(mu_);
  // STATE/workers/WORKFLOW/WORKER.log (stdout and stderr of every run of the worker, appended).
  StatusOr<std::string> ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                size_t max_bytes, int64_t* end) override EXCLUDES(mu_);
  std::vector<WorkerConfig> Desired(const std::string& workflow) override EXCLUDES(mu_);
  StatusOr<std::string> Host(const std::string&, const std::string&) override { return opts_.host; }
  // Stops every worker of every workflow (the state files are removed too).
  void StopAll();

 private:
  struct Proc {
    WorkerConfig config;  // as written (addresses filled in)
    int port = 0;
    pid_t pid = -1;
    bool child = false;  // spawned by this driver (reaped with waitpid) vs adopted
    // Reaped by Alive() (from any caller, Observe() included) but its restart not yet scheduled:
    // pid stays set so that Supervise(), the one path that schedules restarts and doubles the
    // back-off, still sees the exit.
    bool exited = false;
    int64_t restarts = 0;
    std::chrono::steady_clock::time_point started{}, restart_at{};
    RestartBackoff backoff;
    std::string last_exit;
  };
  std::string Dir(const std::string& workflow) const;
  std::string File(const std::string& workflow, const std::string& worker, const std::string& ext) const;
  Status Start(const std::string& workflow, Proc& p) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Stop(const std::string& workflow, Proc& p) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status WriteConfig(const std::string& workflow, const Proc& p) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Adopt() EXCLUDES(mu_);
  void Supervise() EXCLUDES(mu_);
  bool Alive(const Proc& p) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills `w`'s ingress TLS files (issuing or renewing them); `*changed` when any was rewritten.
  Status IngressTls(const std::string& workflow, WorkerConfig& w, bool* changed) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LocalDriverOptions opts_;
  Mutex mu_;
  std::map<std::string, std::map<std::string, Proc>> procs_ GUARDED_BY(mu_);  // workflow -> worker -> proc
  bool stopping_ GUARDED_BY(mu_) = false;
  std::unique_ptr<Ca> ca_ GUARDED_BY(mu_);  // the daemon's CA, loaded at the first TLS ingress
  CondVar cv_;
  std::thread supervisor_;
};

}  // namespace jb
