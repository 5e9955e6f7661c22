// A subset of kubectl's JSONPath templates over api/value.h values, for `jbctl get -o
// jsonpath=...` and `-o custom-columns=...`:
//   {.a.b}  {.items[0]}  {.items[*].metadata.name}  {['key.with.dots']}  {$}  {@}
//   {.status.conditions[?(@.type=="Ready")].status}   (equality and != filters on strings)
//   {range .items[*]}{.metadata.name}{"\n"}{end}      ("..." literals with \n \t \" escapes)
// Several results of one expression are joined by a space; strings print raw, numbers as
// FormatNumber, maps and lists as compact JSON. A missing field yields nothing (kubectl's
// --allow-missing-template-keys=true).
// Thread-safety: plain functions.
#pragma once

#include <string>
#include <vector>

#include "api/value.h"
#include "base/status.h"

namespace jb::cli {

// The values a path expression (without braces, e.g. ".items[*].metadata.name") selects from
// `root`; InvalidArgument naming the position for a malformed expression.
StatusOr<std::vector<Value>> JsonPathSelect(const Value& root, const std::string& expr);

// Renders a template against `root`; InvalidArgument for a malformed template (unbalanced braces,
// {end} without {range}, a bad expression).
StatusOr<std::string> JsonPathRender(const Value& root, const std::string& tmpl);

// The text of one selected value (see above).
std::string JsonPathText(const Value& v);

}  // namespace jb::cli
