#include "ingress/oip_endpoints.h"

#include <nlohmann/json.hpp>
#include <set>

namespace jb::oip {
namespace {

using ojson = nlohmann::ordered_json;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes one path segment; nullopt on a malformed escape.
std::optional<std::string> DecodeSegment(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexDigit(s[i + 1]);
    const int lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Route Make(Endpoint e, std::string_view method, const char* want) {
  Route r;
  if (method != want) {
    r.endpoint = Endpoint::kMethodNotAllowed;
    r.allow = want;
    return r;
  }
  r.endpoint = e;
  return r;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

ojson TensorsJson(const std::vector<TensorMeta>& ts) {
  ojson a = ojson::array();
  for (const auto& t : ts)
    a.push_back({{"name", t.name}, {"datatype", t.datatype.empty() ? "BYTES" : t.datatype}, {"shape", t.shape}});
  return a;
}

std::string Dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

bool ShapeFits(const std::vector<uint64_t>& got, const std::vector<int64_t>& want) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (want[i] >= 0 && got[i] != static_cast<uint64_t>(want[i])) return false;
  }
  return true;
}

std::string MetaShapeString(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

Route RouteRequest(std::string_view method, std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target == "/v2" || target == "/v2/") return Make(Endpoint::kServerMetadata, method, "GET");
  if (target == "/v2/health/live") return Make(Endpoint::kServerLive, method, "GET");
  if (target == "/v2/health/ready") return Make(Endpoint::kServerReady, method, "GET");
  constexpr std::string_view kModels = "/v2/models/";
  if (target.substr(0, kModels.size()) != kModels) return Route{};
  std::vector<std::string_view> seg;
  std::string_view rest = target.substr(kModels.size());
  while (true) {
    auto slash = rest.find('/');
    seg.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  for (auto s : seg) {
    if (s.empty()) return Route{};
  }
  std::vector<std::string> dec;
  for (auto s : seg) {
    auto d = DecodeSegment(s);
    if (!d) return Route{Endpoint::kBadPath, "", std::nullopt, ""};
    dec.push_back(std::move(*d));
  }
  std::optional<std::string> version;
  size_t next = 1;
  if (dec.size() >= 3 && seg[1] == "versions") {
    version = dec[2];
    next = 3;
  }
  Route r;
  if (dec.size() == next) {
    r = Make(Endpoint::kModelMetadata, method, "GET");
  } else if (dec.size() == next + 1 && seg[next] == "ready") {
    r = Make(Endpoint::kModelReady, method, "GET");
  } else if (dec.size() == next + 1 && seg[next] == "infer") {
    r = Make(Endpoint::kInfer, method, "POST");
  } else if (dec.size() == next + 1 && seg[next] == "results" && !version) {
    r = Make(Endpoint::kResults, method, "GET");
  } else {
    return Route{};
  }
  r.model = dec[0];
  r.version = std::move(version);
  return r;
}

const ModelInfo* ServerState::FindModel(std::string_view n) const {
  for (const auto& m : models) {
    if (m.name == n) return &m;
  }
  return nullptr;
}

ModelInfo ModelInfoFromWorkflow(const std::string& name, const WorkflowSpec& spec) {
  ModelInfo m;
  m.name = name;
  for (const auto& s : spec.sources) m.inputs.push_back({s.name, "BYTES", {1}});
  std::set<std::string> read;
  for (const auto& op : spec.operators) {
    for (const auto& in : op.inputs) read.insert(in.from);
  }
  for (const auto& op : spec.operators) {
    if (!read.count(op.name)) m.outputs.push_back({op.name, "BYTES", {1}});
  }
  return m;
}

StatusOr<const ModelInfo*> ResolveModel(const ServerState& state, const Route& route) {
  const ModelInfo* m = state.FindModel(route.model);
  if (!m) return Status::NotFound("unknown model '" + Excerpt(route.model, 64) + "'");
  if (route.version) {
    bool found = false;
    for (const auto& v : m->versions) found = found || v == *route.version;
    if (!found) {
      return Status::NotFound("model '" + m->name + "' has no version '" + Excerpt(*route.version, 32) +
                              "' (versions: " + Join(m->versions) + ")");
    }
  }
  return m;
}

Status ValidateAgainstModel(const InferRequest& request, const ModelInfo& model) {
  std::vector<std::string> names;
  for (const auto& in : model.inputs) names.push_back(in.name);
  for (const auto& t : request.inputs) {
    const TensorMeta* meta = nullptr;
    for (const auto& in : model.inputs) meta = in.name == t.name ? &in : meta;
    if (!meta) {
      return Status::InvalidArgument("unknown input '" + Excerpt(t.name, 64) + "': model '" + model.name + "' takes " +
                                     Join(names));
    }
    if (!meta->datatype.empty() && meta->datatype != DatatypeName(t.datatype)) {
      return Status::InvalidArgument("input '" + t.name + "': datatype " + DatatypeName(t.datatype) + ", expected " +
                                     meta->datatype);
    }
    if (!ShapeFits(t.shape, meta->shape)) {
      return Status::InvalidArgument("input '" + t.name + "': shape " + ShapeString(t.shape) + ", expected " +
                                     MetaShapeString(meta->shape) + " (-1: any size)");
    }
  }
  for (const auto& in : model.inputs) {
    if (!request.FindInput(in.name)) {
      return Status::InvalidArgument("missing input '" + in.name + "': model '" + model.name + "' takes " +
                                     Join(names));
    }
  }
  return Status::Ok();
}

HttpReply Answer(const ServerState& state, const Route& route) {
  switch (route.endpoint) {
    case Endpoint::kServerLive:
      return state.live ? JsonReply(R"({"live":true})") : ErrorReply(503, "server is not live");
    case Endpoint::kServerReady:
      return state.ready ? JsonReply(R"({"ready":true})") : ErrorReply(503, "server is not ready");
    case Endpoint::kServerMetadata:
      return JsonReply(
          Dump({{"name", state.name}, {"version", state.version}, {"extensions", {"binary_tensor_data"}}}));
    case Endpoint::kNotFound:
      return ErrorReply(404, "Not Found");
    case Endpoint::kBadPath:
      return ErrorReply(400, "malformed percent escape in the path");
    case Endpoint::kMethodNotAllowed: {
      HttpReply r = ErrorReply(405, "Method Not Allowed");
      r.headers.emplace_back("Allow", route.allow);
      return r;
    }
    case Endpoint::kModelMetadata:
    case Endpoint::kModelReady: {
      auto m = ResolveModel(state, route);
      if (!m.ok()) return ErrorReply(m.status());
      const ModelInfo& model = **m;
      if (route.endpoint == Endpoint::kModelReady) {
        if (!model.ready) return ErrorReply(503, "model '" + model.name + "' is not ready");
        return JsonReply(Dump({{"name", model.name}, {"ready", true}}));
      }
      return JsonReply(Dump({{"name", model.name},
                             {"versions", model.versions},
                             {"platform", model.platform},
                             {"inputs", TensorsJson(model.inputs)},
                             {"outputs", TensorsJson(model.outputs)}}));
    }
    case Endpoint::kInfer:
    case Endpoint::kResults:
      break;
  }
  return ErrorReply(500, "internal error: this endpoint is not answered by Answer()");
}

}  // namespace jb::oip
