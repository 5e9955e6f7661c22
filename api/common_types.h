// What every resource of jellybean.dev/v1alpha1 shares: the API version, the naming rule, the
// numeric and size limits every field list uses, and ObjectMeta. Part of api/types.h.
// Units: rates in items/s, sizes in KiB (1024 bytes) per item, latencies in ms per item at batch 1,
// prices in USD per hour, traffic costs in USD per GiB, accuracy in percent [0, 100].
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/fields.h"

namespace jb {

inline constexpr const char* kApiVersion = "jellybean.dev/v1alpha1";
// The one namespace: metadata.namespace may be absent or this (see api/manifest.cc).
inline constexpr const char* kDefaultNamespace = "default";
inline constexpr const char* kNameRule = "a name of 1-63 characters: letters, digits, '-', '_' or '.'";

// ---- limits -----------------------------------------------------------------------------------
// Every number a user writes is bounded: generous for any real fleet (100-1000x the largest real
// value), but far inside what a double-precision LP solves reliably (COIN-OR's CLP aborts on
// coefficients like 1e25). Lists are bounded with margin over the largest shipped and benchmarked
// cases (bench/planner: 1000 nodes x 50 operators x 5 tiers, 3 variants over 8 hardware classes),
// so that one object cannot hold a reconcile thread for minutes. The field lists below use these,
// so the decoder, the error messages and the CRDs in crds/ state the same bounds.
namespace limits {
inline constexpr double kMaxPricePerHour = 1e4;    // USD/h per node instance (the dearest cloud VM is ~100)
inline constexpr double kMaxCostPerGiB = 1e3;      // USD/GiB (cloud egress is ~0.01-0.2)
inline constexpr double kMinBandwidthMbps = 1e-3;  // 1 kbit/s
inline constexpr double kMaxBandwidthMbps = 1e7;   // 10 Tbit/s
inline constexpr double kMinLatencyMs = 1e-3;      // 1 us per item
inline constexpr double kMaxLatencyMs = 3.6e6;     // 1 hour (per item, per link, end to end)
inline constexpr double kMaxSizeKiB = 1e7;         // ~9.5 GiB per item
inline constexpr double kMinRate = 1e-3;           // items/s: one item per ~17 minutes
inline constexpr double kMaxRate = 1e6;            // items/s per source
inline constexpr double kMinDerivedRate = 1e-6;    // items/s an operator receives (rates x ratios)
inline constexpr double kMaxDerivedRate = 1e9;
inline constexpr double kMinRatio = 1e-3;  // items needed per input item
inline constexpr double kMaxRatio = 1e3;
inline constexpr double kMinHeadroom = 0.01;             // usable fraction of a node's capacity
inline constexpr double kMaxNodeCount = 1e5;             // instances in one pool
inline constexpr double kMaxSourceCount = 1e12;          // items a batch source sends
inline constexpr double kMaxInteger = 9007199254740991;  // 2^53 - 1: the largest integer a double holds exactly
inline constexpr size_t kMaxTiers = 16;
inline constexpr size_t kMaxNodes = 10000;  // nodes (pools) per Infrastructure
inline constexpr size_t kMaxLinks = 64;
inline constexpr size_t kMaxSources = 100;         // per Workflow
inline constexpr size_t kMaxOperators = 200;       // per Workflow
inline constexpr size_t kMaxInputs = 64;           // per operator
inline constexpr size_t kMaxVariants = 64;         // per ModelProfile
inline constexpr size_t kMaxHardwareClasses = 64;  // latency entries per variant
inline constexpr size_t kMaxTableEntries = 10000;  // rows of an accuracy table
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxFinalizers = 32;
inline constexpr size_t kMaxSettings = 64;            // driver settings, runtime env entries
inline constexpr size_t kMaxArgs = 256;               // exec runtime argv
inline constexpr size_t kMaxNameLength = 253;         // names and references (tiers, nodes, hardware, ...)
inline constexpr size_t kMaxLabelLength = 63;         // label values (Kubernetes' limit)
inline constexpr size_t kMaxAnnotationLength = 4096;  // annotation values (a file path fits)
inline constexpr size_t kMaxTextLength = 4096;        // paths, URLs, addresses, settings, argv, env values
}  // namespace limits

struct ObjectMeta {
  std::string name;
  std::map<std::string, std::string> labels;
  std::optional<int64_t> generation;
  std::optional<std::string> resource_version;
  std::optional<std::string> deletion_timestamp;
  std::vector<std::string> finalizers;
  // Kubernetes-shaped input: one namespace, "default" (absent = default); anything else is refused.
  std::optional<std::string> namespace_;
  std::map<std::string, std::string> annotations;
  std::optional<std::string> uid;                 // set by the store on create (UUID v4), kept after
  std::optional<std::string> creation_timestamp;  // set by the store on create (RFC 3339), kept after
  bool operator==(const ObjectMeta&) const = default;
};
template <class V>
void Describe(V& v, ObjectMeta& o) {
  v.Field("name", o.name, Opt().Required().Min(1).Doc("Unique name of the object within its kind."));
  v.Field("namespace", o.namespace_,
          Opt()
              .Enum({kDefaultNamespace})
              .Doc("JellyBean has one namespace: absent or \"default\" (other namespaces are refused)."));
  v.Field("labels", o.labels,
          Opt().MaxItems(limits::kMaxLabels).MaxLen(limits::kMaxLabelLength).Doc("Free-form key/value labels."));
  v.Field("annotations", o.annotations,
          Opt()
              .MaxItems(limits::kMaxLabels)
              .MaxLen(limits::kMaxAnnotationLength)
              .Doc("Free-form key/value notes for tools; jellybean.dev/manifest-file (set by the server) names "
                   "the manifest file that owns the object."));
  v.Field("generation", o.generation,
          Opt().Range(0, limits::kMaxInteger).Doc("Set by the server: bumped when the spec changes."));
  v.Field("resourceVersion", o.resource_version,
          Opt().MaxLen(limits::kMaxNameLength).Doc("Set by the server: optimistic concurrency token."));
  v.Field("deletionTimestamp", o.deletion_timestamp,
          Opt().MaxLen(limits::kMaxNameLength).Doc("Set by the server when deletion was requested."));
  v.Field("uid", o.uid,
          Opt().MaxLen(limits::kMaxNameLength).Doc("Set by the server: unique id (UUID v4) of this object."));
  v.Field("creationTimestamp", o.creation_timestamp,
          Opt().MaxLen(limits::kMaxNameLength).Doc("Set by the server: when the object was created (RFC 3339)."));
  v.Field("finalizers", o.finalizers,
          Opt()
              .MaxItems(limits::kMaxFinalizers)
              .MaxLen(limits::kMaxNameLength)
              .Doc("Set by the server: work to finish before the object goes."));
}

}  // namespace jb
