// RFC 3339 UTC timestamps, as stored in object metadata and status.
// Thread-safety: pure functions of their arguments and the system clock.
#pragma once

#include <ctime>
#include <optional>
#include <string>

namespace jb {

// RFC 3339 UTC timestamp of `t`, "YYYY-MM-DDTHH:MM:SSZ" (certificate validity, object times).
std::string FormatRfc3339(std::time_t t);
// RFC 3339 UTC timestamp of now, "YYYY-MM-DDTHH:MM:SSZ".
std::string NowRfc3339();
std::string NowRfc3339Millis();  // with milliseconds, for measured intervals
// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.fff]Z"; nullopt when malformed.
std::optional<double> ParseRfc3339(const std::string& s);
// Seconds from `rfc3339` to now (huge when it is empty or malformed).
double SecondsSince(const std::string& rfc3339);

}  // namespace jb
