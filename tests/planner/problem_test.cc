// planner/problem.cc: the percentile rule shared with the deployment, and Problem::Runnable.
#include "planner/problem.h"

#include <gtest/gtest.h>

#include "planner/solver.h"
#include "reconciler/deployment.h"
#include "tests/planner/planner_fixtures.h"

namespace jb::planner {
namespace {

TEST(LatencyAtPercentile, ReturnsTheMeasuredPercentile) {
  Latency l{10, 20, 30};
  EXPECT_DOUBLE_EQ(*LatencyAtPercentile(l, "p50"), 10);
  EXPECT_DOUBLE_EQ(*LatencyAtPercentile(l, "p75"), 20);
  EXPECT_DOUBLE_EQ(*LatencyAtPercentile(l, "p90"), 30);
}

TEST(LatencyAtPercentile, MissingPercentileIsAnErrorNotAFallback) {
  Latency l{10, 20, std::nullopt};
  auto r = LatencyAtPercentile(l, "p90");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "no p90 latency");
  Latency only_p50{10, std::nullopt, std::nullopt};
  EXPECT_FALSE(LatencyAtPercentile(only_p50, "p75").ok());
  auto bad = LatencyAtPercentile(l, "p99");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
}

// Regression: the deployment used to fall back silently (p90 -> p75 -> p50) where the planner
// refused the same data, so a worker could emulate a latency the plan never assumed. Both now
// apply LatencyAtPercentile and refuse with the same message.
TEST(LatencyAtPercentile, DeploymentAndPlannerRefuseMissingPercentileAlike) {
  auto in = testing::LoadInstance("manifests/vqa");
  in.wf.spec.options.percentile = "p90";
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto r = Solve(*p, SolverOptions{"exact", 10});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_FALSE(r->plan.placements.empty());
  ASSERT_TRUE(BuildDeployment(in.wf, in.profiles, in.inf, r->plan, 1).ok());

  // Drop the p90 of the first placement's variant on every hardware.
  const auto& pl = r->plan.placements.front();
  std::string profile;
  for (const auto& op : in.wf.spec.operators)
    if (op.name == pl.op) profile = op.profile;
  bool dropped = false;
  for (auto& mp : in.profiles)
    if (mp.metadata.name == profile)
      for (auto& v : mp.spec.variants)
        if (v.name == pl.variant)
          for (auto& [hw, lat] : v.latency_ms) {
            lat.p90.reset();
            dropped = true;
          }
  ASSERT_TRUE(dropped);

  auto d = BuildDeployment(in.wf, in.profiles, in.inf, r->plan, 1);
  ASSERT_FALSE(d.ok()) << "the deployment fell back to another percentile";
  EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(d.status().message().find("variant " + pl.variant + " has no p90 latency for hardware"), std::string::npos)
      << d.status().message();
  auto q = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(q.status().message().find("variant " + pl.variant + " has no p90 latency for hardware"), std::string::npos)
      << q.status().message();
}

TEST(Problem, RunnableNeedsAnAllowedNodeWithAProfile) {
  auto in = testing::LoadInstance("manifests/vqa");
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_FALSE(p->ops.empty());
  ASSERT_FALSE(p->ops[0].variants.empty());
  EXPECT_TRUE(p->Runnable(0, 0));
  // No latency on any node: not runnable.
  Problem q = *p;
  for (auto& lat : q.ops[0].variants[0].latency_ms) lat = kInf;
  EXPECT_FALSE(q.Runnable(0, 0));
  // Profiled, but every node excluded: not runnable either.
  Problem r = *p;
  r.node_allowed.assign(r.nodes.size(), false);
  EXPECT_FALSE(r.Runnable(0, 0));
}

}  // namespace
}  // namespace jb::planner
