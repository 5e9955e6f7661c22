#include "daemon/http_target.h"

namespace jb {

// Percent-decodes the path of a request target (query and fragment dropped); false on a bad escape.
bool DecodePath(std::string_view target, std::string* out) {
  target = target.substr(0, target.find_first_of("?#"));
  out->clear();
  out->reserve(target.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      out->push_back(target[i]);
      continue;
    }
    if (i + 2 >= target.size()) return false;
    int hi = hex(target[i + 1]), lo = hex(target[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string QueryOf(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return "";
  auto end = target.find('#', q);
  return std::string(target.substr(q + 1, end == std::string_view::npos ? end : end - q - 1));
}

}  // namespace jb
