#include "base/mutex.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace jb {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class Box {
 public:
  void Put(int v) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    value_ = v;
    cv_.SignalAll();
  }
  // The value once it is at least `want`, or -1 at the deadline.
  int WaitAtLeast(int want, steady_clock::time_point deadline) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    if (!cv_.WaitUntil(&mu_, deadline, [&]() REQUIRES(mu_) { return value_ >= want; })) return -1;
    return value_;
  }
  Mutex& mu() RETURN_CAPABILITY(mu_) { return mu_; }
  CondVar& cv() { return cv_; }

 private:
  Mutex mu_;
  CondVar cv_;
  int value_ GUARDED_BY(mu_) = 0;
};

TEST(CondVar, WaitUntilReturnsOnceThePredicateHolds) {
  Box box;
  std::thread t([&] {
    box.Put(1);
    box.Put(5);
  });
  EXPECT_EQ(box.WaitAtLeast(5, steady_clock::now() + std::chrono::seconds(30)), 5);
  t.join();
}

TEST(CondVar, WaitUntilGivesUpAtTheDeadline) {
  Box box;
  const auto start = steady_clock::now();
  EXPECT_EQ(box.WaitAtLeast(1, start + milliseconds(50)), -1);
  const auto waited = steady_clock::now() - start;
  EXPECT_GE(waited, milliseconds(50));
  EXPECT_LT(waited, std::chrono::seconds(10));  // it did not wait for ever
}

TEST(CondVar, WaitForWithoutPredicateTimesOut) {
  Box box;
  MutexLock l(&box.mu());
  const auto start = steady_clock::now();
  // Nobody signals: false once 20 ms passed (a spurious wake-up would return true early; loop).
  bool notified = true;
  while (notified && steady_clock::now() - start < milliseconds(20)) notified = box.cv().WaitFor(&box.mu(), milliseconds(20));
  EXPECT_GE(steady_clock::now() - start, milliseconds(20));
}

TEST(CondVar, WaitUntilWithoutPredicateIsFalseAfterTheDeadline) {
  Box box;
  MutexLock l(&box.mu());
  const auto deadline = steady_clock::now() + milliseconds(20);
  while (box.cv().WaitUntil(&box.mu(), deadline)) {
  }
  EXPECT_GE(steady_clock::now(), deadline);
}

TEST(MutexLock, UnlockAndLockInsideTheScope) {
  Mutex mu;
  {
    MutexLock l(&mu);
    EXPECT_FALSE(mu.TryLock());
    l.Unlock();
    ASSERT_TRUE(mu.TryLock());  // released: another holder can take it
    mu.Unlock();
    l.Lock();
    EXPECT_FALSE(mu.TryLock());
  }
  ASSERT_TRUE(mu.TryLock());  // the destructor released it
  mu.Unlock();
}

TEST(MutexLock, ReleasedMutexIsNotUnlockedTwiceByTheDestructor) {
  Mutex mu;
  {
    MutexLock l(&mu);
    l.Unlock();
  }  // must not unlock again (undefined behaviour for std::mutex)
  ASSERT_TRUE(mu.TryLock());
  mu.Unlock();
}

TEST(Mutex, SerialisesIncrementsFromManyThreads) {
  Mutex mu;
  long n = 0;
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 10000; ++k) {
        MutexLock l(&mu);
        ++n;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(n, 40000);
}

}  // namespace
}  // namespace jb
