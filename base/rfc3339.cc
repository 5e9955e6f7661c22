#include "base/rfc3339.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace jb {

std::string FormatRfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string NowRfc3339() {
  return FormatRfc3339(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

std::string NowRfc3339Millis() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

std::optional<double> ParseRfc3339(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  double frac = 0;
  if (*rest == '.') {
    char* end = nullptr;
    frac = std::strtod(rest, &end);
    rest = end;
  }
  if (*rest != 'Z') return std::nullopt;
  return static_cast<double>(timegm(&tm)) + frac;
}

double SecondsSince(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t) return 1e18;
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - *t;
}

}  // namespace jb
