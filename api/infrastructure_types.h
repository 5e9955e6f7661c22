// The Infrastructure resource's spec: tiers (each with the driver that deploys its workers),
// nodes and the links between tiers. Described once with Describe() (api/fields.h). The driver
// types and their typed settings are in api/driver_settings.h. Part of api/types.h.
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
#include "api/driver_settings.h"
#include "api/fields.h"

namespace jb {

// ---------------------------------------------------------------------------------------------
// Infrastructure
struct DriverSpec {
  std::string type = "local";
  std::map<std::string, std::string> settings;
  bool operator==(const DriverSpec&) const = default;
};
template <class V>
void Describe(V& v, DriverSpec& o) {
  // The driver types come from the settings schemas (api/driver_settings.h), which ValidateSet
  // (api/manifest.h) also checks each tier's settings against.
  v.Field("type", o.type,
          Opt().Required().Enum(DriverTypeNames()).Doc("Driver that deploys workers on this tier's nodes."));
  v.Field(
      "settings", o.settings,
      Opt().MaxItems(limits::kMaxSettings).MaxLen(limits::kMaxTextLength).Doc("Driver-specific settings (strings)."));
}

struct Tier {
  std::string name;
  DriverSpec driver;
  std::string tls = "loopback";  // on | loopback | off: worker links of this tier (worker/tls.h)
  bool reachable = true;         // false: behind NAT, its workers only dial out across tiers (worker/dialout.h)
  bool operator==(const Tier&) const = default;
};
template <class V>
void Describe(V& v, Tier& o) {
  v.Field("name", o.name,
          Opt()
              .Required()
              .Min(1)
              .MaxLen(limits::kMaxNameLength)
              .Doc("Tier name; tiers are ordered, closest to the data first."));
  v.Field("driver", o.driver, Opt().Required());
  v.Field("tls", o.tls,
          Opt()
              .Enum({"on", "loopback", "off"})
              .Doc("Mutual TLS on the links of this tier's workers: on (every link), loopback (default: every "
                   "link but loopback-to-loopback ones), off (plain TCP)."));
  v.Field("reachable", o.reachable,
          Opt().Doc("false: the tier's nodes accept no connections from other tiers (behind NAT); their workers dial "
                    "out to the workers they exchange items with (default true)."));
}

struct Node {
  std::string name;
  std::string tier;
  double price_per_hour = 0;
  std::string hardware;
  int64_t count = 1;
  std::optional<std::string> address;
  std::optional<std::string> credentials_ref;
  std::optional<bool> reachable;  // unset: the tier's
  bool operator==(const Node&) const = default;
};
template <class V>
void Describe(V& v, Node& o) {
  v.Field("name", o.name, Opt().Required().Min(1).MaxLen(limits::kMaxNameLength));
  v.Field("tier", o.tier,
          Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Name of the tier the node belongs to."));
  v.Field(
      "pricePerHour", o.price_per_hour,
      Opt().Required().Range(0, limits::kMaxPricePerHour).Unit("USD/h").Doc("USD per hour while the node is used."));
  v.Field("hardware", o.hardware,
          Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Hardware class; selects latency profiles."));
  v.Field("count", o.count,
          Opt()
              .Range(1, limits::kMaxNodeCount)
              .Unit("instances")
              .Doc("Pool size: up to this many identical instances (default 1)."));
  v.Field("address", o.address, Opt().MaxLen(limits::kMaxTextLength).Doc("Host address for remote drivers."));
  v.Field("credentialsRef", o.credentials_ref,
          Opt().MaxLen(limits::kMaxTextLength).Doc("Name of the credentials (file) the driver uses."));
  v.Field("reachable", o.reachable,
          Opt().Doc("false: the node accepts no connections from other tiers (behind NAT); its workers dial out. "
                    "Unset: the tier's setting."));
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
  v.Field("to", o.to,
          Opt().Required().Min(1).MaxLen(limits::kMaxNameLength).Doc("Destination tier; must be adjacent to `from`."));
  v.Field("costPerGiB", o.cost_per_gib,
          Opt().Required().Range(0, limits::kMaxCostPerGiB).Unit("USD/GiB").Doc("USD per GiB sent in this direction."));
  v.Field("bandwidthMbps", o.bandwidth_mbps,
          Opt()
              .Range(limits::kMinBandwidthMbps, limits::kMaxBandwidthMbps)
              .Unit("Mbit/s")
              .Doc("Capacity of this direction in Mbit/s (optional cap)."));
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
  v.Field("tiers", o.tiers,
          Opt().Required().MaxItems(limits::kMaxTiers).Doc("Ordered tiers, lowest (closest to the data) first."));
  v.Field("nodes", o.nodes, Opt().Required().MaxItems(limits::kMaxNodes));
  v.Field("links", o.links,
          Opt()
              .MaxItems(limits::kMaxLinks)
              .Doc("Per-direction costs between adjacent tiers; traffic within a tier is free."));
}

// Whether connections from other tiers can reach `node` (its own setting, else its tier's; true for
// an unknown node).
inline bool NodeReachable(const InfrastructureSpec& infra, const std::string& node) {
  for (const auto& n : infra.nodes)
    if (n.name == node) {
      if (n.reachable) return *n.reachable;
      for (const auto& t : infra.tiers)
        if (t.name == n.tier) return t.reachable;
    }
  return true;
}

}  // namespace jb
