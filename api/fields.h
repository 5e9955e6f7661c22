// Field reflection for resource types. Every resource struct has a free function
//   template <class V> void Describe(V& v, T& obj);
// that lists its fields once: v.Field("name", obj.member, Opt().Required().Min(0).Doc("...")).
// Three visitors walk that list: the decoder (Value -> struct, strict: unknown fields, wrong types,
// missing required fields, ranges, enums), the encoder (struct -> Value) and the schema builder
// (struct -> OpenAPI schema, which generates crds/ and keeps them from drifting). Because all three
// read the same list, the wire format, the validation and the CRDs cannot disagree.
// Thread-safety: visitors are single-use, single-thread objects.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "api/value.h"

namespace jb {

// At most this many problems are kept per document and printed per report; the rest are only
// counted ("... and N more errors"). A 4 MB manifest of mistakes must not become a 100 MB answer or a
// million log lines.
inline constexpr size_t kMaxDiagnostics = 50;
// Keys of free-form string maps (labels, driver settings, env, hardware classes): at most this many
// characters (Kubernetes' limit for a prefixed label key).
inline constexpr size_t kMaxMapKeyLength = 253;

// Options of one field. Defaults: optional, no range, no enum, no length or size limit.
// Min/Gt/Max bound numbers; on a string Min(1) means "not empty"; MaxLen bounds a string's length
// (each string of a list, each value of a map); MaxItems bounds a list's or a map's size.
struct FieldOpts {
  bool required = false;
  std::optional<double> min;
  bool min_exclusive = false;
  std::optional<double> max;
  std::optional<size_t> max_length;
  std::optional<size_t> max_items;
  std::vector<std::string> enum_values;
  std::string doc;
  std::string unit;  // shown after a range in error messages ("USD/h")

  FieldOpts& Required() {
    required = true;
    return *this;
  }
  FieldOpts& Min(double m) {
    min = m;
    min_exclusive = false;
    return *this;
  }
  FieldOpts& Gt(double m) {
    min = m;
    min_exclusive = true;
    return *this;
  }
  FieldOpts& Max(double m) {
    max = m;
    return *this;
  }
  FieldOpts& Range(double lo, double hi) { return Min(lo).Max(hi); }
  FieldOpts& MaxLen(size_t n) {
    max_length = n;
    return *this;
  }
  FieldOpts& MaxItems(size_t n) {
    max_items = n;
    return *this;
  }
  FieldOpts& Enum(std::vector<std::string> e) {
    enum_values = std::move(e);
    return *this;
  }
  FieldOpts& Doc(std::string d) {
    doc = std::move(d);
    return *this;
  }
  FieldOpts& Unit(std::string u) {
    unit = std::move(u);
    return *this;
  }
};
inline FieldOpts Opt() { return FieldOpts(); }

// One user-facing problem: file:line:col: path: message.
struct Diagnostic {
  std::string file;
  Mark mark;
  std::string path;
  std::string message;
  std::string ToString() const;
};

// ---- type traits -------------------------------------------------------------------------------
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsStrMap : std::false_type {};
template <class T>
struct IsStrMap<std::map<std::string, T>> : std::true_type {};
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

// ---- decoder ------------------------------------------------------------------------------------
// Collects diagnostics and records the source position of every decoded path (so that later,
// semantic checks can point at the right line). Keeps at most kMaxDiagnostics in `diags` (counting
// what was there before) and counts the rest in omitted().
class Decoder {
 public:
  Decoder(std::string file, std::vector<Diagnostic>* diags, std::unordered_map<std::string, Mark>* marks)
      : file_(std::move(file)), diags_(diags), marks_(marks) {}

  // Problems found but not kept because `diags` already held kMaxDiagnostics.
  size_t omitted() const { return omitted_; }

  template <class T>
  void DecodeInto(const Value& v, T& out, const std::string& path) {
    Decode(v, out, path, FieldOpts());
  }

  // Used by Describe(); decodes one field of the current mapping.
  template <class T>
  void Field(const char* name, T& member, const FieldOpts& opts) {
    seen_.back().push_back(name);
    const Value* child = current_->Find(name);
    std::string path = Join(path_, name);
    if (child == nullptr || (child->is_null() && !opts.required)) {
      if (opts.required) Error(current_->mark(), path, "missing required field; expected " + Expected<T>(opts));
      return;
    }
    if (child->is_null()) {
      Error(child->mark().known() ? child->mark() : current_->mark(), path, "is null; expected " + Expected<T>(opts));
      return;
    }
    Decode(*child, member, path, opts);
  }

  void Error(Mark m, const std::string& path, std::string msg) {
    if (diags_->size() >= kMaxDiagnostics) {
      ++omitted_;
      return;
    }
    diags_->push_back(Diagnostic{file_, m, path, std::move(msg)});
  }

  template <class T>
  static std::string Expected(const FieldOpts& opts);

 private:
  static std::string Join(const std::string& base, const std::string& name) {
    return base.empty() ? name : base + "." + name;
  }

  void Record(const std::string& path, const Value& v) {
    if (marks_ != nullptr && v.mark().known()) (*marks_)[path] = v.mark();
  }

  static std::string RangeText(const FieldOpts& opts) {
    std::string s;
    if (opts.min) s += std::string(opts.min_exclusive ? "> " : ">= ") + FormatNumber(*opts.min);
    if (opts.max) s += (s.empty() ? "<= " : " and <= ") + FormatNumber(*opts.max);
    if (s.empty()) return "a finite number";
    return "a number " + s + (opts.unit.empty() ? "" : " (" + opts.unit + ")");
  }

  bool CheckRange(double d, const Value& v, const std::string& path, const FieldOpts& opts) {
    bool below = opts.min && (opts.min_exclusive ? !(d > *opts.min) : d < *opts.min);
    bool above = opts.max && d > *opts.max;
    if (!std::isfinite(d)) {
      Error(v.mark(), path, FormatNumber(d) + " is not a finite number; expected " + RangeText(opts));
      return false;
    }
    if (below || above) {
      Error(v.mark(), path, FormatNumber(d) + " is out of range; expected " + RangeText(opts));
      return false;
    }
    return true;
  }

  bool CheckLength(const std::string& s, const Value& v, const std::string& path, const FieldOpts& opts) {
    if (opts.max_length && s.size() > *opts.max_length) {
      Error(
          v.mark(), path,
          "is " + std::to_string(s.size()) + " characters long; expected at most " + std::to_string(*opts.max_length));
      return false;
    }
    return true;
  }

  // Checked before the items are decoded: an oversized list costs one error, not a decode of each item.
  bool CheckSize(size_t n, const Value& v, const std::string& path, const FieldOpts& opts, const char* what) {
    if (opts.max_items && n > *opts.max_items) {
      Error(v.mark(), path,
            "has " + std::to_string(n) + " " + what + "; expected at most " + std::to_string(*opts.max_items));
      return false;
    }
    return true;
  }

  void TypeError(const Value& v, const std::string& path, const std::string& expected) {
    Error(v.mark(), path, std::string("wrong type: got ") + Value::KindName(v.kind()) + ", expected " + expected);
  }

  template <class T>
  void Decode(const Value& v, T& out, const std::string& path, const FieldOpts& opts) {
    Record(path, v);
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) return TypeError(v, path, "a string");
      if (!opts.enum_values.empty()) {
        bool found = false;
        for (const auto& e : opts.enum_values) found = found || e == v.as_string();
        if (!found) {
          Error(v.mark(), path, "\"" + Excerpt(v.as_string()) + "\" is not allowed; expected one of " + EnumList(opts));
          return;
        }
      }
      if (opts.min && v.as_string().size() < static_cast<size_t>(*opts.min)) {
        Error(v.mark(), path, "must not be empty");
        return;
      }
      if (!CheckLength(v.as_string(), v, path, opts)) return;
      out = v.as_string();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_bool()) return TypeError(v, path, "true or false");
      out = v.as_bool();
    } else if constexpr (std::is_same_v<T, double>) {
      if (!v.is_number()) return TypeError(v, path, "a number");
      // Kept even when out of range (the document has failed): later checks then compare the value
      // written, not a default (no "p90 0 is below p75" after "p90 1e+99 is out of range").
      CheckRange(v.as_number(), v, path, opts);
      out = v.as_number();
    } else if constexpr (std::is_same_v<T, int64_t>) {
      if (!v.is_integer()) return TypeError(v, path, "an integer");
      if (CheckRange(v.as_number(), v, path, opts)) out = static_cast<int64_t>(v.as_number());
    } else if constexpr (IsOptional<T>::value) {
      typename T::value_type inner{};
      Decode(v, inner, path, opts);
      // Kept even when out of range: the document already failed, and keeping the value stops
      // later checks from also reporting the field as absent.
      out = std::move(inner);
    } else if constexpr (IsVector<T>::value) {
      if (!v.is_seq()) return TypeError(v, path, "a list");
      out.clear();
      if (!CheckSize(v.items().size(), v, path, opts, "items")) return;
      FieldOpts item_opts = opts;
      item_opts.required = false;
      for (size_t i = 0; i < v.items().size(); ++i) {
        typename T::value_type item{};
        Decode(v.items()[i], item, path + "[" + std::to_string(i) + "]", item_opts);
        out.push_back(std::move(item));
      }
    } else if constexpr (IsStrMap<T>::value) {
      if (!v.is_map()) return TypeError(v, path, "a mapping");
      out.clear();
      if (!CheckSize(v.entries().size(), v, path, opts, "entries")) return;
      FieldOpts item_opts = opts;
      item_opts.required = false;
      for (const auto& e : v.entries()) {
        if (e.key.size() > kMaxMapKeyLength) {
          Error(
              e.key_mark, path,
              "key \"" + Excerpt(e.key, 40) + "\" is longer than " + std::to_string(kMaxMapKeyLength) + " characters");
          continue;
        }
        typename T::mapped_type item{};
        Decode(e.value, item, Join(path, e.key), item_opts);
        out.emplace(e.key, std::move(item));
      }
    } else {
      if (!v.is_map()) return TypeError(v, path, "a mapping");
      const Value* saved = current_;
      std::string saved_path = path_;
      current_ = &v;
      path_ = path;
      seen_.emplace_back();
      Describe(*this, out);
      for (const auto& e : v.entries()) {
        bool known = false;
        for (const char* s : seen_.back()) known = known || e.key == s;
        if (!known) {
          std::string fields;
          for (const char* s : seen_.back()) fields += (fields.empty() ? "" : ", ") + std::string(s);
          Error(e.key_mark, Join(path, Excerpt(e.key)), "unknown field; expected one of: " + fields);
        }
      }
      seen_.pop_back();
      current_ = saved;
      path_ = saved_path;
    }
  }

  static std::string EnumList(const FieldOpts& opts) {
    std::string s;
    for (const auto& e : opts.enum_values) s += (s.empty() ? "" : ", ") + e;
    return s;
  }

  std::string file_;
  std::vector<Diagnostic>* diags_;
  std::unordered_map<std::string, Mark>* marks_;
  const Value* current_ = nullptr;
  std::string path_;
  std::vector<std::vector<const char*>> seen_;
  size_t omitted_ = 0;
};

template <class T>
std::string Decoder::Expected(const FieldOpts& opts) {
  if constexpr (std::is_same_v<T, std::string>) {
    return opts.enum_values.empty() ? "a string" : "one of " + EnumList(opts);
  } else if constexpr (std::is_same_v<T, bool>) {
    return "true or false";
  } else if constexpr (std::is_same_v<T, double>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return "an integer";
  } else if constexpr (IsOptional<T>::value) {
    return Expected<typename T::value_type>(opts);
  } else if constexpr (IsVector<T>::value) {
    return "a list";
  } else {
    return "a mapping";
  }
}

// ---- encoder ------------------------------------------------------------------------------------
class Encoder {
 public:
  template <class T>
  static Value Encode(const T& obj) {
    Encoder e;
    return e.Enc(obj);
  }

  template <class T>
  void Field(const char* name, T& member, const FieldOpts& opts) {
    if constexpr (IsOptional<T>::value) {
      if (!member) return;
      current_->Set(name, Enc(*member));
    } else if constexpr (IsVector<T>::value || IsStrMap<T>::value) {
      if (member.empty() && !opts.required) return;
      current_->Set(name, Enc(member));
    } else {
      Value enc = Enc(member);
      // An optional nested object with nothing set (e.g. an empty status) is omitted.
      if (!opts.required && enc.is_map() && enc.entries().empty()) return;
      current_->Set(name, std::move(enc));
    }
  }

 private:
  template <class T>
  Value Enc(const T& v) {
    if constexpr (std::is_same_v<T, std::string>) {
      return Value::String(v);
    } else if constexpr (std::is_same_v<T, bool>) {
      return Value::Bool(v);
    } else if constexpr (std::is_same_v<T, double>) {
      return Value::Number(v);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      return Value::Integer(v);
    } else if constexpr (IsVector<T>::value) {
      Value s = Value::Seq();
      for (const auto& item : v) s.Append(Enc(item));
      return s;
    } else if constexpr (IsStrMap<T>::value) {
      Value m = Value::Map();
      for (const auto& [k, item] : v) m.Set(k, Enc(item));
      return m;
    } else {
      Value m = Value::Map();
      Value* saved = current_;
      current_ = &m;
      Describe(*this, const_cast<T&>(v));  // Describe takes T&; the encoder only reads.
      current_ = saved;
      return m;
    }
  }
  Value* current_ = nullptr;
};

// ---- schema -------------------------------------------------------------------------------------
// An OpenAPI v3 subset: what the CRDs need and what the drift test compares.
struct Schema {
  std::string type;  // "object", "array", "string", "number", "integer", "boolean"
  std::string description;
  std::vector<std::pair<std::string, Schema>> properties;  // object fields, in declaration order
  std::vector<std::string> required;
  std::shared_ptr<Schema> items;                  // array item schema
  std::shared_ptr<Schema> additional_properties;  // map value schema
  std::optional<double> minimum, maximum;
  bool exclusive_minimum = false;
  std::vector<std::string> enum_values;
  int64_t min_length = 0;
  std::optional<int64_t> max_length;  // strings
  std::optional<int64_t> max_items;   // arrays (maxItems) and maps (maxProperties)

  Value ToValue() const;  // OpenAPI v3 as a Value (for the CRD YAML)

  // Declared, and defined below, so that clang before 16 does not instantiate the destructor of
  // `properties` (a vector of pairs holding a Schema) while that pair type is still incomplete.
  Schema() = default;
  Schema(const Schema&) = default;
  Schema(Schema&&) = default;
  Schema& operator=(const Schema&) = default;
  Schema& operator=(Schema&&) = default;
  ~Schema();
};
inline Schema::~Schema() = default;

class SchemaBuilder {
 public:
  template <class T>
  static Schema Build() {
    T dummy{};
    return SchemaBuilder().Of<T>(dummy, FieldOpts());
  }

  template <class T>
  void Field(const char* name, T& member, const FieldOpts& opts) {
    Schema s = Of<T>(member, opts);
    s.description = opts.doc;
    current_->properties.emplace_back(name, std::move(s));
    if (opts.required) current_->required.push_back(name);
  }

 private:
  template <class T>
  Schema Of(T& member, const FieldOpts& opts) {
    Schema s;
    if constexpr (std::is_same_v<T, std::string>) {
      s.type = "string";
      s.enum_values = opts.enum_values;
      if (opts.min) s.min_length = static_cast<int64_t>(*opts.min);
      if (opts.max_length) s.max_length = static_cast<int64_t>(*opts.max_length);
    } else if constexpr (std::is_same_v<T, bool>) {
      s.type = "boolean";
    } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, int64_t>) {
      s.type = std::is_same_v<T, double> ? "number" : "integer";
      s.minimum = opts.min;
      s.exclusive_minimum = opts.min_exclusive;
      s.maximum = opts.max;
    } else if constexpr (IsOptional<T>::value) {
      typename T::value_type inner{};
      s = Of(inner, opts);
    } else if constexpr (IsVector<T>::value) {
      s.type = "array";
      if (opts.max_items) s.max_items = static_cast<int64_t>(*opts.max_items);
      typename T::value_type inner{};
      s.items = std::make_shared<Schema>(Of(inner, opts));
    } else if constexpr (IsStrMap<T>::value) {
      s.type = "object";
      if (opts.max_items) s.max_items = static_cast<int64_t>(*opts.max_items);
      typename T::mapped_type inner{};
      s.additional_properties = std::make_shared<Schema>(Of(inner, opts));
    } else {
      s.type = "object";
      Schema* saved = current_;
      current_ = &s;
      Describe(*this, member);
      current_ = saved;
    }
    return s;
  }
  Schema* current_ = nullptr;
};

}  // namespace jb
