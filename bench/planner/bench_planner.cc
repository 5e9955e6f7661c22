// Planner benchmarks. Prints, in one run:
//  1. VQA over a grid of accuracy floors x source rates, exclusive and shared nodes: our cost vs the
//     prototype baseline (our implementation of its algorithm) and vs the proven optimum, plus times.
//  2. Seeded generated instances up to 1000 nodes x 50 operators x 5 tiers: time and reported gap
//     of the heuristic and of the exact solver under a time limit.
// Then runs the Google Benchmark micro-benchmarks (VQA exact and heuristic solve).
// Usage: bench_planner [--quick] [benchmark flags] | bench_planner [--without-way-back] --generated |
//        bench_planner --gap-anatomy
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "api/manifest.h"
#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/scorer.h"
#include "planner/solver.h"
#include "testing/planner_instances.h"

namespace jb::planner {
namespace {

using Vqa = testing::Instance;

Vqa LoadVqa() { return testing::LoadInstance("manifests/vqa"); }

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void VqaGrid() {
  Vqa v = LoadVqa();
  std::printf(
      "== VQA grid (p75, headroom 1.0): ours = auto solver; optimum = exact CBC; prototype = beam search + greedy\n");
  std::printf("%-9s %-6s %-5s %10s %10s %10s %9s %9s %9s %9s\n", "nodes", "rate/s", "floor", "ours $/h", "proto $/h",
              "opt $/h", "ours/prot", "ours/opt", "ours ms", "opt ms");
  for (bool exclusive : {true, false}) {
    for (double scale : {0.5, 1.0, 2.0}) {
      for (double floor : {54.0, 55.0, 56.0, 57.0, 58.0}) {
        ProblemOptions o;
        o.exclusive = exclusive;
        o.rate_scale = scale;
        o.min_accuracy = floor;
        auto p = BuildProblem(v.wf, v.profiles, v.inf, o);
        if (!p.ok()) continue;
        auto t0 = std::chrono::steady_clock::now();
        auto ours = Solve(*p, SolverOptions{"auto", 10});
        double ours_ms = Seconds(t0) * 1000;
        t0 = std::chrono::steady_clock::now();
        auto opt = SolveExact(*p, 30);
        double opt_ms = Seconds(t0) * 1000;
        auto proto = Prototype(*p);
        const char* kind = exclusive ? "exclusive" : "shared";
        if (!ours.ok() || !opt.ok()) {
          std::printf("%-9s %-6.0f %-5.0f infeasible: %s\n", kind, 40 * scale, floor,
                      ours.ok() ? opt.status().message().c_str() : ours.status().message().c_str());
          continue;
        }
        double oc = ours->plan.cost.total_per_hour;
        double pc = proto.ok() ? proto->plan.cost.total_per_hour : 0;
        std::printf("%-9s %-6.0f %-5.0f %10.4f %10s %10.4f %9s %9.5f %9.1f %9.1f%s\n", kind, 40 * scale, floor, oc,
                    proto.ok() ? std::to_string(pc).substr(0, 7).c_str() : "infeas.", opt->plan.cost.total_per_hour,
                    proto.ok() ? std::to_string(oc / pc).substr(0, 6).c_str() : "-", oc / opt->plan.cost.total_per_hour,
                    ours_ms, opt_ms, opt->plan.optimal ? "" : "  (optimum not proven)");
      }
    }
  }
}

// A seeded instance: `ops` operators in a DAG (chains with joins), `nodes` nodes over `tiers` tiers
// with 8 hardware classes (each node a random one), 3 variants per operator, per-operator accuracy
// composition. The tests' generator, with the random stream these figures have always used.
testing::Instance Generate(int nodes, int ops, int tiers, unsigned seed) {
  return testing::LargeInstance(nodes, ops, tiers, seed, "gen", testing::NodeHardware::kRandom);
}

// --without-way-back: the generated instances as the model stood before the answers' way back to
// the sink was priced (Problem::results left out), to compare times and gaps on the same load.
bool g_without_way_back = false;

void GeneratedInstances(bool quick) {
  std::printf(
      "\n== Generated instances (seeded, shared nodes%s): heuristic and exact (CBC, time limit) with their gaps\n",
      g_without_way_back ? ", WITHOUT the answers' way back" : "");
  std::printf("%-22s %10s %12s %9s %12s %9s %9s\n", "nodes x ops x tiers", "heur ms", "heur $/h", "heur gap",
              "exact $/h", "exact gap", "exact s");
  struct Size {
    int nodes, ops, tiers;
  };
  std::vector<Size> sizes = {{20, 5, 2}, {100, 10, 3}, {300, 20, 4}, {1000, 50, 5}};
  if (quick) sizes.resize(2);
  for (const auto& sz : sizes) {
    auto g = Generate(sz.nodes, sz.ops, sz.tiers, 7);
    auto p = BuildProblem(g.wf, g.profiles, g.inf);
    if (!p.ok()) {
      std::printf("%s\n", p.status().message().c_str());
      continue;
    }
    if (g_without_way_back) p->results.clear();
    auto t0 = std::chrono::steady_clock::now();
    auto h = SolveHeuristic(*p, 5.0);
    double hs = Seconds(t0);
    t0 = std::chrono::steady_clock::now();
    double limit = quick ? 2.0 : 5.0;
    auto e = SolveExact(*p, limit, h.ok() ? &h->solution : nullptr);
    double es = Seconds(t0);
    char label[64];
    std::snprintf(label, sizeof(label), "%d x %d x %d", sz.nodes, sz.ops, sz.tiers);
    std::printf("%-22s %10.1f %12.4f %8.3f%% %12s %8s%% %9.2f\n", label, hs * 1000,
                h.ok() ? h->plan.cost.total_per_hour : -1.0, h.ok() ? 100 * h->plan.gap : -1.0,
                e.ok() ? std::to_string(e->plan.cost.total_per_hour).substr(0, 9).c_str() : "none",
                e.ok() ? std::to_string(100 * e->plan.gap).substr(0, 6).c_str() : "-", es);
    if (h.ok()) {
      Score sc = ScorePlan(*p, h->plan);
      if (!sc.feasible() || std::abs(sc.total - h->plan.cost.total_per_hour) > 1e-6 * sc.total)
        std::printf("  SCORER DISAGREES with the heuristic: %s\n",
                    sc.violations.empty() ? "cost" : sc.violations[0].c_str());
    }
  }
}

// The LP bound two ways on the same instance: CLP on the full model vs column generation.
void RelaxationBench(bool quick) {
  std::printf(
      "\n== LP relaxation (the heuristic's lower bound): node-by-node LP vs merged nodes + column generation, same "
      "instances\n");
  std::printf("%-22s %12s %10s %12s %10s %14s %8s\n", "nodes x ops x tiers", "full LP s", "full obj", "colgen s",
              "colgen obj", "columns used", "speedup");
  std::vector<std::array<int, 3>> sizes = {{100, 10, 3}, {300, 20, 4}, {1000, 50, 5}};
  if (quick) sizes.resize(2);
  for (const auto& sz : sizes) {
    auto g = Generate(sz[0], sz[1], sz[2], 7);
    auto p = BuildProblem(g.wf, g.profiles, g.inf);
    auto t0 = std::chrono::steady_clock::now();
    Formulation f = Formulate(*p);
    LpSession lp(f.model);
    bool ok = lp.Solve().ok();
    double full_s = Seconds(t0);
    t0 = std::chrono::steady_clock::now();
    auto cg = SolveRelaxation(*p, 600);
    double cg_s = Seconds(t0);
    char label[64];
    std::snprintf(label, sizeof(label), "%d x %d x %d", sz[0], sz[1], sz[2]);
    std::printf("%-22s %12.2f %10.5f %12.2f %10.5f %7zu/%-6zu %7.1fx\n", label, full_s, ok ? lp.objective() : -1.0,
                cg_s, cg.ok() ? cg->bound : -1.0, cg.ok() ? cg->columns : 0, cg.ok() ? cg->full_columns : 0,
                full_s / cg_s);
  }
}

// Where the heuristic's reported gap at the largest size comes from: the LP bound, the stronger
// branching bound, the LP with the heuristic's variants fixed, the best placement of those variants
// and the heuristic's plan.
void GapAnatomy() {
  std::printf("\n== Gap anatomy, 1000 x 50 x 5: LP bound vs LP at the heuristic's variants vs its plan\n");
  auto g = Generate(1000, 50, 5, 7);
  auto p = BuildProblem(g.wf, g.profiles, g.inf);
  if (!p.ok()) return;
  auto rel = SolveRelaxation(*p, 600);
  auto h = SolveHeuristic(*p, getenv("JB_HEUR_S") ? atof(getenv("JB_HEUR_S")) : 5.0);
  if (!rel.ok() || !h.ok()) return;
  ProblemOptions fixed;
  for (size_t o = 0; o < p->ops.size(); ++o)
    fixed.fixed_variants[p->ops[o].name] = p->ops[o].variants[static_cast<size_t>(h->solution.variant[o])].name;
  auto pf = BuildProblem(g.wf, g.profiles, g.inf, fixed);
  auto relf = pf.ok() ? SolveRelaxation(*pf, 600) : StatusOr<Relaxation>(pf.status());
  double lpf = relf.ok() ? relf->bound : -1;
  // Branching once on each operator the LP splits: the least child LP is a valid, stronger bound.
  for (size_t o = 0; o < rel->variant_share.size(); ++o) {
    int used = 0;
    for (double x : rel->variant_share[o]) used += x > 1e-6;
    if (used < 2) continue;
    double least = kInf;
    std::string line;
    for (size_t v = 0; v < p->ops[o].variants.size(); ++v) {
      ProblemOptions one;
      one.fixed_variants[p->ops[o].name] = p->ops[o].variants[v].name;
      auto q = BuildProblem(g.wf, g.profiles, g.inf, one);
      auto r = q.ok() ? SolveRelaxation(*q, 600) : StatusOr<Relaxation>(q.status());
      double b = r.ok() ? r->bound : kInf;
      least = std::min(least, b);
      char buf[64];
      std::snprintf(buf, sizeof(buf), " %s=%.5f", p->ops[o].variants[v].name.c_str(), b);
      line += buf;
    }
    std::printf("operator %s is split: child LPs%s -> bound %.5f\n", p->ops[o].name.c_str(), line.c_str(), least);
  }
  // The heuristic's own bound (LP, then branch and bound beside its polish), a longer branch and
  // bound, and the best placement of the heuristic's variants (CBC to proven optimality).
  double bb = BranchingBound(*p, 5.0, h->plan.cost.total_per_hour);
  auto placed = pf.ok() ? SolveExact(*pf, 15) : StatusOr<PlanResult>(pf.status());
  std::printf(
      "heuristic's reported bound %.5f | branching bound, 5 s: %.5f (+%.2f%% over the LP) | best placement of its "
      "variants: %.5f (%s)\n",
      h->plan.lower_bound, bb, 100 * (bb / rel->bound - 1), placed.ok() ? placed->plan.cost.total_per_hour : -1.0,
      placed.ok() && placed->plan.optimal ? "proven optimal" : "not proven");
  std::printf(
      "LP bound %.5f | LP at the heuristic's variants %.5f (+%.2f%%) | heuristic plan %.5f (+%.2f%% over that LP, "
      "+%.2f%% over the bound)\n",
      rel->bound, lpf, 100 * (lpf / rel->bound - 1), h->plan.cost.total_per_hour,
      100 * (h->plan.cost.total_per_hour / lpf - 1), 100 * (h->plan.cost.total_per_hour / rel->bound - 1));
}

void BM_VqaExact(benchmark::State& state) {
  Vqa v = LoadVqa();
  ProblemOptions o;
  o.exclusive = state.range(0) == 1;
  auto p = BuildProblem(v.wf, v.profiles, v.inf, o);
  for (auto _ : state) benchmark::DoNotOptimize(SolveExact(*p, 10));
}
BENCHMARK(BM_VqaExact)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_VqaHeuristic(benchmark::State& state) {
  Vqa v = LoadVqa();
  auto p = BuildProblem(v.wf, v.profiles, v.inf);
  for (auto _ : state) benchmark::DoNotOptimize(SolveHeuristic(*p, 10));
}
BENCHMARK(BM_VqaHeuristic)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace jb::planner

int main(int argc, char** argv) {
  bool quick = false;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else if (std::strcmp(argv[i], "--gap-anatomy") == 0) {
      jb::planner::GapAnatomy();
      return 0;
    } else if (std::strcmp(argv[i], "--without-way-back") == 0) {
      jb::planner::g_without_way_back = true;
    } else if (std::strcmp(argv[i], "--generated") == 0) {
      jb::planner::GeneratedInstances(false);
      return 0;
    } else
      rest.push_back(argv[i]);
  }
  jb::planner::VqaGrid();
  jb::planner::GeneratedInstances(quick);
  jb::planner::RelaxationBench(quick);
  std::printf("\n");
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
