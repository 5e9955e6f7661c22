#include "ingress/oip_reply.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "ingress/json_util.h"

namespace jb::oip {
namespace {

using ojson = nlohmann::ordered_json;

uint64_t ReadLe(const std::string& raw, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(raw[at + i])) << (8 * i);
  return v;
}

int64_t SignExtend(uint64_t v, size_t n) {
  if (n == 8) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (8 * n - 1);
  return static_cast<int64_t>(v ^ sign) - static_cast<int64_t>(sign);
}

// The flat JSON array of a tensor's elements; nullopt when it cannot be JSON (FP16/BF16, NaN or
// infinite floats, BYTES that are not UTF-8).
std::optional<ojson> DataArray(const Tensor& t) {
  ojson a = ojson::array();
  const size_t size = ElementSize(t.datatype);
  switch (t.datatype) {
    case Datatype::kFp16:
    case Datatype::kBf16:
      return std::nullopt;
    case Datatype::kBytes: {
      auto split = SplitBytesElements(t.raw, t.elements, std::numeric_limits<uint32_t>::max());
      if (!split.ok()) return std::nullopt;
      for (auto e : *split) {
        if (!ValidUtf8(e)) return std::nullopt;
        a.push_back(std::string(e));
      }
      return a;
    }
    default:
      break;
  }
  for (uint64_t i = 0; i < t.elements && (i + 1) * size <= t.raw.size(); ++i) {
    const uint64_t bits = ReadLe(t.raw, i * size, size);
    switch (t.datatype) {
      case Datatype::kBool:
        a.push_back(bits != 0);
        break;
      case Datatype::kUint8:
      case Datatype::kUint16:
      case Datatype::kUint32:
      case Datatype::kUint64:
        a.push_back(bits);
        break;
      case Datatype::kFp32: {
        const auto b32 = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &b32, 4);
        if (!std::isfinite(f)) return std::nullopt;  // JSON has no NaN or infinity
        a.push_back(static_cast<double>(f));
        break;
      }
      case Datatype::kFp64: {
        double d;
        std::memcpy(&d, &bits, 8);
        if (!std::isfinite(d)) return std::nullopt;
        a.push_back(d);
        break;
      }
      default:
        a.push_back(SignExtend(bits, size));
        break;
    }
  }
  return a;
}

}  // namespace

std::string HttpReply::Header(std::string_view name) const {
  auto v = FindHeader(headers, name);
  return v ? std::string(*v) : std::string();
}

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kInvalidArgument:
    case Status::Code::kFailedPrecondition:
      return 400;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kInfeasible:
      return 413;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpReply ErrorReply(int status, std::string_view message) {
  HttpReply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  ojson body = {{"error", std::string(message)}};
  r.body = body.dump(-1, ' ', false, ojson::error_handler_t::replace);
  return r;
}

HttpReply ErrorReply(const Status& s) { return ErrorReply(HttpStatusFor(s), s.message()); }

HttpReply TooManyRequestsReply(std::string_view message, int retry_after_s) {
  HttpReply r = ErrorReply(429, message);
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s < 1 ? 1 : retry_after_s));
  return r;
}

HttpReply JsonReply(std::string body) {
  HttpReply r;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

std::string TensorDataJson(const Tensor& t) {
  auto a = DataArray(t);
  return a ? a->dump() : std::string("null");
}

HttpReply EncodeInferResponse(const InferResponse& response, const InferRequest& request) {
  ojson j = ojson::object();
  j["model_name"] = response.model_name;
  if (response.model_version) j["model_version"] = *response.model_version;
  if (!response.id.empty()) j["id"] = response.id;
  ojson outs = ojson::array();
  std::string binary;
  for (const auto& t : response.outputs) {
    ojson o = ojson::object();
    o["name"] = t.name;
    o["datatype"] = DatatypeName(t.datatype);
    o["shape"] = t.shape;
    std::optional<ojson> data;
    if (!request.WantsBinary(t.name)) data = DataArray(t);
    if (data) {
      o["data"] = std::move(*data);
    } else {
      o["parameters"] = {{"binary_data_size", t.raw.size()}};
      binary += t.raw;
    }
    outs.push_back(std::move(o));
  }
  j["outputs"] = std::move(outs);
  HttpReply r;
  r.body = j.dump(-1, ' ', false, ojson::error_handler_t::replace);
  if (binary.empty()) {
    r.headers = {{"Content-Type", "application/json"}};
    return r;
  }
  r.headers = {{"Content-Type", "application/octet-stream"},
               {"Inference-Header-Content-Length", std::to_string(r.body.size())}};
  r.body += binary;
  return r;
}

}  // namespace jb::oip
