// Numbers the solver cannot take and the hard solve limits. A price of 1e25 made
// COIN-OR's CLP abort the process (an assertion in ClpSimplex::createRim); every call below must
// return a Status instead. Problems are built in code or edited after BuildProblem, bypassing
// validation, so these hold whatever validation admits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/problem.h"
#include "planner/solver.h"
#include "tests/planner/planner_fixtures.h"

namespace jb::planner {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Slack for the steps between the solver's checks (a model build, a CLP iteration); sanitizer
// builds run ~10x slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlackS = 15;
#else
constexpr double kSlackS = 1.5;
#endif

class NumericLimits : public ::testing::Test {
 protected:
  void SetUp() override { in_ = testing::LoadInstance("manifests/vqa"); }
  Problem Built() {
    auto p = BuildProblem(in_.wf, in_.profiles, in_.inf);
    EXPECT_TRUE(p.ok()) << p.status().message();
    return *p;
  }
  // Every solver entry point returns InvalidArgument whose message contains `names`.
  static void ExpectRefusedEverywhere(const Problem& p, const std::string& names) {
    for (const char* solver : {"auto", "exact", "heuristic"}) {
      auto r = Solve(p, SolverOptions{solver, 2});
      ASSERT_FALSE(r.ok()) << solver;
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << solver;
      EXPECT_NE(r.status().message().find(names), std::string::npos) << r.status().message();
    }
    EXPECT_FALSE(SolveExact(p, 2).ok());
    EXPECT_FALSE(SolveHeuristic(p, 2).ok());
    EXPECT_FALSE(SolveRelaxation(p, 2).ok());
    EXPECT_FALSE(Prototype(p).ok());
    EXPECT_NE(Diagnose(p).find(names), std::string::npos);
    EXPECT_EQ(BranchingBound(p, 1), 0.0);
  }
  testing::Instance in_;
};

TEST_F(NumericLimits, APriceOf1e25IsRefusedByNameInsteadOfAbortingClp) {
  in_.inf.spec.nodes[0].price_per_hour = 1e25;
  auto p = BuildProblem(in_.wf, in_.profiles, in_.inf);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("pricePerHour 1e+25 of node " + in_.inf.spec.nodes[0].name), std::string::npos)
      << p.status().message();
  EXPECT_NE(p.status().message().find("beyond what the solver can take"), std::string::npos);
}

TEST_F(NumericLimits, ALinkCostOf1e25IsRefusedByName) {
  in_.inf.spec.links[0].cost_per_gib = 1e25;
  auto p = BuildProblem(in_.wf, in_.profiles, in_.inf);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("costPerGiB 1e+25 of link edge -> cloud"), std::string::npos)
      << p.status().message();
}

TEST_F(NumericLimits, SizesOf1e30AreRefusedByName) {
  in_.wf.spec.sources[0].item_size_kib = 1e30;
  auto p = BuildProblem(in_.wf, in_.profiles, in_.inf);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("itemSizeKiB 1e+30 of source ReadImage"), std::string::npos)
      << p.status().message();
  in_ = testing::LoadInstance("manifests/vqa");
  in_.profiles[0].spec.variants[0].output_size_kib = 1e30;
  p = BuildProblem(in_.wf, in_.profiles, in_.inf);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("outputSizeKiB 1e+30"), std::string::npos) << p.status().message();
}

TEST_F(NumericLimits, ProductsOfAdmissibleNumbersAreCheckedToo) {
  // Each number within its own limit; the traffic cost they multiply to is not.
  in_.wf.spec.sources[0].rate = 1e9;
  in_.wf.spec.sources[0].item_size_kib = 1e9;
  auto p = BuildProblem(in_.wf, in_.profiles, in_.inf);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("traffic of input ReadImage of operator"), std::string::npos)
      << p.status().message();
}

TEST_F(NumericLimits, EveryEntryPointRefusesAProblemEditedPastTheLimits) {
  {
    Problem p = Built();
    p.nodes[1].price = 1e25;
    ExpectRefusedEverywhere(p, "pricePerHour 1e+25");
  }
  {
    Problem p = Built();
    p.cost_up[0] = 1e25;
    ExpectRefusedEverywhere(p, "costPerGiB 1e+25");
  }
  {
    Problem p = Built();
    p.sources[0].kib = 1e30;
    ExpectRefusedEverywhere(p, "itemSizeKiB 1e+30");
  }
}

TEST_F(NumericLimits, NaNAndInfinityAreRefused) {
  {
    Problem p = Built();
    p.ops[0].variants[0].latency_ms[0] = kNaN;
    ExpectRefusedEverywhere(p, "latency (ms) nan");
  }
  {
    Problem p = Built();
    p.nodes[0].price = kNaN;
    ExpectRefusedEverywhere(p, "pricePerHour nan");
  }
  {
    Problem p = Built();
    p.ops[1].rate = kInf;  // e.g. an operator without inputs
    ExpectRefusedEverywhere(p, "required rate");
  }
  {
    Problem p = Built();
    p.headroom = kNaN;
    ExpectRefusedEverywhere(p, "headroom");
  }
  {
    Problem p = Built();
    p.min_accuracy = -kInf;
    ExpectRefusedEverywhere(p, "minAccuracy");
  }
}

TEST_F(NumericLimits, TheBackendRefusesAModelClpWouldAbortOn) {
  // Below the problem checks: a model built by hand with CLP's fatal coefficient.
  Formulation f = Formulate(Built());
  LinearModel m = f.model;
  m.obj[static_cast<size_t>(f.u[0])] = 1e25;
  LpSession lp(m);
  Status s = lp.Solve();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("1e+25"), std::string::npos) << s.message();
  EXPECT_EQ(SolveMip(m, MipOptions{}).status().code(), Status::Code::kInvalidArgument);
  m = f.model;
  m.rows[0].val[0] = kNaN;
  EXPECT_EQ(LpSession(m).Solve().code(), Status::Code::kInvalidArgument);
  m = f.model;
  m.ub[0] = 1e30;  // finite but beyond CLP's 1e20 "infinity": would silently mean unbounded
  EXPECT_EQ(SolveMip(m, MipOptions{}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(LpSession(f.model).Solve().ok()) << "the untouched model still solves";
}

TEST_F(NumericLimits, LimitsWellInsideTheBoundsStillPlan) {
  // Large but admissible numbers: a plan, not a refusal.
  for (auto& n : in_.inf.spec.nodes) n.price_per_hour *= 1e6;
  auto p = BuildProblem(in_.wf, in_.profiles, in_.inf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto r = Solve(*p, SolverOptions{"auto", 5});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->plan.cost.total_per_hour, 1e5);
}

// A feasible 1,000-operator problem (600,000 rate columns) that takes CLP and CBC far past a second.
Problem Large() {
  auto in = testing::LargeInstance(200, 1000, 3, 7);
  for (auto& n : in.inf.spec.nodes) n.count = 10;
  auto p = BuildProblem(in.wf, in.profiles, in.inf);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return *p;
}

TEST(SolveLimitsTest, AHardDeadlineBoundsEveryPhaseOfALargeSolve) {
  Problem p = Large();
  for (const char* solver : {"auto", "heuristic", "exact"}) {
    SolverOptions so{solver, 60};  // a soft budget the phases would overrun
    so.limits.deadline = Clock::now() + std::chrono::seconds(2);
    auto t0 = Clock::now();
    auto r = Solve(p, so);
    double took = Since(t0);
    std::printf("%s with a 2 s hard deadline (60 s soft): returned after %.2f s, %s\n", solver, took,
                r.ok() ? "with a plan" : r.status().message().c_str());
    EXPECT_LT(took, 2 + kSlackS) << solver;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded) << solver << ": " << r.status().message();
    }
  }
}

TEST(SolveLimitsTest, CancellingStopsALargeSolveWithinASecond) {
  Problem p = Large();
  std::atomic<bool> cancel{false};
  SolverOptions so{"auto", 60};
  so.limits.cancel = &cancel;
  Clock::time_point cancelled_at;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cancelled_at = Clock::now();
    cancel = true;
  });
  auto r = Solve(p, so);
  auto returned = Clock::now();
  canceller.join();
  std::printf("returned %.3f s after the cancellation\n",
              std::chrono::duration<double>(returned - cancelled_at).count());
  EXPECT_LT(std::chrono::duration<double>(returned - cancelled_at).count(), kSlackS);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().message();
}

}  // namespace
}  // namespace jb::planner
