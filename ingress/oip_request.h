// Parsing of an Open Inference Protocol infer request (`POST /v2/models/{name}/infer`) from its
// HTTP body: the JSON form and the binary-data extension (docs/oip-v2.md sections 2 and 3).
//
//   RequestLimits limits;                      // defaults below
//   auto req = ParseInferRequest({body, FindHeader(headers, "Inference-Header-Content-Length")}, limits);
//   if (!req.ok()) return ErrorReply(req.status());   // 400 or 413, message names the input
//
// What is accepted, as the clients send it (tritonclient Python and C++, KServe's client, curl):
//  - `id` (string), `parameters` (object; `timeout` in microseconds as Triton defines it,
//    `binary_data_output`), `inputs[]` with `name`, `datatype`, `shape`, and exactly one of `data`
//    (nested or flat) or `parameters.binary_data_size`, `outputs[]` with `name` and
//    `parameters.binary_data`. Unknown members and parameters are ignored (clients add `model_name`,
//    `classification`, ...). The Content-Type is not read.
//  - With `Inference-Header-Content-Length: N` (matched case-insensitively by FindHeader), the first
//    N bytes are the JSON and the rest is the binary chunks of the inputs that carry
//    `binary_data_size`, in input order. N == body size (JSON only) is accepted.
// Not supported, each refused with 400 and a message: shared memory inputs, the raw binary request
// (`Inference-Header-Content-Length: 0`), FP16/BF16 as JSON (the protocol too says: binary only).
// Errors: kInvalidArgument (HTTP 400) naming the input, what was expected and what was found;
// kInfeasible (HTTP 413) when the body is over `max_body_bytes`. See HttpStatusFor in oip_reply.h.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "ingress/tensor.h"

namespace jb::oip {

struct RequestLimits {
  size_t max_body_bytes = 16u << 20;    // whole body; over it: 413. Default 16 MiB.
  size_t max_inputs = 64;               // inputs[] and outputs[] entries. Default 64.
  size_t max_rank = 8;                  // dimensions of a shape. Default 8.
  uint64_t max_elements = 16u << 20;    // elements of one input (product of shape). Default 16 Mi.
  size_t max_string_bytes = 8u << 20;   // one BYTES element. Default 8 MiB.
  size_t max_name_bytes = 253;          // input/output names. Default 253 (a DNS name).
  size_t max_id_bytes = 1024;           // request id (it becomes the item key). Default 1 KiB.
  int max_json_depth = 32;              // nesting of the JSON document. Default 32.
  uint64_t max_json_values = 4u << 20;  // scalars in the JSON document. Default 4 Mi.
};

struct RequestedOutput {
  std::string name;
  std::optional<bool> binary_data;  // the output's `parameters.binary_data`, when given
};

struct InferRequest {
  std::string id;                        // "" when the client sent none
  std::vector<Tensor> inputs;            // in request order, names unique
  std::vector<RequestedOutput> outputs;  // empty: all outputs with default settings
  bool binary_data_output = false;       // request parameter `binary_data_output`
  std::optional<int64_t> timeout_us;     // request parameter `timeout` (Triton: microseconds)
  bool binary_request = false;           // the body carried binary chunks (header present, N < size)

  // The input named `name`, or nullptr.
  const Tensor* FindInput(std::string_view name) const;
  // Whether output `name` is to be returned binary: its own `binary_data` when the request names it
  // (an output named without it is JSON, as Triton does), else `binary_data_output`.
  bool WantsBinary(std::string_view name) const;
};

struct RequestView {
  std::string_view body;
  // The value of the Inference-Header-Content-Length header; nullopt when absent.
  std::optional<std::string_view> header_length;
};

StatusOr<InferRequest> ParseInferRequest(const RequestView& request, const RequestLimits& limits);

using Headers = std::vector<std::pair<std::string, std::string>>;
// The value of the first header named `name` (ASCII case-insensitive), or nullopt.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name);

}  // namespace jb::oip
