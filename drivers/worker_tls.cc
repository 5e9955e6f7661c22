#include "drivers/worker_tls.h"

#include <ctime>

#include "drivers/local/ingress_tls.h"

namespace jb {

Status WorkerCertificates::Fill(const std::string& workflow, const InfrastructureSpec& infra, WorkerConfig& w) {
  WorkerTls tls;
  for (const auto& t : infra.tiers) {
    tls.tier_modes[t.name] = t.tls;
    if (t.name == w.tier) tls.mode = t.tls;
  }
  MutexLock l(&mu_);
  if (auto s = LoadCa(); !s.ok())
    return Status::Unavailable("the link certificates of " + workflow + ": " + s.message());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  Issued& is = issued_[{workflow, w.name}];
  if (is.cert_pem.empty() || is.epoch != w.epoch || is.expires - now < int64_t{kWorkerRenewBeforeDays} * 86400) {
    auto pair = ca_->IssueUri(WorkerTlsUri(workflow, w.name, w.epoch), kWorkerCertDays);
    if (!pair.ok())
      return Status::Unavailable("the link certificate of worker " + w.name + ": " + pair.status().message());
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

Status WorkerCertificates::LoadCa() {
  if (ca_ != nullptr) return Status::Ok();
  auto ca = Ca::LoadOrCreate(IngressCaDir(state_dir_));
  if (!ca.ok()) return ca.status();
  ca_ = std::move(*ca);
  return Status::Ok();
}

Status WorkerCertificates::FillIngress(const std::string& workflow, const std::string& host, WorkerConfig& w) {
  if (!w.ingress || w.ingress->plain_http) return Status::Ok();
  auto token = EnsureIngressToken(state_dir_, workflow);
  if (!token.ok()) return Status::Unavailable("the ingress of " + workflow + ": " + token.status().message());
  std::vector<std::string> hosts = {host, "127.0.0.1", "localhost"};
  MutexLock l(&mu_);
  if (auto s = LoadCa(); !s.ok()) return Status::Unavailable("the ingress of " + workflow + ": " + s.message());
  Issued& is = ingress_[{workflow, w.name}];
  const int64_t min_left = int64_t{kIngressRenewBeforeDays} * 86400;
  if (is.cert_pem.empty() || !ca_->Covers(is.cert_pem, hosts, min_left)) {
    auto pair = ca_->IssueServer(hosts, kIngressCertDays);
    if (!pair.ok()) return Status::Unavailable("the ingress certificate of " + w.name + ": " + pair.status().message());
    is.cert_pem = pair->cert_pem;
    is.key_pem = pair->key_pem;
  }
  w.ingress->cert_pem = is.cert_pem;
  w.ingress->key_pem = is.key_pem;
  w.ingress->token = *token;
  return Status::Ok();
}

void WorkerCertificates::Forget(const std::string& workflow) {
  MutexLock l(&mu_);
  for (auto* m : {&issued_, &ingress_})
    for (auto it = m->begin(); it != m->end();) it = it->first.first == workflow ? m->erase(it) : std::next(it);
}

}  // namespace jb
