// Small helpers shared by jbctl's commands: output formatting and manifest input.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "base/format.h"

namespace jb {

// Prints rows as left-aligned columns separated by `gap` spaces (kubectl style).
// Percent-encodes everything but RFC 3986's unreserved characters (a query parameter's value).
inline std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows, size_t gap = 2) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + gap, ' ');
    }
    out << line << "\n";
  }
}

// Loads and validates every path, prints any diagnostics to `err`; returns how many there were.
inline size_t LoadManifests(const std::vector<std::string>& paths, std::ostream& err, std::vector<Document>* docs) {
  *docs = LoadAndValidate(paths);
  auto diags = FormatDiagnostics(*docs);
  for (const auto& d : diags) err << d << "\n";
  return diags.size();
}

}  // namespace jb
