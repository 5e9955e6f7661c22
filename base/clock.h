// Clock: where the time comes from, so code that waits, expires or stamps can be tested without
// sleeping. RealClock reads the system clocks; FakeClock moves only when a test advances it.
//
//   FakeClock clock;              // starts at an arbitrary fixed instant
//   queue.SetClock(&clock);
//   clock.Advance(std::chrono::seconds(5));
//
// Thread-safety: RealClock is stateless; FakeClock is safe to read and advance from any thread.
#pragma once

#include <atomic>
#include <chrono>

namespace jb {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and intervals.
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  // Wall-clock time, for timestamps shown to users (RFC 3339: base/rfc3339.h).
  virtual std::chrono::system_clock::time_point WallNow() const = 0;

  // The process's real clock.
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point WallNow() const override { return std::chrono::system_clock::now(); }
};

inline Clock* Clock::Real() {
  static RealClock clock;
  return &clock;
}

class FakeClock final : public Clock {
 public:
  // Starts at steady epoch + 1000 s and wall time 2026-01-01T00:00:00Z.
  FakeClock() : offset_ns_(1'000'000'000'000), wall_ns_(1'767'225'600LL * 1'000'000'000LL) {}

  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(offset_ns_.load()));
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(wall_ns_.load())));
  }
  // Moves both clocks forward by d (never backwards: a negative d is ignored).
  template <typename Rep, typename Period>
  void Advance(std::chrono::duration<Rep, Period> d) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (ns <= 0) return;
    offset_ns_ += ns;
    wall_ns_ += ns;
  }

 private:
  std::atomic<long long> offset_ns_;
  std::atomic<long long> wall_ns_;
};

}  // namespace jb
