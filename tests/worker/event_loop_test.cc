#include "worker/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>

namespace jb {
namespace {

using namespace std::chrono_literals;

TEST(EventLoop, DueTimersRunInDeadlineOrderAndTiesInTheOrderTheyWereSet) {
  auto l = EventLoop::Create();
  ASSERT_TRUE(l.ok());
  auto now = std::chrono::steady_clock::now();
  std::string order;
  (*l)->After(now + 2ms, [&] { order += "c"; });
  (*l)->After(now, [&] { order += "a"; });
  (*l)->After(now, [&] { order += "b"; });
  (*l)->After(now + 1h, [&] { order += "never"; });
  auto end = now + 5s;
  while (order.size() < 3 && std::chrono::steady_clock::now() < end) (*l)->RunOnce(10);
  EXPECT_EQ(order, "abc");
  EXPECT_EQ((*l)->timers(), 1u);
}

TEST(EventLoop, AWatchedDescriptorRunsItsHandlerUntilUnwatched) {
  auto l = EventLoop::Create();
  ASSERT_TRUE(l.ok());
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  int calls = 0;
  (*l)->Watch(p[0], EPOLLIN, [&](uint32_t ev) {
    EXPECT_TRUE(ev & EPOLLIN);
    char c;
    ASSERT_EQ(read(p[0], &c, 1), 1);
    ++calls;
    (*l)->Unwatch(p[0]);  // a handler may unwatch its own fd
  });
  ASSERT_EQ(write(p[1], "xy", 2), 2);
  auto end = std::chrono::steady_clock::now() + 5s;
  while (calls == 0 && std::chrono::steady_clock::now() < end) (*l)->RunOnce(10);
  (*l)->RunOnce(0);
  EXPECT_EQ(calls, 1);
  close(p[0]);
  close(p[1]);
}

TEST(EventLoop, WakeFromAnotherThreadEndsAWait) {
  auto l = EventLoop::Create();
  ASSERT_TRUE(l.ok());
  auto start = std::chrono::steady_clock::now();
  std::thread t([&] { (*l)->Wake(); });
  (*l)->RunOnce(60'000);
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

}  // namespace
}  // namespace jb
