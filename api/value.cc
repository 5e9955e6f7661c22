#include "api/value.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_set>
#include <utility>

namespace jb {

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}
Value Value::Number(double d) {
  Value v;
  v.kind_ = Kind::kNumber;
  v.number_ = d;
  return v;
}
Value Value::Integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kNumber;
  v.number_ = static_cast<double>(i);
  v.integer_ = true;
  return v;
}
Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(s);
  return v;
}
Value Value::Seq() {
  Value v;
  v.kind_ = Kind::kSeq;
  return v;
}
Value Value::Map() {
  Value v;
  v.kind_ = Kind::kMap;
  return v;
}

const Value* Value::Find(const std::string& key) const {
  if (kind_ != Kind::kMap) return nullptr;
  for (const auto& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

Value& Value::Set(std::string key, Value v) {
  kind_ = Kind::kMap;
  entries_.push_back(Entry{std::move(key), Mark{}, std::move(v)});
  return entries_.back().value;
}

Value& Value::Append(Value v) {
  kind_ = Kind::kSeq;
  items_.push_back(std::move(v));
  return items_.back();
}

const char* Value::KindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kSeq:
      return "list";
    case Kind::kMap:
      return "mapping";
  }
  return "?";
}

std::string Excerpt(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  return s.substr(0, max) + "... (" + std::to_string(s.size()) + " characters)";
}

std::string FormatNumber(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  if (d == std::trunc(d) && std::fabs(d) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(d));
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}

namespace {

constexpr size_t kMaxKeyLength = 500;  // quoted and escaped ("\\" is 2), still under yaml-cpp's 1,024

// Why `key` cannot be a mapping key, or "" when it can.
std::string KeyProblem(const std::string& key) {
  if (key.size() > kMaxKeyLength) return "is longer than " + std::to_string(kMaxKeyLength) + " characters";
  for (char c : key)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "contains a control character; keys are printable text";
  return "";
}

Mark ToMark(const YAML::Mark& m, int line_offset) {
  if (m.line < 0) return Mark{};
  return Mark{m.line + 1 + line_offset, m.column + 1};
}

bool ParseNumber(const std::string& s, double* out, bool* integer) {
  if (s.empty()) return false;
  std::string t = s[0] == '+' ? s.substr(1) : s;
  if (t.empty()) return false;
  // YAML 1.2 core schema: decimal ints and floats only (no hex/octal, which would surprise users).
  for (char c : t) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+'))
      return false;
  }
  auto r = std::from_chars(t.data(), t.data() + t.size(), *out);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size()) return false;
  *integer = t.find_first_of(".eE") == std::string::npos;
  return true;
}

std::string TooDeepMessage() { return "nesting too deep (more than " + std::to_string(kMaxNestingDepth) + " levels)"; }

// yaml-cpp keeps an alias as a second reference to the anchored node, so its tree stays as small as
// the text; converting it into Values copies the node at every reference, which is where a "billion
// laughs" document explodes. yaml-cpp does not say which references are aliases, but it visits
// nodes in document order: a node that starts before the furthest position converted so far is a
// repeat of an anchored node. Those repeats are budgeted (kMaxAliasNodes nodes, kMaxAliasBytes of
// scalar text per call of ParseYamlStream, shared by all documents of the stream, so a thousand
// small bombs are one budget); the first visit of every node costs nothing extra, so documents
// without aliases are never limited here.
struct AliasBudget {
  size_t nodes = 0;
  size_t bytes = 0;
};

class Converter {
 public:
  Converter(int line_offset, AliasBudget* budget) : line_offset_(line_offset), budget_(budget) {}

  // Converts a yaml-cpp node; reports the first structural problem (duplicate key, non-scalar key,
  // too deep, too much alias expansion) through `error`. After a limit is hit nothing more is
  // converted.
  Value Convert(const YAML::Node& n, Status* error, Mark* error_mark, int depth = 0) {
    Value v;
    if (stopped_) return v;
    if (depth > kMaxNestingDepth) {
      Stop(Status::InvalidArgument(TooDeepMessage()), ToMark(n.Mark(), line_offset_), error, error_mark);
      return v;
    }
    if (!Budget(n, error, error_mark)) return v;
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        break;
      case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") {
          v = Value::String(s);
        } else if (s == "true" || s == "True" || s == "TRUE") {
          v = Value::Bool(true);
        } else if (s == "false" || s == "False" || s == "FALSE") {
          v = Value::Bool(false);
        } else if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf") {
          v = Value::Number(std::numeric_limits<double>::infinity());
        } else if (s == "-.inf" || s == "-.Inf" || s == "-.INF") {
          v = Value::Number(-std::numeric_limits<double>::infinity());
        } else if (s == ".nan" || s == ".NaN" || s == ".NAN") {
          v = Value::Number(std::numeric_limits<double>::quiet_NaN());
        } else if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) {
          v = Value::Null();
        } else {
          double d = 0;
          bool integer = false;
          if (ParseNumber(s, &d, &integer)) {
            // Only integers a double holds exactly are converted (a larger one would overflow int64).
            v = integer && std::fabs(d) < 9.007199254740992e15 ? Value::Integer(static_cast<int64_t>(d))
                                                               : Value::Number(d);
          } else {
            v = Value::String(s);
          }
        }
        break;
      }
      case YAML::NodeType::Sequence: {
        v = Value::Seq();
        for (const auto& item : n) {
          if (stopped_) break;
          v.Append(Convert(item, error, error_mark, depth + 1));
        }
        break;
      }
      case YAML::NodeType::Map: {
        v = Value::Map();
        std::unordered_set<std::string> keys;  // a map of many keys must not cost a quadratic scan
        for (const auto& kv : n) {
          if (stopped_) break;
          Mark km = ToMark(kv.first.Mark(), line_offset_);
          if (!kv.first.IsScalar()) {
            if (error->ok()) {
              *error = Status::InvalidArgument("mapping keys must be plain strings");
              *error_mark = km;
            }
            continue;
          }
          std::string key = kv.first.Scalar();
          // Every key must survive our own JSON (ToJson) being parsed again: yaml-cpp refuses an
          // implicit key over 1,024 characters, and ToJson writes a control character as a
          // 6-character escape. A key no protocol of ours uses is refused here, at the one parser,
          // so nothing is acknowledged that could not be stored and read back.
          if (std::string why = KeyProblem(key); !why.empty()) {
            if (error->ok()) {
              *error = Status::InvalidArgument("key \"" + Excerpt(key) + "\" " + why);
              *error_mark = km;
            }
            continue;
          }
          if (!keys.insert(key).second) {
            if (error->ok()) {
              *error = Status::InvalidArgument("duplicate key \"" + Excerpt(key) + "\"");
              *error_mark = km;
            }
            continue;
          }
          Value child = Convert(kv.second, error, error_mark, depth + 1);
          v.entries().push_back(Value::Entry{key, km, std::move(child)});
        }
        break;
      }
    }
    v.set_mark(ToMark(n.Mark(), line_offset_));
    if (n.IsNull() && !v.mark().known()) v.set_mark(Mark{});
    return v;
  }

 private:
  void Stop(Status s, Mark m, Status* error, Mark* error_mark) {
    stopped_ = true;
    *error = std::move(s);
    *error_mark = m;
  }

  // Charges a node that repeats an earlier one (see the class comment); false once over budget.
  bool Budget(const YAML::Node& n, Status* error, Mark* error_mark) {
    const YAML::Mark m = n.Mark();
    if (m.line < 0) return true;  // implicit nodes (empty values) have no position and no content
    auto pos = std::make_pair(m.line, m.column);
    if (pos >= furthest_) {
      furthest_ = pos;
      return true;
    }
    ++budget_->nodes;
    if (n.IsScalar()) budget_->bytes += n.Scalar().size();
    if (budget_->nodes > kMaxAliasNodes) {
      Stop(Status::InvalidArgument("too many aliases: the document expands to more than " +
                                   std::to_string(kMaxAliasNodes) + " nodes through alias references (*name)"),
           ToMark(m, line_offset_), error, error_mark);
      return false;
    }
    if (budget_->bytes > kMaxAliasBytes) {
      Stop(Status::InvalidArgument("too many aliases: the document expands to more than " +
                                   std::to_string(kMaxAliasBytes) + " bytes of text through alias references (*name)"),
           ToMark(m, line_offset_), error, error_mark);
      return false;
    }
    return true;
  }

  int line_offset_;
  bool stopped_ = false;
  std::pair<int, int> furthest_{-1, -1};
  AliasBudget* budget_;
};

bool IsDocumentMarker(const std::string& line, bool* end_marker) {
  auto marker = [&](const char* m) {
    return line.compare(0, 3, m) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
  };
  *end_marker = marker("...");
  return marker("---") || *end_marker;
}

bool IsBlank(const std::string& chunk) {
  std::istringstream in(chunk);
  std::string line;
  while (std::getline(in, line)) {
    auto p = line.find_first_not_of(" \t\r");
    if (p != std::string::npos && line[p] != '#') return false;
  }
  return true;
}

}  // namespace

std::vector<ParsedDocument> ParseYamlStream(const std::string& text) {
  // Split on document markers ourselves so that a syntax error in one document does not stop the
  // others from parsing (yaml-cpp's LoadAll gives up on the whole stream).
  struct Chunk {
    std::string text;
    int first_line;  // 0-based line of the chunk's first line in the stream
  };
  std::vector<Chunk> chunks;
  Chunk cur{"", 0};
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    bool end_marker = false;
    if (IsDocumentMarker(line, &end_marker)) {
      chunks.push_back(cur);
      // "--- value" starts a document on the marker line; keep the rest of the line.
      cur = Chunk{end_marker ? "" : "   " + line.substr(3) + "\n", end_marker ? lineno + 1 : lineno};
      if (end_marker) cur.text.clear();
    } else {
      cur.text += line + "\n";
    }
    ++lineno;
  }
  chunks.push_back(cur);

  std::vector<ParsedDocument> docs;
  AliasBudget budget;
  for (const auto& c : chunks) {
    if (IsBlank(c.text)) continue;
    ParsedDocument d;
    d.index = static_cast<int>(docs.size());
    d.start = Mark{c.first_line + 1, 1};
    try {
      YAML::Node n = YAML::Load(c.text);
      Converter conv(c.first_line, &budget);
      d.root = conv.Convert(n, &d.error, &d.error_mark);
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp's own guard (500 levels) fires before ours can; it calls that "bad file".
      d.error = Status::InvalidArgument(TooDeepMessage());
      d.error_mark = ToMark(e.mark, c.first_line);
      if (!d.error_mark.known()) d.error_mark = d.start;
    } catch (const YAML::Exception& e) {
      d.error = Status::InvalidArgument("YAML syntax error: " + e.msg);
      d.error_mark = ToMark(e.mark, c.first_line);
      if (!d.error_mark.known()) d.error_mark = d.start;
    } catch (const std::exception& e) {
      d.error = Status::InvalidArgument(std::string("YAML error: ") + e.what());
      d.error_mark = d.start;
    }
    docs.push_back(std::move(d));
  }
  return docs;
}

namespace {

// True when a plain (unquoted) scalar `s` could be read by some YAML 1.1 or 1.2 reader (PyYAML,
// libyaml, yaml-cpp, go-yaml, ruamel) as anything but this string: a null, a bool of either
// version (y/n/on/off too), a number in any base or form (0x10, 0o17, 010, 1_000, 1e3, .inf,
// .nan, 1:30 sexagesimal), a timestamp, the value and merge keys (=, <<), or text whose
// indicators, spaces or control characters change its parse. Conservative: anything that starts
// like a number is quoted.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* kReserved[] = {"true", "false", "True", "False", "TRUE", "FALSE", "null", "Null", "NULL", "~",
                                    "yes",  "no",    "Yes",  "No",    "YES",  "NO",    "on",   "On",   "ON",   "off",
                                    "Off",  "OFF",   "y",    "Y",     "n",    "N",     "=",    "<<"};
  for (const char* r : kReserved)
    if (s == r) return true;
  double d;
  bool integer;
  if (ParseNumber(s, &d, &integer)) return true;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  // Numbers, timestamps, sexagesimals, .inf/.nan in every spelling: all start like this.
  size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (i < s.size() && (digit(s[i]) || s[i] == '.')) return true;
  if (std::strchr("-?:,[]{}#&*!|>'\"%@` \t=<", s[0]) != nullptr) return true;
  if (s.back() == ' ' || s.back() == ':' || s.back() == '\t') return true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') return true;
  }
  return s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.find(":\t") != std::string::npos ||
         s.find("\t#") != std::string::npos;
}

void AppendQuoted(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string ScalarYaml(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Kind::kNumber: {
      // YAML 1.1 readers (PyYAML) take an exponent form as a float only with a '.' in the
      // mantissa: 1e-07 would read back as a string, 1.0e-07 reads as the number everywhere.
      std::string n = FormatNumber(v.as_number());
      size_t e = n.find('e');
      if (e != std::string::npos && n.find('.') == std::string::npos) n.insert(e, ".0");
      return n;
    }
    case Value::Kind::kString: {
      if (!NeedsQuotes(v.as_string())) return v.as_string();
      std::string out;
      AppendQuoted(&out, v.as_string());
      return out;
    }
    case Value::Kind::kSeq:
      return "[]";
    case Value::Kind::kMap:
      return "{}";
  }
  return "";
}

bool IsScalarLike(const Value& v) {
  return !(v.is_map() && !v.entries().empty()) && !(v.is_seq() && !v.items().empty());
}

void EmitYaml(const Value& v, int indent, std::string* out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_map() && !v.entries().empty()) {
    for (const auto& e : v.entries()) {
      *out += pad;
      *out += NeedsQuotes(e.key) ? ScalarYaml(Value::String(e.key)) : e.key;
      if (IsScalarLike(e.value)) {
        *out += ": " + ScalarYaml(e.value) + "\n";
      } else {
        *out += ":\n";
        EmitYaml(e.value, e.value.is_seq() ? indent : indent + 2, out);
      }
    }
  } else if (v.is_seq() && !v.items().empty()) {
    for (const auto& item : v.items()) {
      if (IsScalarLike(item)) {
        *out += pad + "- " + ScalarYaml(item) + "\n";
      } else if (item.is_map()) {
        // First entry on the dash line, the rest indented under it.
        std::string sub;
        EmitYaml(item, indent + 2, &sub);
        sub.replace(static_cast<size_t>(indent), 2, "- ");
        *out += sub;
      } else {
        *out += pad + "-\n";
        EmitYaml(item, indent + 2, out);
      }
    }
  } else {
    *out += pad + ScalarYaml(v) + "\n";
  }
}

void EmitJson(const Value& v, bool pretty, int indent, std::string* out) {
  auto nl = [&](int ind) {
    if (pretty) {
      out->push_back('\n');
      out->append(static_cast<size_t>(ind), ' ');
    }
  };
  switch (v.kind()) {
    case Value::Kind::kNull:
      *out += "null";
      break;
    case Value::Kind::kBool:
      *out += v.as_bool() ? "true" : "false";
      break;
    case Value::Kind::kNumber:
      // JSON has no NaN/Inf; validation rejects them before they get here.
      *out += std::isfinite(v.as_number()) ? FormatNumber(v.as_number()) : "null";
      break;
    case Value::Kind::kString:
      AppendQuoted(out, v.as_string());
      break;
    case Value::Kind::kSeq: {
      out->push_back('[');
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) out->push_back(',');
        nl(indent + 2);
        EmitJson(v.items()[i], pretty, indent + 2, out);
      }
      if (!v.items().empty()) nl(indent);
      out->push_back(']');
      break;
    }
    case Value::Kind::kMap: {
      out->push_back('{');
      for (size_t i = 0; i < v.entries().size(); ++i) {
        if (i) out->push_back(',');
        nl(indent + 2);
        AppendQuoted(out, v.entries()[i].key);
        *out += pretty ? ": " : ":";
        EmitJson(v.entries()[i].value, pretty, indent + 2, out);
      }
      if (!v.entries().empty()) nl(indent);
      out->push_back('}');
      break;
    }
  }
}

}  // namespace

std::string ToYaml(const Value& v) {
  std::string out;
  EmitYaml(v, 0, &out);
  return out;
}

std::string ToJson(const Value& v, bool pretty) {
  std::string out;
  EmitJson(v, pretty, 0, &out);
  return out;
}

}  // namespace jb
