// Request-target helpers of the HTTP server (daemon/http_server_beast.cc), apart so that they are
// testable without Beast. Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace jb {

// Percent-decodes the path of a request target (query and fragment dropped); false on a bad escape.
bool DecodePath(std::string_view target, std::string* out);
// The raw query string of a request target: after '?', before '#'; "" when none.
std::string QueryOf(std::string_view target);

}  // namespace jb
