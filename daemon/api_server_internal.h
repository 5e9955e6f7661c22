// Internal to the REST API's translation units (daemon/api_server*.cc, logs_endpoint.cc): Status bodies.
#pragma once

#include <string>
#include <vector>

#include "api/manifest.h"
#include "daemon/http.h"

namespace jb::api_internal {

inline HttpResponse StatusResponse(int code, const std::string& reason, const std::string& message,
                                   const std::vector<std::string>& causes = {}) {
  Value v = Value::Map();
  v.Set("apiVersion", Value::String("v1"));
  v.Set("kind", Value::String("Status"));
  v.Set("status", Value::String(code < 400 ? "Success" : "Failure"));
  v.Set("code", Value::Integer(code));
  v.Set("reason", Value::String(reason));
  v.Set("message", Value::String(message));
  if (!causes.empty()) {
    Value list = Value::Seq();
    for (const auto& c : causes) list.Append(Value::String(c));
    Value details = Value::Map();
    details.Set("causes", std::move(list));
    v.Set("details", std::move(details));
  }
  return HttpResponse{code, "application/json", ToJson(v) + "\n"};
}

inline HttpResponse FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return StatusResponse(404, "NotFound", s.message());
    case Status::Code::kAlreadyExists:
      return StatusResponse(409, "AlreadyExists", s.message());
    case Status::Code::kConflict:
      return StatusResponse(409, "Conflict", s.message());
    case Status::Code::kInvalidArgument:
      return StatusResponse(400, "Invalid", s.message());
    case Status::Code::kUnavailable:  // e.g. the etcd store without quorum: retry later
      return StatusResponse(503, "ServiceUnavailable", s.message());
    default:
      return StatusResponse(500, "InternalError", s.message());
  }
}

}  // namespace jb::api_internal
