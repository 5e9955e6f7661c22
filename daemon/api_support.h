// Pieces of the REST API that do not need the store: query strings, JSON merge patch (RFC 7386)
// and the Kubernetes discovery documents (/apis, /apis/jellybean.dev, /apis/jellybean.dev/v1alpha1).
// Thread-safety: free functions on values; no shared state.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "api/value.h"

namespace jb {

// "a=1&b=x%20y" -> {a: "1", b: "x y"} ('+' is a space; the last of repeated keys wins).
std::map<std::string, std::string> ParseQuery(const std::string& query);

// RFC 7386: a map patch merges key by key (null removes the key), anything else replaces.
Value MergePatch(const Value& target, const Value& patch);

// The discovery document for `path` ("/apis", "/apis/jellybean.dev",
// "/apis/jellybean.dev/v1alpha1"), or nullopt for any other path.
std::optional<Value> DiscoveryDocument(const std::string& path);

}  // namespace jb
