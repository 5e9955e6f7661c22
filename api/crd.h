// CustomResourceDefinitions (apiextensions.k8s.io/v1) generated from the resource types'
// Describe() lists, and a structural comparison used to keep crds/ from drifting from the C++ types.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"

namespace jb {

// Kinds in a stable order.
std::vector<std::string> Kinds();

// The OpenAPI schema of a kind's top-level object (apiVersion, kind, metadata, spec[, status]).
StatusOr<Schema> SchemaForKind(const std::string& kind);

// The full CRD document for a kind.
StatusOr<Value> CrdForKind(const std::string& kind);

// Compares an OpenAPI schema read from a CRD (as a Value) with the C++ schema. Returns one line per
// disagreement ("spec.sources[].rate: type number in C++, integer in CRD"); empty when they agree on
// field names, types, required fields and enums.
std::vector<std::string> CompareSchema(const Schema& cpp, const Value& crd, const std::string& path);

}  // namespace jb
