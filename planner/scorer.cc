#include "planner/scorer.h"

#include <algorithm>
#include <cmath>

namespace jb::planner {

namespace {

struct Piece {
  int node;
  int tier;
  double lo, hi, rate;
  int variant;
  int64_t instances;
};

int IndexOf(const std::vector<std::string>& names, const std::string& n) {
  auto it = std::find(names.begin(), names.end(), n);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

// Per operator, its placements as index-based pieces; reports malformed plans as violations.
std::vector<std::vector<Piece>> Pieces(const Problem& p, const Plan& plan, std::vector<int>* variant,
                                       std::vector<std::string>* violations) {
  std::vector<std::string> node_names, op_names;
  for (const auto& n : p.nodes) node_names.push_back(n.name);
  for (const auto& o : p.ops) op_names.push_back(o.name);
  std::vector<std::vector<Piece>> pieces(p.ops.size());
  variant->assign(p.ops.size(), -1);
  for (size_t o = 0; o < p.ops.size(); ++o) {
    auto it = plan.variants.find(p.ops[o].name);
    if (it == plan.variants.end()) {
      violations->push_back("operator " + p.ops[o].name + " has no variant");
      continue;
    }
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
      if (p.ops[o].variants[v].name == it->second) (*variant)[o] = static_cast<int>(v);
    if ((*variant)[o] < 0) violations->push_back("operator " + p.ops[o].name + ": unknown variant " + it->second);
  }
  for (const auto& pl : plan.placements) {
    int o = IndexOf(op_names, pl.op), n = IndexOf(node_names, pl.node);
    if (o < 0 || n < 0) {
      violations->push_back("placement of " + pl.op + " on " + pl.node + " names an unknown operator or node");
      continue;
    }
    if ((*variant)[static_cast<size_t>(o)] < 0 || pl.variant != plan.variants.at(pl.op)) {
      violations->push_back("placement of " + pl.op + " on " + pl.node + " uses variant " + pl.variant +
                            ", not the plan's");
      continue;
    }
    pieces[static_cast<size_t>(o)].push_back(Piece{n, p.nodes[static_cast<size_t>(n)].tier, pl.keys.lo, pl.keys.hi,
                                                   pl.rate, (*variant)[static_cast<size_t>(o)], pl.instances});
  }
  for (size_t o = 0; o < p.ops.size(); ++o) {
    auto& ps = pieces[o];
    std::sort(ps.begin(), ps.end(), [](const Piece& a, const Piece& b) { return a.lo < b.lo; });
    double at = 0;
    for (const auto& pc : ps) {
      if (std::fabs(pc.lo - at) > 1e-9 || pc.hi < pc.lo)
        violations->push_back("operator " + p.ops[o].name + ": key ranges do not tile [0,1) near " +
                              std::to_string(at));
      at = pc.hi;
      double want = p.ops[o].rate * (pc.hi - pc.lo);
      if (std::fabs(pc.rate - want) > 1e-6 * std::max(1.0, want))
        violations->push_back("operator " + p.ops[o].name + " on " + p.nodes[static_cast<size_t>(pc.node)].name +
                              ": rate " + std::to_string(pc.rate) + " does not match its key share (" +
                              std::to_string(want) + ")");
    }
    if (std::fabs(at - 1.0) > 1e-9)
      violations->push_back("operator " + p.ops[o].name + ": key ranges do not cover [0,1)");
  }
  return pieces;
}

// The upstream pieces of edge `e` (one piece spanning all keys for a source) and its item size.
std::vector<Piece> Upstream(const Problem& p, const PEdge& e, const std::vector<std::vector<Piece>>& pieces,
                            const std::vector<int>& variant, double* kib) {
  if (e.from_source) {
    const auto& s = p.sources[static_cast<size_t>(e.from)];
    *kib = s.kib;
    return {Piece{-1, s.tier, 0.0, 1.0, s.rate, 0, 1}};
  }
  const auto& op = p.ops[static_cast<size_t>(e.from)];
  *kib = op.variants[static_cast<size_t>(variant[static_cast<size_t>(e.from)])].out_kib;
  return pieces[static_cast<size_t>(e.from)];
}

// The way back of result `r` as an edge into the sink: one piece holding every key on the sink's
// tier, fed by the terminal operator's pieces with its variant's output size.
struct SinkEdge {
  std::vector<Piece> from;
  Piece to;
  double rate = 0, kib = 0;
};
SinkEdge ResultEdge(const Problem& p, const PResult& r, const std::vector<std::vector<Piece>>& pieces,
                    const std::vector<int>& variant) {
  const size_t o = static_cast<size_t>(r.op);
  const int v = variant[o];  // -1 in a malformed plan: nothing to carry
  return SinkEdge{pieces[o], Piece{-1, r.tier, 0.0, 1.0, r.rate, 0, 1}, r.rate,
                  v < 0 ? 0.0 : p.ops[o].variants[static_cast<size_t>(v)].out_kib};
}

}  // namespace

Score ScorePlan(const Problem& p, const Plan& plan) {
  Score sc;
  std::vector<int> variant;
  auto pieces = Pieces(p, plan, &variant, &sc.violations);
  if (!sc.violations.empty()) return sc;

  // Rent and load.
  std::vector<double> busy(p.nodes.size(), 0.0);  // instance-equivalents of work
  std::vector<std::vector<int64_t>> dedicated(p.ops.size(), std::vector<int64_t>(p.nodes.size(), 0));
  for (size_t o = 0; o < p.ops.size(); ++o) {
    for (const auto& pc : pieces[o]) {
      double cap = p.Capacity(static_cast<int>(o), pc.variant, pc.node);  // includes headroom
      if (cap <= 0) {
        sc.violations.push_back(p.ops[o].name + " variant " + p.ops[o].variants[static_cast<size_t>(pc.variant)].name +
                                " cannot run on " + p.nodes[static_cast<size_t>(pc.node)].name);
        continue;
      }
      busy[static_cast<size_t>(pc.node)] += pc.rate / cap;
      dedicated[o][static_cast<size_t>(pc.node)] += pc.instances;
      if (p.exclusive && pc.rate / cap > static_cast<double>(pc.instances) + 1e-7)
        sc.violations.push_back(p.ops[o].name + " on " + p.nodes[static_cast<size_t>(pc.node)].name + " needs " +
                                std::to_string(pc.rate / cap) + " instances but holds " + std::to_string(pc.instances));
    }
  }
  for (size_t n = 0; n < p.nodes.size(); ++n) {
    auto it = plan.node_instances.find(p.nodes[n].name);
    int64_t rented = it == plan.node_instances.end() ? 0 : it->second;
    if (rented > p.nodes[n].count)
      sc.violations.push_back(p.nodes[n].name + ": rents " + std::to_string(rented) + " instances of " +
                              std::to_string(p.nodes[n].count));
    int64_t need_excl = 0;
    for (size_t o = 0; o < p.ops.size(); ++o) need_excl += dedicated[o][n];
    if (p.exclusive && need_excl > rented)
      sc.violations.push_back(p.nodes[n].name + ": operators hold " + std::to_string(need_excl) +
                              " dedicated instances but " + std::to_string(rented) + " are rented");
    if (busy[n] > static_cast<double>(rented) + 1e-7)
      sc.violations.push_back(p.nodes[n].name + ": load " + std::to_string(busy[n] * p.headroom) + " exceeds " +
                              std::to_string(rented) + " instance(s) at headroom " + std::to_string(p.headroom));
    sc.compute += static_cast<double>(rented) * p.nodes[n].price;
    if (rented > 0) sc.node_load[p.nodes[n].name] = busy[n] * p.headroom / static_cast<double>(rented);
  }

  // Traffic: intersect key intervals of each edge's two ends, pay the tier path; then the answers'
  // way back to the sink the same way. Downward traffic along the workflow's edges is kept apart:
  // the no-downward rule does not cover the way back.
  std::vector<double> up(p.cost_up.size(), 0.0), down(p.cost_down.size(), 0.0), edge_down(down);
  auto carry = [&](const std::vector<Piece>& from, const std::vector<Piece>& to, double rate, double kib,
                   std::vector<double>& down_into) {
    for (const auto& a : from) {
      for (const auto& b : to) {
        double overlap = std::min(a.hi, b.hi) - std::max(a.lo, b.lo);
        if (overlap <= 0 || a.tier == b.tier) continue;
        double kibps = overlap * rate * kib;
        sc.network += kibps * kKiBpsToGiBph * p.PathCost(a.tier, b.tier);
        for (int t = a.tier; t < b.tier; ++t) up[static_cast<size_t>(t)] += kibps;
        for (int t = a.tier; t > b.tier; --t) down_into[static_cast<size_t>(t - 1)] += kibps;
      }
    }
  };
  for (const auto& e : p.edges) {
    double kib = 0;
    std::vector<Piece> from = Upstream(p, e, pieces, variant, &kib);
    carry(from, pieces[static_cast<size_t>(e.to)], e.rate, kib, edge_down);
  }
  for (const auto& r : p.results) {
    SinkEdge se = ResultEdge(p, r, pieces, variant);
    carry(se.from, {se.to}, se.rate, se.kib, down);
  }
  for (size_t b = 0; b < down.size(); ++b) down[b] += edge_down[b];
  for (size_t b = 0; b < up.size(); ++b) {
    sc.boundary_up_kibps[p.tiers[b]] = up[b];
    sc.boundary_down_kibps[p.tiers[b]] = down[b];
    if (up[b] > p.cap_up_kibps[b] * (1 + 1e-7))
      sc.violations.push_back("link " + p.tiers[b] + " -> " + p.tiers[b + 1] + " carries " + std::to_string(up[b]) +
                              " KiB/s over its cap");
    if (p.forbid_downward && edge_down[b] > 1e-9)
      sc.violations.push_back("link " + p.tiers[b + 1] + " -> " + p.tiers[b] +
                              " carries traffic downward, which is forbidden");
    if (down[b] > p.cap_down_kibps[b] * (1 + 1e-7))
      sc.violations.push_back("link " + p.tiers[b + 1] + " -> " + p.tiers[b] + " carries " + std::to_string(down[b]) +
                              " KiB/s over its cap");
  }
  sc.total = sc.compute + sc.network;
  auto acc = p.Accuracy(variant);
  sc.accuracy = acc.value_or(0.0);
  if (!acc)
    sc.violations.push_back("the accuracy table has no entry for the chosen variants");
  else if (*acc < p.min_accuracy - 1e-9)
    sc.violations.push_back("accuracy " + std::to_string(*acc) + " is below the SLO " + std::to_string(p.min_accuracy));
  return sc;
}

double ProportionalNetworkCost(const Problem& p, const Plan& plan) {
  std::vector<int> variant;
  std::vector<std::string> violations;
  auto pieces = Pieces(p, plan, &variant, &violations);
  double cost = 0;
  for (const auto& e : p.edges) {
    double kib = 0;
    std::vector<Piece> from = Upstream(p, e, pieces, variant, &kib);
    for (const auto& a : from)
      for (const auto& b : pieces[static_cast<size_t>(e.to)])
        cost += (a.hi - a.lo) * (b.hi - b.lo) * e.rate * kib * kKiBpsToGiBph * p.PathCost(a.tier, b.tier);
  }
  // The way back: a single sink piece, so proportional routing equals key-range routing.
  for (const auto& r : p.results) {
    SinkEdge se = ResultEdge(p, r, pieces, variant);
    for (const auto& a : se.from)
      cost += (a.hi - a.lo) * se.rate * se.kib * kKiBpsToGiBph * p.PathCost(a.tier, se.to.tier);
  }
  return cost;
}

}  // namespace jb::planner
