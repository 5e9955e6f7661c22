// Fuzz target: the Open Inference Protocol infer request parser (ingress/oip_request.h) on an
// HTTP body from any client, with or without an Inference-Header-Content-Length header.
// Input: byte 0 bit 0 = the header is present, its value the next two bytes (little-endian; so the
// JSON/binary split lands anywhere); bit 1 = small limits (to reach the limit paths cheaply); the
// rest is the body.
// Properties beyond "no crash, no sanitizer report":
//  - an accepted request is consistent: unique input names, elements == product(shape), canonical
//    bytes of exactly the size the datatype and shape say (BYTES: exactly `elements` strings);
//  - re-sent in binary form (every input as a binary chunk) it parses to the same tensors;
//  - re-sent as JSON `data` (where JSON can carry it) it parses to the same tensors.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "fuzz/fuzz_check.h"
#include "ingress/oip_reply.h"
#include "ingress/oip_request.h"

namespace {

using jb::fuzz::Check;
namespace oip = jb::oip;

void CheckConsistent(const oip::InferRequest& r, const oip::RequestLimits& limits) {
  std::set<std::string> names;
  for (const auto& t : r.inputs) {
    Check(names.insert(t.name).second, "duplicate input name accepted: " + t.name);
    auto n = oip::ShapeElements(t.shape, limits.max_elements);
    Check(n.ok() && *n == t.elements, "elements differ from the shape's product");
    if (t.datatype == oip::Datatype::kBytes) {
      Check(oip::SplitBytesElements(t.raw, t.elements, limits.max_string_bytes).ok(), "BYTES tensor not canonical");
    } else {
      Check(t.raw.size() == t.elements * oip::ElementSize(t.datatype), "fixed-size tensor of the wrong byte size");
    }
  }
}

void CheckSame(const oip::InferRequest& a, const oip::InferRequest& b, const char* form) {
  Check(a.inputs.size() == b.inputs.size(), std::string(form) + ": input count changed");
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& x = a.inputs[i];
    const auto& y = b.inputs[i];
    Check(x.name == y.name && x.datatype == y.datatype && x.shape == y.shape && x.raw == y.raw,
          std::string(form) + ": input '" + x.name + "' changed");
  }
}

nlohmann::json InputHeader(const oip::Tensor& t) {
  return {{"name", t.name}, {"datatype", oip::DatatypeName(t.datatype)}, {"shape", t.shape}};
}

void CheckBinaryForm(const oip::InferRequest& r, const oip::RequestLimits& limits) {
  nlohmann::json j = {{"inputs", nlohmann::json::array()}};
  std::string binary;
  for (const auto& t : r.inputs) {
    auto in = InputHeader(t);
    in["parameters"] = {{"binary_data_size", t.raw.size()}};
    j["inputs"].push_back(in);
    binary += t.raw;
  }
  const std::string json = j.dump();
  oip::RequestLimits big = limits;
  big.max_body_bytes = std::numeric_limits<size_t>::max();
  const std::string body = json + binary;
  const std::string header = std::to_string(json.size());
  auto again = oip::ParseInferRequest({body, header}, big);
  Check(again.ok(), "binary form rejected: " + again.status().message());
  CheckSame(r, *again, "binary form");
}

void CheckJsonForm(const oip::InferRequest& r, const oip::RequestLimits& limits) {
  nlohmann::json j = {{"inputs", nlohmann::json::array()}};
  for (const auto& t : r.inputs) {
    const std::string data = oip::TensorDataJson(t);
    if (data == "null") return;  // FP16/BF16 or non-UTF-8 BYTES: JSON cannot carry it
    auto in = InputHeader(t);
    in["data"] = nlohmann::json::parse(data);
    j["inputs"].push_back(in);
  }
  oip::RequestLimits big = limits;
  big.max_body_bytes = std::numeric_limits<size_t>::max();
  big.max_json_values = std::numeric_limits<uint64_t>::max();
  const std::string body = j.dump();
  auto again = oip::ParseInferRequest({body, std::nullopt}, big);
  Check(again.ok(), "JSON form rejected: " + again.status().message());
  CheckSame(r, *again, "JSON form");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool has_header = (data[0] & 1u) != 0;
  const bool small = (data[0] & 2u) != 0;
  const std::string header = std::to_string(data[1] | (data[2] << 8));
  const std::string body(reinterpret_cast<const char*>(data + 3), size - 3);
  oip::RequestLimits limits;
  if (small) {
    limits.max_inputs = 3;
    limits.max_rank = 3;
    limits.max_elements = 64;
    limits.max_string_bytes = 16;
    limits.max_json_depth = 6;
    limits.max_json_values = 64;
  }
  oip::RequestView view{body, std::nullopt};
  if (has_header) view.header_length = header;
  auto r = oip::ParseInferRequest(view, limits);
  if (!r.ok()) {
    const int status = oip::HttpStatusFor(r.status());
    Check(status == 400 || status == 413, "unexpected status " + std::to_string(status));
    Check(!r.status().message().empty(), "error without a message");
    return 0;
  }
  CheckConsistent(*r, limits);
  CheckBinaryForm(*r, limits);
  CheckJsonForm(*r, limits);
  return 0;
}
