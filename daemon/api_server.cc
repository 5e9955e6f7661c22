#include "daemon/api_server.h"

#include <openssl/crypto.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string_view>

#include "api/manifest.h"
#include "base/version.h"
#include "daemon/api_server_internal.h"
#include "daemon/api_support.h"
#include "daemon/logs_endpoint.h"
#include "daemon/manifest_ownership.h"

namespace jb {

using api_internal::FromStatus;
using api_internal::StatusResponse;

namespace {

// GET /version: the daemon's release, shaped like Kubernetes' version.Info.
HttpResponse VersionResponse() {
  Value v = Value::Map();
  v.Set("gitVersion", Value::String(kJellyBeanVersion));
  v.Set("platform", Value::String("linux"));
  return HttpResponse{200, "application/json", ToJson(v) + "\n"};
}

const std::string kPrefix = "/apis/jellybean.dev/v1alpha1/";

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
  if (auto doc = DiscoveryDocument(req.path)) {
    if (req.method != "GET") return StatusResponse(405, "MethodNotAllowed", "discovery is read-only");
    return HttpResponse{200, "application/json", ToJson(*doc) + "\n"};
  }
  if (req.path.compare(0, kPrefix.size(), kPrefix) != 0)
    return StatusResponse(404, "NotFound", "no such endpoint: " + req.path);
  auto parts = Split(req.path.substr(kPrefix.size()));
  // One namespace, "default": the namespaced paths kubectl uses name it; any other is refused.
  if (parts.size() >= 2 && parts[0] == "namespaces") {
    if (parts[1] != kDefaultNamespace)
      return StatusResponse(404, "NotFound",
                            "namespace \"" + parts[1] + "\" not found; JellyBean has one namespace, \"default\"");
    parts.erase(parts.begin(), parts.begin() + 2);
  }
  if (parts.size() == 3 && parts[0] == "workflows" && parts[2] == "logs")  // daemon/logs_endpoint.h
    return ServeWorkerLogs(req, parts[1], *store_, controller_ != nullptr ? controller_->driver() : nullptr);
  if (!parts.empty() && parts[0] == "events" && (parts.size() == 1 || parts.size() == 3)) return Events(req, parts);
  if (parts.empty() || parts.size() > 3) return StatusResponse(404, "NotFound", "no such endpoint: " + req.path);
  std::string kind = KindForPlural(parts[0]);
  if (kind.empty())
    return StatusResponse(
        404, "NotFound", "unknown resource \"" + parts[0] + "\"; expected workflows, modelprofiles or infrastructures");
  if (parts.size() == 3 && ((parts[2] != "status" && parts[2] != "rollback") || kind != "Workflow"))
    return StatusResponse(404, "NotFound", "no such endpoint: " + req.path);
  if (parts.size() == 3 && parts[2] == "rollback") return Rollback(req, parts[1]);
  const auto query = ParseQuery(req.query);
  const bool dry_run = query.count("dryRun") != 0;
  if (dry_run && query.at("dryRun") != "All") return StatusResponse(400, "BadRequest", "dryRun must be \"All\"");
  auto watch = query.find("watch");
  if (req.method == "GET" && watch != query.end() && (watch->second == "true" || watch->second == "1"))
    return Watch(kind, parts.size() >= 2 ? parts[1] : "", query);

  if (parts.size() == 1) {
    if (req.method == "POST") return Write(req, kind, "", /*create=*/true, dry_run);
    if (req.method != "GET")
      return StatusResponse(405, "MethodNotAllowed", req.method + " is not supported on a collection");
    return List(kind, query);
  }
  const std::string& name = parts[1];
  if (parts.size() == 3) {
    // Kubernetes answers GET .../status with the whole object (the status subresource).
    if (req.method != "GET") return StatusResponse(405, "MethodNotAllowed", "status is written by the controller");
    auto got = store_->Get(kind, name);
    if (!got.ok()) return FromStatus(got.status());
    return HttpResponse{200, "application/json", ObjectToJson(*got) + "\n"};
  }
  if (req.method == "GET") {
    auto got = store_->Get(kind, name);
    if (!got.ok()) return FromStatus(got.status());
    return HttpResponse{200, "application/json", ObjectToJson(*got) + "\n"};
  }
  if (req.method == "DELETE") {
    if (dry_run) {
      auto got = store_->Get(kind, name);
      if (!got.ok()) return FromStatus(got.status());
      return HttpResponse{200, "application/json", ObjectToJson(*got) + "\n"};
    }
    auto del = store_->Delete(kind, name);
    if (!del.ok()) return FromStatus(del.status());
    return HttpResponse{200, "application/json", ObjectToJson(*del) + "\n"};
  }
  if (req.method == "PUT") return Write(req, kind, name, /*create=*/false, dry_run);
  if (req.method == "PATCH") return Patch(req, kind, name, dry_run);
  return StatusResponse(405, "MethodNotAllowed", req.method + " is not supported");
}

}  // namespace jb
