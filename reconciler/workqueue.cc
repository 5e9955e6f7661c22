#include "reconciler/workqueue.h"

#include <algorithm>
#include <cmath>

namespace jb {

WorkQueue::WorkQueue(WorkQueueOptions opts)
    : opts_(opts), tokens_(opts.burst), last_refill_(Clock::now()), next_free_(Clock::now()) {}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutdown_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // re-queued by Done()
  queue_.push_back(key);
  cv_.Signal();
}

void WorkQueue::Add(const std::string& key) {
  MutexLock lock(&mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  MutexLock lock(&mu_);
  if (shutdown_) return;
  if (delay.count() <= 0) {
    AddLocked(key);
    return;
  }
  delayed_.emplace(Clock::now() + delay, key);
  cv_.SignalAll();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    MutexLock lock(&mu_);
    int n = failures_[key]++;
    double ms = static_cast<double>(opts_.base_delay.count()) * std::pow(2.0, std::min(n, 30));
    delay = std::chrono::milliseconds(static_cast<int64_t>(std::min(ms, static_cast<double>(opts_.max_delay.count()))));
    // Overall token bucket: when empty, the next token arrives 1/qps after the previous one.
    auto now = Clock::now();
    tokens_ =
        std::min<double>(opts_.burst, tokens_ + std::chrono::duration<double>(now - last_refill_).count() * opts_.qps);
    last_refill_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
    } else {
      next_free_ = std::max(next_free_, now) +
                   std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opts_.qps));
      delay = std::max(delay, std::chrono::duration_cast<std::chrono::milliseconds>(next_free_ - now));
    }
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  MutexLock lock(&mu_);
  failures_.erase(key);
}

int WorkQueue::Failures(const std::string& key) const {
  MutexLock lock(&mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked() {
  auto now = Clock::now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    AddLocked(key);
  }
}

std::optional<std::string> WorkQueue::Get() {
  MutexLock lock(&mu_);
  while (true) {
    PromoteDueLocked();
    if (!queue_.empty()) break;
    if (shutdown_) return std::nullopt;
    if (delayed_.empty()) {
      cv_.Wait(&mu_);
    } else {
      // A copy: another worker may erase the node while this one waits without the lock.
      const Clock::time_point when = delayed_.begin()->first;
      cv_.WaitUntil(&mu_, when);
    }
  }
  std::string key = queue_.front();
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  MutexLock lock(&mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.Signal();
  }
}

void WorkQueue::ShutDown() {
  MutexLock lock(&mu_);
  shutdown_ = true;
  cv_.SignalAll();
}

size_t WorkQueue::Len() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace jb
