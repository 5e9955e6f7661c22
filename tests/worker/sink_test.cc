// The sink's contract (worker.h guarantee 1): each request identity is delivered at most once,
// across a restart of the sink too.
#include "worker/sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace jb {
namespace {

std::string TempDir() {
  auto d = std::filesystem::temp_directory_path() / ("jb-sink-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

TEST(Sink, ARequestIsDeliveredOnceAndARepeatIsNot) {
  Sink s;
  EXPECT_TRUE(s.Deliver("cam", 1, 0));
  EXPECT_TRUE(s.Deliver("cam", 3, 0));
  EXPECT_FALSE(s.Deliver("cam", 1, 0));
  EXPECT_TRUE(s.Deliver("mic", 1, 0)) << "identities are per source";
  EXPECT_TRUE(s.Deliver("cam", 2, 0)) << "a new seq below one delivered is not a repeat";
  EXPECT_FALSE(s.has_record());
  EXPECT_TRUE(s.Flush().ok());
}

TEST(Sink, ARestartedSinkDoesNotDeliverWhatItsRecordHoldsAgain) {
  std::string dir = TempDir();
  std::string path = dir + "/w.delivered";
  int64_t skipped = 0;
  {
    auto s = Sink::Open(path, &skipped);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_TRUE((*s)->Deliver("cam", 1, 5));
    EXPECT_TRUE((*s)->Deliver("cam", 2, 6));
    ASSERT_TRUE((*s)->Flush().ok());
  }
  auto s = Sink::Open(path, &skipped);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(skipped, 0);
  EXPECT_FALSE((*s)->Deliver("cam", 1, 5));
  EXPECT_FALSE((*s)->Deliver("cam", 2, 6));
  EXPECT_TRUE((*s)->Deliver("cam", 3, 7));
  std::filesystem::remove_all(dir);
}

TEST(Sink, RatesCountDeliveriesByEmissionTimeInAFiveSecondWindow) {
  Sink s;
  const int64_t t0 = 1'000'000'000'000;
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(s.Deliver("cam", static_cast<uint64_t>(i + 1), t0 + i * 100'000'000LL));  // 10/s for 10 s
  double rate = 0;
  bool complete = true;
  s.Rate(t0 + 3'000'000'000, 0, &rate, &complete);  // the window ends 2 s ago: before the first emission
  EXPECT_FALSE(complete);
  s.Rate(t0 + 12'000'000'000, 0, &rate, &complete);  // window [5 s, 10 s)
  EXPECT_TRUE(complete);
  EXPECT_DOUBLE_EQ(rate, 10);
}

}  // namespace
}  // namespace jb
