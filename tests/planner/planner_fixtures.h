// Test fixtures for the planner: the VQA example and seeded random small instances.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "planner/problem.h"

namespace jb::testing {

struct Instance {
  Workflow wf;
  std::vector<ModelProfile> profiles;
  Infrastructure inf;
};

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

// A small random instance: 2 tiers, 3 nodes, a chain (S -> A -> B) or a join (S1 -> A, S2 -> B,
// A + B -> C), 2 variants per operator. Capacities are multiples of rate/4 (exclusive: each
// operator's optimal shares then lie on the 1/4 grid; shared: on the 1/12 grid).
inline Instance SmallInstance(unsigned seed, bool exclusive, bool allow_join = true) {
  std::mt19937 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  Instance in;
  in.inf.metadata.name = "small";
  in.inf.spec.tiers = {Tier{"edge", DriverSpec{}}, Tier{"cloud", DriverSpec{}}};
  in.inf.spec.nodes = {Node{"e1", "edge", std::round(uni(0.1, 1.0) * 100) / 100, "hw-e1", 1, {}, {}},
                       Node{"e2", "edge", std::round(uni(0.1, 1.0) * 100) / 100, "hw-e2", 1, {}, {}},
                       Node{"c1", "cloud", std::round(uni(0.5, 2.0) * 100) / 100, "hw-c1", pick(1, 2), {}, {}}};
  in.inf.spec.links = {Link{"edge", "cloud", std::round(uni(0, 1) * 100) / 100, {}, {}},
                       Link{"cloud", "edge", std::round(uni(0, 2) * 100) / 100, {}, {}}};
  const double rate = 4;
  bool join = pick(0, 1) == 1 && allow_join;
  in.wf.metadata.name = "small";
  in.wf.spec.infrastructure = "small";
  in.wf.spec.sources.push_back(Source{"S1", rate, "edge", {}, std::round(uni(10, 1000)), {}, {}, {}});
  std::vector<std::string> ops = join ? std::vector<std::string>{"A", "B", "C"} : std::vector<std::string>{"A", "B"};
  if (join) in.wf.spec.sources.push_back(Source{"S2", rate, "edge", {}, std::round(uni(10, 1000)), {}, {}, {}});
  for (const auto& op : ops) {
    ModelProfile mp;
    mp.metadata.name = "p-" + op;
    for (int v = 0; v < 2; ++v) {
      Variant var;
      var.name = v == 0 ? "fast" : "accurate";
      var.accuracy = v == 0 ? 80.0 : 95.0;
      var.output_size_kib = std::round(uni(1, 500));
      for (const char* hw : {"hw-e1", "hw-e2", "hw-c1"}) {
        if (pick(0, 9) == 0) continue;  // not runnable there
        // Capacity k items/s = k * rate / 4; with shared nodes k in {2, 3, 4}, so that the shares of
        // operators sharing a node fall on the 1/12 grid.
        int k = exclusive ? pick(1, 4) + (v == 0 ? 1 : 0) : pick(2, 4);
        double lat = 1000.0 / k;
        var.latency_ms[hw] = Latency{lat, lat, lat};
      }
      if (var.latency_ms.empty()) var.latency_ms["hw-c1"] = Latency{250, 250, 250};
      mp.spec.variants.push_back(var);
    }
    in.profiles.push_back(mp);
    Operator o;
    o.name = op;
    o.profile = mp.metadata.name;
    if (op == "A") o.inputs = {Input{"S1", 1}};
    else if (op == "B") o.inputs = {Input{join ? "S2" : "A", 1}};
    else o.inputs = {Input{"A", 1}, Input{"B", 1}};
    in.wf.spec.operators.push_back(o);
  }
  in.wf.spec.slo.min_accuracy = pick(0, 2) == 0 ? 70.0 : 75.0;
  in.wf.spec.options.exclusive = exclusive;
  return in;
}

// A seeded large instance, the shape of bench_planner's generated ones: `ops` operators in a DAG
// (chains with joins, one source per 10 operators), `nodes` nodes over `tiers` tiers with 8
// hardware classes, 3 variants per operator, per-operator accuracy composition with the floor
// halfway between the cheapest and the most accurate composition. Built in code: sizes may exceed
// what validation admits (tests of the planner's and the reconciler's own limits).
inline Instance LargeInstance(int nodes, int ops, int tiers, unsigned seed, const std::string& name = "large") {
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
    int hw = n < kHw ? n : pick(0, kHw - 1);  // every hardware class has a node (validation asks)
    double price = std::round((0.05 + 0.1 * hw + 0.2 * tier) * uni(0.8, 1.2) * 1000) / 1000;
    in.inf.spec.nodes.push_back(Node{"n" + std::to_string(n), "t" + std::to_string(tier), price, "hw" + std::to_string(hw), 1, {}, {}});
  }
  const int sources = std::max(1, ops / 10);
  for (int s = 0; s < sources; ++s)
    in.wf.spec.sources.push_back(Source{"s" + std::to_string(s), 20, "t0", {}, uni(50, 500), {}, {}, {}});
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
