#include "planner/problem.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "planner/linear_model.h"

namespace jb::planner {

double Problem::Capacity(int o, int v, int n) const {
  double lat = ops[static_cast<size_t>(o)].variants[static_cast<size_t>(v)].latency_ms[static_cast<size_t>(n)];
  if (!std::isfinite(lat) || lat <= 0 || !node_allowed[static_cast<size_t>(n)]) return 0;
  return headroom * 1000.0 / lat;
}

StatusOr<double> LatencyAtPercentile(const Latency& l, const std::string& percentile) {
  std::optional<double> v;
  if (percentile == "p50")
    v = l.p50;
  else if (percentile == "p75")
    v = l.p75;
  else if (percentile == "p90")
    v = l.p90;
  else
    return Status::InvalidArgument("percentile must be p50, p75 or p90, not \"" + percentile + "\"");
  if (!v) return Status::InvalidArgument("no " + percentile + " latency");
  return *v;
}

size_t RateColumns(const Problem& p) {
  size_t columns = 0;
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
      for (size_t n = 0; n < p.nodes.size(); ++n)
        if (p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) > 0) ++columns;
  return columns;
}

bool Problem::Runnable(int o, int v) const {
  for (size_t n = 0; n < nodes.size(); ++n)
    if (Capacity(o, v, static_cast<int>(n)) > 0) return true;
  return false;
}

std::optional<double> Problem::Accuracy(const std::vector<int>& var) const {
  if (table) {
    for (size_t c = 0; c < table->combos.size(); ++c) {
      bool match = true;
      for (size_t i = 0; i < table->ops.size(); ++i)
        match = match && table->combos[c][i] == var[static_cast<size_t>(table->ops[i])];
      if (match) return table->accuracy[c];
    }
    return std::nullopt;
  }
  double acc = composition == "min" ? 100.0 : 1.0;
  for (size_t o = 0; o < ops.size(); ++o) {
    const auto& a = ops[o].variants[static_cast<size_t>(var[o])].accuracy;
    double x = a ? *a : 100.0;
    if (composition == "min")
      acc = std::min(acc, x);
    else
      acc *= x / 100.0;
  }
  return composition == "min" ? acc : acc * 100.0;
}

double Problem::PathCost(int a, int b) const {
  double c = 0;
  for (int t = a; t < b; ++t) c += cost_up[static_cast<size_t>(t)];
  for (int t = a; t > b; --t) c += cost_down[static_cast<size_t>(t - 1)];
  return c;
}

namespace {

std::string G(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// "<field> <value> of <owner> is beyond what the solver can take (<range>)" when v is NaN, below
// lo or above hi; an empty string when it is fine.
std::string OutOfRange(const std::string& field, double v, const std::string& owner, double lo, double hi,
                       bool inf_ok = false) {
  if (inf_ok && std::isinf(v) && v > 0) return "";
  if (!std::isnan(v) && v >= lo && v <= hi) return "";
  std::string range =
      lo > 0 ? "between " + G(lo) + " and " + G(hi) : "finite, at least " + G(lo) + " and at most " + G(hi);
  return field + " " + G(v) + " of " + owner + " is beyond what the solver can take (" + range + ")";
}

// The way back (Problem::results): the sink's tier exists, each result names an operator, and its
// rate, traffic (KiB/s, for the bandwidth rows) and cost per hour (objective) are ones the solver
// can take (the cost at the dearest path to the sink).
Status CheckResults(const Problem& p) {
  namespace nl = numeric_limits;
  if (p.results.empty()) return Status::Ok();
  if (p.sink_tier < 0 || p.sink_tier >= p.K())
    return Status::InvalidArgument("the sink's tier " + std::to_string(p.sink_tier) + " does not exist");
  for (const auto& r : p.results) {
    if (r.tier < 0 || r.tier >= p.K())
      return Status::InvalidArgument("a result goes to tier " + std::to_string(r.tier) + ", which does not exist");
    double max_cost = 0;
    for (int t = 0; t < p.K(); ++t) max_cost = std::max(max_cost, p.PathCost(t, r.tier));
    if (r.op < 0 || static_cast<size_t>(r.op) >= p.ops.size())
      return Status::InvalidArgument("a result refers to an operator that does not exist");
    const auto& op = p.ops[static_cast<size_t>(r.op)];
    std::string owner = "the results of operator " + op.name;
    if (std::string e = OutOfRange("rate (items/s)", r.rate, owner, 0, nl::kMaxRate); !e.empty())
      return Status::InvalidArgument(e);
    double kib = 0;
    for (const auto& v : op.variants) kib = std::max(kib, v.out_kib);
    double kibps = r.rate * kib, cost = kibps * kKiBpsToGiBph * max_cost;
    if (!(kibps <= nl::kMaxDerived) || !(cost <= nl::kMaxDerived))
      return Status::InvalidArgument("traffic of " + owner + " to the sink (" + G(r.rate) + " items/s x " + G(kib) +
                                     " KiB = " + G(kibps) + " KiB/s, up to " + G(cost) +
                                     " $/h across the links) is beyond what the solver can take (at most " +
                                     G(nl::kMaxDerived) + ")");
  }
  return Status::Ok();
}

}  // namespace

Status CheckNumbers(const Problem& p) {
  namespace nl = numeric_limits;
  std::string e;
  auto bad = [&](std::string why) {
    if (e.empty()) e = std::move(why);
    return !e.empty();
  };
  if (bad(OutOfRange("headroom", p.headroom, "the workflow", 1e-9, 1))) return Status::InvalidArgument(e);
  if (bad(OutOfRange("minAccuracy", p.min_accuracy, "the workflow", 0, 100))) return Status::InvalidArgument(e);
  for (const auto& n : p.nodes) {
    if (bad(OutOfRange("pricePerHour", n.price, "node " + n.name, 0, nl::kMaxPrice)) ||
        bad(OutOfRange("count", static_cast<double>(n.count), "node " + n.name, 0, nl::kMaxCount)))
      return Status::InvalidArgument(e);
    for (size_t k = 0; k < n.member_prices.size(); ++k)
      if (bad(OutOfRange("pricePerHour", n.member_prices[k], "a member of node " + n.name, 0, nl::kMaxPrice)) ||
          (k < n.member_counts.size() && bad(OutOfRange("count", static_cast<double>(n.member_counts[k]),
                                                        "a member of node " + n.name, 0, nl::kMaxCount))))
        return Status::InvalidArgument(e);
  }
  for (size_t b = 0; b + 1 < p.tiers.size(); ++b) {
    std::string up = "link " + p.tiers[b] + " -> " + p.tiers[b + 1],
                down = "link " + p.tiers[b + 1] + " -> " + p.tiers[b];
    if ((b < p.cost_up.size() && bad(OutOfRange("costPerGiB", p.cost_up[b], up, 0, nl::kMaxPrice))) ||
        (b < p.cost_down.size() && bad(OutOfRange("costPerGiB", p.cost_down[b], down, 0, nl::kMaxPrice))) ||
        (b < p.cap_up_kibps.size() &&
         bad(OutOfRange("bandwidth (KiB/s)", p.cap_up_kibps[b], up, 0, nl::kMaxBandwidthKiBps, true))) ||
        (b < p.cap_down_kibps.size() &&
         bad(OutOfRange("bandwidth (KiB/s)", p.cap_down_kibps[b], down, 0, nl::kMaxBandwidthKiBps, true))))
      return Status::InvalidArgument(e);
  }
  for (const auto& s : p.sources)
    if (bad(OutOfRange("rate (items/s)", s.rate, "source " + s.name, 0, nl::kMaxRate)) ||
        bad(OutOfRange("itemSizeKiB", s.kib, "source " + s.name, 0, nl::kMaxKiB)))
      return Status::InvalidArgument(e);
  for (const auto& o : p.ops) {
    if (bad(OutOfRange("required rate (items/s: its inputs' rates times their ratios)", o.rate, "operator " + o.name, 0,
                       nl::kMaxRate)))
      return Status::InvalidArgument(e);
    for (const auto& v : o.variants) {
      std::string owner = "variant " + v.name + " of operator " + o.name;
      if ((v.accuracy && bad(OutOfRange("accuracy", *v.accuracy, owner, 0, 100))) ||
          bad(OutOfRange("outputSizeKiB", v.out_kib, owner, 0, nl::kMaxKiB)))
        return Status::InvalidArgument(e);
      for (size_t n = 0; n < v.latency_ms.size() && n < p.nodes.size(); ++n) {
        double lat = v.latency_ms[n];
        if (std::isinf(lat) && lat > 0) continue;  // no profile for the node's hardware
        if (bad(OutOfRange("latency (ms)", lat, owner + " on node " + p.nodes[n].name, nl::kMinLatencyMs,
                           nl::kMaxLatencyMs)))
          return Status::InvalidArgument(e);
        // Capacity rows hold 1/capacity, the bounds on rates the capacity itself.
        double cap = p.headroom * 1000.0 / lat;
        if (cap > nl::kMaxDerived || 1.0 / cap > nl::kMaxDerived)
          return Status::InvalidArgument("capacity " + G(cap) + " items/s of " + owner + " on node " + p.nodes[n].name +
                                         " (latency " + G(lat) + " ms, headroom " + G(p.headroom) +
                                         ") is beyond what the solver can take (between " + G(1 / nl::kMaxDerived) +
                                         " and " + G(nl::kMaxDerived) + ")");
      }
    }
  }
  if (p.table)
    for (size_t c = 0; c < p.table->accuracy.size(); ++c)
      if (bad(OutOfRange("accuracy", p.table->accuracy[c], "accuracy table entry " + std::to_string(c + 1), 0, 100)))
        return Status::InvalidArgument(e);
  // Edges: their rate, their traffic in KiB/s (bandwidth rows) and its cost per hour (objective).
  double max_cost = 0;
  for (double c : p.cost_up) max_cost = std::max(max_cost, c);
  for (double c : p.cost_down) max_cost = std::max(max_cost, c);
  max_cost *= static_cast<double>(std::max<size_t>(1, p.tiers.size()));  // a path crosses every boundary at most once
  for (const auto& ed : p.edges) {
    if (ed.to < 0 || static_cast<size_t>(ed.to) >= p.ops.size() || ed.from < 0 ||
        static_cast<size_t>(ed.from) >= (ed.from_source ? p.sources.size() : p.ops.size()))
      return Status::InvalidArgument("an edge refers to an operator or source that does not exist");
    const std::string& from =
        ed.from_source ? p.sources[static_cast<size_t>(ed.from)].name : p.ops[static_cast<size_t>(ed.from)].name;
    std::string owner = "input " + from + " of operator " + p.ops[static_cast<size_t>(ed.to)].name;
    if (bad(OutOfRange("ratio", ed.ratio, owner, 0, nl::kMaxRatio)) ||
        bad(OutOfRange("rate (items/s)", ed.rate, owner, 0, nl::kMaxRate)))
      return Status::InvalidArgument(e);
    double kib = 0;
    if (ed.from_source)
      kib = p.sources[static_cast<size_t>(ed.from)].kib;
    else
      for (const auto& v : p.ops[static_cast<size_t>(ed.from)].variants) kib = std::max(kib, v.out_kib);
    double kibps = ed.rate * kib, cost = kibps * kKiBpsToGiBph * max_cost;
    if (!(kibps <= nl::kMaxDerived) || !(cost <= nl::kMaxDerived))
      return Status::InvalidArgument(
          "traffic of " + owner + " (" + G(ed.rate) + " items/s x " + G(kib) + " KiB = " + G(kibps) + " KiB/s, up to " +
          G(cost) + " $/h across the links) is beyond what the solver can take (at most " + G(nl::kMaxDerived) + ")");
  }
  if (auto s = CheckResults(p); !s.ok()) return s;
  return Status::Ok();
}

std::string SinkTier(const WorkflowSpec& ws) {
  for (const auto& s : ws.sources)
    if (s.type.value_or("generator") == "ingress") return s.tier;
  return ws.sources.empty() ? std::string() : ws.sources.front().tier;
}

std::vector<std::string> OtherIngressTiers(const WorkflowSpec& ws) {
  const std::string sink = SinkTier(ws);
  std::vector<std::string> out;
  for (const auto& s : ws.sources)
    if (s.type.value_or("generator") == "ingress" && s.tier != sink &&
        std::find(out.begin(), out.end(), s.tier) == out.end())
      out.push_back(s.tier);
  return out;
}

namespace {

// Name -> index maps shared by the steps of BuildProblem.
struct Indexes {
  std::map<std::string, int> tier, source, op;
};

// Percentile, headroom, exclusivity, floor and composition: the options override the workflow's.
Status ApplyOptions(const WorkflowSpec& ws, const ProblemOptions& opts, Problem& p) {
  p.percentile = opts.percentile.value_or(ws.options.percentile);
  p.headroom = opts.headroom.value_or(ws.options.headroom);
  p.exclusive = opts.exclusive.value_or(ws.options.exclusive);
  p.min_accuracy = opts.min_accuracy.value_or(ws.slo.min_accuracy);
  p.composition = ws.accuracy.composition;
  p.forbid_downward = opts.forbid_downward;
  if (p.percentile != "p50" && p.percentile != "p75" && p.percentile != "p90")
    return Status::InvalidArgument("percentile must be p50, p75 or p90, not \"" + p.percentile + "\"");
  if (!(p.headroom > 0 && p.headroom <= 1)) return Status::InvalidArgument("headroom must be in (0, 1]");
  return Status::Ok();
}

// Tiers and nodes; a node outside opts.allowed_tiers stays in the problem but may not be rented.
Status AddTiersAndNodes(const Infrastructure& inf, const ProblemOptions& opts, Problem& p, Indexes& idx) {
  for (const auto& t : inf.spec.tiers) {
    idx.tier[t.name] = static_cast<int>(p.tiers.size());
    p.tiers.push_back(t.name);
  }
  for (const auto& t : opts.allowed_tiers)
    if (!idx.tier.count(t)) return Status::InvalidArgument("unknown tier \"" + t + "\"");
  for (const auto& n : inf.spec.nodes) {
    auto it = idx.tier.find(n.tier);
    if (it == idx.tier.end()) return Status::InvalidArgument("node " + n.name + " refers to unknown tier " + n.tier);
    p.nodes.push_back(PNode{n.name, it->second, n.price_per_hour, n.count, {}, {}});
    bool allowed = opts.allowed_tiers.empty() ||
                   std::find(opts.allowed_tiers.begin(), opts.allowed_tiers.end(), n.tier) != opts.allowed_tiers.end();
    p.node_allowed.push_back(allowed);
  }
  return Status::Ok();
}

// Cost and capacity per boundary and direction; links must join adjacent tiers.
Status AddLinks(const Infrastructure& inf, const Indexes& idx, Problem& p) {
  int K = p.K();
  p.cost_up.assign(static_cast<size_t>(std::max(0, K - 1)), 0.0);
  p.cost_down.assign(static_cast<size_t>(std::max(0, K - 1)), 0.0);
  p.cap_up_kibps.assign(static_cast<size_t>(std::max(0, K - 1)), kInf);
  p.cap_down_kibps.assign(static_cast<size_t>(std::max(0, K - 1)), kInf);
  for (const auto& l : inf.spec.links) {
    auto a = idx.tier.find(l.from), b = idx.tier.find(l.to);
    if (a == idx.tier.end() || b == idx.tier.end() || std::abs(a->second - b->second) != 1)
      return Status::InvalidArgument("link " + l.from + " -> " + l.to + " does not join adjacent tiers");
    double cap = l.bandwidth_mbps ? *l.bandwidth_mbps * 1e6 / 8.0 / 1024.0 : kInf;
    if (b->second > a->second) {
      p.cost_up[static_cast<size_t>(a->second)] = l.cost_per_gib;
      p.cap_up_kibps[static_cast<size_t>(a->second)] = cap;
    } else {
      p.cost_down[static_cast<size_t>(b->second)] = l.cost_per_gib;
      p.cap_down_kibps[static_cast<size_t>(b->second)] = cap;
    }
  }
  return Status::Ok();
}

Status AddSources(const WorkflowSpec& ws, const ProblemOptions& opts, Problem& p, Indexes& idx) {
  double scale = opts.rate_scale.value_or(1.0);
  for (const auto& s : ws.sources) {
    auto it = idx.tier.find(s.tier);
    if (it == idx.tier.end()) return Status::InvalidArgument("source " + s.name + " enters at unknown tier " + s.tier);
    idx.source[s.name] = static_cast<int>(p.sources.size());
    p.sources.push_back(PSource{s.name, it->second, s.rate * scale, s.item_size_kib});
  }
  return Status::Ok();
}

// Topological order of operators (validation guarantees a DAG; re-checked here).
StatusOr<std::vector<const Operator*>> TopologicalOrder(const WorkflowSpec& ws, const Indexes& idx) {
  std::map<std::string, const Operator*> by_name;
  for (const auto& o : ws.operators) by_name[o.name] = &o;
  std::vector<const Operator*> order;
  std::map<std::string, int> state;
  std::function<Status(const Operator*)> visit = [&](const Operator* o) -> Status {
    if (state[o->name] == 2) return Status::Ok();
    if (state[o->name] == 1) return Status::InvalidArgument("cycle through operator " + o->name);
    state[o->name] = 1;
    for (const auto& in : o->inputs) {
      if (idx.source.count(in.from)) continue;
      auto it = by_name.find(in.from);
      if (it == by_name.end()) return Status::InvalidArgument("operator " + o->name + " has unknown input " + in.from);
      if (auto s = visit(it->second); !s.ok()) return s;
    }
    state[o->name] = 2;
    order.push_back(o);
    return Status::Ok();
  };
  for (const auto& o : ws.operators)
    if (auto s = visit(&o); !s.ok()) return s;
  return order;
}

// One variant of a profile: its latency at the problem's percentile on each node (kInf where the
// profile has no figure for the node's hardware).
StatusOr<PVariant> MakeVariant(const Operator& o, const Variant& v, const Infrastructure& inf, const Problem& p) {
  PVariant pv;
  pv.name = v.name;
  pv.accuracy = v.accuracy;
  pv.out_kib = v.output_size_kib;
  for (const auto& n : inf.spec.nodes) {
    double lat = kInf;
    auto l = v.latency_ms.find(n.hardware);
    if (l != v.latency_ms.end()) {
      StatusOr<double> val = LatencyAtPercentile(l->second, p.percentile);
      if (!val.ok())
        return Status::InvalidArgument("ModelProfile " + o.profile + " variant " + v.name + " has " +
                                       val.status().message() + " for hardware " + n.hardware);
      lat = *val;
    }
    pv.latency_ms.push_back(lat);
  }
  return pv;
}

// Operators in topological order with their variants (only the fixed one where opts fixes it).
Status AddOperators(const std::vector<const Operator*>& order, const std::vector<ModelProfile>& profiles,
                    const Infrastructure& inf, const ProblemOptions& opts, Problem& p, Indexes& idx) {
  std::map<std::string, const ModelProfile*> prof;
  for (const auto& mp : profiles) prof[mp.metadata.name] = &mp;
  for (const auto* o : order) {
    auto it = prof.find(o->profile);
    if (it == prof.end())
      return Status::InvalidArgument("operator " + o->name + " refers to unknown ModelProfile " + o->profile);
    POperator po;
    po.name = o->name;
    auto fixed = opts.fixed_variants.find(o->name);
    for (const auto& v : it->second->spec.variants) {
      if (fixed != opts.fixed_variants.end() && fixed->second != v.name) continue;
      StatusOr<PVariant> pv = MakeVariant(*o, v, inf, p);
      if (!pv.ok()) return pv.status();
      po.variants.push_back(std::move(*pv));
    }
    if (po.variants.empty())
      return Status::InvalidArgument("operator " + o->name + ": fixed variant " + fixed->second + " does not exist");
    idx.op[o->name] = static_cast<int>(p.ops.size());
    p.ops.push_back(std::move(po));
  }
  return Status::Ok();
}

// Edges and rates: an operator needs min over inputs of rate(from) × ratio.
void AddEdges(const std::vector<const Operator*>& order, Indexes& idx, Problem& p) {
  for (const auto* o : order) {
    int oi = idx.op[o->name];
    double rate = kInf;
    for (const auto& in : o->inputs) {
      PEdge e;
      e.to = oi;
      e.ratio = in.ratio;
      if (auto s = idx.source.find(in.from); s != idx.source.end()) {
        e.from_source = true;
        e.from = s->second;
        e.rate = p.sources[static_cast<size_t>(s->second)].rate * in.ratio;
      } else {
        e.from = idx.op[in.from];
        e.rate = p.ops[static_cast<size_t>(e.from)].rate * in.ratio;
      }
      rate = std::min(rate, e.rate);
      p.edges.push_back(e);
    }
    p.ops[static_cast<size_t>(oi)].rate = rate;
  }
}

// The way back: one result per terminal operator, to the sink's tier (SinkTier), and one more per
// other ingress tier (OtherIngressTiers).
Status AddResults(const WorkflowSpec& ws, const Indexes& idx, Problem& p) {
  if (ws.sources.empty()) return Status::Ok();  // no sink: nothing flows
  std::string tier = SinkTier(ws);
  auto t = idx.tier.find(tier);
  if (t == idx.tier.end()) return Status::InvalidArgument("the sink's tier " + tier + " is unknown");
  p.sink_tier = t->second;
  std::vector<int> to = {t->second};
  for (const auto& other : OtherIngressTiers(ws)) {
    auto ot = idx.tier.find(other);
    if (ot == idx.tier.end()) return Status::InvalidArgument("ingress tier " + other + " is unknown");
    to.push_back(ot->second);
  }
  std::vector<bool> consumed(p.ops.size(), false);
  for (const auto& e : p.edges)
    if (!e.from_source) consumed[static_cast<size_t>(e.from)] = true;
  for (int tier : to)
    for (size_t o = 0; o < p.ops.size(); ++o)
      if (!consumed[o]) p.results.push_back(PResult{static_cast<int>(o), p.ops[o].rate, tier});
  return Status::Ok();
}

Status AddAccuracyTable(const AccuracyTable& at, const Indexes& idx, Problem& p) {
  PTable t;
  for (const auto& name : at.operators) {
    auto it = idx.op.find(name);
    if (it == idx.op.end()) return Status::InvalidArgument("accuracy table names unknown operator " + name);
    t.ops.push_back(it->second);
  }
  for (const auto& e : at.entries) {
    std::vector<int> combo;
    for (size_t i = 0; i < t.ops.size() && i < e.variants.size(); ++i) {
      const auto& vars = p.ops[static_cast<size_t>(t.ops[i])].variants;
      int found = -1;
      for (size_t v = 0; v < vars.size(); ++v)
        if (vars[v].name == e.variants[i]) found = static_cast<int>(v);
      combo.push_back(found);
    }
    // Entries with variants excluded by fixed_variants simply drop out.
    if (combo.size() == t.ops.size() && std::find(combo.begin(), combo.end(), -1) == combo.end()) {
      t.combos.push_back(combo);
      t.accuracy.push_back(e.accuracy);
    }
  }
  p.table = std::move(t);
  return Status::Ok();
}

}  // namespace

StatusOr<Problem> BuildProblem(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& inf,
                               const ProblemOptions& opts) {
  Problem p;
  Indexes idx;
  const auto& ws = wf.spec;
  if (auto s = ApplyOptions(ws, opts, p); !s.ok()) return s;
  if (auto s = AddTiersAndNodes(inf, opts, p, idx); !s.ok()) return s;
  if (auto s = AddLinks(inf, idx, p); !s.ok()) return s;
  if (auto s = AddSources(ws, opts, p, idx); !s.ok()) return s;
  auto order = TopologicalOrder(ws, idx);
  if (!order.ok()) return order.status();
  if (auto s = AddOperators(*order, profiles, inf, opts, p, idx); !s.ok()) return s;
  AddEdges(*order, idx, p);
  if (auto s = AddResults(ws, idx, p); !s.ok()) return s;
  if (ws.accuracy.table)
    if (auto s = AddAccuracyTable(*ws.accuracy.table, idx, p); !s.ok()) return s;
  if (auto s = CheckNumbers(p); !s.ok()) return s;
  return p;
}

}  // namespace jb::planner
