// Planner instances shared by the tests (tests/) and the benchmarks (bench/): the manifests of a
// folder loaded as one instance, and the seeded large generated instances. Header-only and free of
// GoogleTest; LoadInstance needs JB_SOURCE_DIR defined. Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "api/manifest.h"

namespace jb::testing {

// A workflow with its profiles and its Infrastructure.
struct Instance {
  Workflow wf;
  std::vector<ModelProfile> profiles;
  Infrastructure inf;
};

// The objects of the manifests under JB_SOURCE_DIR/`dir` (the last Workflow and Infrastructure).
inline Instance LoadInstance(const std::string& dir) {
  Instance in;
  for (auto& d : LoadPath(std::string(JB_SOURCE_DIR) + "/" + dir)) {
    if (!d.object) continue;
    if (auto* w = std::get_if<Workflow>(&*d.object)) in.wf = *w;
    if (auto* i = std::get_if<Infrastructure>(&*d.object)) in.inf = *i;
    if (auto* m = std::get_if<ModelProfile>(&*d.object)) in.profiles.push_back(*m);
  }
  return in;
}

// Which hardware class each generated node gets.
enum class NodeHardware {
  // Nodes 0..7 get classes 0..7, the others a random one: every class has a node, as validation
  // asks (the tests' instances).
  kEveryClassFirst,
  // Every node a random class (bench_planner's generated instances since their first figures; a
  // different random stream, so kept for the figures to stay comparable).
  kRandom,
};

// A seeded large instance: `ops` operators in a DAG (chains with joins, one source per 10
// operators), `nodes` nodes over `tiers` tiers with 8 hardware classes, 3 variants per operator,
// per-operator accuracy composition with the floor halfway between the cheapest and the most
// accurate composition. Objects are named `name`, profiles `name`-pN. Built in code: sizes may
// exceed what validation admits (tests of the planner's and the reconciler's own limits). The
// same arguments give the same instance.
inline Instance LargeInstance(int nodes, int ops, int tiers, unsigned seed, const std::string& name = "large",
                              NodeHardware hardware = NodeHardware::kEveryClassFirst) {
  std::mt19937 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  Instance in;
  in.inf.metadata.name = name;
  for (int t = 0; t < tiers; ++t) in.inf.spec.tiers.push_back(Tier{"t" + std::to_string(t), DriverSpec{}});
  for (int t = 0; t + 1 < tiers; ++t) {
    in.inf.spec.links.push_back(Link{"t" + std::to_string(t), "t" + std::to_string(t + 1), uni(0.01, 0.1), {}, {}});
    in.inf.spec.links.push_back(Link{"t" + std::to_string(t + 1), "t" + std::to_string(t), uni(0.05, 0.5), {}, {}});
  }
  const int kHw = 8;
  for (int n = 0; n < nodes; ++n) {
    int tier = n % tiers;
    int hw = hardware == NodeHardware::kEveryClassFirst && n < kHw ? n : pick(0, kHw - 1);
    double price = std::round((0.05 + 0.1 * hw + 0.2 * tier) * uni(0.8, 1.2) * 1000) / 1000;
    in.inf.spec.nodes.push_back(
        Node{"n" + std::to_string(n), "t" + std::to_string(tier), price, "hw" + std::to_string(hw), 1, {}, {}});
  }
  const int sources = std::max(1, ops / 10);
  for (int s = 0; s < sources; ++s)
    in.wf.spec.sources.push_back(Source{"s" + std::to_string(s), 20, "t0", {}, uni(50, 500), {}, {}, {}, {}, {}});
  double lo = 1, hi = 1;
  for (int o = 0; o < ops; ++o) {
    ModelProfile mp;
    mp.metadata.name = name + "-p" + std::to_string(o);
    for (int v = 0; v < 3; ++v) {
      Variant var;
      var.name = "v" + std::to_string(v);
      var.accuracy = 97.0 + v + uni(0, 0.5);
      var.output_size_kib = uni(1, 50);
      for (int hw = 0; hw < kHw; ++hw) {
        double base = uni(20, 200) / (1 + 0.5 * hw);
        var.latency_ms["hw" + std::to_string(hw)] = Latency{base * (1 + v), base * (1 + v) * 1.1, base * (1 + v) * 1.2};
      }
      mp.spec.variants.push_back(var);
    }
    lo *= *mp.spec.variants[0].accuracy / 100;
    hi *= *mp.spec.variants[2].accuracy / 100;
    Operator op;
    op.name = "o" + std::to_string(o);
    op.profile = mp.metadata.name;
    if (o < sources) {
      op.inputs.push_back(Input{"s" + std::to_string(o), 1});
    } else {
      op.inputs.push_back(Input{"o" + std::to_string(o - 1), 1});
      if (pick(0, 3) == 0) op.inputs.push_back(Input{"o" + std::to_string(pick(0, o - 2 < 0 ? 0 : o - 2)), 1});
      if (op.inputs.size() == 2 && op.inputs[0].from == op.inputs[1].from) op.inputs.pop_back();
    }
    in.profiles.push_back(mp);
    in.wf.spec.operators.push_back(op);
  }
  in.wf.metadata.name = name;
  in.wf.spec.infrastructure = name;
  in.wf.spec.slo.min_accuracy = 100 * (lo + hi) / 2;
  return in;
}

}  // namespace jb::testing
