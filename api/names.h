// Names: Kubernetes' DNS-1123 rules for the names that come in through manifests and the REST API
// (k8s.io/apimachinery/pkg/util/validation: IsDNS1123Subdomain, IsDNS1123Label).
//  - Object names (metadata.name) are DNS-1123 subdomains: they become store file names, worker
//    directory names and part of cloud VM names.
//  - Tier and node names are DNS-1123 labels: they become worker names, hence file names on the
//    daemon and on remote nodes, and cloud VM names.
// A valid name never starts with '.', so it can never be a hidden or special file ("." "..") and
// can never contain '/'.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jb {

inline constexpr size_t kDns1123LabelMaxLength = 63;

// Worker names: a node's worker is named after the node; each source tier's io worker (its
// sources, and the sink) is kIoWorkerPrefix + tier. So validation refuses node names starting with
// kIoWorkerPrefix, and the two kinds of worker names can never collide (they name files).
inline constexpr std::string_view kIoWorkerPrefix = "io-";
inline constexpr size_t kDns1123SubdomainMaxLength = 253;

// Empty when `name` is a DNS-1123 subdomain: at most 253 characters, one or more labels separated
// by '.', each of lowercase letters, digits and '-', starting and ending with a letter or digit.
// Otherwise one sentence saying what is wrong and what was expected, e.g.
// `must start with a lowercase letter or digit, not '.'; expected a DNS-1123 subdomain: ...`.
std::string IsDns1123Subdomain(std::string_view name);

// Empty when `name` is a DNS-1123 label: 1-63 lowercase letters, digits and '-', starting and
// ending with a letter or digit. Otherwise what is wrong and what was expected.
std::string IsDns1123Label(std::string_view name);

}  // namespace jb
