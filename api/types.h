// Resource types of jellybean.dev/v1alpha1: Workflow, ModelProfile, Infrastructure (DESIGN.md §3).
// Each struct lists its fields once in Describe() (see api/fields.h); the YAML/JSON codec, the
// strict validation of field types/ranges and the CRD schemas in crds/ all derive from that list.
// Units: rates in items/s, sizes in KiB (1024 bytes) per item, latencies in ms per item at batch 1,
// prices in USD per hour, traffic costs in USD per GiB, accuracy in percent [0, 100].
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/fields.h"

namespace jb {

inline constexpr const char* kApiVersion = "jellybean.dev/v1alpha1";
inline constexpr const char* kNameRule = "a name of 1-63 characters: letters, digits, '-', '_' or '.'";

// ---- limits -----------------------------------------------------------------------------------
// Every number a user writes is bounded: generous for any real fleet (100-1000x the largest real
// value), but far inside what a double-precision LP solves reliably (COIN-OR's CLP aborts on
// coefficients like 1e25). Lists are bounded with margin over the largest shipped and benchmarked
// cases (bench/planner: 1000 nodes x 50 operators x 5 tiers, 3 variants over 8 hardware classes),
// so that one object cannot hold a reconcile thread for minutes. The field lists below use these,
// so the decoder, the error messages and the CRDs in crds/ state the same bounds.
namespace limits {
inline constexpr double kMaxPricePerHour = 1e4;      // USD/h per node instance (the dearest cloud VM is ~100)
inline constexpr double kMaxCostPerGiB = 1e3;        // USD/GiB (cloud egress is ~0.01-0.2)
inline constexpr double kMinBandwidthMbps = 1e-3;    // 1 kbit/s
inline constexpr double kMaxBandwidthMbps = 1e7;     // 10 Tbit/s
inline constexpr double kMinLatencyMs = 1e-3;        // 1 us per item
inline constexpr double kMaxLatencyMs = 3.6e6;       // 1 hour (per item, per link, end to end)
inline constexpr double kMaxSizeKiB = 1e7;           // ~9.5 GiB per item
inline constexpr double kMinRate = 1e-3;             // items/s: one item per ~17 minutes
inline constexpr double kMaxRate = 1e6;              // items/s per source
inline constexpr double kMinDerivedRate = 1e-6;     // items/s an operator receives (rates x ratios)
inline constexpr double kMaxDerivedRate = 1e9;
inline constexpr double kMinRatio = 1e-3;            // items needed per input item
inline constexpr double kMaxRatio = 1e3;
inline constexpr double kMinHeadroom = 0.01;         // usable fraction of a node's capacity
inline constexpr double kMaxNodeCount = 1e5;         // instances in one pool
inline constexpr double kMaxSourceCount = 1e12;      // items a batch source sends
inline constexpr double kMaxInteger = 9007199254740991;  // 2^53 - 1: the largest integer a double holds exactly
inline constexpr size_t kMaxTiers = 16;
inline constexpr size_t kMaxNodes = 10000;           // nodes (pools) per Infrastructure
inline constexpr size_t kMaxLinks = 64;
inline constexpr size_t kMaxSources = 100;           // per Workflow
inline constexpr size_t kMaxOperators = 200;         // per Workflow
inline constexpr size_t kMaxInputs = 64;             // per operator
inline constexpr size_t kMaxVariants = 64;           // per ModelProfile
inline constexpr size_t kMaxHardwareClasses = 64;    // latency entries per variant
inline constexpr size_t kMaxTableEntries = 10000;    // rows of an accuracy table
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxFinalizers = 32;
inline constexpr size_t kMaxSettings = 64;           // driver settings, runtime env entries
inline constexpr size_t kMaxArgs = 256;              // exec runtime argv
inline constexpr size_t kMaxNameLength = 253;        // names and references (tiers, nodes, hardware, ...)
inline constexpr size_t kMaxLabelLength = 63;        // label values (Kubernetes' limit)
inline constexpr size_t kMaxTextLength = 4096;       // paths, URLs, addresses, settings, argv, env values
}  // namespace limits

struct ObjectMeta {
  std::string name;
  std::map<std::string, std::string> labels;
  std::optional<int64_t> generation;
  std::optional<std::string> resource_version;
  std::optional<std::string> deletion_timestamp;
  std::vector<std::string> finalizers;
  bool operator==(const ObjectMeta&) const = default;
};
template <class V>
void Describe(V& v, ObjectMeta& o) {
  v.Field("name", o.name, Opt().Required().Min(1).Doc("Unique name of the object within its kind."));
  v.Field("labels", o.labels, Opt().MaxItems(limits::kMaxLabels).MaxLen(limits::kMaxLabelLength).Doc("Free-form key/value labels."));
  v.Field("generation", o.generation, Opt().Range(0, limits::kMaxInteger).Doc("Set by the server: bumped when the spec changes."));
  v.Field("resourceVersion", o.resource_version, Opt().MaxLen(limits::kMaxNameLength).Doc("Set by the server: optimistic concurrency token."));
  v.Field("deletionTimestamp", o.deletion_timestamp, Opt().MaxLen(limits::kMaxNameLength).Doc("Set by the server when deletion was requested."));
  v.Field("finalizers", o.finalizers, Opt().MaxItems(limits::kMaxFinalizers).MaxLen(limits::kMaxNameLength).Doc("Set by the server: work to finish before the object goes."));
}

// ---------------------------------------------------------------------------------------------
// Infrastructure
struct DriverSpec {
  std::string type = "local";
  std::map<std::string, std::string> settings;
  bool operator==(const DriverSpec&) const = default;
};
template <class V>
void Describe(V& v, DriverSpec& o) {
  v.Field("type", o.type, Opt().Required().Enum({"local", "ssh", "agent", "cloud"}).Doc("Driver that deploys workers on this tier's nodes."));
  v.Field("settings", o.settings, Opt().MaxItems(limits::kMaxSettings).MaxLen(limits::kMaxTextLength).Doc("Driver-specific settings (strings)."));
}

struct Tier {
  std::string name;
  DriverSpec driver;
  bool operator==(const Tier&) const = default;
};
template <class V>
void Describe(V& v, Tier& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Tier name; tiers are ordered, closest to the data first."));
  v.Field("driver", o.driver, Opt().Required());
}

struct Node {
  std::string name;
  std::string tier;
  double price_per_hour = 0;
  std::string hardware;
  int64_t count = 1;
  std::optional<std::string> address;
  std::optional<std::string> credentials_ref;
  bool operator==(const Node&) const = default;
};
template <class V>
void Describe(V& v, Node& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength));
  v.Field("tier", o.tier, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Name of the tier the node belongs to."));
  v.Field("pricePerHour", o.price_per_hour, Opt().Required().Range(0, limits::kMaxPricePerHour).Unit("USD/h").Doc("USD per hour while the node is used."));
  v.Field("hardware", o.hardware, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Hardware class; selects latency profiles."));
  v.Field("count", o.count, Opt().Range(1, limits::kMaxNodeCount).Unit("instances").Doc("Pool size: up to this many identical instances (default 1)."));
  v.Field("address", o.address, Opt().MaxLen(limits::kMaxTextLength).Doc("Host address for remote drivers."));
  v.Field("credentialsRef", o.credentials_ref, Opt().MaxLen(limits::kMaxTextLength).Doc("Name of the credentials (file) the driver uses."));
}

struct Link {
  std::string from;
  std::string to;
  double cost_per_gib = 0;
  std::optional<double> bandwidth_mbps;
  std::optional<double> latency_ms;
  bool operator==(const Link&) const = default;
};
template <class V>
void Describe(V& v, Link& o) {
  v.Field("from", o.from, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Source tier of this direction."));
  v.Field("to", o.to, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Destination tier; must be adjacent to `from`."));
  v.Field("costPerGiB", o.cost_per_gib, Opt().Required().Range(0, limits::kMaxCostPerGiB).Unit("USD/GiB").Doc("USD per GiB sent in this direction."));
  v.Field("bandwidthMbps", o.bandwidth_mbps, Opt().Range(limits::kMinBandwidthMbps, limits::kMaxBandwidthMbps).Unit("Mbit/s").Doc("Capacity of this direction in Mbit/s (optional cap)."));
  v.Field("latencyMs", o.latency_ms, Opt().Range(0, limits::kMaxLatencyMs).Unit("ms").Doc("One-way latency in ms."));
}

struct InfrastructureSpec {
  std::vector<Tier> tiers;
  std::vector<Node> nodes;
  std::vector<Link> links;
  bool operator==(const InfrastructureSpec&) const = default;
};
template <class V>
void Describe(V& v, InfrastructureSpec& o) {
  v.Field("tiers", o.tiers, Opt().Required().MaxItems(limits::kMaxTiers).Doc("Ordered tiers, lowest (closest to the data) first."));
  v.Field("nodes", o.nodes, Opt().Required().MaxItems(limits::kMaxNodes));
  v.Field("links", o.links, Opt().MaxItems(limits::kMaxLinks).Doc("Per-direction costs between adjacent tiers; traffic within a tier is free."));
}

// ---------------------------------------------------------------------------------------------
// ModelProfile
struct Latency {
  double p50 = 0;
  std::optional<double> p75;
  std::optional<double> p90;
  bool operator==(const Latency&) const = default;
};
template <class V>
void Describe(V& v, Latency& o) {
  v.Field("p50", o.p50, Opt().Required().Range(limits::kMinLatencyMs, limits::kMaxLatencyMs).Unit("ms").Doc("Median ms per item at batch 1."));
  v.Field("p75", o.p75, Opt().Range(limits::kMinLatencyMs, limits::kMaxLatencyMs).Unit("ms"));
  v.Field("p90", o.p90, Opt().Range(limits::kMinLatencyMs, limits::kMaxLatencyMs).Unit("ms"));
}

struct RuntimeSpec {
  std::string type = "emulated";
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::optional<std::string> url;
  bool operator==(const RuntimeSpec&) const = default;
};
template <class V>
void Describe(V& v, RuntimeSpec& o) {
  v.Field("type", o.type, Opt().Required().Enum({"emulated", "exec", "http"}).Doc("emulated spends the profiled latency (labelled as emulation); exec runs a model process; http calls an Open Inference Protocol server."));
  v.Field("command", o.command, Opt().MaxItems(limits::kMaxArgs).MaxLen(limits::kMaxTextLength).Doc("exec: argv of the persistent model process."));
  v.Field("env", o.env, Opt().MaxItems(limits::kMaxSettings).MaxLen(limits::kMaxTextLength).Doc("exec: extra environment of the model process."));
  v.Field("url", o.url, Opt().MaxLen(limits::kMaxTextLength).Doc("http: base URL of the model server."));
}

struct Variant {
  std::string name;
  std::optional<double> accuracy;
  double output_size_kib = 0;
  std::map<std::string, Latency> latency_ms;
  std::optional<RuntimeSpec> runtime;
  bool operator==(const Variant&) const = default;
};
template <class V>
void Describe(V& v, Variant& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength));
  v.Field("accuracy", o.accuracy, Opt().Range(0, 100).Unit("%").Doc("Accuracy in percent, for per-operator composition."));
  v.Field("outputSizeKiB", o.output_size_kib, Opt().Required().Range(0, limits::kMaxSizeKiB).Unit("KiB").Doc("Size of one output item in KiB."));
  v.Field("latencyMs", o.latency_ms, Opt().Required().MaxItems(limits::kMaxHardwareClasses).Doc("Per hardware class: ms per item at batch 1."));
  v.Field("runtime", o.runtime, Opt().Doc("How workers execute the variant (default emulated)."));
}

struct ModelProfileSpec {
  std::vector<Variant> variants;
  bool operator==(const ModelProfileSpec&) const = default;
};
template <class V>
void Describe(V& v, ModelProfileSpec& o) {
  v.Field("variants", o.variants, Opt().Required().MaxItems(limits::kMaxVariants));
}

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
  std::optional<std::string> type;   // generator (when absent) | dataset
  std::optional<std::string> index;  // dataset: JSON-lines index {key, file|data, label?}
  bool operator==(const Source&) const = default;
};
template <class V>
void Describe(V& v, Source& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength));
  v.Field("rate", o.rate, Opt().Required().Range(limits::kMinRate, limits::kMaxRate).Unit("items/s").Doc("Items per second to sustain."));
  v.Field("tier", o.tier, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Tier where the items enter."));
  v.Field("node", o.node, Opt().MaxLen(limits::kMaxNameLength).Doc("Node where the items enter (optional, within the tier)."));
  v.Field("itemSizeKiB", o.item_size_kib, Opt().Required().Range(0, limits::kMaxSizeKiB).Unit("KiB").Doc("Size of one source item in KiB."));
  v.Field("files", o.files, Opt().MaxLen(limits::kMaxTextLength).Doc("Directory whose files the built-in generator sends (else synthetic)."));
  v.Field("count", o.count, Opt().Range(1, limits::kMaxSourceCount).Unit("items").Doc("Stop after this many items (default: never; for batch runs and tests)."));
  v.Field("generatorRate", o.generator_rate,
          Opt().Range(limits::kMinRate, limits::kMaxRate).Unit("items/s").Doc("Emulated load: the built-in generator emits this many items/s instead of `rate` (the plan still starts "
                          "from `rate`; the load trigger re-plans for what it observes). Changing it does not by itself re-plan."));
  v.Field("type", o.type, Opt().Enum({"generator", "dataset"}).Doc("generator (default): the built-in generator; dataset: replays the labelled items of `index`."));
  v.Field("index", o.index, Opt().MaxLen(limits::kMaxTextLength).Doc("dataset: path of a JSON-lines index, one {key, file|data, label?} per line (jbctl profile reads it)."));
}

struct Input {
  std::string from;
  double ratio = 1.0;
  bool operator==(const Input&) const = default;
};
template <class V>
void Describe(V& v, Input& o) {
  v.Field("from", o.from, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("A source or operator name."));
  v.Field("ratio", o.ratio, Opt().Range(limits::kMinRatio, limits::kMaxRatio).Doc("Items this operator needs per item of `from` (default 1)."));
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
  v.Field("profile", o.profile, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Name of the ModelProfile with this operator's variants."));
  v.Field("inputs", o.inputs, Opt().Required().MaxItems(limits::kMaxInputs).Doc("Upstream sources/operators; several inputs make a join."));
}

struct Slo {
  double min_accuracy = 0;
  std::optional<double> max_latency_ms;
  bool operator==(const Slo&) const = default;
};
template <class V>
void Describe(V& v, Slo& o) {
  v.Field("minAccuracy", o.min_accuracy, Opt().Required().Range(0, 100).Unit("%").Doc("End-to-end accuracy floor in percent."));
  v.Field("maxLatencyMs", o.max_latency_ms, Opt().Range(limits::kMinLatencyMs, limits::kMaxLatencyMs).Unit("ms").Doc("Optional end-to-end latency bound."));
}

struct AccuracyEntry {
  std::vector<std::string> variants;
  double accuracy = 0;
  bool operator==(const AccuracyEntry&) const = default;
};
template <class V>
void Describe(V& v, AccuracyEntry& o) {
  v.Field("variants", o.variants, Opt().Required().MaxItems(limits::kMaxOperators).MaxLen(limits::kMaxNameLength).Doc("One variant per table operator, in table order."));
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
  v.Field("entries", o.entries, Opt().Required().MaxItems(limits::kMaxTableEntries).Doc("Measured end-to-end accuracy per variant combination; missing combinations are not allowed."));
}

struct AccuracyModel {
  std::optional<AccuracyTable> table;
  std::string composition = "product";
  bool operator==(const AccuracyModel&) const = default;
};
template <class V>
void Describe(V& v, AccuracyModel& o) {
  v.Field("table", o.table, Opt().Doc("End-to-end table; used instead of composition when present."));
  v.Field("composition", o.composition, Opt().Enum({"product", "min"}).Doc("Without a table: end-to-end accuracy = product (as fractions) or minimum of the variants' accuracies."));
}

struct PlanOptions {
  std::string percentile = "p75";
  double headroom = 1.0;
  bool exclusive = false;
  bool operator==(const PlanOptions&) const = default;
};
template <class V>
void Describe(V& v, PlanOptions& o) {
  v.Field("percentile", o.percentile, Opt().Enum({"p50", "p75", "p90"}).Doc("Latency percentile used for capacity (default p75)."));
  v.Field("headroom", o.headroom, Opt().Range(limits::kMinHeadroom, 1).Doc("Usable fraction of a node's capacity (default 1.0)."));
  v.Field("exclusive", o.exclusive, Opt().Doc("One operator per node (the prototype's rule); default false = shared nodes."));
}

struct WorkflowSpec {
  std::string infrastructure;
  std::vector<Source> sources;
  std::vector<Operator> operators;
  Slo slo;
  AccuracyModel accuracy;
  PlanOptions options;
  bool operator==(const WorkflowSpec&) const = default;
};
template <class V>
void Describe(V& v, WorkflowSpec& o) {
  v.Field("infrastructure", o.infrastructure, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Name of the Infrastructure to plan on."));
  v.Field("sources", o.sources, Opt().Required().MaxItems(limits::kMaxSources));
  v.Field("operators", o.operators, Opt().Required().MaxItems(limits::kMaxOperators));
  v.Field("slo", o.slo, Opt().Required());
  v.Field("accuracy", o.accuracy, Opt());
  v.Field("options", o.options, Opt());
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
  v.Field("type", o.type, Opt().Required().Enum({"Planned", "Deployed", "Ready", "SLOMet", "Degraded"}));
  v.Field("status", o.status, Opt().Required().Enum({"True", "False", "Unknown"}));
  v.Field("reason", o.reason, Opt().Required());
  v.Field("message", o.message, Opt());
  v.Field("lastTransitionTime", o.last_transition_time, Opt().Doc("RFC 3339; changes only when status changes."));
}

// What the data plane reports, summarised by the reconciler from the workers' metrics.
struct ObservedStatus {
  std::string time;                  // when observed (RFC 3339)
  bool emulated = false;             // some operator runs the emulated runtime (profiled latencies)
  int64_t workers = 0;
  int64_t workers_ready = 0;
  int64_t restarts = 0;
  double throughput = 0;             // items/s delivered at the sink (requests emitted in a recent 5 s window)
  bool throughput_complete = false;  // the window is a full measurement (not the start-up)
  double expected_throughput = 0;    // items/s the plan must deliver at the sink
  double latency_p50_ms = 0;         // end to end, source to sink
  double latency_p99_ms = 0;
  int64_t emitted = 0;               // items the sources emitted (all sources together)
  int64_t delivered = 0;             // distinct items at the sink
  int64_t dropped = 0;               // counted drops (join timeouts, model failures, ...)
  int64_t duplicates = 0;            // repeats discarded after re-sends
  double cross_tier_kibps = 0;       // observed, per tier boundary crossed, last 5 s
  double predicted_cross_tier_kibps = 0;
  double network_cost_per_hour = 0;  // observed cross-tier traffic x link prices
  double live_cost_per_hour = 0;     // rent of the used nodes + observed network
  bool operator==(const ObservedStatus&) const = default;
};
template <class V>
void Describe(V& v, ObservedStatus& o) {
  v.Field("time", o.time, Opt());
  v.Field("emulated", o.emulated, Opt().Doc("True when operators run the emulated runtime (profiled latencies, synthetic payloads)."));
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
  std::string time;      // RFC 3339: when it was adopted
  std::string trigger;   // initial | Workflow | Infrastructure | ModelProfile | load | node | undo
  std::string reason;    // one sentence: why it replaced the previous plan
  double old_cost = 0;   // USD/h of the previous plan under the new inputs (0 for the first)
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
  std::vector<PlanRevision> history;         // adopted plans, oldest first (the last 10)
  std::optional<int64_t> undo_to;            // set by `jbctl rollout undo`: re-adopt this revision's plan
  std::vector<NodeOutage> unavailable_nodes;
  std::optional<double> load_scale;          // the plan is for the sources' rates x this (observed load), default 1
  std::optional<Condition> degraded;         // set while the deployed plan is a degraded one (reason, message)
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
  v.Field("unavailableNodes", o.unavailable_nodes, Opt().Doc("Nodes left out of the plan (their workers stopped reporting)."));
  v.Field("degraded", o.degraded, Opt().Doc("Why the deployed plan is a degraded one (no plan meets the SLO), when it is."));
  v.Field("loadScale", o.load_scale, Opt().Gt(0).Doc("The current plan is for the sources' rates times this (the observed load)."));
  v.Field("undoTo", o.undo_to, Opt().Min(1).Doc("Epoch of a history revision to re-adopt (jbctl rollout undo)."));
}

// ---- objects ----------------------------------------------------------------------------------
struct Workflow {
  static constexpr const char* kKind = "Workflow";
  static constexpr const char* kPlural = "workflows";
  ObjectMeta metadata;
  WorkflowSpec spec;
  WorkflowStatus status;
  bool operator==(const Workflow&) const = default;
};
struct ModelProfile {
  static constexpr const char* kKind = "ModelProfile";
  static constexpr const char* kPlural = "modelprofiles";
  ObjectMeta metadata;
  ModelProfileSpec spec;
  bool operator==(const ModelProfile&) const = default;
};
struct Infrastructure {
  static constexpr const char* kKind = "Infrastructure";
  static constexpr const char* kPlural = "infrastructures";
  ObjectMeta metadata;
  InfrastructureSpec spec;
  bool operator==(const Infrastructure&) const = default;
};

template <class V>
void Describe(V& v, Workflow& o) {
  v.Field("metadata", o.metadata, Opt().Required());
  v.Field("spec", o.spec, Opt().Required());
  v.Field("status", o.status, Opt());
}
template <class V>
void Describe(V& v, ModelProfile& o) {
  v.Field("metadata", o.metadata, Opt().Required());
  v.Field("spec", o.spec, Opt().Required());
}
template <class V>
void Describe(V& v, Infrastructure& o) {
  v.Field("metadata", o.metadata, Opt().Required());
  v.Field("spec", o.spec, Opt().Required());
}

using Object = std::variant<Workflow, ModelProfile, Infrastructure>;

const ObjectMeta& MetaOf(const Object& o);
ObjectMeta& MetaOf(Object& o);
std::string KindOf(const Object& o);

}  // namespace jb
