// Problem: the planner's normalised, index-based snapshot of one Workflow, its ModelProfiles and
// its Infrastructure (DESIGN.md §4). Every solver, the scorer and the baselines read this one
// structure, so they agree on rates, capacities, sizes and prices by construction.
// Thread-safety: immutable after Build(); safe to share between threads.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace jb::planner {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
// items/s × KiB  ->  GiB/h
inline constexpr double kKiBpsToGiBph = 3600.0 / (1024.0 * 1024.0);

struct PVariant {
  std::string name;
  std::optional<double> accuracy;  // percent, per-operator composition only
  double out_kib = 0;
  std::vector<double> latency_ms;  // per node; kInf when the variant has no profile for the node's hardware
};

struct PEdge {
  bool from_source = false;
  int from = 0;  // source index or operator index
  int to = 0;    // operator index
  double ratio = 1.0;
  double rate = 0;  // items/s sent along the edge = rate(from) × ratio
};

struct POperator {
  std::string name;
  std::vector<PVariant> variants;
  double rate = 0;  // required input rate, items/s
};

struct PNode {
  std::string name;
  int tier = 0;
  double price = 0;
  int64_t count = 1;
  // Set only on an aggregated node (see AggregateNodes): the interchangeable nodes it stands for,
  // cheapest first. Renting u instances costs the cheapest u member instances.
  std::vector<double> member_prices;
  std::vector<int64_t> member_counts;
};

struct PSource {
  std::string name;
  int tier = 0;
  double rate = 0;
  double kib = 0;
};

// The way back: every answer of a terminal operator (one no operator consumes) travels from the
// node that computed it to the sink, on the io worker of the sink's tier (SinkTier), at the
// operator's rate, sized by its variant's output. A workflow with ingress sources on several tiers
// sends each answer also to the io worker of every other ingress tier (its callers wait there too):
// one more result per such tier. Priced and capped like any edge, except that the prototype's
// no-downward rule does not apply to it (an answer must reach its caller).
struct PResult {
  int op = 0;       // operator index (a terminal operator)
  double rate = 0;  // items/s sent = the operator's rate
  int tier = 0;     // where the answers go: the sink's tier, or another ingress source's tier
};

struct PTable {
  std::vector<int> ops;                  // operator indices covered by the table
  std::vector<std::vector<int>> combos;  // variant index per covered operator
  std::vector<double> accuracy;
};

// Options that change what is allowed; the workflow's own options are the defaults.
struct ProblemOptions {
  std::optional<std::string> percentile;  // p50|p75|p90
  std::optional<double> headroom;
  std::optional<bool> exclusive;
  std::optional<double> min_accuracy;
  std::optional<double> rate_scale;                   // multiplies every source rate (what-if / load re-plans)
  std::vector<std::string> allowed_tiers;             // empty = all tiers
  std::map<std::string, std::string> fixed_variants;  // operator -> variant
  // The prototype's rule: no traffic from a higher tier to a lower one along the workflow's edges
  // (the answers' way back to the sink, which the prototype did not model, stays allowed).
  bool forbid_downward = false;
};

struct Problem {
  std::vector<std::string> tiers;
  std::vector<PNode> nodes;
  std::vector<PSource> sources;
  std::vector<POperator> ops;  // topological order
  std::vector<PEdge> edges;
  std::vector<PResult> results;      // one per terminal operator, in operator order
  int sink_tier = 0;                 // tier index of the sink (SinkTier of the workflow)
  std::vector<double> cost_up;       // per boundary b (tier b -> b+1), USD/GiB
  std::vector<double> cost_down;     // per boundary b (tier b+1 -> b)
  std::vector<double> cap_up_kibps;  // per boundary; kInf when uncapped
  std::vector<double> cap_down_kibps;
  std::optional<PTable> table;  // end-to-end accuracy table, else composition
  std::string composition = "product";
  double min_accuracy = 0;
  double headroom = 1.0;
  bool exclusive = false;
  std::string percentile = "p75";
  std::vector<bool> node_allowed;  // false for nodes excluded by options (e.g. cloud-only)
  bool forbid_downward = false;    // see ProblemOptions

  int K() const { return static_cast<int>(tiers.size()); }
  // Items/s one instance of `node` serves with variant `v` of operator `o` (0 when not runnable).
  double Capacity(int o, int v, int n) const;
  // True when some allowed node runs variant `v` of operator `o` (Capacity > 0 on some node).
  bool Runnable(int o, int v) const;
  // Accuracy of a full variant assignment; nullopt when the table has no entry for it.
  std::optional<double> Accuracy(const std::vector<int>& variant_of_op) const;
  // Cost in USD/h of moving `kib_per_s` from tier a to tier b (sum of the boundaries crossed).
  double PathCost(int from_tier, int to_tier) const;
};

// The tier of the workflow's sink: the tier of its first source of type "ingress" when it has one
// (answers must reach the io worker that accepted the call), else the tier of its first source;
// empty when it has no sources. The one rule for the planner (Problem::sink_tier) and the
// deployment (the io worker that hosts the sink, reconciler/deployment.cc).
std::string SinkTier(const WorkflowSpec& ws);
// The tiers, other than the sink's, of the workflow's ingress sources (in source order, each once):
// their io workers serve callers too, so the answers also go back to them.
std::vector<std::string> OtherIngressTiers(const WorkflowSpec& ws);

// Nodes of one tier whose capacities agree for every (operator, variant) are interchangeable
// except for their price. Merging them into one node with a price ladder is an exact
// reformulation (rates are divisible, so any load that fits the merged capacity fits the members
// filled cheapest first) and shrinks the model by the class size.
struct Aggregation {
  Problem merged;
  std::vector<std::vector<int>> members;  // merged node -> original nodes, cheapest first
};
Aggregation AggregateNodes(const Problem& p);

// The numbers the planner can hand its solver. COIN-OR's CLP aborts the process (an assertion) on
// an objective coefficient of 1e25 and silently treats bounds beyond 1e20 as infinite, and far
// smaller spreads already cost it its accuracy; these limits are far above anything real (and above
// what validation admits, api/types.h) yet keep every coefficient of the model within
// kMaxModelMagnitude (planner/linear_model.h), which the backend checks again.
namespace numeric_limits {
inline constexpr double kMaxPrice = 1e9;       // USD/h per node instance, USD/GiB per link
inline constexpr double kMaxRate = 1e12;       // items/s of a source, an edge or an operator
inline constexpr double kMaxKiB = 1e12;        // KiB per item (source items, variant outputs)
inline constexpr double kMaxRatio = 1e9;       // items needed per input item
inline constexpr double kMinLatencyMs = 1e-6;  // a profiled latency, when present
inline constexpr double kMaxLatencyMs = 1e12;
inline constexpr double kMaxCount = 1e9;  // instances of a node
inline constexpr double kMaxBandwidthKiBps = 1e15;
inline constexpr double kMaxRateScale = 1e6;  // what-if / load scale
// Derived: an edge's traffic (KiB/s) and its cost per unit share (USD/h), an instance's
// items-per-second capacity and its inverse.
inline constexpr double kMaxDerived = 1e15;
}  // namespace numeric_limits

// OK when every number of `p` is one the solver can take: finite (latencies may be kInf for "no
// profile"; bandwidth caps kInf for "uncapped"), not negative, within numeric_limits, and so are
// the derived traffic, cost and capacity coefficients. Else InvalidArgument naming the field, its
// owner and the value, e.g. "pricePerHour 1e+25 of node n1 is beyond what the solver can take
// (at most 1e+09)". BuildProblem calls it; every solver entry point calls it again for problems
// built by hand.
Status CheckNumbers(const Problem& p);

// The latency (ms) a profile measurement gives at `percentile` ("p50", "p75" or "p90"). The one
// rule for latency at a percentile, used by the planner (BuildProblem: capacities) and by the
// deployment (reconciler/deployment.cc: the emulated runtime's latency), so both read the same
// number: the percentile must have been measured. A missing p75 or p90 is an InvalidArgument
// ("no p90 latency"), never a silent fallback to another percentile, which would plan or run with
// a latency the plan did not assume. An unknown percentile name is InvalidArgument too.
// Callers prefix the message with the profile, variant and hardware.
StatusOr<double> LatencyAtPercentile(const Latency& l, const std::string& percentile);

// Rate columns (operator, variant, node) of `p` whose capacity is positive: the size of the full
// model's rate block, and what makes a plan large (the reconciler schedules large plans apart).
size_t RateColumns(const Problem& p);

// Builds the snapshot. Fails with InvalidArgument for inputs the validation would reject
// (dangling references, missing percentile data) and for numbers the solver cannot take
// (CheckNumbers), so the planner never sees a broken model.
StatusOr<Problem> BuildProblem(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& inf,
                               const ProblemOptions& opts = {});

}  // namespace jb::planner
