#include "daemon/label_selector.h"

#include <algorithm>
#include <cctype>

namespace jb {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

// Kubernetes' label syntax, loosely: keys and values of [A-Za-z0-9._-] (keys may hold one '/'
// after a DNS prefix); values may be empty.
bool IsLabelText(const std::string& s, bool key) {
  if (key && s.empty()) return false;
  if (s.size() > (key ? 317u : 63u)) return false;
  size_t slashes = 0;
  for (char c : s) {
    if (key && c == '/') {
      ++slashes;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return slashes <= 1 && (s.empty() || s.back() != '/');
}

// Splits at commas outside parentheses; kInvalidArgument on unbalanced ones.
StatusOr<std::vector<std::string>> SplitTop(const std::string& text) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return Status::InvalidArgument("unbalanced ')' in label selector \"" + text + "\"");
    if (c == ',' && depth == 0) {
      parts.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) return Status::InvalidArgument("unbalanced '(' in label selector \"" + text + "\"");
  parts.push_back(Trim(cur));
  return parts;
}

StatusOr<LabelSelector::Requirement> ParseOne(const std::string& part) {
  using Op = LabelSelector::Op;
  LabelSelector::Requirement r;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("label selector term \"" + part + "\": " + why);
  };
  if (part.empty()) return bad("empty term");
  if (part[0] == '!') {
    r.key = Trim(part.substr(1));
    r.op = Op::kNotExists;
  } else if (size_t p = part.find("!="); p != std::string::npos) {
    r.key = Trim(part.substr(0, p));
    r.op = Op::kNotEquals;
    r.values = {Trim(part.substr(p + 2))};
  } else if (size_t q = part.find('='); q != std::string::npos) {
    r.key = Trim(part.substr(0, q));
    r.op = Op::kEquals;
    size_t v = part.compare(q, 2, "==") == 0 ? q + 2 : q + 1;
    r.values = {Trim(part.substr(v))};
  } else if (size_t open = part.find('('); open != std::string::npos) {
    if (part.back() != ')') return bad("expected ')' at the end");
    std::string head = Trim(part.substr(0, open));
    size_t sp = head.rfind(' ');
    if (sp == std::string::npos) return bad("expected \"KEY in (...)\" or \"KEY notin (...)\"");
    std::string word = head.substr(sp + 1);
    r.key = Trim(head.substr(0, sp));
    if (word == "in") {
      r.op = Op::kIn;
    } else if (word == "notin") {
      r.op = Op::kNotIn;
    } else {
      return bad("unknown operator \"" + word + "\"; expected in or notin");
    }
    std::string inner = part.substr(open + 1, part.size() - open - 2);
    size_t start = 0;
    while (true) {
      size_t comma = inner.find(',', start);
      std::string v = Trim(inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (!v.empty()) r.values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (r.values.empty()) return bad("an empty value set");
  } else {
    r.key = part;
    r.op = Op::kExists;
  }
  if (!IsLabelText(r.key, true) || !std::isalnum(static_cast<unsigned char>(r.key.front())))
    return bad("expected a label key (letters, digits, '-', '_', '.', an optional prefix/)");
  for (const auto& v : r.values)
    if (!IsLabelText(v, false)) return bad("\"" + v + "\" is not a label value (letters, digits, '-', '_', '.')");
  return r;
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  auto parts = SplitTop(text);
  if (!parts.ok()) return parts.status();
  for (const auto& p : *parts) {
    auto r = ParseOne(p);
    if (!r.ok()) return r.status();
    sel.reqs_.push_back(std::move(*r));
  }
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : reqs_) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const auto in = [&] { return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end(); };
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in()) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

}  // namespace jb
