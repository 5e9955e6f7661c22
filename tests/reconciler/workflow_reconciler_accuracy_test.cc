// The reconciler with labelled answers at the sink (reconciler/workflow_reconciler_accuracy.cc and
// the accuracy part of UpdateSLOMet): observed accuracy in the status, SLOMet=False
// AccuracyBelowFloor, and the accuracy-drift re-plan with its damping. A fake driver reports the
// sink's scored counts; a FakeClock drives the sustained window (no sleeps).
#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/format.h"
#include "drivers/fake/fake_driver.h"
#include "reconciler/memory_store.h"
#include "reconciler/workflow_reconciler.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

// FakeDriver whose workers report metrics: the worker hosting the sink reports the given scored
// counts, at the planned sink rate (40/s for vqa) over a complete window.
class LabelledSinkDriver : public FakeDriver {
 public:
  void SetSink(int64_t window_scored, int64_t window_correct, int64_t scored) EXCLUDES(sink_mu_) {
    MutexLock l(&sink_mu_);
    sink_.window_scored = window_scored;
    sink_.window_correct = window_correct;
    sink_.scored = scored;
    sink_.correct = window_correct;
  }
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(sink_mu_) {
    auto states = FakeDriver::Observe(workflow);
    const auto desired = Desired(workflow);
    bool placed = false;
    for (auto& w : states) {
      w.metrics = WorkerMetrics{};
      w.metrics->uptime_s = 100;
      bool hosts = false;
      for (const auto& c : desired)
        for (const auto& in : c.instances) hosts |= c.name == w.name && in.kind == "sink";
      if (!hosts || placed) continue;
      placed = true;
      MutexLock l(&sink_mu_);
      w.metrics->instances = {sink_};
    }
    return states;
  }

 private:
  static InstanceMetrics Sink() {
    InstanceMetrics s;
    s.kind = "sink";
    s.name = kSinkName;
    s.rate = 40;
    s.rate_complete = true;
    s.p50_ms = 50;
    s.p99_ms = 90;
    return s;
  }
  Mutex sink_mu_;
  InstanceMetrics sink_ GUARDED_BY(sink_mu_) = Sink();
};

class AccuracyReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_ = testing::LoadInstance("manifests/vqa");  // floor 56; the table tops out at 58.33
    ASSERT_TRUE(store_.Put(in_.inf).ok());
    for (const auto& p : in_.profiles) ASSERT_TRUE(store_.Put(p).ok());
    ASSERT_TRUE(store_.Put(in_.wf).ok());
    opts_.damping.min_interval_s = 0;  // the drift's own damping is under test here
    opts_.clock = &clock_;
  }
  Workflow Get() { return std::get<Workflow>(*store_.Get("Workflow", "vqa")); }
  Condition SLOMet() {
    const Workflow wf = Get();
    const Condition* c = FindCondition(wf.status, "SLOMet");
    EXPECT_NE(c, nullptr);
    return c != nullptr ? *c : Condition{};
  }
  void Reconcile(WorkflowReconciler& r) {
    auto res = r.Reconcile("vqa");
    ASSERT_TRUE(res.error.ok()) << res.error.message();
  }
  // Reconciles every 2 s of the fake clock for `seconds`.
  void RunFor(WorkflowReconciler& r, int seconds) {
    for (int t = 0; t < seconds; t += 2) {
      clock_.Advance(std::chrono::seconds(2));
      Reconcile(r);
    }
  }
  // Reconciles until no rollout is in progress (the fake driver's workers are ready at once).
  void SettleRollout(WorkflowReconciler& r) {
    for (int i = 0; i < 20 && Get().status.rollout; ++i) Reconcile(r);
    ASSERT_FALSE(Get().status.rollout.has_value());
  }
  int Count(const std::string& reason) {
    int n = 0;
    for (const auto& e : events_.List("Workflow", "vqa"))
      if (e.reason == reason) n += e.count;  // repeats of one message are counted, not listed
    return n;
  }
  std::string Message(const std::string& reason) {
    std::string m;
    for (const auto& e : events_.List("Workflow", "vqa"))
      if (e.reason == reason) m = e.message;
    return m;
  }

  MemoryStore store_;
  LabelledSinkDriver driver_;
  EventRecorder events_;
  FakeClock clock_;
  ReconcilerOptions opts_;
  testing::Instance in_;
};

TEST_F(AccuracyReconcilerTest, TheStatusShowsTheObservedAccuracyAndSLOMetJudgesIt) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Reconcile(r);
  ASSERT_TRUE(Get().status.observed.has_value());
  EXPECT_FALSE(Get().status.observed->accuracy.has_value()) << "nothing labelled: no accuracy";
  EXPECT_EQ(SLOMet().status + "/" + SLOMet().reason, "True/Observed");
  EXPECT_EQ(SLOMet().message.find("observed accuracy"), std::string::npos);
  const double planned = Get().status.plan->accuracy;

  driver_.SetSink(5000, 2900, 5000);  // 58.0%, 95% 56.6-59.4: above the floor of 56
  Reconcile(r);
  auto a = Get().status.observed->accuracy;
  ASSERT_TRUE(a.has_value());
  EXPECT_DOUBLE_EQ(a->accuracy, 58);
  EXPECT_NEAR(a->low, 56.626, 1e-3);
  EXPECT_NEAR(a->high, 59.361, 1e-3);
  EXPECT_EQ(a->count, 5000);
  EXPECT_EQ(a->total, 5000);
  EXPECT_DOUBLE_EQ(a->planned, planned);
  EXPECT_DOUBLE_EQ(a->floor, 56);
  EXPECT_EQ(SLOMet().status + "/" + SLOMet().reason, "True/Observed");
  EXPECT_EQ(
      SLOMet().message.rfind("observed accuracy 58.0% (95% interval 56.6-59.4%, n=5000) meets the floor 56.0%", 0), 0u)
      << SLOMet().message;

  driver_.SetSink(5000, 2750, 5000);  // 55.0%, 95% 53.6-56.4: contains the floor
  Reconcile(r);
  EXPECT_EQ(SLOMet().status + "/" + SLOMet().reason, "True/Observed") << SLOMet().message;

  driver_.SetSink(5000, 2700, 5000);  // 54.0%, 95% 52.6-55.4: wholly below
  Reconcile(r);
  EXPECT_EQ(SLOMet().status + "/" + SLOMet().reason, "False/AccuracyBelowFloor");
  EXPECT_EQ(SLOMet().message.rfind("observed accuracy 54.0% (95% interval 52.6-55.4%, n=5000) is below the floor "
                                   "56.0% (planned " +
                                       FormatFixed(planned, 1) + "%); observed 40.00 items/s",
                                   0),
            0u)
      << SLOMet().message;
  EXPECT_EQ(Count("AccuracyBelowFloor"), 1) << "the transition is an event";
}

TEST_F(AccuracyReconcilerTest, ThroughputBelowTargetKeepsItsReasonBesideTheAccuracy) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  driver_.SetSink(5000, 2700, 5000);
  Reconcile(r);
  ASSERT_EQ(SLOMet().reason, "AccuracyBelowFloor");
  // The workflow asks for twice the rate: the throughput is the first reason, the accuracy is in the message.
  auto wf = Get();
  for (auto& s : wf.spec.sources) s.generator_rate = 80;
  ASSERT_TRUE(store_.Put(wf).ok());
  Reconcile(r);
  SettleRollout(r);
  Reconcile(r);
  EXPECT_EQ(SLOMet().status + "/" + SLOMet().reason, "False/ThroughputBelowTarget") << SLOMet().message;
  EXPECT_NE(SLOMet().message.find("is below the floor 56.0%"), std::string::npos) << SLOMet().message;
}

TEST_F(AccuracyReconcilerTest, SustainedDriftReplansToAMoreAccuratePlanAndOnlyThen) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Reconcile(r);  // epoch 1 observed with nothing scored yet
  const Plan first = *Get().status.plan;
  driver_.SetSink(5000, 2700, 5000);  // 54.0%, 95% 52.6-55.4 (the plan's answers only)
  Reconcile(r);                       // the window starts
  RunFor(r, 58);
  EXPECT_EQ(Get().status.plan_epoch, 1) << "58 s below the floor is not yet sustained";
  EXPECT_FALSE(Get().status.accuracy_floor.has_value());
  EXPECT_EQ(Count("AccuracyDrift"), 0);

  RunFor(r, 2);
  const Workflow wf = Get();
  ASSERT_EQ(wf.status.plan_epoch, 2) << "60 s below the floor re-plans";
  const double raised = 56 + (first.accuracy - 55.3779);
  ASSERT_TRUE(wf.status.accuracy_floor.has_value());
  EXPECT_NEAR(*wf.status.accuracy_floor, raised, 1e-3);
  EXPECT_GT(wf.status.plan->accuracy, first.accuracy);
  EXPECT_GE(wf.status.plan->accuracy, raised - 1e-9);
  ASSERT_FALSE(wf.status.history.empty());
  const PlanRevision& rev = wf.status.history.back();
  EXPECT_EQ(rev.trigger, "accuracy");
  EXPECT_DOUBLE_EQ(rev.old_accuracy, first.accuracy);
  EXPECT_DOUBLE_EQ(rev.new_accuracy, wf.status.plan->accuracy);
  EXPECT_EQ(Count("AccuracyDrift"), 1);
  const std::string drift = Message("AccuracyDrift");
  EXPECT_NE(drift.find("observed accuracy 54.0% (95% 52.6-55.4%, n=5000) stayed below the floor 56.0% for 60 s "
                       "(planned " +
                       FormatFixed(first.accuracy, 1) + "%)"),
            std::string::npos)
      << drift;
  EXPECT_NE(drift.find("re-planning at a raised floor of " + FormatFixed(raised, 1) + "%"), std::string::npos) << drift;
  EXPECT_NE(drift.find("profiled accuracy " + FormatFixed(wf.status.plan->accuracy, 2) + "%"), std::string::npos)
      << drift;
  EXPECT_NE(Message("Replanned").find("(trigger: accuracy)"), std::string::npos) << Message("Replanned");
}

TEST_F(AccuracyReconcilerTest, TheOldPlansWindowDoesNotReplanAgainAndAPlanThatCannotBeFoundIsSaid) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Reconcile(r);
  driver_.SetSink(5000, 2700, 5000);
  Reconcile(r);
  RunFor(r, 60);
  ASSERT_EQ(Get().status.plan_epoch, 2);
  SettleRollout(r);
  const double floor = *Get().status.accuracy_floor;
  // The sink's window still holds the old plan's answers: 5 minutes of it re-plan nothing.
  RunFor(r, 300);
  EXPECT_EQ(Get().status.plan_epoch, 2);
  EXPECT_EQ(Count("AccuracyDrift"), 1);
  EXPECT_NE(SLOMet().message.find("(the window may still hold answers of an earlier plan)"), std::string::npos)
      << SLOMet().message;
  EXPECT_EQ(Count("AccuracyDriftNoPlan"), 0);
  // A full window of the new plan's answers, still 54%: the floor would have to rise above what any
  // plan reaches (58.33), so the plan keeps serving and the reconciler says so.
  driver_.SetSink(5000, 2700, 10000);
  Reconcile(r);
  RunFor(r, 58);
  EXPECT_EQ(Count("AccuracyDriftNoPlan"), 0);
  RunFor(r, 2);
  EXPECT_EQ(Count("AccuracyDriftNoPlan"), 1);
  EXPECT_EQ(SLOMet().message.find("may still hold"), std::string::npos) << "a full window of epoch 2's answers";
  EXPECT_NE(Message("AccuracyDriftNoPlan").find("no plan reaches a profiled accuracy of"), std::string::npos)
      << Message("AccuracyDriftNoPlan");
  EXPECT_NE(Message("AccuracyDriftNoPlan").find("the plan of epoch 2 keeps serving"), std::string::npos);
  EXPECT_EQ(Get().status.plan_epoch, 2);
  EXPECT_DOUBLE_EQ(*Get().status.accuracy_floor, floor) << "not raised to what no plan reaches";
  EXPECT_EQ(SLOMet().reason, "AccuracyBelowFloor");
  EXPECT_NE(SLOMet().message.find("no plan reaches a profiled accuracy of"), std::string::npos) << SLOMet().message;
  // Damped: the next attempt needs another sustained window, which starts at the next observation.
  RunFor(r, 60);
  EXPECT_EQ(Count("AccuracyDriftNoPlan"), 1);
  RunFor(r, 2);
  EXPECT_EQ(Count("AccuracyDriftNoPlan"), 2);
  // Labels that meet the floor again clear the note; the raised floor stays (no flapping back).
  driver_.SetSink(5000, 2900, 15000);
  Reconcile(r);
  EXPECT_EQ(SLOMet().reason, "Observed");
  EXPECT_EQ(SLOMet().message.find("no plan reaches"), std::string::npos);
  RunFor(r, 120);
  EXPECT_EQ(Get().status.plan_epoch, 2);
  EXPECT_DOUBLE_EQ(*Get().status.accuracy_floor, floor);
}

TEST_F(AccuracyReconcilerTest, ANewSpecClearsTheRaisedFloor) {
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Reconcile(r);
  driver_.SetSink(5000, 2700, 5000);
  Reconcile(r);
  RunFor(r, 60);
  ASSERT_TRUE(Get().status.accuracy_floor.has_value());
  SettleRollout(r);
  auto wf = Get();
  wf.spec.slo.min_accuracy = 55;
  ASSERT_TRUE(store_.Put(wf).ok());
  driver_.SetSink(0, 0, 0);
  Reconcile(r);
  EXPECT_FALSE(Get().status.accuracy_floor.has_value());
  EXPECT_EQ(Count("AccuracyFloorCleared"), 1);
  EXPECT_EQ(Get().status.history.back().trigger, "Workflow");
}

TEST_F(AccuracyReconcilerTest, DisabledReportsButNeverReplans) {
  opts_.accuracy_drift.enabled = false;
  WorkflowReconciler r(&store_, &driver_, opts_, &events_);
  Reconcile(r);
  Reconcile(r);
  driver_.SetSink(5000, 2700, 5000);
  RunFor(r, 300);
  EXPECT_EQ(Get().status.plan_epoch, 1);
  EXPECT_EQ(SLOMet().reason, "AccuracyBelowFloor");
  EXPECT_EQ(Count("AccuracyDrift"), 0);
}

}  // namespace
}  // namespace jb
