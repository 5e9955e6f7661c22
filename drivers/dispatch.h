// TierDispatcher: the daemon's driver when tiers use different drivers (DESIGN.md §6). Each tier
// names its driver type in the Infrastructure; the dispatcher hands each worker to the driver of
// its tier and stitches the data plane together across them:
//
//   1. every worker gets a listen address: the host its driver reports for the worker's node
//      (Driver::Host; remote drivers may create machines there) and a port kept for the worker's
//      lifetime: a free loopback port for `local`, else the lowest free port from the tier's
//      `portBase` setting (default 17100) among the workers on that host;
//   2. every route and drain route gets the address of the worker it names, whichever driver runs it;
//   3. with certificates enabled (UseCertificates), every worker gets its `tls` block
//      (drivers/worker_tls.h: a certificate for its workflow, name and epoch from the daemon's CA)
//      whichever driver runs it, and every driver delivers it inline in the config; so does an io
//      worker's TLS ingress on a non-local tier (its certificate, key and token);
//   4. each driver gets its share (an empty share stops that driver's workers of the workflow).
//
// Workers whose node is empty (the io worker of a tier without a source node) run on the first
// node of their tier. Observe/Desired/Workflows are the union over the drivers; Remove goes to all.
// Thread-safety: thread-safe (one mutex around the per-workflow infrastructure; drivers are
// thread-safe themselves).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"
#include "drivers/worker_tls.h"

namespace jb {

class TierDispatcher : public Driver {
 public:
  // `drivers`: driver type (local, ssh, agent, cloud) -> driver.
  explicit TierDispatcher(std::map<std::string, std::unique_ptr<Driver>> drivers);

  std::string name() const override;
  bool Serves(const std::string& type) const override { return drivers_.count(type) != 0; }
  void UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) override EXCLUDES(mu_);
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override;
  std::vector<WorkerConfig> Desired(const std::string& workflow) override;
  Status Remove(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<std::string> Workflows() override;
  // From the driver whose Desired() holds the worker; kNotFound listing the workflow's workers.
  StatusOr<std::string> ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                size_t max_bytes, int64_t* end) override;

  Driver* Get(const std::string& type) const;
  // Issues link certificates (mutual TLS between workers) and the remote ingress's materials from
  // the daemon's CA (<state_dir>/tls) from now on. Without it workers get no `tls` block and link
  // over plain TCP, and a TLS ingress is left to the local driver (tests of the dispatch alone).
  void UseCertificates(const std::string& state_dir) { certs_ = std::make_unique<WorkerCertificates>(state_dir); }

 private:
  std::map<std::string, std::unique_ptr<Driver>> drivers_;
  Mutex mu_;
  std::map<std::string, InfrastructureSpec> infra_ GUARDED_BY(mu_);
  std::unique_ptr<WorkerCertificates> certs_;  // set before use; thread-safe itself
};

}  // namespace jb
