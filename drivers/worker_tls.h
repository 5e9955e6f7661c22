// The link certificates of workers (issue 21: mutual TLS between workers, worker/tls.h). The
// daemon's CA (<state>/tls/ca.{crt,key}, the one the ingress and the agent channel use) issues
// each worker, per plan epoch, a certificate whose only subjectAltName is the URI
// jellybean://WORKFLOW/WORKER?epoch=N (serverAuth and clientAuth), valid kWorkerCertDays. It goes
// inline into the worker's config (`tls`: certificate, key, CA, the tier's mode and those of the
// other tiers), so every driver delivers it the way it delivers the config (written 0600).
//
// Rotation: a worker gets a new certificate when its plan epoch changes (every deployment or
// re-plan) or when the one it has has less than kWorkerRenewBeforeDays left, so certificates are
// replaced well before they expire; the worker takes the new one on reload, without dropping items.
// The ingress of an io worker on a remote tier (ssh, agent, cloud; issue 16): the same CA issues
// its server certificate (FillIngress) and the workflow's bearer token goes with it, inline in the
// config as well (the local driver writes files instead, drivers/local/ingress_tls.h).
// Thread-safety: thread-safe (one mutex around the issued certificates).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/types.h"
#include "api/worker_config.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/agent/pki.h"

namespace jb {

inline constexpr int kWorkerCertDays = 7;
inline constexpr int kWorkerRenewBeforeDays = 3;

class WorkerCertificates {
 public:
  // `state_dir`: the daemon's; the CA is <state>/tls (created on first use when absent).
  explicit WorkerCertificates(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  // Sets `w.tls` for worker `w` of `workflow` (its name, epoch and tier) under `infra`'s tier
  // settings; the same certificate as last time while the epoch is unchanged and it stays valid
  // long enough. Unavailable when the CA cannot be loaded or signing fails.
  Status Fill(const std::string& workflow, const InfrastructureSpec& infra, WorkerConfig& w) EXCLUDES(mu_);
  // Fills `w.ingress` (a TLS ingress) with a server certificate for `host` (and loopback), its key
  // and the workflow's token, inline; reused while it has kIngressRenewBeforeDays left.
  Status FillIngress(const std::string& workflow, const std::string& host, WorkerConfig& w) EXCLUDES(mu_);
  // Forgets the certificates of `workflow` (removed).
  void Forget(const std::string& workflow) EXCLUDES(mu_);

 private:
  struct Issued {
    int64_t epoch = 0;
    int64_t expires = 0;  // unix seconds
    std::string cert_pem, key_pem;
  };
  Status LoadCa() REQUIRES(mu_);
  std::string state_dir_;
  Mutex mu_;
  std::unique_ptr<Ca> ca_ GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Issued> issued_ GUARDED_BY(mu_);   // (workflow, worker)
  std::map<std::pair<std::string, std::string>, Issued> ingress_ GUARDED_BY(mu_);  // (workflow, worker); epoch unused
};

}  // namespace jb
