// The JSONPath subset of cli/jsonpath.h: a step parser and a template renderer with {range}.
#include "cli/jsonpath.h"

#include <cstdlib>
#include <memory>

namespace jb::cli {
namespace {

struct Step {
  enum Kind { kField, kIndex, kAll, kFilter } kind = kField;
  std::string field;  // kField; kFilter: the key compared
  int64_t index = 0;  // kIndex (negative counts from the end)
  std::string value;  // kFilter: the string compared with
  bool equal = true;  // kFilter: == (else !=)
};

Status Bad(const std::string& expr, size_t pos, const std::string& what) {
  return Status::InvalidArgument("jsonpath \"" + expr + "\" at " + std::to_string(pos) + ": " + what);
}

// Parses a quoted string starting at expr[i] (' or "), leaving i after the closing quote.
StatusOr<std::string> Quoted(const std::string& expr, size_t& i) {
  char q = expr[i++];
  std::string s;
  while (i < expr.size() && expr[i] != q) {
    if (expr[i] == '\\' && i + 1 < expr.size()) {
      char c = expr[++i];
      s += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      s += expr[i];
    }
    ++i;
  }
  if (i >= expr.size()) return Bad(expr, i, "unterminated string");
  ++i;
  return s;
}

StatusOr<std::vector<Step>> Parse(const std::string& expr) {
  std::vector<Step> steps;
  size_t i = 0;
  if (i < expr.size() && (expr[i] == '$' || expr[i] == '@')) ++i;
  while (i < expr.size()) {
    if (expr[i] == '.') {
      ++i;
      size_t start = i;
      while (i < expr.size() && expr[i] != '.' && expr[i] != '[') ++i;
      if (i == start) {
        if (i >= expr.size()) break;  // a lone "." is the current object
        return Bad(expr, i, "expected a field name");
      }
      std::string name = expr.substr(start, i - start);
      if (name == "*")
        steps.push_back(Step{Step::kAll, "", 0, "", true});
      else
        steps.push_back(Step{Step::kField, name, 0, "", true});
    } else if (expr[i] == '[') {
      size_t close = expr.find(']', i);
      if (close == std::string::npos) return Bad(expr, i, "expected ]");
      if (expr[i + 1] == '\'' || expr[i + 1] == '"') {
        size_t j = i + 1;
        auto key = Quoted(expr, j);
        if (!key.ok()) return key.status();
        if (j >= expr.size() || expr[j] != ']') return Bad(expr, j, "expected ]");
        steps.push_back(Step{Step::kField, *key, 0, "", true});
        i = j + 1;
        continue;
      }
      std::string in = expr.substr(i + 1, close - i - 1);
      if (in == "*") {
        steps.push_back(Step{Step::kAll, "", 0, "", true});
      } else if (in.rfind("?(@.", 0) == 0) {
        size_t op = in.find("==") != std::string::npos ? in.find("==") : in.find("!=");
        if (op == std::string::npos || in.back() != ')') return Bad(expr, i, "expected ?(@.key==\"value\")");
        Step s{Step::kFilter, in.substr(4, op - 4), 0, "", in[op] == '='};
        size_t j = op + 2;
        if (j >= in.size() || (in[j] != '"' && in[j] != '\'')) return Bad(expr, i + j, "expected a quoted value");
        auto v = Quoted(in, j);
        if (!v.ok()) return v.status();
        s.value = *v;
        steps.push_back(std::move(s));
      } else {
        char* end = nullptr;
        long long n = std::strtoll(in.c_str(), &end, 10);
        if (in.empty() || *end != '\0') return Bad(expr, i, "expected [N], [*], ['key'] or [?(@.key==\"v\")]");
        steps.push_back(Step{Step::kIndex, "", n, "", true});
      }
      i = close + 1;
    } else {
      return Bad(expr, i, std::string("unexpected '") + expr[i] + "'");
    }
  }
  return steps;
}

void Apply(const Step& s, const Value& v, std::vector<Value>* out) {
  switch (s.kind) {
    case Step::kField:
      if (const Value* f = v.is_map() ? v.Find(s.field) : nullptr) out->push_back(*f);
      break;
    case Step::kIndex: {
      if (!v.is_seq()) break;
      int64_t n = static_cast<int64_t>(v.items().size());
      int64_t k = s.index < 0 ? n + s.index : s.index;
      if (k >= 0 && k < n) out->push_back(v.items()[static_cast<size_t>(k)]);
      break;
    }
    case Step::kAll:
      if (v.is_seq())
        for (const auto& x : v.items()) out->push_back(x);
      if (v.is_map())
        for (const auto& e : v.entries()) out->push_back(e.value);
      break;
    case Step::kFilter:
      if (!v.is_seq()) break;
      for (const auto& x : v.items()) {
        const Value* f = x.is_map() ? x.Find(s.field) : nullptr;
        bool eq = f != nullptr && JsonPathText(*f) == s.value;
        if (eq == s.equal) out->push_back(x);
      }
      break;
  }
}

// A template piece: literal text, an expression, or a range with its body.
struct Node {
  enum Kind { kText, kExpr, kRange } kind = kText;
  std::string text;  // kText: the text; kExpr/kRange: the expression
  std::vector<Node> body;
};

// Parses tmpl from i until the end or a matching {end}; sets *ended when {end} closed it.
Status ParseTemplate(const std::string& tmpl, size_t& i, std::vector<Node>* nodes, bool* ended) {
  while (i < tmpl.size()) {
    if (tmpl[i] != '{') {
      size_t next = tmpl.find('{', i);
      if (next == std::string::npos) next = tmpl.size();
      nodes->push_back(Node{Node::kText, tmpl.substr(i, next - i), {}});
      i = next;
      continue;
    }
    size_t j = i + 1;
    std::string inner;
    while (j < tmpl.size() && tmpl[j] != '}') {
      if (tmpl[j] == '"' || tmpl[j] == '\'') {
        size_t k = j;
        auto q = Quoted(tmpl, k);
        if (!q.ok()) return q.status();
        inner += tmpl.substr(j, k - j);
        j = k;
      } else {
        inner += tmpl[j++];
      }
    }
    if (j >= tmpl.size()) return Bad(tmpl, i, "unclosed {");
    i = j + 1;
    while (!inner.empty() && inner.front() == ' ') inner.erase(0, 1);
    while (!inner.empty() && inner.back() == ' ') inner.pop_back();
    if (inner == "end") {
      if (ended == nullptr) return Bad(tmpl, i, "{end} without {range}");
      *ended = true;
      return Status::Ok();
    }
    if (inner.rfind("range ", 0) == 0) {
      Node n{Node::kRange, inner.substr(6), {}};
      bool closed = false;
      if (Status s = ParseTemplate(tmpl, i, &n.body, &closed); !s.ok()) return s;
      if (!closed) return Bad(tmpl, i, "{range} without {end}");
      nodes->push_back(std::move(n));
    } else if (!inner.empty() && (inner[0] == '"' || inner[0] == '\'')) {
      size_t k = 0;
      auto q = Quoted(inner, k);
      if (!q.ok()) return q.status();
      nodes->push_back(Node{Node::kText, *q, {}});
    } else {
      if (auto p = Parse(inner); !p.ok()) return p.status();
      nodes->push_back(Node{Node::kExpr, inner, {}});
    }
  }
  return Status::Ok();
}

void Render(const std::vector<Node>& nodes, const Value& cur, std::string* out) {
  for (const auto& n : nodes) {
    if (n.kind == Node::kText) {
      *out += n.text;
      continue;
    }
    auto vals = JsonPathSelect(cur, n.text);
    if (!vals.ok()) continue;  // parsed when the template was read
    if (n.kind == Node::kRange) {
      for (const auto& v : *vals) Render(n.body, v, out);
      continue;
    }
    for (size_t i = 0; i < vals->size(); ++i) *out += (i ? " " : "") + JsonPathText((*vals)[i]);
  }
}

}  // namespace

std::string JsonPathText(const Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_number()) return FormatNumber(v.as_number());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_null()) return "";
  return ToJson(v);
}

StatusOr<std::vector<Value>> JsonPathSelect(const Value& root, const std::string& expr) {
  auto steps = Parse(expr);
  if (!steps.ok()) return steps.status();
  std::vector<Value> cur = {root};
  for (const auto& s : *steps) {
    std::vector<Value> next;
    for (const auto& v : cur) Apply(s, v, &next);
    cur = std::move(next);
  }
  return cur;
}

StatusOr<std::string> JsonPathRender(const Value& root, const std::string& tmpl) {
  std::vector<Node> nodes;
  size_t i = 0;
  if (Status s = ParseTemplate(tmpl, i, &nodes, nullptr); !s.ok()) return s;
  std::string out;
  Render(nodes, root, &out);
  return out;
}

}  // namespace jb::cli
