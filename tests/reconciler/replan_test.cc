// Damping and the load trigger (reconciler/replan.h): pure decisions, tested on simulated clocks.
#include "reconciler/replan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "planner/solver.h"
#include "reconciler/deployment.h"
#include "reconciler/store.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

TEST(Damping, AnInvalidPlanIsReplacedAtOnce) {
  auto d = DecideReplan({"node n1 is not available"}, 5.0, 9.0, 10, 0.1);
  EXPECT_EQ(d.action, ReplanAction::kAdopt);  // even dearer, even right after the last re-plan
  EXPECT_NE(d.reason.find("n1"), std::string::npos);
}

TEST(Damping, SmallSavingsDoNotPayForTheirChurn) {
  DampingOptions o;                                                                // 5% + 0.5% per worker moved
  EXPECT_EQ(DecideReplan({}, 10.0, 9.6, 0, 100, o).action, ReplanAction::kKeep);   // 4%
  EXPECT_EQ(DecideReplan({}, 10.0, 9.4, 0, 100, o).action, ReplanAction::kAdopt);  // 6%
  EXPECT_EQ(DecideReplan({}, 10.0, 9.4, 4, 100, o).action, ReplanAction::kKeep);   // 6% < 7%
  EXPECT_EQ(DecideReplan({}, 10.0, 9.2, 4, 100, o).action, ReplanAction::kAdopt);  // 8% > 7%
}

TEST(Damping, OptionalReplansKeepTheMinimumInterval) {
  DampingOptions o;
  o.min_interval_s = 10;
  auto d = DecideReplan({}, 10.0, 5.0, 0, 3, o);
  EXPECT_EQ(d.action, ReplanAction::kDefer);
  EXPECT_NEAR(d.retry_after_s, 7, 1e-9);
  EXPECT_EQ(DecideReplan({}, 10.0, 5.0, 0, 10, o).action, ReplanAction::kAdopt);
}

TEST(Damping, ALoadReplanKeepsTheIntervalEvenWhenThePlanIsShort) {
  DampingOptions o;
  o.min_interval_s = 10;
  auto d = DecideReplan({"capacity short"}, 10.0, 12.0, 0, 4, o, /*noisy=*/true);
  EXPECT_EQ(d.action, ReplanAction::kDefer);
  EXPECT_NEAR(d.retry_after_s, 6, 1e-9);
  EXPECT_EQ(DecideReplan({"capacity short"}, 10.0, 12.0, 0, 4, o).action, ReplanAction::kAdopt);  // not noisy: at once
  EXPECT_EQ(DecideReplan({"capacity short"}, 10.0, 12.0, 0, 10, o, true).action, ReplanAction::kAdopt);
}

TEST(LoadTrigger, FiresOnlyOnASustainedDriftAndPlansForTheLatestLoad) {
  LoadTrigger t({0.2, 10, 0.1});
  double t0 = 0;
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(t.Observe(t0 + i * 0.5, 1.5, 1.0)) << i;  // 9.5 s
  auto s = t.Observe(t0 + 10, 1.5, 1.0);
  ASSERT_TRUE(s);
  EXPECT_NEAR(*s, 1.65, 1e-9);
  // Within the threshold of the new plan: quiet.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(t.Observe(20 + i * 0.5, 1.5, *s));
  // Falling load: fires the other way.
  std::optional<double> down;
  for (int i = 0; i <= 20 && !down; ++i) down = t.Observe(100 + i * 0.5, 0.5, *s);
  ASSERT_TRUE(down);
  EXPECT_NEAR(*down, 0.55, 1e-9);
}

// Feeds `load(t)` to a load trigger every 0.5 s for `seconds` and adopts what it asks for through
// the damping, as the reconciler does for the load trigger (noisy: even a re-plan the load calls for
// keeps the minimum interval); fails the test if two re-plans come closer than the interval.
// Returns the number of re-plans; `optional` counts those the plan did not need (scale-downs).
int SimulateLoadReplans(const std::function<double(double)>& load, LoadTriggerOptions lo, DampingOptions d,
                        double seconds, int* optional = nullptr) {
  LoadTrigger t(lo);
  double planned = 1.0, last_adopt = -1e9;
  int replans = 0;
  std::optional<double> pending;
  for (int i = 0; i < seconds * 2; ++i) {
    double now = i * 0.5, l = load(now);
    if (auto s = t.Observe(now, l, planned)) pending = s;
    if (!pending) continue;
    std::vector<std::string> violations;
    if (l > planned) violations.push_back("capacity short");
    auto dec = DecideReplan(violations, 10 * planned, 10 * *pending, 0, now - last_adopt, d, /*noisy=*/true);
    if (dec.action == ReplanAction::kDefer) continue;
    if (dec.action == ReplanAction::kAdopt) {
      EXPECT_GE(now - last_adopt, d.min_interval_s) << "re-planned twice within the damping interval at t=" << now;
      if (violations.empty() && optional != nullptr) ++*optional;
      planned = *pending;
      last_adopt = now;
      ++replans;
    }
    pending.reset();
  }
  return replans;
}

// A load that oscillates around the threshold (20% +- 8%, period 12 s) for ten minutes: at most one
// re-plan per damping interval, and in fact none, since the drift never holds for the window.
TEST(LoadTrigger, AnOscillatingLoadReplansAtMostOncePerDampingInterval) {
  DampingOptions d;
  d.min_interval_s = 30;
  int n =
      SimulateLoadReplans([](double t) { return 1.2 + 0.08 * std::sin(2 * M_PI * t / 12); }, {0.2, 10, 0.1}, d, 600);
  EXPECT_LE(n, 1);
}

// A load that swings wide (-30% to +30% around the plan, period 30 s) keeps triggering, both ways.
// With a 60 s interval there are at most 11 re-plans in ten minutes; without the damping (interval
// 0) there are many more.
TEST(LoadTrigger, AWideSwingIsBoundedByTheDampingInterval) {
  auto swing = [](double t) { return 1.0 + 0.3 * std::sin(2 * M_PI * t / 30); };
  DampingOptions d;
  d.min_interval_s = 60;
  int downs = 0;
  int n = SimulateLoadReplans(swing, {0.2, 3, 0.1}, d, 600, &downs);
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 600 / 60 + 1);
  DampingOptions none;
  none.min_interval_s = 0;
  int undamped = SimulateLoadReplans(swing, {0.2, 3, 0.1}, none, 600);
  EXPECT_GT(undamped, 600 / 60 + 1) << "the swing is too gentle to show the damping";
  std::printf("[ damping ] wide swing over 600 s: %d re-plans (%d scale-downs) with a 60 s interval, %d without it\n",
              n, downs, undamped);
}

TEST(Rescore, TheRunningPlanIsPricedAndCheckedUnderNewInputs) {
  auto in = testing::LoadInstance("manifests/vqa");
  auto p = planner::BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok());
  auto solved = planner::Solve(*p, planner::SolverOptions{"auto", 10});
  ASSERT_TRUE(solved.ok());
  const Plan& plan = solved->plan;
  // Same inputs: same cost, valid.
  auto same = RescorePlan(*p, plan);
  EXPECT_TRUE(same.violations.empty());
  EXPECT_NEAR(same.plan.cost.total_per_hour, plan.cost.total_per_hour, 1e-6);
  // Twice the rate: the placement cannot carry it.
  planner::ProblemOptions twice;
  twice.rate_scale = 2;
  auto p2 = planner::BuildProblem(in.wf, in.profiles, in.inf, twice);
  ASSERT_TRUE(p2.ok());
  EXPECT_FALSE(RescorePlan(*p2, plan).violations.empty());
  // A node of the plan becomes unavailable.
  auto p3 = *p;
  for (size_t n = 0; n < p3.nodes.size(); ++n)
    if (p3.nodes[n].name == plan.placements.front().node) p3.node_allowed[n] = false;
  auto gone = RescorePlan(p3, plan);
  ASSERT_FALSE(gone.violations.empty());
  EXPECT_NE(gone.violations.front().find(plan.placements.front().node), std::string::npos);
}

// ProposeReplan: the reconciler's damping decision as one pure function (jbctl plan --what-if calls
// it too); time is a parameter.
class ProposeReplanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_ = testing::LoadInstance("manifests/vqa");
    auto p = planner::BuildProblem(in_.wf, in_.profiles, in_.inf);
    ASSERT_TRUE(p.ok()) << p.status().message();
    problem_ = *p;
    auto solved = planner::Solve(problem_, planner::SolverOptions{"auto", 10});
    ASSERT_TRUE(solved.ok()) << solved.status().message();
    running_ = solved->plan;
    status_.plan = running_;
    status_.plan_epoch = 3;
    status_.history.emplace_back();
    status_.history.back().epoch = 3;
    status_.history.back().time = "2026-01-01T00:00:00.000Z";
    t0_ = *ParseRfc3339(status_.history.back().time);
    current_cost_ = RescorePlan(problem_, running_).plan.cost.total_per_hour;
    ASSERT_GT(current_cost_, 0);
  }
  // The running plan at `fraction` of the running cost.
  ReplanCandidate Priced(double fraction) const {
    ReplanCandidate c{running_, std::nullopt};
    c.plan.cost.total_per_hour = current_cost_ * fraction;
    return c;
  }
  ReplanContext At(double seconds_after_last, const std::string& trigger = "Infrastructure") const {
    ReplanContext ctx;
    ctx.trigger = trigger;
    ctx.now_s = t0_ + seconds_after_last;
    ctx.damping.min_interval_s = 10;
    return ctx;
  }

  testing::Instance in_;
  planner::Problem problem_;
  Plan running_;
  WorkflowStatus status_;
  double t0_ = 0;
  double current_cost_ = 0;
};

TEST_F(ProposeReplanTest, WithoutARunningPlanTheCandidateIsTheFirstPlan) {
  WorkflowStatus fresh;
  auto p = ProposeReplan(problem_, fresh, {}, Priced(2.0), At(0, "initial"));
  EXPECT_EQ(p.decision.action, ReplanAction::kAdopt);
  EXPECT_EQ(p.decision.reason, "first plan");
  EXPECT_EQ(p.next_epoch, 1);
  EXPECT_EQ(p.churn, 0);
}

TEST_F(ProposeReplanTest, ACheaperPlanWaitsForTheMinimumIntervalThenIsAdopted) {
  auto early = ProposeReplan(problem_, status_, {}, Priced(0.5), At(4));
  EXPECT_EQ(early.decision.action, ReplanAction::kDefer);
  EXPECT_NEAR(early.decision.retry_after_s, 6, 1e-6);
  auto later = ProposeReplan(problem_, status_, {}, Priced(0.5), At(10));
  EXPECT_EQ(later.decision.action, ReplanAction::kAdopt);
  EXPECT_EQ(later.next_epoch, 4);
  EXPECT_NEAR(later.current.plan.cost.total_per_hour, current_cost_, 1e-9);
  EXPECT_TRUE(later.current.violations.empty());
}

TEST_F(ProposeReplanTest, ASmallSavingKeepsTheRunningPlan) {
  auto p = ProposeReplan(problem_, status_, {}, Priced(0.98), At(3600));
  EXPECT_EQ(p.decision.action, ReplanAction::kKeep);
  EXPECT_NE(p.decision.reason.find("2.0%"), std::string::npos) << p.decision.reason;
}

TEST_F(ProposeReplanTest, AnUndoIsAdoptedWithoutDamping) {
  auto p = ProposeReplan(problem_, status_, {}, Priced(3.0), At(1, "undo"));  // dearer and right after the last plan
  EXPECT_EQ(p.decision.action, ReplanAction::kAdopt);
  EXPECT_EQ(p.decision.reason, "requested by rollout undo");
}

TEST_F(ProposeReplanTest, AnInvalidPlanIsReplacedAtOnceExceptOnALoadTrigger) {
  planner::Problem without = problem_;
  const std::string gone = running_.placements.front().node;
  for (size_t n = 0; n < without.nodes.size(); ++n)
    if (without.nodes[n].name == gone) without.node_allowed[n] = false;
  auto now = ProposeReplan(without, status_, {}, Priced(1.5), At(2, "node"));
  EXPECT_EQ(now.decision.action, ReplanAction::kAdopt);
  EXPECT_NE(now.decision.reason.find(gone), std::string::npos) << now.decision.reason;
  auto load = ProposeReplan(without, status_, {}, Priced(1.5), At(2, "load"));
  EXPECT_EQ(load.decision.action, ReplanAction::kDefer);  // a measurement keeps the interval
  EXPECT_NEAR(load.decision.retry_after_s, 8, 1e-6);
}

TEST_F(ProposeReplanTest, AnUnreadableHistoryTimeCountsAsLongAgo) {
  status_.history.back().time = "yesterday";
  EXPECT_EQ(ProposeReplan(problem_, status_, {}, Priced(0.5), At(0)).decision.action, ReplanAction::kAdopt);
}

TEST_F(ProposeReplanTest, TheChurnAgainstTheRunningWorkersRaisesTheSavingNeeded) {
  auto running = BuildDeployment(in_.wf, in_.profiles, in_.inf, running_, 3);
  ASSERT_TRUE(running.ok());
  // The same plan at the next epoch moves no worker; against no running worker, every worker of
  // the candidate starts. A saving of 5% plus half the premium of that churn pays for the first only.
  ReplanCandidate same{running_, *BuildDeployment(in_.wf, in_.profiles, in_.inf, running_, 4)};
  const auto n = static_cast<double>(same.workers->size());
  ASSERT_GE(n, 2);
  same.plan.cost.total_per_hour = current_cost_ * (1 - (0.05 + 0.0025 * n));
  auto p = ProposeReplan(problem_, status_, *running, same, At(3600));
  EXPECT_EQ(p.churn, 0);
  EXPECT_EQ(p.decision.action, ReplanAction::kAdopt) << p.decision.reason;
  auto all = ProposeReplan(problem_, status_, {}, same, At(3600));
  EXPECT_EQ(all.churn, static_cast<int64_t>(n));
  EXPECT_EQ(all.decision.action, ReplanAction::kKeep) << all.decision.reason;
  // Workers that cannot be built count as no churn.
  ReplanCandidate unknown = Priced(0.9);
  EXPECT_EQ(ProposeReplan(problem_, status_, {}, unknown, At(3600)).churn, 0);
}

}  // namespace
}  // namespace jb
