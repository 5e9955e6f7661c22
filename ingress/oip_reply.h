// Replies of the Open Inference Protocol: the infer response (JSON, or JSON header plus binary
// chunks when the request asked for binary outputs) and error replies, as (status, headers, body)
// that any HTTP server can send (docs/oip-v2.md sections 1-3).
//  - Every reply carries exactly one Content-Type: `application/json` (no charset suffix: KServe's
//    client reads the error only when the type is exactly that) or, for a binary infer response,
//    `application/octet-stream` plus `Inference-Header-Content-Length`. The HTTP server adds
//    Content-Length.
//  - Error bodies are {"error":"<message>"} whatever the status (tritonclient reads
//    json.loads(body)["error"] on any status other than 200).
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "ingress/oip_request.h"
#include "ingress/tensor.h"

namespace jb::oip {

struct HttpReply {
  int status = 200;
  Headers headers;  // Content-Type first
  std::string body;
  // The value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

// The HTTP status of an error of this library: kInvalidArgument 400, kNotFound 404,
// kInfeasible 413 (too large to accept), kUnavailable 503, kDeadlineExceeded 504,
// kFailedPrecondition 400, anything else 500.
int HttpStatusFor(const Status& s);

// {"error": message} with Content-Type application/json.
HttpReply ErrorReply(int status, std::string_view message);
// ErrorReply(HttpStatusFor(s), s.message()).
HttpReply ErrorReply(const Status& s);
// 429 with `Retry-After: <seconds>` (at least 1): the workflow's queue or credit is full.
HttpReply TooManyRequestsReply(std::string_view message, int retry_after_s);
// 200 with a JSON body.
HttpReply JsonReply(std::string body);

struct InferResponse {
  std::string model_name;                    // always sent (KServe's client requires it)
  std::optional<std::string> model_version;  // sent only when set
  std::string id;                            // sent only when non-empty (the request's id)
  std::vector<Tensor> outputs;               // in the order they are written
};

// Encodes the response to `request` (used only for which outputs are binary: WantsBinary).
// JSON outputs carry flat `data` (BYTES as strings, which must then be valid UTF-8: a BYTES element
// that is not is sent binary instead, and so are FP16/BF16 and
// floats holding NaN or infinity, which JSON cannot carry); binary ones carry parameters.binary_data_size and their
// canonical bytes after the JSON, in output order. When no binary chunk is non-empty the reply is
// plain JSON without Inference-Header-Content-Length, as Triton does.
HttpReply EncodeInferResponse(const InferResponse& response, const InferRequest& request);

// The JSON text of one output tensor's flat `data` array ("[2.0,3.0]", "[\"a\"]").
std::string TensorDataJson(const Tensor& t);

}  // namespace jb::oip
