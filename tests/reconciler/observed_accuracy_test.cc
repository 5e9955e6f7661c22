// SummarizeAccuracy (the sinks' scored answers -> ObservedStatus.accuracy) and the SLO rule on it.
#include "reconciler/observed_accuracy.h"

#include <gtest/gtest.h>

#include "api/names.h"

namespace jb {
namespace {

WorkerState Io(const std::string& name, int64_t window_scored, int64_t window_correct, int64_t scored) {
  WorkerState w;
  w.name = name;
  w.ready = true;
  w.metrics = WorkerMetrics{};
  InstanceMetrics sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  sink.window_scored = window_scored;
  sink.window_correct = window_correct;
  sink.scored = scored;
  InstanceMetrics op;  // an operator's figures never count
  op.kind = "operator";
  op.name = "OCR";
  op.window_scored = 1000;
  op.window_correct = 1000;
  w.metrics->instances = {op, sink};
  return w;
}

TEST(SummarizeAccuracy, TheSinksWindowsGiveTheFigureItsWilsonIntervalAndCount) {
  // Two sinks: 100/150 and 82/138 -> 182/288 = 63.19%, Wilson 95% [57.48, 68.56].
  auto a = SummarizeAccuracy({Io("io-edge", 150, 100, 400), Io("io-cloud", 138, 82, 138)}, 63.9, 60);
  ASSERT_TRUE(a.has_value());
  EXPECT_NEAR(a->accuracy, 63.194, 1e-3);
  EXPECT_NEAR(a->low, 57.485, 1e-3);
  EXPECT_NEAR(a->high, 68.557, 1e-3);
  EXPECT_EQ(a->count, 288);
  EXPECT_EQ(a->total, 538);
  EXPECT_DOUBLE_EQ(a->planned, 63.9);
  EXPECT_DOUBLE_EQ(a->floor, 60);
  EXPECT_EQ(FormatObservedAccuracy(*a), "63.2% (95% 57.5-68.6%, n=288)");
}

TEST(SummarizeAccuracy, NothingLabelledMeansNoAccuracy) {
  EXPECT_FALSE(SummarizeAccuracy({Io("io-edge", 0, 0, 0)}, 63.9, 60).has_value());
  WorkerState silent;  // no report yet
  silent.name = "io-edge";
  EXPECT_FALSE(SummarizeAccuracy({silent}, 63.9, 60).has_value());
  EXPECT_FALSE(SummarizeAccuracy({}, 63.9, 60).has_value());
}

TEST(SummarizeAccuracy, AReportIsNotTrustedBlindly) {
  // More correct than scored is capped; negative counts count as nothing.
  auto a = SummarizeAccuracy({Io("io-a", 10, 25, 10), Io("io-b", -5, -3, -1)}, 50, 40);
  ASSERT_TRUE(a.has_value());
  EXPECT_DOUBLE_EQ(a->accuracy, 100);
  EXPECT_EQ(a->count, 10);
  EXPECT_EQ(a->total, 10);
  EXPECT_LE(a->high, 100);
  // A total below the window (a report mid-restart) is raised to the window's count.
  auto b = SummarizeAccuracy({Io("io-a", 50, 25, 20)}, 50, 40);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->total, 50);
}

TEST(AccuracySlo, NoScoredAnswersTakeNoPart) {
  ObservedAccuracy none;
  none.floor = 60;
  auto v = AccuracySlo(none);
  EXPECT_FALSE(v.met.has_value());
  EXPECT_EQ(v.message, "");
}

TEST(AccuracySlo, MissedOnlyWhenTheWholeIntervalLiesBelowTheFloor) {
  // 104/200 = 52.0%, interval 45.1-58.8%: wholly below 60.
  auto below = SummarizeAccuracy({Io("io-edge", 200, 104, 200)}, 63.9, 60);
  ASSERT_TRUE(below.has_value());
  auto v = AccuracySlo(*below);
  ASSERT_TRUE(v.met.has_value());
  EXPECT_FALSE(*v.met);
  EXPECT_EQ(v.reason, "AccuracyBelowFloor");
  EXPECT_EQ(v.message,
            "observed accuracy 52.0% (95% interval 45.1-58.8%, n=200) is below the floor 60.0% (planned 63.9%)");
  // The same figure with a floor of 58 lies inside the interval: not distinguishable, so met.
  below->floor = 58;
  auto inside = AccuracySlo(*below);
  ASSERT_TRUE(inside.met.has_value());
  EXPECT_TRUE(*inside.met);
  EXPECT_EQ(inside.reason, "");
  EXPECT_NE(inside.message.find("not distinguishable from the floor 58.0% yet (planned 63.9%)"), std::string::npos)
      << inside.message;
  // Above the floor.
  below->floor = 40;
  EXPECT_TRUE(*AccuracySlo(*below).met);
  EXPECT_NE(AccuracySlo(*below).message.find("meets the floor 40.0%"), std::string::npos);
}

}  // namespace
}  // namespace jb
