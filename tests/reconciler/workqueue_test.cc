#include "reconciler/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/test_util.h"

namespace jb {
namespace {

TEST(WorkQueue, DeduplicatesQueuedKeys) {
  WorkQueue q;
  q.Add("a");
  q.Add("a");
  q.Add("b");
  EXPECT_EQ(q.Len(), 2u);
  auto k = q.Get();
  EXPECT_EQ(*k, "a");
  q.Done(*k);
  EXPECT_EQ(*q.Get(), "b");
}

TEST(WorkQueue, AKeyIsNeverProcessedTwiceAtOnce) {
  WorkQueue q;
  q.Add("a");
  auto k = q.Get();
  q.Add("a");  // while processing: must wait for Done
  EXPECT_EQ(q.Len(), 0u);
  q.Done(*k);
  EXPECT_EQ(q.Len(), 1u);
}

TEST(WorkQueue, ConcurrentWorkersNeverOverlapOnAKey) {
  WorkQueue q;
  std::atomic<int> in_flight{0}, overlaps{0}, processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      while (auto k = q.Get()) {
        if (in_flight.fetch_add(1) != 0) overlaps++;
        std::this_thread::yield();
        in_flight.fetch_sub(1);
        processed++;
        q.Done(*k);
      }
    });
  for (int i = 0; i < 2000; ++i) q.Add("same-key");
  EXPECT_TRUE(testing::WaitFor([&] { return q.Len() == 0; }, std::chrono::seconds(10)));
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(processed.load(), 1);
}

TEST(WorkQueue, BackOffGrowsExponentiallyAndForgetResets) {
  WorkQueueOptions o;
  o.base_delay = std::chrono::milliseconds(20);
  WorkQueue q(o);
  auto t0 = std::chrono::steady_clock::now();
  q.AddRateLimited("k");  // 20 ms
  auto k = q.Get();
  q.Done(*k);
  auto t1 = std::chrono::steady_clock::now();
  q.AddRateLimited("k");  // 40 ms
  k = q.Get();
  q.Done(*k);
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_GE(t1 - t0, std::chrono::milliseconds(20));
  EXPECT_GE(t2 - t1, std::chrono::milliseconds(40));
  EXPECT_EQ(q.Failures("k"), 2);
  q.Forget("k");
  EXPECT_EQ(q.Failures("k"), 0);
}

TEST(WorkQueue, OverallRateLimitSpacesRequeues) {
  WorkQueueOptions o;
  o.base_delay = std::chrono::milliseconds(0);
  o.qps = 50;
  o.burst = 2;
  WorkQueue q(o);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 7; ++i) q.AddRateLimited("k" + std::to_string(i));
  for (int i = 0; i < 7; ++i) q.Done(*q.Get());
  // 2 from the burst, then 5 at 50/s: at least ~100 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(90));
}

// Regression: Get() waited on a reference to the earliest delayed entry's time, which another worker
// could erase meanwhile (heap-use-after-free seen by ASan with 2 controller workers).
TEST(WorkQueue, WaitingOnDelayedKeysWithSeveralWorkersIsSafe) {
  WorkQueue q;
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      while (auto k = q.Get()) {
        processed++;
        q.Done(*k);
      }
    });
  for (int i = 0; i < 200; ++i) q.AddAfter("k" + std::to_string(i), std::chrono::milliseconds(1 + i % 7));
  EXPECT_TRUE(testing::WaitFor([&] { return processed.load() == 200; }, std::chrono::seconds(10)));
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(processed.load(), 200);
}

TEST(WorkQueue, ShutDownWakesWaiters) {
  WorkQueue q;
  std::thread t([&] { EXPECT_FALSE(q.Get().has_value()); });
  q.ShutDown();
  t.join();
}

}  // namespace
}  // namespace jb
