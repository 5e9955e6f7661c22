// The ModelProfile resource's spec: an operator's variants, their accuracy, output size, latency
// per hardware class and runtime. Described once with Describe() (api/fields.h). Part of api/types.h.
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

}  // namespace jb
