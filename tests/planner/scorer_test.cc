// The scorer on hand-computed cases.
#include "planner/scorer.h"

#include <gtest/gtest.h>

#include "planner/solution.h"
#include "tests/planner/planner_fixtures.h"

namespace jb::planner {
namespace {

// One source (edge, 10 items/s x 1024 KiB) -> A, A on edge node e for keys [0,0.25) and cloud node c
// for [0.25,1). Up cost 0.5 $/GiB.
TEST(Scorer, HandComputedCostAndLoad) {
  testing::Instance in;
  in.inf.metadata.name = "i";
  in.inf.spec.tiers = {Tier{"edge", {}}, Tier{"cloud", {}}};
  in.inf.spec.nodes = {Node{"e", "edge", 0.25, "cpu", 1, {}, {}}, Node{"c", "cloud", 2.0, "gpu", 1, {}, {}}};
  in.inf.spec.links = {Link{"edge", "cloud", 0.5, {}, {}}};
  ModelProfile mp;
  mp.metadata.name = "p";
  Variant v;
  v.name = "v";
  v.output_size_kib = 1;
  v.latency_ms["cpu"] = Latency{400, 400, 400};  // 2.5 items/s
  v.latency_ms["gpu"] = Latency{50, 50, 50};     // 20 items/s
  mp.spec.variants = {v};
  in.profiles = {mp};
  in.wf.metadata.name = "w";
  in.wf.spec.infrastructure = "i";
  in.wf.spec.sources = {Source{"S", 10, "edge", {}, 1024, {}, {}, {}, {}, {}}};
  in.wf.spec.operators = {Operator{"A", "p", {Input{"S", 1}}}};
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  Solution s = EmptySolution(*p);
  s.rate[0] = {2.5, 7.5};
  s.instances = {1, 1};
  s.compute_cost = 2.25;
  Plan plan = ToPlan(*p, s, "hand", 0);
  Score sc = ScorePlan(*p, plan);
  ASSERT_TRUE(sc.feasible()) << sc.violations[0];
  EXPECT_DOUBLE_EQ(sc.compute, 2.25);
  // 7.5 items/s x 1024 KiB = 7680 KiB/s -> x 3600 / 1024^2 GiB/h = 26.3671875 GiB/h x 0.5 $/GiB.
  EXPECT_NEAR(sc.network, 7.5 * 1024 * 3600.0 / (1024.0 * 1024.0) * 0.5, 1e-12);
  EXPECT_NEAR(sc.node_load["e"], 1.0, 1e-12);
  EXPECT_NEAR(sc.node_load["c"], 0.375, 1e-12);

  // Overloading the edge node is caught.
  s.rate[0] = {3.0, 7.0};
  sc = ScorePlan(*p, ToPlan(*p, s, "hand", 0));
  EXPECT_FALSE(sc.feasible());
  // Proportional routing of a single source piece equals key-range routing.
  s.rate[0] = {2.5, 7.5};
  EXPECT_NEAR(ProportionalNetworkCost(*p, ToPlan(*p, s, "hand", 0)), 7.5 * 1024 * 3600.0 / (1024.0 * 1024.0) * 0.5,
              1e-12);
}

TEST(Scorer, RejectsMalformedPlans) {
  auto in = testing::LoadInstance("manifests/vqa");
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok());
  Plan plan;
  plan.variants = {{"ExtractImageFeature", "resnet18"}, {"SpeechRecognition", "nope"}, {"VQA", "default"}};
  plan.placements.push_back(
      Placement{"ExtractImageFeature", "resnet18", "workflow-compute-gpu-1", "cloud", 1, 20, 0, {0, 0.5}});
  Score sc = ScorePlan(*p, plan);
  EXPECT_FALSE(sc.feasible());
  bool unknown = false, gap = false;
  for (const auto& v : sc.violations) {
    unknown = unknown || v.find("unknown variant nope") != std::string::npos;
    gap = gap || v.find("do not cover") != std::string::npos;
  }
  EXPECT_TRUE(unknown);
  EXPECT_TRUE(gap);
}

}  // namespace
}  // namespace jb::planner
