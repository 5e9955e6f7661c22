// The systemd watchdog of jellybeand: WATCHDOG=1 only while the daemon really works, judged at
// every tick (half of WatchdogSec) from
//  - its listener (daemon/health.h: its own GET /healthz answers, descriptors are left), and
//  - the reconciler's liveness: the controller counts the work items its workers take
//    (Controller::Heartbeats) and each tick queues a no-op probe item (Controller::Probe), so an
//    idle daemon's workers still take one item per tick. When the count has not moved for
//    `stall_after` (every worker stuck in a reconcile, or the queue no longer handing out items),
//    the pings stop and systemd restarts the daemon at WatchdogSec.
// `stall_after` must exceed the longest legitimate reconcile (a plan's time limit) plus a tick:
// main.cc uses plan time limit + 2 ticks.
// Thread-safety: Tick() from one thread at a time (the loop's, or a test's); Start/Stop from one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "daemon/health.h"

namespace jb {

struct WatchdogHooks {
  std::function<void(const std::string&)> notify;  // sd_notify ("WATCHDOG=1\nSTATUS=...")
  std::function<HealthSample()> sample;            // the listener's health (probe + descriptors)
  std::function<uint64_t()> heartbeats;            // work items the reconciler's workers took
  std::function<void()> probe;                     // queue a no-op item for the workers
  std::function<std::string()> status;             // STATUS= text while healthy
};

class Watchdog {
 public:
  Watchdog(WatchdogHooks hooks, std::chrono::microseconds interval, std::chrono::nanoseconds stall_after,
           Clock* clock = Clock::Real())
      : hooks_(std::move(hooks)), interval_(interval), stall_after_(stall_after), clock_(clock) {}
  ~Watchdog() { Stop(); }
  // One judgement: notifies WATCHDOG=1 (healthy) or only STATUS= (not), logging changes once.
  // Returns whether it sent WATCHDOG=1.
  bool Tick();
  // Ticks every `interval` in a thread until Stop(); does nothing when `interval` is zero (systemd
  // asked for no watchdog).
  void Start() EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  const WatchdogHooks hooks_;
  const std::chrono::microseconds interval_;
  const std::chrono::nanoseconds stall_after_;
  Clock* const clock_;
  // Tick state (one ticking thread at a time).
  bool started_ = false;
  uint64_t last_beats_ = 0;
  std::chrono::steady_clock::time_point last_progress_{};
  bool was_healthy_ = true;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace jb
