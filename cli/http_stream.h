// A streamed GET for jbctl's watch (cli/watch_command.cc): the response body is handed over line by
// line as it arrives instead of buffered whole (HttpCall, daemon/http.h). Implemented next to
// HttpCall in cli/http_client_cpprest.cc, the client's only cpprestsdk translation unit.
// Thread-safety: plain function; each call uses its own connection.
#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "daemon/http.h"

namespace jb::cli {

// Called with each line of the body (without its '\n'); returning false ends the stream (the
// connection is closed).
using LineFn = std::function<bool(const std::string& line)>;

// GET `path`; a 200 response's body goes to `on_line` as it arrives, any other status's body is
// returned whole in HttpResponse::body. Returns when the server ends the stream, or `on_line`
// returns false. `opts.timeout_s` bounds the wait for the headers and each silence between chunks
// of the body. kUnavailable when the server cannot be reached, or the connection breaks or stays
// silent for longer (lines received before that were delivered).
StatusOr<HttpResponse> HttpGetLines(const HttpClientOptions& opts, const std::string& path, const LineFn& on_line);

}  // namespace jb::cli
