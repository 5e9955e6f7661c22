#include "reconciler/workflow_reconciler.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "drivers/fake/fake_driver.h"
#include "reconciler/controller.h"
#include "reconciler/memory_store.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = std::make_unique<FakeDriver>();
    fake_ = fake.get();
    driver_ = std::make_unique<FaultInjectingDriver>(std::move(fake));
    in_ = testing::LoadInstance("manifests/vqa");
  }
  void ApplyAll() {
    ASSERT_TRUE(store_.Put(in_.inf).ok());
    for (const auto& p : in_.profiles) ASSERT_TRUE(store_.Put(p).ok());
    ASSERT_TRUE(store_.Put(in_.wf).ok());
  }
  Workflow Get() { return std::get<Workflow>(*store_.Get("Workflow", "vqa")); }
  std::string Cond(const std::string& type) {
    auto wf = Get();
    const Condition* c = FindCondition(wf.status, type);
    return c ? c->status + "/" + c->reason : "absent";
  }

  MemoryStore store_;
  FakeDriver* fake_ = nullptr;
  std::unique_ptr<FaultInjectingDriver> driver_;
  testing::Instance in_;
};

TEST_F(ReconcilerTest, PlansDeploysAndRecordsConditions) {
  ApplyAll();
  WorkflowReconciler r(&store_, driver_.get());
  auto res = r.Reconcile("vqa");
  EXPECT_TRUE(res.error.ok()) << res.error.message();
  auto wf = Get();
  ASSERT_TRUE(wf.status.plan.has_value());
  EXPECT_LE(wf.status.plan->cost.total_per_hour, 7.011);
  EXPECT_EQ(wf.status.observed_generation, 1);
  EXPECT_EQ(Cond("Planned"), "True/Solved");
  EXPECT_EQ(Cond("Deployed"), "True/Applied");
  EXPECT_EQ(Cond("Ready"), "True/WorkersReady");
  EXPECT_EQ(Cond("SLOMet"), "Unknown/NoObservations");
  EXPECT_EQ(Cond("Degraded"), "False/PlanMeetsSLO");
  // One worker per used node plus the sources' and sink's worker.
  std::set<std::string> nodes;
  for (const auto& pl : wf.status.plan->placements) nodes.insert(pl.node);
  EXPECT_EQ(driver_->Observe("vqa").size(), nodes.size() + 1);
  EXPECT_EQ(wf.status.plan_epoch, 1);
  // Level-triggered and idempotent: a second pass changes nothing and does not re-plan.
  std::string t = FindCondition(wf.status, "Planned")->last_transition_time;
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Get().status, wf.status);
  EXPECT_EQ(FindCondition(Get().status, "Planned")->last_transition_time, t);
}

// Upgrade: a plannedFrom written by an older daemon (comma-joined, std::hash) of the same inputs
// is rewritten in the stable form without a re-plan; one of other inputs (here: another build's
// std::hash of the spec) costs one re-plan attempt, damped like any other, and then none.
TEST_F(ReconcilerTest, AnOlderDaemonsFingerprintCausesAtMostOneReplan) {
  ApplyAll();
  WorkflowReconciler r(&store_, driver_.get());
  ASSERT_TRUE(r.Reconcile("vqa").error.ok());
  const std::string stable = Get().status.planned_from.value_or("");
  ASSERT_TRUE(Fingerprint::Decode(stable)) << stable;
  auto put_planned_from = [&](const std::string& v) {
    auto wf = Get();
    wf.status.planned_from = v;
    ASSERT_TRUE(store_.PutStatus("vqa", wf.status, wf.metadata.resource_version.value_or("")).ok());
  };
  const Workflow wf = Get();
  const std::string legacy = LegacyFingerprint(GatherInputs(store_, wf), wf.status);
  put_planned_from(legacy);
  ASSERT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Get().status.planned_from, stable);
  EXPECT_EQ(Get().status.plan_epoch, 1);
  EXPECT_EQ(Cond("Planned"), "True/Solved") << "no re-plan for the same inputs";

  std::string other = legacy;
  other.replace(other.find('@') + 1, 16, "0123456789abcdef");
  put_planned_from(other);
  ASSERT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Get().status.planned_from, stable);
  EXPECT_EQ(Get().status.plan_epoch, 1) << "the same plan again saves nothing: kept";
  EXPECT_EQ(Cond("Planned"), "True/Kept");
  const auto settled = Get().status;
  ASSERT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Get().status.planned_from, stable);
  EXPECT_EQ(Get().status.conditions, settled.conditions) << "no second re-plan";
}

TEST_F(ReconcilerTest, MissingReferencesAreReportedThenResolved) {
  ASSERT_TRUE(store_.Put(in_.wf).ok());
  WorkflowReconciler r(&store_, driver_.get());
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Cond("Planned"), "False/MissingReference");
  EXPECT_NE(FindCondition(Get().status, "Planned")->message.find("Infrastructure \"vqa-medium\""), std::string::npos);
  ApplyAll();
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Cond("Planned"), "True/Solved");
}

TEST_F(ReconcilerTest, AnUnreachableFloorDeploysTheMostAccuratePlanAsDegraded) {
  in_.wf.spec.slo.min_accuracy = 60;  // the VQA table tops out at 58.33
  ApplyAll();
  ReconcilerOptions opts;
  opts.damping.min_interval_s = 0;
  WorkflowReconciler r(&store_, driver_.get(), opts);
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  auto wf = Get();
  ASSERT_TRUE(wf.status.plan);
  EXPECT_NEAR(wf.status.plan->accuracy, 58.33, 0.01);
  EXPECT_EQ(Cond("Planned"), "True/Solved");
  EXPECT_EQ(Cond("Deployed"), "True/Applied");
  EXPECT_EQ(Cond("Degraded"), "True/AccuracyBelowFloor");
  EXPECT_EQ(Cond("SLOMet"), "False/DegradedPlan");
  EXPECT_NE(FindCondition(wf.status, "Degraded")->message.find("58.33"), std::string::npos)
      << FindCondition(wf.status, "Degraded")->message;
  // The floor comes back within reach: the running plan meets it (no longer degraded), and the
  // cheaper plan for the lower floor replaces it.
  in_.wf.spec.slo.min_accuracy = 56;
  ASSERT_TRUE(store_.Put(in_.wf).ok());
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Cond("Degraded"), "False/PlanMeetsSLO");
  EXPECT_EQ(Get().status.plan_epoch, 2);
}

TEST_F(ReconcilerTest, ShortCapacityDeploysTheHighestRateAsDegraded) {
  for (auto& s : in_.wf.spec.sources) s.rate = 4000;  // far beyond every node together
  ApplyAll();
  WorkflowReconciler r(&store_, driver_.get());
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  auto wf = Get();
  ASSERT_TRUE(wf.status.plan);
  EXPECT_EQ(Cond("Degraded"), "True/RateBelowTarget");
  EXPECT_GE(wf.status.plan->accuracy, 56.0);
  double served = 0;
  for (const auto& pl : wf.status.plan->placements)
    if (pl.op == "VQA") served += pl.rate;
  EXPECT_GT(served, 40);
  EXPECT_LT(served, 4000);
  EXPECT_NE(FindCondition(wf.status, "Degraded")->message.find("capacity is short"), std::string::npos);
}

TEST_F(ReconcilerTest, DriverFaultsAreRetriedWithBackOffUntilDeployed) {
  ApplyAll();
  driver_->FailNext(3, Status::Unavailable("injected: host unreachable"));
  WorkQueueOptions q;
  q.base_delay = std::chrono::milliseconds(1);
  Controller c(&store_, driver_.get(), ReconcilerOptions{}, q);
  c.Start(2);
  c.Enqueue("vqa");
  testing::WaitFor([&] { return Cond("Deployed") == "True/Applied"; }, std::chrono::seconds(20));
  EXPECT_EQ(Cond("Deployed"), "True/Applied");
  EXPECT_GE(c.Metrics().errors, 3u);
  c.Stop();
}

TEST_F(ReconcilerTest, UnreadyWorkersAreRechecked) {
  ApplyAll();
  driver_->SetUnready(true);
  WorkflowReconciler r(&store_, driver_.get());
  auto res = r.Reconcile("vqa");
  EXPECT_EQ(Cond("Ready"), "False/WorkersNotReady");
  EXPECT_GT(res.requeue_after.count(), 0);
  driver_->SetUnready(false);
  r.Reconcile("vqa");
  EXPECT_EQ(Cond("Ready"), "True/WorkersReady");
}

TEST_F(ReconcilerTest, ProfileChangeReplansThroughTheController) {
  ApplyAll();
  Controller c(&store_, driver_.get());
  c.Start(1);
  c.EnqueueAll();  // objects stored before the controller existed
  testing::WaitFor([&] { return Cond("Planned") == "True/Solved"; }, std::chrono::seconds(20));
  ASSERT_TRUE(Get().status.plan.has_value());
  double before = Get().status.plan->cost.total_per_hour;
  // Make the edge dearer: the Infrastructure change must re-plan the workflow.
  for (auto& n : in_.inf.spec.nodes) n.price_per_hour *= 3;
  ASSERT_TRUE(store_.Put(in_.inf).ok());
  testing::WaitFor([&] { return Get().status.plan->cost.total_per_hour != before; }, std::chrono::seconds(20));
  EXPECT_GT(Get().status.plan->cost.total_per_hour, before);
  c.Stop();
}

TEST_F(ReconcilerTest, DeletionStopsWorkersBeforeTheObjectGoes) {
  ApplyAll();
  WorkflowReconciler r(&store_, driver_.get());
  r.Reconcile("vqa");
  ASSERT_FALSE(driver_->Observe("vqa").empty());
  ASSERT_TRUE(store_.Delete("Workflow", "vqa").ok());
  driver_->FailNext(1, Status::Unavailable("injected"));
  EXPECT_FALSE(r.Reconcile("vqa").error.ok());
  EXPECT_TRUE(store_.Get("Workflow", "vqa").ok()) << "kept while its workers could not be stopped";
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_FALSE(store_.Get("Workflow", "vqa").ok());
  EXPECT_TRUE(driver_->Observe("vqa").empty());
}

// A price of 1e25 made CLP abort the daemon, and since the object was stored, every
// restart aborted again. A stored object the planner refuses is a condition; the others reconcile.
TEST_F(ReconcilerTest, StoredNumbersThePlannerCannotTakeAreAConditionAndOtherWorkflowsStillPlan) {
  ApplyAll();
  // Refused outright: a price of 1e25 (validation may catch it first; either way Invalid).
  auto price = in_;
  price.inf.metadata.name = "absurd-price";
  price.inf.spec.nodes[0].price_per_hour = 1e25;
  price.inf.spec.links[0].cost_per_gib = 1e25;
  price.wf.metadata.name = "absurd-price";
  price.wf.spec.infrastructure = "absurd-price";
  // Stored as an older version's data could hold it: the stores refuse it today (read-back).
  EXPECT_FALSE(store_.Put(price.inf).ok());
  ASSERT_TRUE(store_.PutUnchecked(price.inf).ok());
  ASSERT_TRUE(store_.Put(price.wf).ok());
  // Each number admissible, their product not: 1e6 items/s x ratio 1e3 x 1e7 KiB per output item
  // is 1e16 KiB/s of traffic on one edge.
  auto product = in_;
  product.wf.metadata.name = "absurd-product";
  product.wf.spec.sources[0].rate = 1e6;
  for (auto& op : product.wf.spec.operators)
    if (op.profile == "extract-image-feature") {
      op.profile = "absurd-extract";
      op.inputs[0].ratio = 1e3;
    }
  for (auto mp : in_.profiles)
    if (mp.metadata.name == "extract-image-feature") {
      mp.metadata.name = "absurd-extract";
      for (auto& v : mp.spec.variants) v.output_size_kib = 1e7;
      ASSERT_TRUE(store_.Put(mp).ok());
    }
  ASSERT_TRUE(store_.Put(product.wf).ok());

  Controller c(&store_, driver_.get());
  c.Start(1);
  c.EnqueueAll();
  auto cond = [&](const std::string& name) {
    const Workflow wf_k = std::get<Workflow>(*store_.Get("Workflow", name));
    const Condition* k = FindCondition(wf_k.status, "Planned");
    return k ? k->status + "/" + k->reason : std::string("absent");
  };
  testing::WaitFor(
      [&] {
        return cond("vqa") == "True/Solved" && cond("absurd-price") != "absent" && cond("absurd-product") != "absent";
      },
      std::chrono::seconds(20));
  c.Stop();
  EXPECT_EQ(cond("vqa"), "True/Solved");
  EXPECT_EQ(cond("absurd-price"), "False/Invalid");
  EXPECT_EQ(cond("absurd-product"), "False/Invalid");
  const Workflow wf_k = std::get<Workflow>(*store_.Get("Workflow", "absurd-product"));
  const Condition* k = FindCondition(wf_k.status, "Planned");
  ASSERT_NE(k, nullptr);
  EXPECT_NE(k->message.find("beyond what the solver can take"), std::string::npos) << k->message;
  EXPECT_TRUE(driver_->Observe("absurd-price").empty());
  EXPECT_TRUE(driver_->Observe("absurd-product").empty());
}

// The reconcile boundary: whatever escapes a reconcile (here an exception from a driver) is a
// condition and a retry, never the end of the daemon; other workflows still reconcile.
class ThrowingDriver : public FakeDriver {
 public:
  std::vector<WorkerState> Observe(const std::string& workflow) override {
    if (workflow == "throws") throw std::length_error("injected: vector too long");
    return FakeDriver::Observe(workflow);
  }
};

TEST_F(ReconcilerTest, AnExceptionInAReconcileIsAConditionAndARetry) {
  ApplyAll();
  auto other = in_.wf;
  other.metadata.name = "throws";
  ASSERT_TRUE(store_.Put(other).ok());
  ThrowingDriver driver;
  WorkflowReconciler r(&store_, &driver);
  ReconcileResult res = r.Reconcile("throws");
  EXPECT_EQ(res.error.code(), Status::Code::kInternal);
  EXPECT_NE(res.error.message().find("injected"), std::string::npos) << res.error.message();
  const Workflow wf_c = std::get<Workflow>(*store_.Get("Workflow", "throws"));
  const Condition* c = FindCondition(wf_c.status, "Planned");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status + "/" + c->reason, "False/ReconcileError");
  EXPECT_NE(c->message.find("injected"), std::string::npos) << c->message;
  EXPECT_TRUE(r.Reconcile("vqa").error.ok());
  EXPECT_EQ(Cond("Planned"), "True/Solved");
}

}  // namespace
}  // namespace jb
