// WorkQueue: client-go's rate-limited work queue. A key is queued at most once (adds while queued
// are merged), never handed to two workers at once (adds while processing are re-queued when the
// worker calls Done), per-key exponential back-off for failures (base * 2^failures, capped), and
// an overall token-bucket limit on re-queues.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace jb {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};     // first back-off
  std::chrono::milliseconds max_delay{60000};  // back-off cap
  double qps = 10;                             // overall re-queue rate limit
  int burst = 100;
};

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WorkQueue(WorkQueueOptions opts = {});

  void Add(const std::string& key) EXCLUDES(mu_);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay) EXCLUDES(mu_);
  // Re-queues after the key's back-off (and the overall limit); counts a failure.
  void AddRateLimited(const std::string& key) EXCLUDES(mu_);
  // Clears the key's failure count (call after a successful reconcile).
  void Forget(const std::string& key) EXCLUDES(mu_);
  int Failures(const std::string& key) const EXCLUDES(mu_);

  // Blocks until a key is ready or the queue shuts down (nullopt). The caller must call Done(key).
  std::optional<std::string> Get() EXCLUDES(mu_);
  void Done(const std::string& key) EXCLUDES(mu_);

  void ShutDown() EXCLUDES(mu_);
  size_t Len() const EXCLUDES(mu_);  // keys ready now (the queue-depth metric)

 private:
  void AddLocked(const std::string& key) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PromoteDueLocked() EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WorkQueueOptions opts_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::string> queue_ GUARDED_BY(mu_);
  std::set<std::string> dirty_ GUARDED_BY(mu_);
  std::set<std::string> processing_ GUARDED_BY(mu_);
  std::multimap<Clock::time_point, std::string> delayed_ GUARDED_BY(mu_);
  std::map<std::string, int> failures_ GUARDED_BY(mu_);
  double tokens_ GUARDED_BY(mu_);
  Clock::time_point last_refill_ GUARDED_BY(mu_);
  Clock::time_point next_free_ GUARDED_BY(mu_);
  bool shutdown_ GUARDED_BY(mu_) = false;
};

}  // namespace jb
