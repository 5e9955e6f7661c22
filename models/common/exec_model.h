// The model side of the exec runtime: a read loop that a model process runs after loading its
// model. It speaks exec framing v2 (docs/exec-framing.md) and, for a worker that still speaks
// v1, the old bare length-prefixed frames; the first four bytes on stdin decide which.
//
//   v2: the model's first frame is its hello; then one answer or error frame per request, in order.
//       A handler error becomes an error frame for that item; malformed, oversize or
//       unsupported-version frames get error frames too, and the loop goes on. Only a stream
//       that lost the framing (no magic) ends it, with exit code 3.
//   v1: no hello; each payload is a request with one part named "" and no key; the answer's
//       bytes are written back (a handler error writes an empty answer and a line on stderr).
// End of input between frames returns 0; in the middle of a frame, 1. A write that fails (the
// worker has gone) returns 1. SIGPIPE is ignored so that it shows as a failed write.
// Thread-safety: one loop per process; the handler is called on the calling thread, one
// request at a time.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "worker/exec_framing.h"

namespace jb::exec {

// Runs the model on one request: the output bytes, or an error that fails only this item.
using Handler = std::function<StatusOr<std::string>(const Request&)>;

struct ServeOptions {
  int in_fd = 0;   // requests (default stdin)
  int out_fd = 1;  // answers (default stdout)
  Limits limits;   // what a request may be (defaults of Limits)
};

// Serves requests until end of input. `hello` is the hello frame's text (a JSON object by
// convention, e.g. {"ready":true,"model":"tesseract-eng","framing":2}). Returns the process exit
// code: 0 at a clean end of input, 1 on a truncated frame or a failed write, 3 when the input
// lost the framing.
int ServeModel(std::string_view hello, const Handler& handler, const ServeOptions& options = {});

// The part a single-input model reads: the part named `name`, else the only part when there is
// exactly one (v1 requests have one part named ""), else nullptr.
const Part* InputPart(const Request& req, std::string_view name);

}  // namespace jb::exec
