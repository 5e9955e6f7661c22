// The accuracy-drift trigger (reconciler/accuracy_drift.h): the raise rule, the sustained window on
// the new plan's own answers, and the plan it asks for, without a reconciler.
#include "reconciler/accuracy_drift.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "reconciler/memory_store.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

// count answers in the window, `percent` of them correct, `total` scored ever; floor 56, planned 56.59.
ObservedAccuracy Acc(double percent, double low, double high, int64_t count, int64_t total) {
  return ObservedAccuracy{percent, low, high, count, total, 56.59, 56};
}
const ObservedAccuracy kBelow = Acc(54.0, 52.6, 55.4, 5000, 5000);   // 2700/5000: wholly below 56
const ObservedAccuracy kInside = Acc(55.0, 53.6, 56.4, 5000, 5000);  // 2750/5000: contains 56

double Seconds(const FakeClock& c) { return std::chrono::duration<double>(c.Now().time_since_epoch()).count(); }

TEST(RaisedFloor, TheFloorPlusWhatTheProfileOverstatesAtLeast) {
  // planned 56.59, observed high 55.38: the profile overstates by >= 1.21 points.
  EXPECT_NEAR(RaisedFloor(56, std::nullopt, 56.59, 55.38), 57.21, 1e-9);
  // Always above the planned accuracy when the interval lies below the floor.
  EXPECT_GT(RaisedFloor(60, std::nullopt, 63.9, 58.8), 63.9);
  // Never below a floor raised before, never above 100.
  EXPECT_DOUBLE_EQ(RaisedFloor(56, 58.0, 56.59, 55.38), 58.0);
  EXPECT_DOUBLE_EQ(RaisedFloor(90, std::nullopt, 99, 20), 100);
}

TEST(AccuracyDriftTrigger, FiresOnlyAfterTheSustainedWindowAndThenRestarts) {
  FakeClock clock;
  AccuracyDriftTrigger t(AccuracyDriftOptions{true, 60});
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, std::nullopt));  // epoch 1 begins with nothing scored
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, kBelow));
  EXPECT_TRUE(t.fresh());
  for (int i = 0; i < 29; ++i) {  // 58 s below the floor: not yet
    clock.Advance(std::chrono::seconds(2));
    EXPECT_FALSE(t.Observe(Seconds(clock), 1, kBelow)) << "after " << 2 * (i + 1) << " s";
  }
  clock.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(t.Observe(Seconds(clock), 1, kBelow)) << "60 s below the floor";
  // The window restarts: another 60 s are needed.
  clock.Advance(std::chrono::seconds(2));
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, kBelow));
  clock.Advance(std::chrono::seconds(59));
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, kBelow));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(t.Observe(Seconds(clock), 1, kBelow));
}

TEST(AccuracyDriftTrigger, AnIntervalThatReachesTheFloorOrNoLabelsRestartTheWindow) {
  FakeClock clock;
  AccuracyDriftTrigger t(AccuracyDriftOptions{true, 60});
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, std::nullopt));
  for (int i = 0; i < 40; ++i) {  // 200 s alternating below and touching the floor: never fires
    ASSERT_FALSE(t.Observe(Seconds(clock), 1, i % 10 == 9 ? kInside : kBelow)) << i;
    clock.Advance(std::chrono::seconds(5));
  }
  t.note = "; no plan";
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, std::nullopt));
  EXPECT_EQ(t.note, "") << "an observation not below the floor clears the note";
  clock.Advance(std::chrono::seconds(59));
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, kBelow));
  clock.Advance(std::chrono::seconds(59));
  EXPECT_FALSE(t.Observe(Seconds(clock), 1, kBelow));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(t.Observe(Seconds(clock), 1, kBelow));
}

TEST(AccuracyDriftTrigger, ANewEpochIsJudgedOnlyOnItsOwnAnswers) {
  FakeClock clock;
  AccuracyDriftTrigger t(AccuracyDriftOptions{true, 60});
  // Epoch 2 starts while the sink's window (1000) still holds epoch 1's answers (total 5000).
  ObservedAccuracy a = Acc(54.0, 50.9, 57.0, 1000, 5000);
  a.high = 55.9;  // below the floor all along
  EXPECT_FALSE(t.Observe(Seconds(clock), 2, a));
  EXPECT_FALSE(t.fresh());
  for (int i = 0; i < 100; ++i) {  // 999 more answers over 500 s: the window is not all epoch 2's yet
    clock.Advance(std::chrono::seconds(5));
    a.total = 5000 + std::min<int64_t>(999, 10 * (i + 1));
    ASSERT_FALSE(t.Observe(Seconds(clock), 2, a)) << i;
  }
  a.total = 6000;  // a full window of epoch 2's answers
  EXPECT_FALSE(t.Observe(Seconds(clock), 2, a));
  EXPECT_TRUE(t.fresh());
  clock.Advance(std::chrono::seconds(60));
  EXPECT_TRUE(t.Observe(Seconds(clock), 2, a));
}

TEST(AccuracyDriftTrigger, ASinkThatRestartedCountsFromZero) {
  FakeClock clock;
  AccuracyDriftTrigger t(AccuracyDriftOptions{true, 60});
  ObservedAccuracy a = Acc(54.0, 52.6, 55.4, 1000, 9000);
  EXPECT_FALSE(t.Observe(Seconds(clock), 3, a));
  EXPECT_FALSE(t.fresh());
  a.total = 1000;  // restarted: its whole window is new
  clock.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(t.Observe(Seconds(clock), 3, a));
  EXPECT_TRUE(t.fresh());
  clock.Advance(std::chrono::seconds(60));
  EXPECT_TRUE(t.Observe(Seconds(clock), 3, a));
}

TEST(PlanAtFloor, APlanWithTheMarginOrInfeasible) {
  auto in = testing::LoadInstance("manifests/vqa");
  MemoryStore store;
  ASSERT_TRUE(store.Put(in.inf).ok());
  for (const auto& p : in.profiles) ASSERT_TRUE(store.Put(p).ok());
  ASSERT_TRUE(store.Put(in.wf).ok());
  const PlanInputs inputs = GatherInputs(store, in.wf);
  ASSERT_TRUE(inputs.missing.empty());
  planner::SolverOptions so;
  so.time_limit_s = 5;
  auto plan = PlanAtFloor(inputs, WorkflowStatus{}, 57.21, so);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_GE(plan->accuracy, 57.21);
  EXPECT_NE(PlanVariants(*plan).find("SpeechRecognition=wav2vec2-large-960h-lv60-self"), std::string::npos)
      << PlanVariants(*plan);
  auto none = PlanAtFloor(inputs, WorkflowStatus{}, 58.5, so);  // the table tops out at 58.33
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kInfeasible);
}

TEST(PlanVariants, EachOperatorOnceInPlanOrder) {
  Plan p;
  p.placements = {Placement{"OCR", "s2", "n1", "t", 1, 1, 0.5, KeyRange{0, 0.5}},
                  Placement{"ASR", "fast", "n1", "t", 1, 1, 0.5, KeyRange{0, 1}},
                  Placement{"OCR", "s1", "n2", "t", 1, 1, 0.5, KeyRange{0.5, 1}}};
  EXPECT_EQ(PlanVariants(p), "OCR=s1+s2, ASR=fast");
}

}  // namespace
}  // namespace jb
