// Test fixtures for the planner: seeded random small instances; the VQA example and the large
// generated instances come from testing/planner_instances.h.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "planner/problem.h"
#include "testing/planner_instances.h"

namespace jb::testing {

// Where a small instance's answers go (the sink's tier, planner::SinkTier).
enum class SinkAt {
  kEdge,  // every source enters at the edge, so the sink is there (the instances since the start)
  // The last source (S2 of a join, S1 of a chain) is an ingress source entering at the cloud, so
  // the sink is there: answers travel up, and in a join the first source (S1, edge) is not the
  // sink's tier.
  kCloudIngress,
  // Three tiers: e2 moves to a middle tier "mid" (edge <-> mid and mid <-> cloud each priced as the
  // instance's edge <-> cloud link) and the last source is an ingress source there, so answers
  // come up from the edge and down from the cloud, and sources' items may cross two boundaries.
  kMiddleOfThree,
  // Every source is an ingress source and the last one enters at the cloud: in a join S1 (edge)
  // holds the sink and the answers also go back to the cloud's io worker (two results per terminal
  // operator); a chain's only source is at the cloud, with the sink.
  kTwoIngressTiers,
};

// A small random instance: 2 tiers, 3 nodes, a chain (S -> A -> B) or a join (S1 -> A, S2 -> B,
// A + B -> C), 2 variants per operator. Capacities are multiples of rate/4 (exclusive: each
// operator's optimal shares then lie on the 1/4 grid; shared: on the 1/12 grid). `sink` does not
// change the random stream: the same seed gives the same numbers.
inline Instance SmallInstance(unsigned seed, bool exclusive, bool allow_join = true, SinkAt sink = SinkAt::kEdge) {
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
  in.wf.spec.sources.push_back(Source{"S1", rate, "edge", {}, std::round(uni(10, 1000)), {}, {}, {}, {}, {}});
  std::vector<std::string> ops = join ? std::vector<std::string>{"A", "B", "C"} : std::vector<std::string>{"A", "B"};
  if (join) in.wf.spec.sources.push_back(Source{"S2", rate, "edge", {}, std::round(uni(10, 1000)), {}, {}, {}, {}, {}});
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
    if (op == "A")
      o.inputs = {Input{"S1", 1}};
    else if (op == "B")
      o.inputs = {Input{join ? "S2" : "A", 1}};
    else
      o.inputs = {Input{"A", 1}, Input{"B", 1}};
    in.wf.spec.operators.push_back(o);
  }
  if (sink != SinkAt::kEdge) {
    Source& last = in.wf.spec.sources.back();
    last.tier = sink == SinkAt::kMiddleOfThree ? "mid" : "cloud";
    last.type = "ingress";
    if (sink == SinkAt::kTwoIngressTiers) in.wf.spec.sources.front().type = "ingress";
  }
  if (sink == SinkAt::kMiddleOfThree) {
    const Link up = in.inf.spec.links[0], down = in.inf.spec.links[1];
    in.inf.spec.tiers = {Tier{"edge", DriverSpec{}}, Tier{"mid", DriverSpec{}}, Tier{"cloud", DriverSpec{}}};
    in.inf.spec.nodes[1].tier = "mid";
    in.inf.spec.links = {Link{"edge", "mid", up.cost_per_gib, {}, {}}, Link{"mid", "cloud", up.cost_per_gib, {}, {}},
                         Link{"cloud", "mid", down.cost_per_gib, {}, {}},
                         Link{"mid", "edge", down.cost_per_gib, {}, {}}};
  }
  in.wf.spec.slo.min_accuracy = pick(0, 2) == 0 ? 70.0 : 75.0;
  in.wf.spec.options.exclusive = exclusive;
  return in;
}

}  // namespace jb::testing
