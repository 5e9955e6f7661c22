// The ModelProfile resource's spec: an operator's variants, their accuracy, output size, latency
// per hardware class and runtime; and its status: what the workers observed of each variant on each
// hardware class, beside the profiled figures (closed-loop profiles, reconciler/profile_drift.h).
// Described once with Describe() (api/fields.h). Part of api/types.h.
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
// ModelProfile
struct Latency {
  double p50 = 0;
  std::optional<double> p75;
  std::optional<double> p90;
  bool operator==(const Latency&) const = default;
};
template <class V>
void Describe(V& v, Latency& o) {
  v.Field("p50", o.p50,
          Opt()
              .Required()
              .Range(limits::kMinLatencyMs, limits::kMaxLatencyMs)
              .Unit("ms")
              .Doc("Median ms per item at batch 1."));
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
  v.Field("type", o.type,
          Opt()
              .Required()
              .Enum({"emulated", "exec", "http"})
              .Doc("emulated spends the profiled latency (labelled as emulation); exec runs a model process; http "
                   "calls an Open Inference Protocol server."));
  v.Field("command", o.command,
          Opt()
              .MaxItems(limits::kMaxArgs)
              .MaxLen(limits::kMaxTextLength)
              .Doc("exec: argv of the persistent model process."));
  v.Field("env", o.env,
          Opt()
              .MaxItems(limits::kMaxSettings)
              .MaxLen(limits::kMaxTextLength)
              .Doc("exec: extra environment of the model process."));
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
  v.Field("accuracy", o.accuracy,
          Opt().Range(0, 100).Unit("%").Doc("Accuracy in percent, for per-operator composition."));
  v.Field("outputSizeKiB", o.output_size_kib,
          Opt().Required().Range(0, limits::kMaxSizeKiB).Unit("KiB").Doc("Size of one output item in KiB."));
  v.Field("latencyMs", o.latency_ms,
          Opt().Required().MaxItems(limits::kMaxHardwareClasses).Doc("Per hardware class: ms per item at batch 1."));
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
// ModelProfile status (written by the controller, never by users)

// One variant on one hardware class, as the workers running it observe it: service time (the
// runtime's run time, queueing excluded) over their most recent items, and output size.
struct ObservedVariant {
  std::string variant;
  std::string hardware;  // the hardware class of the nodes the workers ran on
  double p50_ms = 0;
  double p75_ms = 0;
  double p90_ms = 0;
  double output_size_kib = 0;
  int64_t items = 0;                    // items the figures rest on (the workers' outputs, every workflow summed)
  std::string time;                     // RFC 3339: when last observed
  std::vector<std::string> workflows;   // the workflows whose workers observe it now
  std::optional<Latency> profiled;      // the spec's figures for this variant and hardware class (absent: none)
  std::map<std::string, double> drift;  // per percentile ("p50", "p75", "p90"): observed / profiled
  std::optional<Latency> planned;       // set by a sustained drift: planners use these instead of `profiled`
  std::string planned_since;            // RFC 3339: when `planned` was adopted
  std::string planned_by;               // the workflow whose drift trigger adopted `planned`
  bool operator==(const ObservedVariant&) const = default;
};
template <class V>
void Describe(V& v, ObservedVariant& o) {
  v.Field("variant", o.variant, Opt().Required().MaxLen(limits::kMaxNameLength));
  v.Field("hardware", o.hardware, Opt().Required().MaxLen(limits::kMaxNameLength));
  v.Field("p50Ms", o.p50_ms, Opt().Range(0, limits::kMaxLatencyMs).Unit("ms").Doc("Observed median service time."));
  v.Field("p75Ms", o.p75_ms, Opt().Range(0, limits::kMaxLatencyMs).Unit("ms"));
  v.Field("p90Ms", o.p90_ms, Opt().Range(0, limits::kMaxLatencyMs).Unit("ms"));
  v.Field("outputSizeKiB", o.output_size_kib,
          Opt().Range(0, limits::kMaxSizeKiB).Unit("KiB").Doc("Observed mean output size."));
  v.Field("items", o.items, Opt().Doc("Items the observed figures rest on."));
  v.Field("time", o.time, Opt().MaxLen(limits::kMaxTextLength).Doc("When last observed (RFC 3339)."));
  v.Field("workflows", o.workflows, Opt().MaxItems(limits::kMaxVariants).MaxLen(limits::kMaxNameLength));
  v.Field("profiled", o.profiled, Opt().Doc("The spec's latency for this variant and hardware class."));
  v.Field("drift", o.drift, Opt().MaxItems(3).Doc("Per percentile: observed over profiled service time."));
  v.Field("planned", o.planned,
          Opt().Doc("Observed latency the planner uses instead of the profiled one (a sustained drift)."));
  v.Field("plannedSince", o.planned_since, Opt().MaxLen(limits::kMaxTextLength));
  v.Field("plannedBy", o.planned_by, Opt().MaxLen(limits::kMaxNameLength));
}

struct ModelProfileStatus {
  std::vector<ObservedVariant> observed;  // per variant and hardware class, in that order
  bool operator==(const ModelProfileStatus&) const = default;
};
template <class V>
void Describe(V& v, ModelProfileStatus& o) {
  v.Field("observed", o.observed,
          Opt().MaxItems(limits::kMaxVariants * limits::kMaxHardwareClasses).Doc("Observed beside profiled."));
}

}  // namespace jb
