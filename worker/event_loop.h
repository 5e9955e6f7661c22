// EventLoop: the worker's single-threaded epoll loop with one-shot timers. File descriptors are
// watched with a handler each; RunOnce() waits for readiness (or the earliest timer, or Wake()),
// runs the ready handlers, then every timer that is due, in deadline order (ties: the order they
// were set).
//
// Thread-safety: Wake() may be called from any thread; everything else only from the thread that
// runs the loop. A handler may unwatch its own fd or others, and may set timers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace jb {

class EventLoop {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Handler = std::function<void(uint32_t events)>;

  // Creates the epoll, wake and timer descriptors; Unavailable when the kernel refuses them.
  static StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts (or changes) watching `fd` for `events` (EPOLLIN...); `fn` runs with the ready events.
  // The caller keeps owning (and closes) the fd, after Unwatch().
  void Watch(int fd, uint32_t events, Handler fn);
  void SetEvents(int fd, uint32_t events);
  void Unwatch(int fd);
  // Runs `fn` once, from RunOnce(), at or after `at`.
  void After(TimePoint at, std::function<void()> fn);
  size_t timers() const { return timers_.size(); }
  // Makes a blocked RunOnce() return. Any thread.
  void Wake();
  // Waits up to `timeout_ms` (less when a timer is due sooner), runs the ready handlers and then
  // the due timers. Returns the time read after the handlers ran (before the timers).
  TimePoint RunOnce(int timeout_ms);

 private:
  EventLoop(int ep, int wake_fd, int timer_fd) : ep_(ep), wake_fd_(wake_fd), timer_fd_(timer_fd) {}
  struct Timer {
    TimePoint at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  int ep_, wake_fd_, timer_fd_;
  std::unordered_map<int, Handler> handlers_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_seq_ = 0;
};

}  // namespace jb
