// Honest status (reconciler/workflow_reconciler_slo.cc and the trigger the history records):
// SLOMet stays Unknown (Measuring) after a re-plan until a whole measurement window lies under the
// new plan epoch. It did not: a planned rate change showed SLOMet=False ThroughputBelowTarget for
// ~7 s (the sink's window still held the old plan's items), and the reverse showed True against
// the wrong plan. A FakeClock drives the window; a fake driver reports the sink's rate.
#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/log.h"
#include "drivers/fake/fake_driver.h"
#include "reconciler/memory_store.h"
#include "reconciler/workflow_reconciler.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

// FakeDriver whose sink worker reports `rate` items/s over a complete window, p99 90 ms (so a
// window under one plan takes 5 + 2 + 0.2 s).
class SinkRateDriver : public FakeDriver {
 public:
  void SetRate(double rate) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    rate_ = rate;
  }
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(mu_) {
    auto states = FakeDriver::Observe(workflow);
    const auto desired = Desired(workflow);
    for (auto& w : states) {
      w.metrics = WorkerMetrics{};
      w.metrics->uptime_s = 100;
      for (const auto& c : desired)
        for (const auto& in : c.instances)
          if (c.name == w.name && in.kind == "sink") {
            InstanceMetrics s;
            s.kind = "sink";
            s.name = kSinkName;
            MutexLock l(&mu_);
            s.rate = rate_;
            s.rate_complete = true;
            s.p50_ms = 50;
            s.p99_ms = 90;
            w.metrics->instances = {s};
          }
    }
    return states;
  }

 private:
  Mutex mu_;
  double rate_ GUARDED_BY(mu_) = 40;
};

class HonestStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_ = testing::LoadInstance("manifests/vqa");  // two sources at 40/s, joined: 40 requests/s at the sink
    ASSERT_TRUE(store_.Put(in_.inf).ok());
    for (const auto& p : in_.profiles) ASSERT_TRUE(store_.Put(p).ok());
    ASSERT_TRUE(store_.Put(in_.wf).ok());
    opts_.damping.min_interval_s = 0;
    opts_.clock = &clock_;
  }
  Workflow Get() { return std::get<Workflow>(*store_.Get("Workflow", "vqa")); }
  std::string SLOMet() {
    const Workflow wf = Get();
    const Condition* c = FindCondition(wf.status, "SLOMet");
    return c == nullptr ? "none" : c->status + "/" + c->reason;
  }
  void Reconcile(WorkflowReconciler& r) {
    auto res = r.Reconcile("vqa");
    ASSERT_TRUE(res.error.ok()) << res.error.message();
  }
  void Settle(WorkflowReconciler& r) {
    for (int i = 0; i < 20 && Get().status.rollout; ++i) Reconcile(r);
    ASSERT_FALSE(Get().status.rollout.has_value());
  }
  void SetRate(double rate) {
    Workflow wf = Get();
    for (auto& s : wf.spec.sources) s.rate = rate;
    ASSERT_TRUE(store_.Put(wf).ok());
  }
  int Count(const std::string& reason) {
    int n = 0;
    for (const auto& e : events_.List("Workflow", "vqa")) n += e.reason == reason ? e.count : 0;
    return n;
  }

  MemoryStore store_;
  SinkRateDriver driver_;
  EventRecorder events_;
  FakeClock clock_;
  ReconcilerOptions opts_;
  testing::Instance in_;
};

TEST_F(HonestStatusTest, APlannedRateChangeIsMeasuredNotAlarmedUntilAWholeWindowUnderTheNewEpoch) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Settle(r);
  Reconcile(r);
  ASSERT_EQ(SLOMet(), "True/Observed") << "the first plan's window is the sink's own";
  ASSERT_EQ(Get().status.plan_epoch, 1);

  SetRate(80);  // the sink still reports 40/s: its window holds the old plan's items
  Reconcile(r);
  Settle(r);
  ASSERT_EQ(Get().status.plan_epoch, 2);
  EXPECT_EQ(SLOMet(), "Unknown/Measuring") << FindCondition(Get().status, "SLOMet")->message;
  EXPECT_NE(FindCondition(Get().status, "SLOMet")->message.find("measuring the plan of epoch 2"), std::string::npos);
  clock_.Advance(std::chrono::seconds(7));  // 7 s < 5 + 2 + 0.2
  Reconcile(r);
  EXPECT_EQ(SLOMet(), "Unknown/Measuring");
  EXPECT_EQ(Count("ThroughputBelowTarget"), 0) << "no false alarm on a re-plan";
  clock_.Advance(std::chrono::milliseconds(300));
  Reconcile(r);
  EXPECT_EQ(SLOMet(), "False/ThroughputBelowTarget") << "a whole window of epoch 2 at 40/s is a real shortfall";
  driver_.SetRate(80);
  Reconcile(r);
  EXPECT_EQ(SLOMet(), "True/Observed");

  // The reverse: back to 40/s while the sink still reports 80/s is not "met" against the old plan.
  SetRate(40);
  Reconcile(r);
  Settle(r);
  ASSERT_EQ(Get().status.plan_epoch, 3);
  EXPECT_EQ(SLOMet(), "Unknown/Measuring");
  clock_.Advance(std::chrono::seconds(8));
  driver_.SetRate(40);
  Reconcile(r);
  EXPECT_EQ(SLOMet(), "True/Observed");
}

TEST_F(HonestStatusTest, AReplanIsLoggedWithItsTriggerAndEpoch) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  log::CaptureForTesting cap;
  Reconcile(r);
  Settle(r);
  SetRate(80);
  Reconcile(r);
  Settle(r);
  EXPECT_TRUE(cap.Has(log::Level::kInfo, {"workflow=vqa", "reason=initial", "adopted plan epoch 1"}));
  EXPECT_TRUE(cap.Has(log::Level::kInfo, {"workflow=vqa epoch=1 reason=Workflow", "re-planning: Workflow changed"}));
  EXPECT_TRUE(cap.Has(log::Level::kInfo, {"epoch=2", "adopted plan epoch 2 (trigger Workflow"}));
  EXPECT_TRUE(cap.Has(log::Level::kInfo, {"epoch=2 reason=Rollout", "rollout to epoch 2 complete"}));
  EXPECT_TRUE(cap.Has(log::Level::kInfo, {"reason=Replanned", "epoch 2 (trigger: Workflow)"}))
      << "events are logged too";
}

}  // namespace
}  // namespace jb

namespace jb {
namespace {

// The history names the input that changed. A rate change was recorded as a ModelProfile change
// when the profiles beside the Workflow were written in the same apply (ChangedInput looked at
// the profiles before the Workflow).
TEST_F(HonestStatusTest, TheHistoryRecordsTheTriggerThatReallyChanged) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Settle(r);
  auto trigger = [&] { return Get().status.history.back().trigger; };
  ASSERT_EQ(trigger(), "initial");
  // A new epoch's history entry names `kind`; a plan kept by the damping says it in its event.
  auto recorded = [&](int64_t before, const std::string& kind) {
    if (*Get().status.plan_epoch > before) return trigger() == kind;
    std::string kept;
    for (const auto& e : events_.List("Workflow", "vqa"))
      if (e.reason == "PlanKept") kept = e.message;
    return kept.find("(trigger: " + kind + ")") != std::string::npos;
  };

  SetRate(80);
  Reconcile(r);
  Settle(r);
  EXPECT_EQ(trigger(), "Workflow");

  int64_t before = *Get().status.plan_epoch;
  Infrastructure inf = std::get<Infrastructure>(*store_.Get("Infrastructure", in_.inf.metadata.name));
  for (auto& n : inf.spec.nodes) n.price_per_hour *= n.tier == "cloud" ? 0.1 : 1;
  ASSERT_TRUE(store_.Put(inf).ok());
  Reconcile(r);
  Settle(r);
  EXPECT_TRUE(recorded(before, "Infrastructure")) << trigger();

  // A profile's figures change (its variants 3x slower): a ModelProfile change.
  before = *Get().status.plan_epoch;
  ModelProfile mp = std::get<ModelProfile>(*store_.Get("ModelProfile", in_.profiles[0].metadata.name));
  for (auto& v : mp.spec.variants)
    for (auto& [hw, l] : v.latency_ms) {
      l.p50 *= 3;
      if (l.p75) *l.p75 *= 3;
      if (l.p90) *l.p90 *= 3;
    }
  ASSERT_TRUE(store_.Put(mp).ok());
  Reconcile(r);
  Settle(r);
  EXPECT_TRUE(recorded(before, "ModelProfile")) << trigger() << " " << [&] {
    std::string all;
    for (const auto& e : events_.List("Workflow", "vqa")) all += e.reason + ": " + e.message.substr(0, 200) + "\n";
    return all;
  }();

  // The rate changes while a profile is re-written in the same apply: the Workflow changed.
  SetRate(40);
  mp = std::get<ModelProfile>(*store_.Get("ModelProfile", in_.profiles[1].metadata.name));
  mp.metadata.labels["touched"] = "yes";  // a new resourceVersion, the same figures
  ASSERT_TRUE(store_.Put(mp).ok());
  Reconcile(r);
  Settle(r);
  EXPECT_EQ(trigger(), "Workflow");
}

}  // namespace
}  // namespace jb
