#include "api/names.h"

namespace jb {

namespace {

constexpr const char* kSubdomainRule =
    "expected a DNS-1123 subdomain: at most 253 characters, lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit, with a letter or digit on both sides of each '.' "
    "(e.g. \"vqa\", \"edge.cams-1\")";
constexpr const char* kLabelRule =
    "expected a DNS-1123 label: 1-63 characters, lowercase letters, digits and '-', "
    "starting and ending with a letter or digit (e.g. \"edge\", \"cpu-1\")";

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string Char(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + c + "'";
  static const char* kHex = "0123456789abcdef";
  auto u = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xf];
}

// What is wrong with `part` as a label (ignoring its length), or "" when nothing is.
// `dots` says whether '.' separates labels (subdomain) or is just a forbidden character (label).
std::string LabelProblem(std::string_view name, bool dots) {
  if (name.empty()) return "must not be empty";
  for (char c : name) {
    if (IsAlnum(c) || c == '-' || (dots && c == '.')) continue;
    if (c >= 'A' && c <= 'Z') return "must be lowercase, found " + Char(c);
    return "contains " + Char(c) + ", which is not allowed";
  }
  if (!IsAlnum(name.front())) return "must start with a lowercase letter or digit, not " + Char(name.front());
  if (!IsAlnum(name.back())) return "must end with a lowercase letter or digit, not " + Char(name.back());
  if (!dots) return "";
  for (size_t i = 0; i + 1 < name.size(); ++i) {
    if (name[i] == '.' && !IsAlnum(name[i + 1])) return "has " + Char(name[i + 1]) + " right after a '.'";
    if (name[i + 1] == '.' && !IsAlnum(name[i])) return "has " + Char(name[i]) + " right before a '.'";
  }
  return "";
}

}  // namespace

std::string IsDns1123Subdomain(std::string_view name) {
  if (name.size() > kDns1123SubdomainMaxLength)
    return "is " + std::to_string(name.size()) + " characters long, more than " +
           std::to_string(kDns1123SubdomainMaxLength) + "; " + kSubdomainRule;
  std::string why = LabelProblem(name, true);
  return why.empty() ? why : why + "; " + kSubdomainRule;
}

std::string IsDns1123Label(std::string_view name) {
  if (name.size() > kDns1123LabelMaxLength)
    return "is " + std::to_string(name.size()) + " characters long, more than " +
           std::to_string(kDns1123LabelMaxLength) + "; " + kLabelRule;
  std::string why = LabelProblem(name, false);
  return why.empty() ? why : why + "; " + kLabelRule;
}

}  // namespace jb
