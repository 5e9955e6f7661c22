// The helpers shared by the worker-running drivers: listen ports, reloads in place, the restart
// back-off (a pure function of start and exit times) and the durable files that go only with the
// workflow.
#include "drivers/worker_process.h"

#include <gtest/gtest.h>

#include <chrono>

namespace jb {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

TEST(ListenPortTest, ReadsThePortAfterTheLastColon) {
  EXPECT_EQ(ListenPort("127.0.0.1:17100"), 17100);
  EXPECT_EQ(ListenPort("[::1]:80"), 80);
  EXPECT_EQ(ListenPort("host"), 0);
}

TEST(ReloadsInPlaceTest, NewRoutesReloadButANewListenAddressRestarts) {
  WorkerConfig a;
  a.workflow = "wf";
  a.name = "n1";
  a.listen = "127.0.0.1:1000";
  WorkerConfig b = a;
  b.epoch = 2;
  b.routes = {{"op", 0, 1, "n2", "127.0.0.1:2000", ""}};
  EXPECT_TRUE(ReloadsInPlace(a, b));
  b.listen = "127.0.0.1:1001";
  EXPECT_FALSE(ReloadsInPlace(a, b));
}

TEST(RestartBackoffTest, DoublesFromAFifthOfASecondToTenSeconds) {
  RestartBackoff b;
  TimePoint t0{};
  std::vector<double> delays;
  for (int i = 0; i < 8; ++i) {
    TimePoint now = t0 + std::chrono::seconds(i);  // each run lasted under a second
    delays.push_back(std::chrono::duration<double>(b.OnExit(now - 500ms, now) - now).count());
  }
  EXPECT_EQ(delays, (std::vector<double>{0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10, 10}));
}

TEST(RestartBackoffTest, AWorkerThatStayedUpThirtySecondsStartsOverAtTheInitialDelay) {
  RestartBackoff b;
  TimePoint now{};
  for (int i = 0; i < 5; ++i) now = b.OnExit(now, now);
  EXPECT_DOUBLE_EQ(b.next_delay_s(), 6.4);
  TimePoint later = now + 31s;
  EXPECT_EQ(b.OnExit(now, later), later + 200ms);
  EXPECT_DOUBLE_EQ(b.next_delay_s(), 0.4);
}

TEST(WorkflowStateSuffixesTest, AreTheSourceReservationAndTheSinkRecord) {
  EXPECT_EQ(WorkflowStateSuffixes(), (std::vector<std::string>{".seq", ".delivered"}));
}

}  // namespace
}  // namespace jb
