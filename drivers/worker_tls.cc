#include "drivers/worker_tls.h"

#include <ctime>

namespace jb {

Status WorkerCertificates::Fill(const std::string& workflow, const InfrastructureSpec& infra, WorkerConfig& w) {
  WorkerTls tls;
  for (const auto& t : infra.tiers) {
    tls.tier_modes[t.name] = t.tls;
    if (t.name == w.tier) tls.mode = t.tls;
  }
  MutexLock l(&mu_);
  if (ca_ == nullptr) {
    auto ca = Ca::LoadOrCreate(ca_dir_);
    if (!ca.ok()) return Status::Unavailable("the link certificates of " + workflow + ": " + ca.status().message());
    ca_ = std::move(*ca);
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  Issued& is = issued_[{workflow, w.name}];
  if (is.cert_pem.empty() || is.epoch != w.epoch || is.expires - now < int64_t{kWorkerRenewBeforeDays} * 86400) {
    auto pair = ca_->IssueUri(WorkerTlsUri(workflow, w.name, w.epoch), kWorkerCertDays);
    if (!pair.ok()) return Status::Unavailable("the link certificate of worker " + w.name + ": " + pair.status().message());
    is.epoch = w.epoch;
    is.expires = now + int64_t{kWorkerCertDays} * 86400;
    is.cert_pem = pair->cert_pem;
    is.key_pem = pair->key_pem;
  }
  tls.cert_pem = is.cert_pem;
  tls.key_pem = is.key_pem;
  tls.ca_pem = ca_->cert_pem();
  w.tls = std::move(tls);
  return Status::Ok();
}

void WorkerCertificates::Forget(const std::string& workflow) {
  MutexLock l(&mu_);
  for (auto it = issued_.begin(); it != issued_.end();)
    it = it->first.first == workflow ? issued_.erase(it) : std::next(it);
}

}  // namespace jb
