// LeaderElector: one leader among the jellybeand replicas sharing an etcd store, elected with an
// etcd lease. The leader holds PREFIX leader (value: its id, attached to its lease, created with a
// txn that succeeds only when the key is absent); the key's create revision is the leader's term
// (it grows with every new leader: a fencing token). Followers poll the key every `renew` and try
// to take it when it is gone, so a killed leader is replaced within ttl + renew (+ etcd's expiry
// tick).
// Stepping down: the leader renews every `renew`; it counts as leading only until (send time of
// the last renewal that etcd confirmed) + ttl - margin, which is before etcd can expire the lease
// (etcd counts the TTL from when it received that renewal, later than it was sent). So a leader
// cut off from etcd (quorum lost, partition) stops acting before another replica can be elected.
// A separate fuse thread calls back "stopped leading" at that instant even when a renewal hangs
// (a partition drops packets: the call lasts up to the request timeout, which may be longer).
// Thread-safety: all methods are thread-safe; the callback runs on the elector's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "store/etcd/etcd_client.h"

namespace jb {

struct LeaderOptions {
  std::string id;                         // this replica's name, shown in /readyz
  std::chrono::milliseconds ttl{5000};    // the lease's TTL (etcd rounds up to whole seconds, min 2 s)
  std::chrono::milliseconds renew{1000};  // renewal and follower poll period (< ttl / 2)
  std::chrono::milliseconds margin{500};  // stop acting this long before the lease could expire
};

class LeaderElector {
 public:
  // (leading, term): called when this replica starts or stops leading.
  using Callback = std::function<void(bool leading, int64_t term)>;
  LeaderElector(etcd::EtcdClient* client, LeaderOptions options, Callback on_change);
  ~LeaderElector();  // Stop()
  void Start();
  // Stops electing; a leader revokes its lease first (the next leader takes over at once).
  void Stop();
  // Stops without revoking (tests: a leader that vanished).
  void Abandon();

  bool leading() const EXCLUDES(mu_);
  int64_t term() const EXCLUDES(mu_);
  // The current leader's id as last seen ("" = none known), and why not when unknown.
  std::string leader() const EXCLUDES(mu_);
  std::string problem() const EXCLUDES(mu_);
  // When the last renewal etcd confirmed was sent (the lease cannot expire before it + ttl).
  std::chrono::steady_clock::time_point renewed_at() const EXCLUDES(mu_);

 private:
  void Loop();
  // One step as a follower: read the key, take it when absent. Returns the next wait.
  void TryAcquire() EXCLUDES(mu_);
  void Renew() EXCLUDES(mu_);
  // The fuse thread: steps down at valid_until_ unless a renewal moved it.
  void Fuse() EXCLUDES(mu_);
  // Forgets the lease after it could not be renewed in time (the caller then calls SetLeading).
  void ExpireLocked() REQUIRES(mu_);
  void SetLeading(bool leading, int64_t term) EXCLUDES(mu_);

  etcd::EtcdClient* const client_;
  const LeaderOptions options_;
  const std::string key_;
  const Callback on_change_;
  std::atomic<bool> stop_{false}, revoke_on_stop_{true};
  std::thread thread_, fuse_;
  mutable Mutex mu_;
  CondVar wake_;
  bool leading_ GUARDED_BY(mu_) = false;
  int64_t term_ GUARDED_BY(mu_) = 0;
  int64_t lease_ GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point valid_until_ GUARDED_BY(mu_), renewed_at_ GUARDED_BY(mu_);
  std::string leader_ GUARDED_BY(mu_), problem_ GUARDED_BY(mu_);
};

}  // namespace jb
