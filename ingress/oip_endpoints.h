// The Open Inference Protocol's endpoints other than infer, as pure functions from a snapshot of
// the server's state to a reply, and the router that maps (method, path) to an endpoint
// (docs/oip-v2.md section 1 and its compatibility checklist).
//  - Health bodies satisfy every client: 200 with {"live":true} / {"ready":true} /
//    {"name":m,"ready":true} (KServe's client reads `live`/`ready`; tritonclient looks only at the
//    status); 503 with {"error":...} when not live/ready.
//  - Unknown path: 404 {"error":"Not Found"}; known path, wrong method: 405
//    {"error":"Method Not Allowed"} with an Allow header (as Triton answers).
//  - A workflow is served as a model: inputs = its sources, outputs = its last operators (those no
//    other operator reads). Versioned paths (`/versions/{v}`) are accepted for the versions the
//    model lists.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "base/status.h"
#include "ingress/oip_reply.h"
#include "ingress/oip_request.h"

namespace jb::oip {

enum class Endpoint {
  kServerLive,        // GET /v2/health/live
  kServerReady,       // GET /v2/health/ready
  kServerMetadata,    // GET /v2 (and /v2/)
  kModelMetadata,     // GET /v2/models/{m}[/versions/{v}]
  kModelReady,        // GET /v2/models/{m}[/versions/{v}]/ready
  kInfer,             // POST /v2/models/{m}[/versions/{v}]/infer
  kResults,           // GET /v2/models/{m}/results: our extension (JSON lines), docs/ingress.md
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kBadPath,           // 400: a path segment with a malformed percent escape
};

struct Route {
  Endpoint endpoint = Endpoint::kNotFound;
  std::string model;                   // percent-decoded; empty for server endpoints
  std::optional<std::string> version;  // from /versions/{v}, percent-decoded
  std::string allow;                   // for kMethodNotAllowed: the method the path takes
};

// `target` is the request target as received (percent-encoded; a query string is ignored).
Route RouteRequest(std::string_view method, std::string_view target);

struct TensorMeta {
  std::string name;
  std::string datatype;        // "BYTES", ...; "" accepts any datatype
  std::vector<int64_t> shape;  // -1 = any size in that dimension
};

struct ModelInfo {
  std::string name;
  std::vector<std::string> versions = {"1"};
  std::string platform = "jellybean";
  std::vector<TensorMeta> inputs;
  std::vector<TensorMeta> outputs;
  bool ready = false;
};

struct ServerState {
  std::string name = "jellybean";
  std::string version;  // the build's version
  bool live = true;
  bool ready = false;
  std::vector<ModelInfo> models;
  const ModelInfo* FindModel(std::string_view name) const;
};

// A workflow as a model: one BYTES input of shape [1] per source (an item's part is one blob),
// one BYTES output of shape [1] per last operator.
ModelInfo ModelInfoFromWorkflow(const std::string& name, const WorkflowSpec& spec);

// The model a route names: kNotFound (404) naming the model (and the versions it has when the
// version is unknown).
StatusOr<const ModelInfo*> ResolveModel(const ServerState& state, const Route& route);

// Checks a parsed request against the model: every model input present, no unknown input,
// datatype and shape compatible. kInvalidArgument (400) naming the input and what was expected.
Status ValidateAgainstModel(const InferRequest& request, const ModelInfo& model);

// Replies of the non-infer endpoints (route.endpoint must be one of them; kInfer and kResults
// are answered by the caller, which for them gets a 500 here).
HttpReply Answer(const ServerState& state, const Route& route);

}  // namespace jb::oip
