#include "base/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

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
  while (notified && steady_clock::now() - start < milliseconds(20))
    notified = box.cv().WaitFor(&box.mu(), milliseconds(20));
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

// Whether another thread can take `mu` now (try_lock from the holding thread is undefined).
bool FreeForAnotherThread(Mutex* mu) {
  bool free = false;
  std::thread([&] {
    if (mu->TryLock()) {
      free = true;
      mu->Unlock();
    }
  }).join();
  return free;
}

TEST(MutexLock, UnlockAndLockInsideTheScope) {
  Mutex mu;
  {
    MutexLock l(&mu);
    EXPECT_FALSE(FreeForAnotherThread(&mu));
    l.Unlock();
    EXPECT_TRUE(FreeForAnotherThread(&mu));  // released: another holder can take it
    l.Lock();
    EXPECT_FALSE(FreeForAnotherThread(&mu));
  }
  EXPECT_TRUE(FreeForAnotherThread(&mu));  // the destructor released it
}

// Regression guard: after Unlock() the destructor must not unlock again (undefined behaviour for
// std::mutex; in practice it could release a lock another thread took meanwhile).
// Returns holding `mu`. Exempt from the analysis inside: it cannot tell that the MutexLock no
// longer holds `mu` when it ends.
void UnlockThenRelockThroughTheMutex(Mutex* mu) ACQUIRE(mu) NO_THREAD_SAFETY_ANALYSIS {
  MutexLock l(mu);
  l.Unlock();
  mu->Lock();  // taken again through the mutex, not the MutexLock
}

TEST(MutexLock, ReleasedMutexIsNotUnlockedTwiceByTheDestructor) {
  Mutex mu;
  UnlockThenRelockThroughTheMutex(&mu);
  EXPECT_FALSE(FreeForAnotherThread(&mu)) << "the MutexLock's destructor released a lock it did not hold";
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
