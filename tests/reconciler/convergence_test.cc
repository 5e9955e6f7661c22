// No stuck states (#22): every reconcile pass that ends without a plan, or with nodes left out,
// schedules the next one, so a workflow converges once the cause is gone with no other change.
#include "reconciler/convergence.h"

#include <gtest/gtest.h>

#include <set>

#include "base/rfc3339.h"
#include "drivers/fake/fake_driver.h"
#include "reconciler/conditions.h"
#include "reconciler/controller.h"
#include "reconciler/memory_store.h"
#include "reconciler/workflow_reconciler.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

using std::chrono::milliseconds;

// The fake driver with nodes whose workers report not ready ("cut").
class NodeCutDriver : public Driver {
 public:
  std::string name() const override { return "fake"; }
  bool Serves(const std::string&) const override { return true; }
  Status Apply(const std::string& wf, const std::vector<WorkerConfig>& w) override { return inner_.Apply(wf, w); }
  std::vector<WorkerState> Observe(const std::string& wf) override {
    auto states = inner_.Observe(wf);
    MutexLock l(&mu_);
    for (auto& s : states)
      if (cut_.count(s.node) != 0) {
        s.ready = false;
        s.message = "injected: node cut off";
      }
    return states;
  }
  std::vector<WorkerConfig> Desired(const std::string& wf) override { return inner_.Desired(wf); }
  Status Remove(const std::string& wf) override { return inner_.Remove(wf); }
  std::vector<std::string> Workflows() override { return inner_.Workflows(); }
  void Cut(const std::set<std::string>& nodes) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    cut_ = nodes;
  }

 private:
  FakeDriver inner_;
  Mutex mu_;
  std::set<std::string> cut_ GUARDED_BY(mu_);
};

class ConvergenceTest : public ::testing::Test {
 protected:
  void SetUp() override { in_ = testing::LoadInstance("manifests/vqa"); }
  void ApplyAll() {
    ASSERT_TRUE(store_.Put(in_.inf).ok());
    for (const auto& p : in_.profiles) ASSERT_TRUE(store_.Put(p).ok());
    ASSERT_TRUE(store_.Put(in_.wf).ok());
  }
  Workflow Get() { return std::get<Workflow>(*store_.Get("Workflow", in_.wf.metadata.name)); }
  std::string Cond(const std::string& type) {
    const Workflow wf = Get();
    const Condition* c = FindCondition(wf.status, type);
    return c ? c->status + "/" + c->reason : "absent";
  }
  std::set<std::string> PlanNodes() {
    std::set<std::string> nodes;
    auto wf = Get();
    if (wf.status.plan)
      for (const auto& pl : wf.status.plan->placements) nodes.insert(pl.node);
    return nodes;
  }
  // docqa: two nodes, so cutting both leaves no node to plan on.
  void UseTwoNodes() { in_ = testing::LoadInstance("manifests/docqa"); }
  std::set<std::string> AllNodes() {
    std::set<std::string> all;
    for (const auto& n : in_.inf.spec.nodes) all.insert(n.name);
    return all;
  }
  ReconcilerOptions Options() {
    ReconcilerOptions o;
    o.clock = &clock_;
    o.node_grace = milliseconds(4000);
    o.node_retry_s = 30;
    return o;
  }
  // Runs passes as the controller would: each after the previous one's requeue, on the fake clock.
  // Fails if a pass ends with neither an error nor a next look. Returns the passes run.
  int RunUntil(WorkflowReconciler* r, const std::function<bool()>& done, int max_passes = 60) {
    for (int i = 1; i <= max_passes; ++i) {
      ReconcileResult res = r->Reconcile(in_.wf.metadata.name);
      if (done()) return i;
      const bool scheduled = !res.error.ok() || res.requeue_after.count() > 0;
      EXPECT_TRUE(scheduled) << "pass " << i << " ended without a next look: Planned=" << Cond("Planned");
      if (!scheduled) return -1;
      clock_.Advance(res.error.ok() ? res.requeue_after : milliseconds(1000));
    }
    return -1;
  }

  FakeClock clock_;
  MemoryStore store_;
  NodeCutDriver driver_;
  testing::Instance in_;
};

TEST(ConvergenceBackoffTest, EmptyPassesBackOffFromOneSecondDoublingToThirtyAndAPlanResetsIt) {
  ConvergenceBackoff b;
  WorkflowStatus empty;
  const auto now = std::chrono::system_clock::now();
  std::vector<int64_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(b.Next("w", empty, 30, now, milliseconds(0)).count());
  EXPECT_EQ(got, (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  // The pass's own requeue wins when it is sooner.
  EXPECT_EQ(b.Next("w", empty, 30, now, milliseconds(200)).count(), 200);
  WorkflowStatus planned;
  planned.plan = Plan{};
  EXPECT_EQ(b.Next("w", planned, 30, now, milliseconds(0)).count(), 0);  // nothing to retry
  EXPECT_EQ(b.Next("w", empty, 30, now, milliseconds(0)).count(), 1000);
  b.Forget("w");
  EXPECT_EQ(b.Next("w", empty, 30, now, milliseconds(0)).count(), 1000);
}

TEST(ConvergenceBackoffTest, ALeftOutNodeSchedulesAPassWhenItIsTriedAgain) {
  FakeClock clock;
  WorkflowStatus st;
  st.plan = Plan{};
  st.unavailable_nodes.push_back(NodeOutage{"edge-1", "cut", ClockRfc3339Millis(clock)});
  clock.Advance(std::chrono::seconds(10));
  ConvergenceBackoff b;
  auto next = b.Next("w", st, 30, clock.WallNow(), milliseconds(0));
  EXPECT_GE(next.count(), 19990);
  EXPECT_LE(next.count(), 20002);
  EXPECT_EQ(b.Next("w", st, 30, clock.WallNow(), milliseconds(2000)).count(), 2000);
  // Expired, malformed or future stamps: due now, or at most node_retry_s away.
  st.unavailable_nodes[0].since = "garbage";
  EXPECT_EQ(NextNodeRetry(st, 30, clock.WallNow())->count(), 1);
  st.unavailable_nodes[0].since = "2999-01-01T00:00:00Z";
  EXPECT_EQ(NextNodeRetry(st, 30, clock.WallNow())->count(), 30001);
  EXPECT_FALSE(NextNodeRetry(WorkflowStatus{}, 30, clock.WallNow()).has_value());
}

TEST(ConvergenceBackoffTest, ClockStampsRoundTrip) {
  FakeClock clock;
  EXPECT_EQ(ClockRfc3339Millis(clock), "2026-01-01T00:00:00.000Z");
  clock.Advance(milliseconds(2500));
  EXPECT_NEAR(ClockSecondsSince(clock, "2026-01-01T00:00:00.000Z"), 2.5, 1e-6);
  EXPECT_GT(ClockSecondsSince(clock, ""), 1e17);
}

// Every reason a pass ends without a plan has a next look.
TEST_F(ConvergenceTest, EveryPassWithoutAPlanHasANextLook) {
  WorkflowReconciler r(&store_, &driver_, Options());
  // MissingReference: the workflow without its infrastructure and profiles.
  ASSERT_TRUE(store_.Put(in_.wf).ok());
  auto res = r.Reconcile(in_.wf.metadata.name);
  EXPECT_EQ(Cond("Planned"), "False/MissingReference");
  EXPECT_GT(res.requeue_after.count(), 0);
  // Invalid: inputs that do not validate together (each one alone does: the stores refuse an object
  // that does not validate by itself).
  ApplyAll();
  Workflow bad = in_.wf;
  bad.spec.sources[0].tier = "no-such-tier";
  ASSERT_TRUE(store_.Put(bad).ok());
  res = r.Reconcile(in_.wf.metadata.name);
  EXPECT_EQ(Cond("Planned"), "False/Invalid");
  EXPECT_GT(res.requeue_after.count(), 0);
  // Infeasible: every node cut off (no nodes left).
  ASSERT_TRUE(store_.Put(in_.wf).ok());  // vqa valid again (and planned); docqa besides it
  UseTwoNodes();
  ApplyAll();
  ASSERT_TRUE(r.Reconcile(in_.wf.metadata.name).error.ok());
  ASSERT_EQ(Cond("Ready"), "True/WorkersReady");
  driver_.Cut(AllNodes());
  ASSERT_GT(RunUntil(&r, [&] { return !Get().status.plan.has_value(); }), 0) << Cond("Planned");
  EXPECT_EQ(Cond("Planned"), "False/Infeasible");
  res = r.Reconcile(in_.wf.metadata.name);
  EXPECT_GT(res.requeue_after.count(), 0);
  EXPECT_LE(res.requeue_after.count(), 30001);
}

TEST_F(ConvergenceTest, APlanningTimeoutWithNothingRunningHasANextLook) {
  ApplyAll();
  ReconcilerOptions o = Options();
  o.plan_time_limit_s = 0;  // no planning budget at all
  WorkflowReconciler r(&store_, &driver_, o);
  auto res = r.Reconcile(in_.wf.metadata.name);
  const std::string planned = Cond("Planned");
  if (planned != "False/PlanningTimeout") GTEST_SKIP() << "the solver planned within no budget: " << planned;
  EXPECT_GT(res.requeue_after.count(), 0);
}

// The case: a cut edge host made the workflow infeasible and the plan was cleared; 135 s
// after the host came back nothing had been retried. Now the passes go on and it converges.
TEST_F(ConvergenceTest, InfeasibleAfterACutConvergesOnceTheCutHealsWithNoOtherChange) {
  UseTwoNodes();
  ApplyAll();
  WorkflowReconciler r(&store_, &driver_, Options());
  ASSERT_TRUE(r.Reconcile(in_.wf.metadata.name).error.ok());
  ASSERT_EQ(Cond("Ready"), "True/WorkersReady");
  driver_.Cut(AllNodes());
  ASSERT_GT(RunUntil(&r, [&] { return !Get().status.plan.has_value(); }), 0) << Cond("Planned");
  const std::string empty_reason = Cond("Planned");
  EXPECT_EQ(empty_reason.rfind("False/", 0), 0u);
  // Many passes later the workflow is still without a plan, and still looked at.
  const int stuck = RunUntil(
      &r, [] { return false; }, 12);
  EXPECT_EQ(stuck, -1);
  EXPECT_FALSE(Get().status.plan.has_value());
  driver_.Cut({});
  const auto healed_at = clock_.Now();
  ASSERT_GT(RunUntil(&r, [&] { return Cond("Planned") == "True/Solved" && Cond("Ready") == "True/WorkersReady"; }), 0)
      << Cond("Planned") << " " << Cond("Ready");
  // Within the back-off's cap (30 s) plus the node retry: no other change was needed.
  EXPECT_LE(clock_.Now() - healed_at, std::chrono::seconds(61));
  EXPECT_TRUE(Get().status.unavailable_nodes.empty());
}

TEST_F(ConvergenceTest, ALeftOutNodeComesBackAsSoonAsItsWorkersReportReady) {
  ApplyAll();
  WorkflowReconciler r(&store_, &driver_, Options());
  ASSERT_TRUE(r.Reconcile(in_.wf.metadata.name).error.ok());
  const auto used = PlanNodes();
  ASSERT_FALSE(used.empty());
  const std::string victim = *used.begin();
  driver_.Cut({victim});
  ASSERT_GT(RunUntil(&r, [&] { return !Get().status.unavailable_nodes.empty(); }), 0);
  EXPECT_EQ(Get().status.unavailable_nodes[0].node, victim);
  // Partial: every pass with the node left out still has a next look, at most at its retry.
  auto res = r.Reconcile(in_.wf.metadata.name);
  EXPECT_GT(res.requeue_after.count(), 0);
  EXPECT_LE(res.requeue_after.count(), 30001);
  driver_.Cut({});
  const auto healed_at = clock_.Now();
  ASSERT_GT(RunUntil(&r, [&] { return Get().status.unavailable_nodes.empty(); }), 0);
  EXPECT_LT(clock_.Now() - healed_at, std::chrono::seconds(3));
}

TEST_F(ConvergenceTest, ANodeThatStaysCutIsTriedAgainAfterNodeRetryWithoutAnyOtherChange) {
  ApplyAll();
  WorkflowReconciler r(&store_, &driver_, Options());
  ASSERT_TRUE(r.Reconcile(in_.wf.metadata.name).error.ok());
  const std::string victim = *PlanNodes().begin();
  driver_.Cut({victim});
  ASSERT_GT(RunUntil(&r, [&] { return !Get().status.unavailable_nodes.empty(); }), 0);
  const auto out_at = clock_.Now();
  ASSERT_GT(RunUntil(&r, [&] { return Get().status.unavailable_nodes.empty(); }), 0);
  EXPECT_GE(clock_.Now() - out_at, std::chrono::seconds(29));
  EXPECT_LE(clock_.Now() - out_at, std::chrono::seconds(33));
}

// Through the controller and its work queue, in real time: no store change after the heal.
TEST_F(ConvergenceTest, TheControllerConvergesAfterAnInfeasibleCutHeals) {
  UseTwoNodes();
  ApplyAll();
  ReconcilerOptions o;
  o.node_grace = milliseconds(100);
  o.node_retry_s = 30;
  o.convergence.first_empty = milliseconds(50);
  o.convergence.max_empty = milliseconds(400);
  WorkQueueOptions q;
  q.base_delay = milliseconds(1);
  Controller c(&store_, &driver_, o, q);
  c.Start(1);
  c.Enqueue(in_.wf.metadata.name);
  testing::WaitFor([&] { return Cond("Ready") == "True/WorkersReady"; }, std::chrono::seconds(20));
  ASSERT_EQ(Cond("Ready"), "True/WorkersReady");
  driver_.Cut(AllNodes());
  testing::WaitFor([&] { return !Get().status.plan.has_value(); }, std::chrono::seconds(20));
  ASSERT_FALSE(Get().status.plan.has_value()) << Cond("Planned");
  driver_.Cut({});
  const auto t0 = std::chrono::steady_clock::now();
  testing::WaitFor([&] { return Cond("Planned") == "True/Solved" && Cond("Ready") == "True/WorkersReady"; },
                   std::chrono::seconds(20));
  EXPECT_EQ(Cond("Planned"), "True/Solved");
  EXPECT_EQ(Cond("Ready"), "True/WorkersReady");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  c.Stop();
}

}  // namespace
}  // namespace jb
