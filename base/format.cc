#include "base/format.h"

#include <algorithm>
#include <cstdio>

namespace jb {

std::string FormatFixed(double v, int digits) {
  digits = std::clamp(digits, 0, 17);
  char buf[400];  // DBL_MAX has 309 integer digits
  const int n = std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  std::string s(buf, n > 0 ? static_cast<size_t>(std::min<int>(n, static_cast<int>(sizeof(buf)) - 1)) : 0);
  // "-0.00" (a negative value that rounds to zero, or -0.0 itself) prints as "0.00".
  if (s.size() > 1 && s[0] == '-' && s.find_first_not_of("0.", 1) == std::string::npos) s.erase(0, 1);
  return s;
}

std::string FormatPercent(double fraction, int digits) { return FormatFixed(100 * fraction, digits) + "%"; }

}  // namespace jb
