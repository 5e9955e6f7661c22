#include "worker/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace jb {

StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || wake < 0 || timer < 0) {
    Status s = Status::Unavailable(std::string("epoll/eventfd/timerfd: ") + std::strerror(errno));
    for (int fd : {ep, wake, timer})
      if (fd >= 0) close(fd);
    return s;
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(ep, wake, timer));
  loop->Watch(wake, EPOLLIN, [wake](uint32_t) {
    uint64_t v;
    while (read(wake, &v, sizeof(v)) > 0) {
    }
  });
  loop->Watch(timer, EPOLLIN, [timer](uint32_t) {
    uint64_t v;
    while (read(timer, &v, sizeof(v)) > 0) {
    }
  });
  return loop;
}

EventLoop::~EventLoop() {
  for (int fd : {wake_fd_, timer_fd_, ep_})
    if (fd >= 0) close(fd);
}

void EventLoop::Watch(int fd, uint32_t events, Handler fn) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (handlers_.count(fd) != 0)
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
  else
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  handlers_[fd] = std::move(fn);
}

void EventLoop::SetEvents(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::Unwatch(int fd) {
  epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

void EventLoop::After(TimePoint at, std::function<void()> fn) { timers_.push(Timer{at, timer_seq_++, std::move(fn)}); }

void EventLoop::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

EventLoop::TimePoint EventLoop::RunOnce(int timeout_ms) {
  // Arm the timer for the earliest deadline.
  if (!timers_.empty()) {
    itimerspec its{};
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timers_.top().at.time_since_epoch()).count();
    its.it_value.tv_sec = std::max<int64_t>(0, ns / 1000000000);
    its.it_value.tv_nsec = std::max<int64_t>(1, ns % 1000000000);
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  }
  epoll_event evs[64];
  int n = epoll_wait(ep_, evs, 64, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto h = handlers_.find(evs[i].data.fd);
    if (h == handlers_.end()) continue;
    auto fn = h->second;  // the handler may unwatch its own fd
    fn(evs[i].events);
  }
  auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.top().at <= now) {
    auto fn = timers_.top().fn;
    timers_.pop();
    fn();
  }
  return now;
}

}  // namespace jb
