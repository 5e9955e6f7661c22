// The answers' way back to the sink (Problem::results): the sink's tier, the result terms
// BuildProblem makes, and plans that the way back decides, in every solver path and in the scorer.
#include <gtest/gtest.h>

#include "planner/formulation.h"
#include "planner/scorer.h"
#include "planner/solver.h"
#include "tests/planner/planner_fixtures.h"

namespace jb::planner {
namespace {

// KiB/s -> $/h over a link of `usd_per_gib`.
double Usd(double kibps, double usd_per_gib) { return kibps * kKiBpsToGiBph * usd_per_gib; }

// Two tiers; one edge node e (0.30 $/h) and one cloud node c (0.25 $/h), each fast enough for A
// alone; edge -> cloud 0.01 $/GiB, cloud -> edge 1 $/GiB. Source S enters at the edge (10 items/s of
// 1 KiB); A's answers are `out_kib` each. Without the way back the cloud is cheaper by 0.05 $/h.
testing::Instance TwoNodes(double out_kib) {
  testing::Instance in;
  in.inf.metadata.name = "i";
  in.inf.spec.tiers = {Tier{"edge", {}}, Tier{"cloud", {}}};
  in.inf.spec.nodes = {Node{"e", "edge", 0.30, "cpu", 1, {}, {}}, Node{"c", "cloud", 0.25, "gpu", 1, {}, {}}};
  in.inf.spec.links = {Link{"edge", "cloud", 0.01, {}, {}}, Link{"cloud", "edge", 1.0, {}, {}}};
  ModelProfile mp;
  mp.metadata.name = "p";
  Variant v;
  v.name = "v";
  v.output_size_kib = out_kib;
  v.latency_ms["cpu"] = Latency{50, 50, 50};  // 20 items/s
  v.latency_ms["gpu"] = Latency{50, 50, 50};
  mp.spec.variants = {v};
  in.profiles = {mp};
  in.wf.metadata.name = "w";
  in.wf.spec.infrastructure = "i";
  in.wf.spec.sources = {Source{"S", 10, "edge", {}, 1, {}, {}, {}, {}, {}}};
  in.wf.spec.operators = {Operator{"A", "p", {Input{"S", 1}}}};
  return in;
}

// The tier of every placement of the plan (they must agree) or "" when they do not.
std::string TierOf(const Plan& plan) {
  std::string t;
  for (const auto& pl : plan.placements) {
    if (!t.empty() && pl.tier != t) return "";
    t = pl.tier;
  }
  return t;
}

// Every solver path, checked by the scorer: the plan's tier and its cost.
void ExpectEverySolverPlaces(const Problem& p, const std::string& tier, double cost) {
  for (const char* solver : {"exact", "heuristic", "auto"}) {
    SCOPED_TRACE(solver);
    auto r = Solve(p, SolverOptions{solver, 5});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(TierOf(r->plan), tier);
    EXPECT_NEAR(r->plan.cost.total_per_hour, cost, 1e-9);
    Score sc = ScorePlan(p, r->plan);
    EXPECT_TRUE(sc.feasible()) << (sc.violations.empty() ? "" : sc.violations[0]);
    EXPECT_NEAR(sc.total, r->plan.cost.total_per_hour, 1e-9) << "stated cost must equal the scorer's";
  }
  auto lp = SolveRelaxation(p, 5);
  ASSERT_TRUE(lp.ok()) << lp.status().message();
  EXPECT_LE(lp->bound, cost + 1e-9);
}

TEST(SinkTier, IsTheFirstSourcesTierUnlessAnIngressSourceComesLater) {
  WorkflowSpec ws;
  EXPECT_EQ(SinkTier(ws), "");
  ws.sources = {Source{"a", 1, "device", {}, 1, {}, {}, {}, {}, {}}, Source{"b", 1, "edge", {}, 1, {}, {}, {}, {}, {}}};
  EXPECT_EQ(SinkTier(ws), "device");
  ws.sources[1].type = "ingress";  // answers go back to the io worker that accepted the call
  EXPECT_EQ(SinkTier(ws), "edge");
  ws.sources.push_back(Source{"c", 1, "cloud", {}, 1, {}, {}, {}, {}, {}});
  ws.sources[2].type = "ingress";  // the first ingress source
  EXPECT_EQ(SinkTier(ws), "edge");
  ws.sources[1].type = "dataset";
  EXPECT_EQ(SinkTier(ws), "cloud");
}

TEST(BuildProblem, OneResultPerTerminalOperatorAtItsRate) {
  auto in = testing::LoadInstance("manifests/vehicle-tracking");
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->results.size(), 1u);
  const POperator& track = p->ops[static_cast<size_t>(p->results[0].op)];
  EXPECT_EQ(track.name, "Track");
  EXPECT_DOUBLE_EQ(p->results[0].rate, track.rate);
  EXPECT_EQ(p->tiers[static_cast<size_t>(p->sink_tier)], "device");  // the cameras' tier
  // Two terminal operators: each sends its own answers.
  in.wf.spec.operators.push_back(Operator{"Count", in.wf.spec.operators[0].profile, {Input{"CameraSouth", 0.5}}});
  auto q = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(q.ok()) << q.status().message();
  ASSERT_EQ(q->results.size(), 2u);
  EXPECT_DOUBLE_EQ(q->results[1].rate, 5);
}

TEST(WayBack, BigAnswersKeepTheLastOperatorOnTheSinksTier) {
  // Without answers to ship, the cloud wins: 0.25 + S's 10 KiB/s up.
  auto small = BuildProblem(TwoNodes(0).wf, TwoNodes(0).profiles, TwoNodes(0).inf);
  ASSERT_TRUE(small.ok()) << small.status().message();
  ExpectEverySolverPlaces(*small, "cloud", 0.25 + Usd(10, 0.01));
  // 1 MiB answers at 10/s back down to the edge would cost 35.16 $/h: the edge node wins.
  auto in = TwoNodes(1024);
  auto big = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(big.ok()) << big.status().message();
  ExpectEverySolverPlaces(*big, "edge", 0.30);
  // The cloud-only baseline pays the way back, at the scorer's figure.
  auto cloud = CloudOnly(in.wf, in.profiles, in.inf, ProblemOptions{}, 5);
  ASSERT_TRUE(cloud.ok()) << cloud.status().message();
  EXPECT_NEAR(cloud->plan.cost.network_per_hour, Usd(10, 0.01) + Usd(10 * 1024, 1.0), 1e-9);
  EXPECT_NEAR(ScorePlan(*big, cloud->plan).network, cloud->plan.cost.network_per_hour, 1e-9);
  EXPECT_NEAR(ScorePlan(*big, cloud->plan).boundary_down_kibps["edge"], 10 * 1024, 1e-9);
  // So does the prototype's proportional model.
  EXPECT_NEAR(ProportionalNetworkCost(*big, cloud->plan), cloud->plan.cost.network_per_hour, 1e-9);
}

TEST(WayBack, AnIngressSourceAtTheCloudPullsTheLastOperatorUp) {
  // Q, an ingress source at the cloud, joins S: the answers go back to the cloud, so the edge
  // placement would ship them up (10 MiB/s x 0.01 $/GiB = 0.35 $/h) and the cloud node wins.
  auto in = TwoNodes(1024);
  in.wf.spec.sources.push_back(Source{"Q", 10, "cloud", {}, 0, {}, {}, {}, {}, {}});
  in.wf.spec.sources.back().type = "ingress";
  in.wf.spec.operators[0].inputs.push_back(Input{"Q", 1});
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->sink_tier, 1);
  ExpectEverySolverPlaces(*p, "cloud", 0.25 + Usd(10, 0.01));
  // As a generator Q leaves the sink on the first source's tier, the edge, and the edge wins again.
  in.wf.spec.sources.back().type = "generator";
  auto q = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->sink_tier, 0);
  ExpectEverySolverPlaces(*q, "edge", 0.30);
}

TEST(WayBack, IngressOnTwoTiersSendsTheAnswersBackToBoth) {
  // S (edge) and Q (cloud) are both ingress sources: the sink is on the edge (the first ingress
  // source's tier) and the cloud's io worker waits for the answers of its callers too. One result
  // per terminal operator and ingress tier.
  auto in = TwoNodes(1024);
  in.wf.spec.sources[0].type = "ingress";
  in.wf.spec.sources.push_back(Source{"Q", 10, "cloud", {}, 0, {}, {}, {}, {}, {}});
  in.wf.spec.sources.back().type = "ingress";
  in.wf.spec.operators[0].inputs.push_back(Input{"Q", 1});
  EXPECT_EQ(OtherIngressTiers(in.wf.spec), std::vector<std::string>{"cloud"});
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->sink_tier, 0);
  ASSERT_EQ(p->results.size(), 2u);
  EXPECT_EQ(p->results[0].tier, 0);
  EXPECT_EQ(p->results[1].tier, 1);
  // On the edge A ships 10 MiB/s of answers up (0.01 $/GiB); on the cloud it would ship them down
  // (1 $/GiB) plus S's items up: the edge wins, and its way back to the cloud is paid.
  ExpectEverySolverPlaces(*p, "edge", 0.30 + Usd(10 * 1024, 0.01));
  auto r = Solve(*p, SolverOptions{"exact", 5});
  ASSERT_TRUE(r.ok()) << r.status().message();
  Score sc = ScorePlan(*p, r->plan);
  EXPECT_NEAR(sc.boundary_up_kibps["edge"], 10 * 1024, 1e-9);
  EXPECT_NEAR(ProportionalNetworkCost(*p, r->plan), sc.network, 1e-9);
  // The cloud-only baseline pays both ways back: down to the sink, none up to the cloud's callers.
  auto cloud = CloudOnly(in.wf, in.profiles, in.inf, ProblemOptions{}, 5);
  ASSERT_TRUE(cloud.ok()) << cloud.status().message();
  EXPECT_NEAR(cloud->plan.cost.network_per_hour, Usd(10, 0.01) + Usd(10 * 1024, 1.0), 1e-9);
  EXPECT_NEAR(ScorePlan(*p, cloud->plan).network, cloud->plan.cost.network_per_hour, 1e-9);
}

TEST(WayBack, TheAnswersSizeChoosesTheVariant) {
  // A second variant, "compact", answers in 1 KiB but runs only on the cloud. "raw" on the edge
  // costs 0.30 $/h; compact on the cloud 0.25 + S's 10 KiB/s up + 10 KiB/s of answers down
  // (0.0347 $/h) = 0.2847 $/h, the cheapest.
  auto in = TwoNodes(1024);
  Variant compact = in.profiles[0].spec.variants[0];
  compact.name = "compact";
  compact.output_size_kib = 1;
  compact.latency_ms.erase("cpu");
  in.profiles[0].spec.variants.push_back(compact);
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ExpectEverySolverPlaces(*p, "cloud", 0.25 + Usd(10, 0.01) + Usd(10, 1.0));
  auto r = Solve(*p, SolverOptions{"exact", 5});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->plan.variants.at("A"), "compact");
}

TEST(WayBack, TheNoDownwardRuleLeavesTheWayBackAllowedButPriced) {
  // A runs only on the cloud; its answers must come down to the edge.
  auto in = TwoNodes(1024);
  in.profiles[0].spec.variants[0].latency_ms.erase("cpu");
  ProblemOptions o;
  o.forbid_downward = true;
  auto p = BuildProblem(in.wf, in.profiles, in.inf, o);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ExpectEverySolverPlaces(*p, "cloud", 0.25 + Usd(10, 0.01) + Usd(10 * 1024, 1.0));
}

TEST(WayBack, ABandwidthCapCountsTheAnswers) {
  // A runs only on the cloud and its answers need 10 MiB/s down: a 10 Mbit/s (1220.7 KiB/s) cap
  // on cloud -> edge cannot carry them, and the diagnosis names that link.
  auto in = TwoNodes(1024);
  in.profiles[0].spec.variants[0].latency_ms.erase("cpu");
  in.inf.spec.links[1].bandwidth_mbps = 10;
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto r = Solve(*p, SolverOptions{"exact", 5});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInfeasible);
  EXPECT_NE(r.status().message().find("bandwidth of link cloud -> edge"), std::string::npos) << r.status().message();
  // Cheap answers down (0.01 $/GiB) and a dear edge node (10 $/h): uncapped, A runs on the cloud.
  // The cap lets at most 11.9% of the answers down, so the edge node must serve and the plan is
  // dearer; what comes down stays within the cap.
  in.profiles = TwoNodes(1024).profiles;
  in.inf.spec.nodes[0].price_per_hour = 10;
  in.inf.spec.links[1].cost_per_gib = 0.01;
  in.inf.spec.links[1].bandwidth_mbps.reset();
  auto free_problem = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(free_problem.ok()) << free_problem.status().message();
  ExpectEverySolverPlaces(*free_problem, "cloud", 0.25 + Usd(10, 0.01) + Usd(10 * 1024, 0.01));
  in.inf.spec.links[1].bandwidth_mbps = 10;
  auto q = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto s = Solve(*q, SolverOptions{"exact", 5});
  ASSERT_TRUE(s.ok()) << s.status().message();
  Score sc = ScorePlan(*q, s->plan);
  EXPECT_TRUE(sc.feasible()) << (sc.violations.empty() ? "" : sc.violations[0]);
  EXPECT_LE(sc.boundary_down_kibps["edge"], 10e6 / 8 / 1024 * (1 + 1e-9));
  EXPECT_GE(s->plan.cost.total_per_hour, 10 - 1e-9) << "the cap binds: the edge node serves";
}

TEST(WayBack, AnswerTrafficBeyondTheSolversRangeIsRefused) {
  auto in = TwoNodes(1e12);
  in.wf.spec.sources[0].rate = 1e4;
  in.profiles[0].spec.variants[0].latency_ms = {{"cpu", Latency{1e-3, 1e-3, 1e-3}}};
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("to the sink"), std::string::npos) << p.status().message();
}

}  // namespace
}  // namespace jb::planner
