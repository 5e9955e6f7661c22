// JSON helpers of ingress/ (internal: only ingress/*.cc include this; nlohmann/json stays out of the
// public headers). The parse is bounded: nesting deeper than `max_depth` or more than `max_values`
// scalars make it an error, and such parts are never stored, so a hostile body cannot make the
// document tree large or deep. nlohmann's exceptions are caught here and returned as Status.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/value.h"
#include "base/status.h"

namespace jb::oip {

// Parses one JSON document (strict JSON; trailing bytes are an error). kInvalidArgument with
// nlohmann's message (position and what was expected) on a syntax error, or naming the limit.
StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, int max_depth, uint64_t max_values);

// "an object", "a string", ... for error messages.
std::string JsonKind(const nlohmann::json& v);

// The member `key` of object `obj`, or nullptr (also when obj is not an object).
const nlohmann::json* Member(const nlohmann::json& obj, const char* key);

// The string member `key` of `obj`: non-empty, at most `max_len` bytes. Errors start with `where`.
StatusOr<std::string> RequiredString(const nlohmann::json& obj, const char* key, const std::string& where,
                                     size_t max_len);

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), which is what a
// JSON string can carry unchanged.
bool ValidUtf8(std::string_view s);

// Standard base64 (RFC 4648, with padding): how bytes that are not UTF-8 travel in our JSON lines.
std::string Base64(std::string_view in);

}  // namespace jb::oip
