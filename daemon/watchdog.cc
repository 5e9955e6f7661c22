#include "daemon/watchdog.h"

#include <spdlog/spdlog.h>

namespace jb {

bool Watchdog::Tick() {
  const auto now = clock_->Now();
  const uint64_t beats = hooks_.heartbeats();
  if (!started_ || beats != last_beats_) {
    started_ = true;
    last_beats_ = beats;
    last_progress_ = now;
  }
  hooks_.probe();  // the idle tick: taken by a worker before the next judgement unless all are stuck
  HealthVerdict verdict = JudgeHealth(hooks_.sample());
  const auto quiet = now - last_progress_;
  if (verdict.healthy && quiet > stall_after_) {
    verdict.healthy = false;
    verdict.reason = "the reconciler has made no progress for " +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(quiet).count()) +
                     " s (its workers took no work item, not even the watchdog's probe)";
  }
  if (verdict.healthy) {
    if (!was_healthy_) spdlog::info("watchdog: healthy again");
    hooks_.notify("WATCHDOG=1\nSTATUS=" + hooks_.status());
  } else {
    if (was_healthy_) spdlog::error("watchdog: unhealthy, not notifying systemd: {}", verdict.reason);
    hooks_.notify("STATUS=unhealthy: " + verdict.reason);
  }
  was_healthy_ = verdict.healthy;
  return verdict.healthy;
}

void Watchdog::Start() {
  if (interval_.count() <= 0) return;
  thread_ = std::thread([this] { Loop(); });
}

void Watchdog::Loop() {
  MutexLock lock(&mu_);
  while (!stop_) {
    lock.Unlock();
    Tick();
    lock.Lock();
    if (stop_) break;
    cv_.WaitFor(&mu_, interval_);
  }
}

void Watchdog::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

}  // namespace jb
