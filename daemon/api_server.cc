#include "daemon/api_server.h"

#include <openssl/crypto.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string_view>

#include "api/manifest.h"
#include "base/version.h"
#include "daemon/logs_endpoint.h"
#include "daemon/manifest_ownership.h"

namespace jb {

namespace {

// GET /version: the daemon's release, shaped like Kubernetes' version.Info.
HttpResponse VersionResponse() {
  Value v = Value::Map();
  v.Set("gitVersion", Value::String(kJellyBeanVersion));
  v.Set("platform", Value::String("linux"));
  return HttpResponse{200, "application/json", ToJson(v) + "\n"};
}

const std::string kPrefix = "/apis/jellybean.dev/v1alpha1/";

HttpResponse StatusResponse(int code, const std::string& reason, const std::string& message,
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

HttpResponse FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return StatusResponse(404, "NotFound", s.message());
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

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

std::string KindForPlural(const std::string& plural) {
  if (plural == Workflow::kPlural) return Workflow::kKind;
  if (plural == ModelProfile::kPlural) return ModelProfile::kKind;
  if (plural == Infrastructure::kPlural) return Infrastructure::kKind;
  return "";
}

// "Bearer <token>"; the scheme is case-insensitive and followed by one or more spaces (RFC 7235).
bool ApiServer::Authorized(const HttpRequest& req) const {
  std::string_view h = req.authorization;
  constexpr std::string_view kScheme = "bearer";
  if (token_.empty() || h.size() <= kScheme.size() || h[kScheme.size()] != ' ' ||
      ::strncasecmp(h.data(), kScheme.data(), kScheme.size()) != 0)
    return false;
  std::string_view given = h.substr(kScheme.size());
  given.remove_prefix(std::min(given.size(), given.find_first_not_of(' ')));
  if (given.size() != token_.size()) return false;
  return CRYPTO_memcmp(given.data(), token_.data(), token_.size()) == 0;
}

HttpResponse ApiServer::Metrics() const { return HttpResponse{200, "text/plain; version=0.0.4", metrics_.Render()}; }

// POST workflows/NAME/rollback {"epoch": N}: re-adopt the plan of history revision N (default: the
// one before the current). The reconciler rolls it out like any other plan (make-before-break).
HttpResponse ApiServer::Rollback(const HttpRequest& req, const std::string& name) {
  if (req.method != "POST") return StatusResponse(405, "MethodNotAllowed", "rollback takes POST");
  std::optional<int64_t> epoch;
  if (!req.body.empty()) {
    auto docs = ParseYamlStream(req.body);
    if (docs.size() != 1 || !docs[0].error.ok() || !docs[0].root.is_map())
      return StatusResponse(400, "Invalid", "the body must be a JSON object such as {\"epoch\": 3}");
    for (const auto& e : docs[0].root.entries()) {
      if (e.key != "epoch")
        return StatusResponse(400, "Invalid",
                              "request body:" + std::to_string(e.key_mark.line) + ":" +
                                  std::to_string(e.key_mark.column) + ": unknown field \"" + e.key +
                                  "\"; expected epoch");
      if (!e.value.is_integer() || e.value.as_number() < 1)
        return StatusResponse(400, "Invalid",
                              "request body:" + std::to_string(e.value.mark().line) + ":" +
                                  std::to_string(e.value.mark().column) + ": epoch: expected a positive integer");
      epoch = static_cast<int64_t>(e.value.as_number());
    }
  }
  auto got = store_->Get("Workflow", name);
  if (!got.ok()) return FromStatus(got.status());
  const Workflow& wf = std::get<Workflow>(*got);
  WorkflowStatus st = wf.status;
  if (!epoch) {
    if (st.history.size() < 2)
      return StatusResponse(409, "Conflict", "workflow " + name + " has no earlier plan to go back to");
    epoch = st.history[st.history.size() - 2].epoch;
  }
  bool found = false;
  for (const auto& rev : st.history) found |= rev.epoch == *epoch;
  if (!found)
    return StatusResponse(404, "NotFound",
                          "workflow " + name + " has no plan revision with epoch " + std::to_string(*epoch));
  st.undo_to = *epoch;
  auto put = store_->PutStatus(name, st, wf.metadata.resource_version.value_or(""));
  if (!put.ok()) return FromStatus(put.status());
  return StatusResponse(202, "Accepted",
                        "rolling workflow " + name + " back to the plan of epoch " + std::to_string(*epoch));
}

HttpResponse ApiServer::Handle(const HttpRequest& req) {
  auto start = std::chrono::steady_clock::now();
  HttpResponse resp = Route(req);
  if (resp.status != kHttpContinue) {
    ++requests_;
    metrics_.ObserveRequest(req.method, resp.status,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return resp;
}

HttpResponse ApiServer::Route(const HttpRequest& req) {
  // /healthz never reads a body; everything else is refused before its body is read unless the
  // token is valid and the declared size within the limit.
  if (req.path == "/healthz") return HttpResponse{200, "text/plain", "ok\n"};
  if (!Authorized(req)) return StatusResponse(401, "Unauthorized", "a valid bearer token is required");
  if (req.body_too_large)
    return StatusResponse(413, "RequestEntityTooLarge", "the request body exceeds the server's limit");
  if (req.body_pending) return HttpResponse{kHttpContinue, "", ""};
  if (req.path == "/readyz") {
    if (ready_ && readiness_) {  // replicas (daemon/leader.h): "leader: ID", or why not ready
      auto [ok, text] = readiness_();
      return HttpResponse{ok ? 200 : 503, "text/plain", (ok ? "ok\n" : "not ready\n") + text};
    }
    return ready_ ? HttpResponse{200, "text/plain", "ok\n"} : HttpResponse{503, "text/plain", "not ready\n"};
  }
  if (req.path == "/metrics") return Metrics();
  if (req.path == "/version") return VersionResponse();
  if (req.path.compare(0, kPrefix.size(), kPrefix) != 0)
    return StatusResponse(404, "NotFound", "no such endpoint: " + req.path);
  auto parts = Split(req.path.substr(kPrefix.size()));
  if (parts.size() == 3 && parts[0] == "workflows" && parts[2] == "logs")  // daemon/logs_endpoint.h
    return ServeWorkerLogs(req, parts[1], *store_, controller_ != nullptr ? controller_->driver() : nullptr);
  if (!parts.empty() && parts[0] == "events" && (parts.size() == 1 || parts.size() == 3)) {
    if (req.method != "GET") return StatusResponse(405, "MethodNotAllowed", "events are read-only");
    Value list = Value::Map();
    list.Set("kind", Value::String("EventList"));
    Value items = Value::Seq();
    if (events_ != nullptr)
      for (const auto& e : events_->List(parts.size() == 3 ? parts[1] : "", parts.size() == 3 ? parts[2] : "")) {
        Value v = Value::Map();
        v.Set("time", Value::String(e.time));
        v.Set("object", Value::String(e.kind + "/" + e.name));
        v.Set("type", Value::String(e.type));
        v.Set("reason", Value::String(e.reason));
        v.Set("message", Value::String(e.message));
        v.Set("count", Value::Integer(e.count));
        items.Append(std::move(v));
      }
    list.Set("items", std::move(items));
    return HttpResponse{200, "application/json", ToJson(list) + "\n"};
  }
  if (parts.empty() || parts.size() > 3) return StatusResponse(404, "NotFound", "no such endpoint: " + req.path);
  std::string kind = KindForPlural(parts[0]);
  if (kind.empty())
    return StatusResponse(
        404, "NotFound", "unknown resource \"" + parts[0] + "\"; expected workflows, modelprofiles or infrastructures");
  if (parts.size() == 3 && ((parts[2] != "status" && parts[2] != "rollback") || kind != "Workflow"))
    return StatusResponse(404, "NotFound", "no such endpoint: " + req.path);
  if (parts.size() == 3 && parts[2] == "rollback") return Rollback(req, parts[1]);

  if (parts.size() == 1) {
    if (req.method != "GET")
      return StatusResponse(405, "MethodNotAllowed", req.method + " is not supported on a collection");
    Value list = Value::Map();
    list.Set("apiVersion", Value::String(kApiVersion));
    list.Set("kind", Value::String(kind + "List"));
    Value items = Value::Seq();
    for (const auto& obj : store_->List(kind)) items.Append(EncodeObject(obj));
    list.Set("items", std::move(items));
    return HttpResponse{200, "application/json", ToJson(list) + "\n"};
  }
  const std::string& name = parts[1];
  if (parts.size() == 3) {
    if (req.method != "GET") return StatusResponse(405, "MethodNotAllowed", "status is written by the controller");
    auto got = store_->Get(kind, name);
    if (!got.ok()) return FromStatus(got.status());
    return HttpResponse{200, "application/json", ToJson(Encoder::Encode(std::get<Workflow>(*got).status)) + "\n"};
  }
  if (req.method == "GET") {
    auto got = store_->Get(kind, name);
    if (!got.ok()) return FromStatus(got.status());
    return HttpResponse{200, "application/json", ObjectToJson(*got) + "\n"};
  }
  if (req.method == "DELETE") {
    auto del = store_->Delete(kind, name);
    if (!del.ok()) return FromStatus(del.status());
    return HttpResponse{200, "application/json", ObjectToJson(*del) + "\n"};
  }
  if (req.method == "PUT") {
    std::vector<Diagnostic> diags;
    auto obj = ObjectFromText(req.body, "request body", &diags);
    if (!obj.ok()) {
      std::vector<std::string> causes;
      for (const auto& d : diags) causes.push_back(d.ToString());
      return StatusResponse(400, "Invalid",
                            "the " + kind + " is invalid (" + std::to_string(causes.size()) + " error(s))", causes);
    }
    if (KindOf(*obj) != kind || MetaOf(*obj).name != name)
      return StatusResponse(
          400, "Invalid",
          "the body is " + KindOf(*obj) + "/" + MetaOf(*obj).name + " but the URL names " + kind + "/" + name);
    auto cur = store_->Get(kind, name);
    bool existed = cur.ok();
    // Objects a manifest file owns: 409 unless ?force=true takes them over (manifest_ownership.h).
    std::string note;
    if (auto s = ClaimForApiWrite(existed ? &*cur : nullptr, &*obj, ForceRequested(req.query), &note); !s.ok())
      return FromStatus(s);
    auto put = store_->Put(std::move(*obj));
    if (!put.ok()) return FromStatus(put.status());
    HttpResponse resp{existed ? 200 : 201, "application/json", ObjectToJson(*put) + "\n"};
    if (!note.empty()) resp.headers.emplace_back("Warning", "299 - \"" + note + "\"");
    return resp;
  }
  return StatusResponse(405, "MethodNotAllowed", req.method + " is not supported");
}

}  // namespace jb
