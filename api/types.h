// Resource types of jellybean.dev/v1alpha1: Workflow, ModelProfile, Infrastructure (DESIGN.md §3).
// The umbrella include: the specs live in api/{common,infrastructure,model_profile,workflow}_types.h.
// Each struct lists its fields once in Describe() (see api/fields.h); the YAML/JSON codec, the
// strict validation of field types/ranges and the CRD schemas in crds/ all derive from that list.
// Units: rates in items/s, sizes in KiB (1024 bytes) per item, latencies in ms per item at batch 1,
// prices in USD per hour, traffic costs in USD per GiB, accuracy in percent [0, 100].
// Thread-safety: plain value types.
#pragma once

#include <string>
#include <variant>

#include "api/common_types.h"
#include "api/infrastructure_types.h"
#include "api/model_profile_types.h"
#include "api/workflow_types.h"

namespace jb {

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
  ModelProfileStatus status;  // written by the controller (Store::PutProfileStatus)
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
  v.Field("status", o.status, Opt());
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
