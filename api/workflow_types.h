// The Workflow resource: its spec (sources, operators, SLO, accuracy model, plan options) and the
// status the daemon writes (plan, conditions, observed data plane, rollout, history). Described
// once with Describe() (api/fields.h). Part of api/types.h.
// Units: rates in items/s, sizes in KiB (1024 bytes) per item, latencies in ms per item at batch 1,
// prices in USD per hour, traffic costs in USD per GiB, accuracy in percent [0, 100].
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/common_types.h"
#include "api/fields.h"

namespace jb {

// ---------------------------------------------------------------------------------------------
// Workflow
struct Source {
  std::string name;
  double rate = 0;
  std::string tier;
  std::optional<std::string> node;
  double item_size_kib = 0;
  std::optional<std::string> files;
  std::optional<int64_t> count;
  std::optional<double> generator_rate;
  std::optional<std::string> type;   // generator (when absent) | dataset | ingress
  std::optional<std::string> index;  // dataset: JSON-lines index {key, file|data, label?}
  bool operator==(const Source&) const = default;
};
template <class V>
void Describe(V& v, Source& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength));
  v.Field(
      "rate", o.rate,
      Opt().Required().Range(limits::kMinRate, limits::kMaxRate).Unit("items/s").Doc("Items per second to sustain."));
  v.Field("tier", o.tier, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Tier where the items enter."));
  v.Field("node", o.node,
          Opt().MaxLen(limits::kMaxNameLength).Doc("Node where the items enter (optional, within the tier)."));
  v.Field("itemSizeKiB", o.item_size_kib,
          Opt().Required().Range(0, limits::kMaxSizeKiB).Unit("KiB").Doc("Size of one source item in KiB."));
  v.Field(
      "files", o.files,
      Opt().MaxLen(limits::kMaxTextLength).Doc("Directory whose files the built-in generator sends (else synthetic)."));
  v.Field("count", o.count,
          Opt()
              .Range(1, limits::kMaxSourceCount)
              .Unit("items")
              .Doc("Stop after this many items (default: never; for batch runs and tests)."));
  v.Field(
      "generatorRate", o.generator_rate,
      Opt()
          .Range(limits::kMinRate, limits::kMaxRate)
          .Unit("items/s")
          .Doc(
              "Emulated load: the built-in generator emits this many items/s instead of `rate` (the plan still starts "
              "from `rate`; the load trigger re-plans for what it observes). Changing it does not by itself re-plan."));
  v.Field("type", o.type,
          Opt()
              .Enum({"generator", "dataset", "ingress"})
              .Doc("generator (default): the built-in generator (synthetic items); dataset: replays the labelled "
                   "items of `index`; ingress: requests sent to the workflow's inference endpoint (OIP v2)."));
  v.Field(
      "index", o.index,
      Opt()
          .MaxLen(limits::kMaxTextLength)
          .Doc("dataset: path of a JSON-lines index, one {key, file|data, label?} per line (jbctl profile reads it)."));
}

struct Input {
  std::string from;
  double ratio = 1.0;
  bool operator==(const Input&) const = default;
};
template <class V>
void Describe(V& v, Input& o) {
  v.Field("from", o.from, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("A source or operator name."));
  v.Field("ratio", o.ratio,
          Opt()
              .Range(limits::kMinRatio, limits::kMaxRatio)
              .Doc("Items this operator needs per item of `from` (default 1)."));
}

struct Operator {
  std::string name;
  std::string profile;
  std::vector<Input> inputs;
  bool operator==(const Operator&) const = default;
};
template <class V>
void Describe(V& v, Operator& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength));
  v.Field("profile", o.profile,
          Opt()
              .Required()
              .Min(1)
              .MaxLen(limits::kMaxNameLength)
              .Doc("Name of the ModelProfile with this operator's variants."));
  v.Field("inputs", o.inputs,
          Opt().Required().MaxItems(limits::kMaxInputs).Doc("Upstream sources/operators; several inputs make a join."));
}

struct Slo {
  double min_accuracy = 0;
  std::optional<double> max_latency_ms;
  bool operator==(const Slo&) const = default;
};
template <class V>
void Describe(V& v, Slo& o) {
  v.Field("minAccuracy", o.min_accuracy,
          Opt().Required().Range(0, 100).Unit("%").Doc("End-to-end accuracy floor in percent."));
  v.Field(
      "maxLatencyMs", o.max_latency_ms,
      Opt().Range(limits::kMinLatencyMs, limits::kMaxLatencyMs).Unit("ms").Doc("Optional end-to-end latency bound."));
}

struct AccuracyEntry {
  std::vector<std::string> variants;
  double accuracy = 0;
  bool operator==(const AccuracyEntry&) const = default;
};
template <class V>
void Describe(V& v, AccuracyEntry& o) {
  v.Field("variants", o.variants,
          Opt()
              .Required()
              .MaxItems(limits::kMaxOperators)
              .MaxLen(limits::kMaxNameLength)
              .Doc("One variant per table operator, in table order."));
  v.Field("accuracy", o.accuracy, Opt().Required().Range(0, 100).Unit("%"));
}

struct AccuracyTable {
  std::vector<std::string> operators;
  std::vector<AccuracyEntry> entries;
  bool operator==(const AccuracyTable&) const = default;
};
template <class V>
void Describe(V& v, AccuracyTable& o) {
  v.Field("operators", o.operators, Opt().Required().MaxItems(limits::kMaxOperators).MaxLen(limits::kMaxNameLength));
  v.Field("entries", o.entries,
          Opt()
              .Required()
              .MaxItems(limits::kMaxTableEntries)
              .Doc("Measured end-to-end accuracy per variant combination; missing combinations are not allowed."));
}

struct AccuracyModel {
  std::optional<AccuracyTable> table;
  std::string composition = "product";
  std::optional<std::string> scorer;  // absent = "exact"
  std::vector<std::string> scorer_command;
  bool operator==(const AccuracyModel&) const = default;
};
template <class V>
void Describe(V& v, AccuracyModel& o) {
  v.Field("table", o.table, Opt().Doc("End-to-end table; used instead of composition when present."));
  v.Field(
      "composition", o.composition,
      Opt()
          .Enum({"product", "min"})
          .Doc(
              "Without a table: end-to-end accuracy = product (as fractions) or minimum of the variants' accuracies."));
  v.Field("scorer", o.scorer,
          Opt()
              .Enum({"exact", "normalized", "exec"})
              .Doc("How the sink scores a labelled answer: exact (after trimming; default), normalized (case and "
                   "whitespace folded) or exec (scorerCommand judges)."));
  v.Field("scorerCommand", o.scorer_command,
          Opt().MaxItems(64).MaxLen(limits::kMaxTextLength).Doc("scorer exec: argv of the scoring command."));
}

// The workflow's inference endpoint (sources of type ingress).
struct IngressSpec {
  double timeout_s = 30;
  int64_t max_inflight = 256;
  bool operator==(const IngressSpec&) const = default;
};
template <class V>
void Describe(V& v, IngressSpec& o) {
  v.Field(
      "timeoutS", o.timeout_s,
      Opt().Range(0.001, 3600).Unit("s").Doc("Default request deadline (a request's `timeout` parameter overrides)."));
  v.Field("maxInflight", o.max_inflight,
          Opt().Range(1, 1 << 20).Doc("Accepted requests not yet answered; beyond this a request gets 429."));
}

// Where answers go besides the callers.
struct ResultsSpec {
  std::optional<std::string> file;
  bool operator==(const ResultsSpec&) const = default;
};
template <class V>
void Describe(V& v, ResultsSpec& o) {
  v.Field("file", o.file,
          Opt().MaxLen(limits::kMaxTextLength).Doc("JSON-lines file every answer is appended to (rotated, fsynced)."));
}

struct PlanOptions {
  std::string percentile = "p75";
  double headroom = 1.0;
  bool exclusive = false;
  bool operator==(const PlanOptions&) const = default;
};
template <class V>
void Describe(V& v, PlanOptions& o) {
  v.Field("percentile", o.percentile,
          Opt().Enum({"p50", "p75", "p90"}).Doc("Latency percentile used for capacity (default p75)."));
  v.Field("headroom", o.headroom,
          Opt().Range(limits::kMinHeadroom, 1).Doc("Usable fraction of a node's capacity (default 1.0)."));
  v.Field("exclusive", o.exclusive,
          Opt().Doc("One operator per node (the prototype's rule); default false = shared nodes."));
}

struct WorkflowSpec {
  std::string infrastructure;
  std::vector<Source> sources;
  std::vector<Operator> operators;
  Slo slo;
  AccuracyModel accuracy;
  PlanOptions options;
  std::optional<IngressSpec> ingress;
  std::optional<ResultsSpec> results;
  bool operator==(const WorkflowSpec&) const = default;
};
template <class V>
void Describe(V& v, WorkflowSpec& o) {
  v.Field("infrastructure", o.infrastructure,
          Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Name of the Infrastructure to plan on."));
  v.Field("sources", o.sources, Opt().Required().MaxItems(limits::kMaxSources));
  v.Field("operators", o.operators, Opt().Required().MaxItems(limits::kMaxOperators));
  v.Field("slo", o.slo, Opt().Required());
  v.Field("accuracy", o.accuracy, Opt());
  v.Field("options", o.options, Opt());
  v.Field("ingress", o.ingress, Opt().Doc("The inference endpoint of ingress sources."));
  v.Field("results", o.results, Opt());
}

// ---- plan and status (written by the daemon) ----------------------------------------------------
struct KeyRange {
  double lo = 0;
  double hi = 0;
  bool operator==(const KeyRange&) const = default;
};
template <class V>
void Describe(V& v, KeyRange& o) {
  v.Field("lo", o.lo, Opt().Required().Min(0).Max(1));
  v.Field("hi", o.hi, Opt().Required().Min(0).Max(1));
}

struct Placement {
  std::string op;
  std::string variant;
  std::string node;
  std::string tier;
  int64_t instances = 1;
  double rate = 0;
  double utilisation = 0;
  KeyRange keys;
  bool operator==(const Placement&) const = default;
};
template <class V>
void Describe(V& v, Placement& o) {
  v.Field("operator", o.op, Opt().Required());
  v.Field("variant", o.variant, Opt().Required());
  v.Field("node", o.node, Opt().Required());
  v.Field("tier", o.tier, Opt().Required());
  v.Field("instances", o.instances, Opt().Min(1).Doc("Pool instances this operator occupies on the node."));
  v.Field("rate", o.rate, Opt().Required().Min(0).Doc("Items/s routed to this node."));
  v.Field("utilisation", o.utilisation, Opt().Min(0).Doc("Fraction of the node's capacity this operator uses."));
  v.Field("keys", o.keys, Opt().Required().Doc("Key interval [lo, hi) routed to this node."));
}

struct PlanCost {
  double compute_per_hour = 0;
  double network_per_hour = 0;
  double total_per_hour = 0;
  bool operator==(const PlanCost&) const = default;
};
template <class V>
void Describe(V& v, PlanCost& o) {
  v.Field("computePerHour", o.compute_per_hour, Opt().Required());
  v.Field("networkPerHour", o.network_per_hour, Opt().Required());
  v.Field("totalPerHour", o.total_per_hour, Opt().Required());
}

struct Plan {
  std::map<std::string, std::string> variants;
  std::vector<Placement> placements;
  std::map<std::string, int64_t> node_instances;
  PlanCost cost;
  double accuracy = 0;
  double gap = 0;
  double lower_bound = 0;
  std::string solver;
  double solve_ms = 0;
  bool optimal = false;
  bool operator==(const Plan&) const = default;
};
template <class V>
void Describe(V& v, Plan& o) {
  v.Field("variants", o.variants, Opt().Required().Doc("Chosen variant per operator."));
  v.Field("placements", o.placements, Opt().Required());
  v.Field("nodeInstances", o.node_instances, Opt().Doc("Instances rented per used node (pools may rent several)."));
  v.Field("cost", o.cost, Opt().Required().Doc("Predicted USD per hour."));
  v.Field("accuracy", o.accuracy, Opt().Required().Doc("Predicted end-to-end accuracy in percent."));
  v.Field("gap", o.gap, Opt().Min(0).Doc("Relative gap to the proven lower bound (0 = optimal)."));
  v.Field("lowerBound", o.lower_bound, Opt().Doc("Proven lower bound on the cost, USD per hour."));
  v.Field("solver", o.solver, Opt());
  v.Field("solveMs", o.solve_ms, Opt().Min(0));
  v.Field("optimal", o.optimal, Opt());
}

struct Condition {
  std::string type;
  std::string status = "Unknown";
  std::string reason;
  std::string message;
  std::string last_transition_time;
  bool operator==(const Condition&) const = default;
};
template <class V>
void Describe(V& v, Condition& o) {
  v.Field("type", o.type,
          Opt().Required().Enum({"Planned", "Deployed", "Ready", "SLOMet", "Degraded", "ControlLinkLost"}));
  v.Field("status", o.status, Opt().Required().Enum({"True", "False", "Unknown"}));
  v.Field("reason", o.reason, Opt().Required());
  v.Field("message", o.message, Opt());
  v.Field("lastTransitionTime", o.last_transition_time, Opt().Doc("RFC 3339; changes only when status changes."));
}

// Accuracy observed at the sink over labelled answers (ingress/accuracy.h), beside the plan's.
struct ObservedAccuracy {
  double accuracy = 0;  // percent, over the window
  double low = 0;       // 95% Wilson interval, percent
  double high = 100;
  int64_t count = 0;   // scored answers in the window (the count the figure rests on)
  int64_t total = 0;   // scored answers ever (current sink process)
  double planned = 0;  // the plan's predicted accuracy, percent
  double floor = 0;    // slo.minAccuracy
  bool operator==(const ObservedAccuracy&) const = default;
};
template <class V>
void Describe(V& v, ObservedAccuracy& o) {
  v.Field("accuracy", o.accuracy, Opt().Range(0, 100).Unit("%"));
  v.Field("low", o.low, Opt().Range(0, 100).Unit("%").Doc("95% Wilson interval, lower end."));
  v.Field("high", o.high, Opt().Range(0, 100).Unit("%"));
  v.Field("count", o.count, Opt().Min(0).Doc("Scored answers the figure rests on."));
  v.Field("total", o.total, Opt().Min(0));
  v.Field("planned", o.planned, Opt().Range(0, 100).Unit("%"));
  v.Field("floor", o.floor, Opt().Range(0, 100).Unit("%"));
}

// A figure of ObservedStatus that cannot be observed now because a worker it rests on is cut off
// from the daemon (#22): the field keeps the value last observed (never a 0 that was not measured).
struct UnknownFigure {
  std::string figure;         // the ObservedStatus field ("throughput", "latencyP99Ms", ...)
  std::string reason;         // whose report is missing and why
  std::string last_observed;  // RFC 3339, when its reporter last reported ("" never)
  double age_s = -1;          // seconds since then (-1: never)
  bool operator==(const UnknownFigure&) const = default;
};
template <class V>
void Describe(V& v, UnknownFigure& o) {
  v.Field("figure", o.figure, Opt().Required());
  v.Field("reason", o.reason, Opt());
  v.Field("lastObserved", o.last_observed, Opt().Doc("RFC 3339; empty when never observed."));
  v.Field("ageSeconds", o.age_s, Opt().Doc("Age of the last observation in seconds (-1: never)."));
}

// One inference endpoint: the io worker of `tier` serves that tier's ingress sources.
struct TierIngressUrl {
  std::string tier;
  std::string url;  // scheme://host:port/v2/models/WORKFLOW
  bool operator==(const TierIngressUrl&) const = default;
};
template <class V>
void Describe(V& v, TierIngressUrl& o) {
  v.Field("tier", o.tier, Opt().Required());
  v.Field("url", o.url, Opt().Required());
}

// What the data plane reports, summarised by the reconciler from the workers' metrics.
struct ObservedStatus {
  std::string time;       // when observed (RFC 3339)
  bool emulated = false;  // some operator runs the emulated runtime (profiled latencies)
  int64_t workers = 0;
  int64_t workers_ready = 0;
  int64_t restarts = 0;
  double throughput = 0;             // items/s delivered at the sink (requests emitted in a recent 5 s window)
  bool throughput_complete = false;  // the window is a full measurement (not the start-up)
  double expected_throughput = 0;    // items/s the plan must deliver at the sink
  double latency_p50_ms = 0;         // end to end, source to sink
  double latency_p99_ms = 0;
  int64_t emitted = 0;          // items the sources emitted (all sources together)
  int64_t delivered = 0;        // distinct items at the sink
  int64_t dropped = 0;          // counted drops (join timeouts, model failures, ...)
  int64_t duplicates = 0;       // repeats discarded after re-sends
  double cross_tier_kibps = 0;  // observed, per tier boundary crossed, last 5 s
  double predicted_cross_tier_kibps = 0;
  double network_cost_per_hour = 0;          // observed cross-tier traffic x link prices
  double live_cost_per_hour = 0;             // rent of the used nodes + observed network
  std::optional<ObservedAccuracy> accuracy;  // when answers carry labels
  std::string ingress_url;                   // the inference endpoint (with several: the first tier's)
  std::vector<TierIngressUrl> ingress_urls;  // every inference endpoint, one per ingress tier, in tier order
  int64_t tls_refused = 0;                   // connections refused by the workers' mutual TLS peer check
  std::string throughput_source;             // "" the sink's report; else from where it was relayed (#22)
  std::vector<UnknownFigure> unknown;        // figures not observable now (their value: the last observed)
  bool operator==(const ObservedStatus&) const = default;
};
template <class V>
void Describe(V& v, ObservedStatus& o) {
  v.Field("time", o.time, Opt());
  v.Field("emulated", o.emulated,
          Opt().Doc("True when operators run the emulated runtime (profiled latencies, synthetic payloads)."));
  v.Field("workers", o.workers, Opt().Min(0));
  v.Field("workersReady", o.workers_ready, Opt().Min(0));
  v.Field("restarts", o.restarts, Opt().Min(0));
  v.Field("throughput", o.throughput, Opt().Min(0).Doc("Items/s delivered at the sink over the last 5 s."));
  v.Field("throughputComplete", o.throughput_complete, Opt());
  v.Field("expectedThroughput", o.expected_throughput, Opt().Min(0));
  v.Field("latencyP50Ms", o.latency_p50_ms, Opt().Min(0));
  v.Field("latencyP99Ms", o.latency_p99_ms, Opt().Min(0));
  v.Field("emitted", o.emitted, Opt().Min(0));
  v.Field("delivered", o.delivered, Opt().Min(0));
  v.Field("dropped", o.dropped, Opt().Min(0));
  v.Field("duplicates", o.duplicates, Opt().Min(0));
  v.Field("crossTierKiBps", o.cross_tier_kibps, Opt().Min(0));
  v.Field("predictedCrossTierKiBps", o.predicted_cross_tier_kibps, Opt().Min(0));
  v.Field("networkCostPerHour", o.network_cost_per_hour, Opt().Min(0));
  v.Field("liveCostPerHour", o.live_cost_per_hour, Opt().Min(0));
  v.Field("accuracy", o.accuracy, Opt().Doc("Observed accuracy over labelled answers, beside the planned one."));
  v.Field("ingressUrl", o.ingress_url,
          Opt().Doc("The inference endpoint; with ingress sources on several tiers, the first tier's "
                    "(ingressUrls lists them all)."));
  v.Field("ingressUrls", o.ingress_urls,
          Opt().Doc("Every inference endpoint, one per tier whose io worker serves ingress sources, in the "
                    "order of the cluster's tiers."));
  v.Field("tlsRefused", o.tls_refused,
          Opt().Min(0).Doc("Connections the workers refused by the mutual TLS peer check (not the daemon's CA, "
                           "another workflow, or no TLS), summed over the current processes."));
  v.Field("throughputSource", o.throughput_source,
          Opt().Doc("Empty when the throughput is the sink's own report; else how it was observed while the "
                    "sink's worker is cut off from the daemon (items its worker acknowledged, per its peers)."));
  v.Field("unknown", o.unknown,
          Opt().Doc("Figures that cannot be observed now (a reporter is cut off from the daemon); their fields "
                    "keep the last observed value."));
}

// The entry of o.unknown for `figure` (an ObservedStatus field name), nullptr when it is observed.
inline const UnknownFigure* FindUnknownFigure(const ObservedStatus& o, const std::string& figure) {
  for (const auto& u : o.unknown)
    if (u.figure == figure) return &u;
  return nullptr;
}

// A make-before-break rollout in progress (reconciler/rollout.h).
struct RolloutStatus {
  int64_t from_epoch = 0;
  int64_t to_epoch = 0;
  std::string phase;      // Starting | Switching | Draining
  std::string trigger;    // what caused the re-plan
  std::string triggered;  // RFC 3339: when the trigger was seen
  std::string switched;   // RFC 3339: when the new routes reached every worker ("" before)
  bool operator==(const RolloutStatus&) const = default;
};
template <class V>
void Describe(V& v, RolloutStatus& o) {
  v.Field("fromEpoch", o.from_epoch, Opt().Min(0));
  v.Field("toEpoch", o.to_epoch, Opt().Min(0));
  v.Field("phase", o.phase, Opt().Enum({"Starting", "Switching", "Draining"}));
  v.Field("trigger", o.trigger, Opt());
  v.Field("triggered", o.triggered, Opt());
  v.Field("switched", o.switched, Opt());
}

// One adopted plan (newest last in status.history).
struct PlanRevision {
  int64_t epoch = 0;
  std::string time;     // RFC 3339: when it was adopted
  std::string trigger;  // initial | Workflow | Infrastructure | ModelProfile | load | node | undo
  std::string reason;   // one sentence: why it replaced the previous plan
  double old_cost = 0;  // USD/h of the previous plan under the new inputs (0 for the first)
  double new_cost = 0;
  double old_accuracy = 0;
  double new_accuracy = 0;
  int64_t workers_moved = 0;        // workers started or stopped
  std::optional<double> serving_s;  // trigger -> new routes on every worker, seconds
  Plan plan;
  bool operator==(const PlanRevision&) const = default;
};
template <class V>
void Describe(V& v, PlanRevision& o) {
  v.Field("epoch", o.epoch, Opt().Required().Min(0));
  v.Field("time", o.time, Opt());
  v.Field("trigger", o.trigger, Opt());
  v.Field("reason", o.reason, Opt());
  v.Field("oldCost", o.old_cost, Opt().Min(0));
  v.Field("newCost", o.new_cost, Opt().Min(0));
  v.Field("oldAccuracy", o.old_accuracy, Opt().Min(0));
  v.Field("newAccuracy", o.new_accuracy, Opt().Min(0));
  v.Field("workersMoved", o.workers_moved, Opt().Min(0));
  v.Field("servingS", o.serving_s, Opt().Min(0).Doc("Seconds from the trigger to the new routes on every worker."));
  v.Field("plan", o.plan, Opt().Required());
}

// A node left out of the plan because its workers stopped reporting.
struct NodeOutage {
  std::string node;
  std::string reason;
  std::string since;  // RFC 3339
  bool operator==(const NodeOutage&) const = default;
};
template <class V>
void Describe(V& v, NodeOutage& o) {
  v.Field("node", o.node, Opt().Required());
  v.Field("reason", o.reason, Opt());
  v.Field("since", o.since, Opt());
}

struct WorkflowStatus {
  std::optional<int64_t> observed_generation;
  std::vector<Condition> conditions;
  std::optional<Plan> plan;
  std::optional<int64_t> plan_epoch;
  std::optional<ObservedStatus> observed;
  std::optional<std::string> planned_from;
  std::optional<RolloutStatus> rollout;
  std::vector<PlanRevision> history;  // adopted plans, oldest first (the last 10)
  std::optional<int64_t> undo_to;     // set by `jbctl rollout undo`: re-adopt this revision's plan
  std::vector<NodeOutage> unavailable_nodes;
  std::optional<double> load_scale;   // the plan is for the sources' rates x this (observed load), default 1
  std::optional<Condition> degraded;  // set while the deployed plan is a degraded one (reason, message)
  // The plan is planned at this accuracy floor (percent), raised by accuracy drift; absent = slo.minAccuracy.
  std::optional<double> accuracy_floor;
  bool operator==(const WorkflowStatus&) const = default;
};
template <class V>
void Describe(V& v, WorkflowStatus& o) {
  v.Field("observedGeneration", o.observed_generation, Opt().Min(0));
  v.Field("conditions", o.conditions, Opt());
  v.Field("plan", o.plan, Opt());
  v.Field("planEpoch", o.plan_epoch, Opt().Min(0).Doc("Increases with every new plan; workers route with it."));
  v.Field("observed", o.observed, Opt().Doc("What the data plane reports (refreshed while deployed)."));
  v.Field("plannedFrom", o.planned_from, Opt().Doc("Versions of the inputs the current plan was computed from."));
  v.Field("rollout", o.rollout, Opt().Doc("The make-before-break rollout in progress, if any."));
  v.Field("history", o.history, Opt().Doc("Adopted plans, oldest first (the last 10)."));
  v.Field("unavailableNodes", o.unavailable_nodes,
          Opt().Doc("Nodes left out of the plan (their workers stopped reporting)."));
  v.Field("degraded", o.degraded,
          Opt().Doc("Why the deployed plan is a degraded one (no plan meets the SLO), when it is."));
  v.Field("loadScale", o.load_scale,
          Opt().Min(0).Doc("The current plan is for the sources' rates times this (the observed load; 0 when "
                           "every generator is idle)."));
  v.Field("undoTo", o.undo_to, Opt().Min(1).Doc("Epoch of a history revision to re-adopt (jbctl rollout undo)."));
  v.Field("accuracyFloor", o.accuracy_floor,
          Opt().Range(0, 100).Unit("%").Doc("The plan's accuracy floor when accuracy drift raised it above "
                                            "slo.minAccuracy; cleared when the spec or a ModelProfile changes."));
}

}  // namespace jb
