#include "base/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/rfc3339.h"

namespace jb {
namespace {

using std::chrono::seconds;

TEST(FakeClock, StartsAtTheDocumentedInstant) {
  FakeClock c;
  EXPECT_EQ(FormatRfc3339(std::chrono::system_clock::to_time_t(c.WallNow())), "2026-01-01T00:00:00Z");
  EXPECT_EQ(c.Now().time_since_epoch(), seconds(1000));
}

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock c;
  const auto t0 = c.Now();
  const auto w0 = c.WallNow();
  EXPECT_EQ(c.Now(), t0);
  c.Advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(c.Now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.WallNow() - w0, std::chrono::milliseconds(1500));
}

TEST(FakeClock, NegativeAdvanceIsIgnored) {
  FakeClock c;
  const auto t0 = c.Now();
  c.Advance(seconds(-5));
  EXPECT_EQ(c.Now(), t0);
}

TEST(FakeClock, AdvancesFromManyThreadsAddUp) {
  FakeClock c;
  const auto t0 = c.Now();
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) c.Advance(std::chrono::nanoseconds(1));
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.Now() - t0, std::chrono::nanoseconds(4000));
}

TEST(RealClock, IsMonotonicAndNearTheSystemClock) {
  Clock* c = Clock::Real();
  const auto a = c->Now();
  const auto b = c->Now();
  EXPECT_LE(a, b);
  const auto drift = c->WallNow() - std::chrono::system_clock::now();
  EXPECT_LT(std::chrono::abs(drift), seconds(5));
}

}  // namespace
}  // namespace jb
