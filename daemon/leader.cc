#include "daemon/leader.h"

#include <spdlog/spdlog.h>

namespace jb {

using Steady = std::chrono::steady_clock;

LeaderElector::LeaderElector(etcd::EtcdClient* client, LeaderOptions options, Callback on_change)
    : client_(client),
      options_(std::move(options)),
      key_(client->options().prefix + "leader"),
      on_change_(std::move(on_change)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  thread_ = std::thread([this] { Loop(); });
  fuse_ = std::thread([this] { Fuse(); });
}

void LeaderElector::Stop() {
  stop_ = true;
  {
    MutexLock lock(&mu_);
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  if (fuse_.joinable()) fuse_.join();
}

void LeaderElector::Abandon() {
  revoke_on_stop_ = false;
  Stop();
}

bool LeaderElector::leading() const {
  MutexLock lock(&mu_);
  return leading_ && Steady::now() < valid_until_;
}

int64_t LeaderElector::term() const {
  MutexLock lock(&mu_);
  return term_;
}

std::string LeaderElector::leader() const {
  MutexLock lock(&mu_);
  return leader_;
}

std::chrono::steady_clock::time_point LeaderElector::renewed_at() const {
  MutexLock lock(&mu_);
  return renewed_at_;
}

std::string LeaderElector::problem() const {
  MutexLock lock(&mu_);
  return problem_;
}

void LeaderElector::SetLeading(bool leading, int64_t term) {
  {
    MutexLock lock(&mu_);
    if (leading_ == leading) return;
    leading_ = leading;
    term_ = term;
  }
  spdlog::warn("leader election: {} {} (term {})", options_.id, leading ? "leads" : "stopped leading", term);
  if (on_change_) on_change_(leading, term);
}

void LeaderElector::TryAcquire() {
  auto seen = client_->Range(key_, "");
  if (seen.ok() && !seen->ranges.empty() && !seen->ranges[0].empty()) {
    MutexLock lock(&mu_);
    leader_ = seen->ranges[0][0].value;
    problem_.clear();
    return;
  }
  // The key is gone (or unreadable): take it with a fresh lease.
  auto granted = seen.ok() ? client_->LeaseGrant(std::max<int64_t>(2, (options_.ttl.count() + 999) / 1000))
                           : StatusOr<int64_t>(seen.status());
  if (!granted.ok()) {
    MutexLock lock(&mu_);
    problem_ = granted.status().message();
    leader_.clear();
    return;
  }
  const auto sent = Steady::now();
  auto r = client_->Txn({{etcd::Compare::Target::kCreate, key_, 0}}, {etcd::Op::Put(key_, options_.id, *granted)},
                        {etcd::Op::Range(key_)});
  if (!r.ok() || !r->succeeded) (void)client_->LeaseRevoke(*granted);
  MutexLock lock(&mu_);
  if (!r.ok()) {
    problem_ = r.status().message();
    leader_.clear();
    return;
  }
  problem_.clear();
  if (r->succeeded) {
    lease_ = *granted;
    leader_ = options_.id;
    renewed_at_ = sent;
    valid_until_ = sent + options_.ttl - options_.margin;
    lock.Unlock();
    SetLeading(true, r->revision);
    return;
  }
  leader_ = r->ranges.empty() || r->ranges[0].empty() ? "" : r->ranges[0][0].value;
}

void LeaderElector::Renew() {
  int64_t lease;
  {
    MutexLock lock(&mu_);
    lease = lease_;
  }
  const auto sent = Steady::now();
  auto ttl = client_->LeaseKeepAlive(lease);
  bool lost = false;
  {
    MutexLock lock(&mu_);
    if (ttl.ok() && *ttl > 0) {
      renewed_at_ = sent;
      valid_until_ = sent + options_.ttl - options_.margin;
      problem_.clear();
    } else if (ttl.ok()) {
      lost = true;  // etcd says the lease is gone
      problem_ = "the leader's lease expired";
    } else {
      problem_ = "cannot renew the leader's lease: " + ttl.status().message();
      lost = Steady::now() >= valid_until_;
    }
    if (lost) {
      lease_ = 0;
      leader_.clear();
    }
  }
  if (lost) SetLeading(false, 0);
}

void LeaderElector::ExpireLocked() {
  lease_ = 0;
  leader_.clear();
  problem_ = "the leader's lease could not be renewed in time";
}

void LeaderElector::Fuse() {
  while (!stop_) {
    {
      MutexLock lock(&mu_);
      const auto now = Steady::now();
      if (!leading_ || now < valid_until_) {
        // Leading: until the lease's end (a renewal moves it: wait again); else poll for leading.
        wake_.WaitUntil(&mu_, leading_ ? valid_until_ : now + options_.renew, [this] { return stop_.load(); });
        continue;
      }
      ExpireLocked();
    }
    SetLeading(false, 0);
  }
}

void LeaderElector::Loop() {
  while (!stop_) {
    bool was_leading;
    {
      MutexLock lock(&mu_);
      was_leading = leading_;
    }
    if (was_leading)
      Renew();
    else
      TryAcquire();
    MutexLock lock(&mu_);
    // A leader wakes in time to stop acting at valid_until_ even when a renewal hangs.
    auto next = Steady::now() + options_.renew;
    if (leading_ && valid_until_ < next) next = valid_until_;
    wake_.WaitUntil(&mu_, next, [this] { return stop_.load(); });
    if (leading_ && Steady::now() >= valid_until_) {
      ExpireLocked();
      lock.Unlock();
      SetLeading(false, 0);
    }
  }
  int64_t lease;
  {
    MutexLock lock(&mu_);
    lease = lease_;
  }
  if (revoke_on_stop_ && lease != 0) (void)client_->LeaseRevoke(lease);
  SetLeading(false, 0);
}

}  // namespace jb
