// Value: a small document tree (null/bool/number/string/sequence/map) that carries the source
// position of every node. It is the single intermediate form between text (YAML or JSON) and the
// typed resources: both formats parse into it (JSON through the YAML parser, which accepts JSON and
// gives line/column), and the typed codec encodes back into it.
// Thread-safety: plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace jb {

// 1-based position in the source text; line 0 means "unknown" (object built in code).
struct Mark {
  int line = 0;
  int column = 0;
  bool known() const { return line > 0; }
};

class Value {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kSeq, kMap };
  struct Entry;

  Value() = default;
  static Value Null();
  static Value Bool(bool b);
  static Value Number(double d);
  static Value Integer(int64_t i);
  static Value String(std::string s);
  static Value Seq();
  static Value Map();

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_map() const { return kind_ == Kind::kMap; }
  bool is_seq() const { return kind_ == Kind::kSeq; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  // True when a number was written without fraction or exponent (or built with Integer()).
  bool is_integer() const { return kind_ == Kind::kNumber && integer_; }

  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  const std::string& as_string() const { return string_; }
  const std::vector<Value>& items() const { return items_; }
  std::vector<Value>& items() { return items_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }

  // Map access: nullptr when absent or not a map.
  const Value* Find(const std::string& key) const;
  // Appends (maps keep insertion order, which is the document order when parsed).
  Value& Set(std::string key, Value v);
  Value& Append(Value v);

  const Mark& mark() const { return mark_; }
  void set_mark(Mark m) { mark_ = m; }

  // Name of the kind for error messages ("string", "number", ...).
  static const char* KindName(Kind k);

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  bool integer_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<Entry> entries_;
  Mark mark_;
};

struct Value::Entry {
  std::string key;
  Mark key_mark;
  Value value;
};

// Defined once Entry is complete: clang before 16 instantiates std::vector<Entry>'s constexpr
// destructor where a Value is constructed.
inline Value Value::Null() { return Value(); }

// One parsed document of a (possibly multi-document) stream.
struct ParsedDocument {
  int index = 0;  // 0-based position in the stream
  Mark start;     // where the document starts
  Value root;
  Status error;  // non-OK when this document failed to parse; `error_mark` says where
  Mark error_mark;
};

// Limits of one parsed document. Deeper nesting, or aliases that would copy more than this, make
// the document an error ("nesting too deep", "too many aliases") instead of exhausting the stack
// or memory: a few hundred bytes of aliases can otherwise expand to gigabytes.
inline constexpr int kMaxNestingDepth = 64;
// Alias budgets are per call (all documents of a stream together).
inline constexpr size_t kMaxAliasNodes = 10000;        // nodes copied through alias references
inline constexpr size_t kMaxAliasBytes = 1024 * 1024;  // scalar text copied through alias references

// Parses YAML (or JSON) text; every document is returned, broken ones with `error` set, so one bad
// document does not hide the others. Never throws. A stream with a syntax error that the parser
// cannot recover from yields the documents before it plus one errored document.
std::vector<ParsedDocument> ParseYamlStream(const std::string& text);

// Serialises a Value as block-style YAML / compact or indented JSON. Doubles are written with the
// shortest representation that reads back to the same double, so text round trips are exact.
std::string ToYaml(const Value& v);
std::string ToJson(const Value& v, bool pretty = false);

// `s` itself, or its first `max` bytes followed by "..." (and its length): user text quoted in an
// error message stays short however long the input was.
std::string Excerpt(const std::string& s, size_t max = 128);

// Shortest round-trip text of a double ("40", "0.1", "794.0348300933838").
std::string FormatNumber(double d);

}  // namespace jb
