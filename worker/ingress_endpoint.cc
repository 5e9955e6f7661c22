#include "worker/ingress_endpoint.h"

#include <openssl/crypto.h>
#include <strings.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "base/file.h"
#include "ingress/oip_endpoints.h"

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;

bool EqualsIgnoreCase(const std::string& a, const char* b) { return strcasecmp(a.c_str(), b) == 0; }

// The HTTP response of an OIP reply: Content-Type apart, the other headers passed on.
HttpResponse ToHttp(oip::HttpReply r) {
  HttpResponse out;
  out.status = r.status;
  out.content_type = r.Header("Content-Type");
  out.body = std::move(r.body);
  for (auto& [name, value] : r.headers)
    if (!EqualsIgnoreCase(name, "Content-Type") && !EqualsIgnoreCase(name, "Content-Length"))
      out.headers.emplace_back(std::move(name), std::move(value));
  return out;
}

bool IsLoopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]" || host == "localhost";
}

// "host:port" -> (host, port); false when malformed.
bool SplitListen(const std::string& listen, std::string* host, int* port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  try {
    size_t used = 0;
    *port = std::stoi(listen.substr(colon + 1), &used);
    return used == listen.size() - colon - 1 && *port >= 0 && *port <= 65535;
  } catch (const std::exception&) {
    return false;
  }
}

// JSON string literal (control characters escaped; bytes >= 0x80 passed through).
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char* kHex = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

namespace {
uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

double IngressKeyOf(const std::string& id) { return static_cast<double>(Fnv1a64(id) >> 11) * 0x1p-53; }

uint64_t IngressSeqOf(const std::string& id) { return Fnv1a64(id) | (uint64_t{1} << 63); }

// ---- IngressCall ----------------------------------------------------------------------------------

bool IngressCall::Finish(oip::HttpReply reply) {
  MutexLock l(&mu_);
  if (reply_) return false;
  reply_ = std::move(reply);
  cv_.SignalAll();
  return true;
}

bool IngressCall::finished() const {
  MutexLock l(&mu_);
  return reply_.has_value();
}

oip::HttpReply IngressCall::Wait() {
  MutexLock l(&mu_);
  cv_.WaitUntil(&mu_, deadline_, [this]() REQUIRES(mu_) { return reply_.has_value(); });
  if (!reply_) reply_ = oip::ErrorReply(504, "request " + id_ + ": no answer within its deadline");
  return *reply_;
}

// ---- IngressEndpoint ------------------------------------------------------------------------------

IngressEndpoint::IngressEndpoint(IngressOptions opts) : opts_(std::move(opts)) {
  auto model = std::make_unique<oip::ModelInfo>();
  model->name = opts_.model;
  for (const auto& in : opts_.inputs) model->inputs.push_back(oip::TensorMeta{in, "BYTES", {1}});
  model->outputs.push_back(oip::TensorMeta{opts_.output, "BYTES", {1}});
  model_ = std::move(model);
}

StatusOr<std::unique_ptr<IngressEndpoint>> IngressEndpoint::Start(IngressOptions opts) {
  HttpServerOptions h;
  if (!SplitListen(opts.cfg.listen, &h.address, &h.port))
    return Status::InvalidArgument("ingress.listen: \"" + opts.cfg.listen + "\" is not host:port");
  std::unique_ptr<IngressEndpoint> e(new IngressEndpoint(std::move(opts)));
  const WorkerIngress& c = e->opts_.cfg;
  if (c.plain_http) {
    if (!IsLoopback(h.address))
      return Status::InvalidArgument("ingress.plainHttp is allowed on a loopback address only, not " + h.address);
  } else {
    if (c.cert_file.empty() || c.key_file.empty() || c.token_file.empty())
      return Status::InvalidArgument("ingress: certFile, keyFile and tokenFile are required unless plainHttp");
    struct stat st {};
    if (stat(c.token_file.c_str(), &st) != 0)
      return Status::InvalidArgument("ingress.tokenFile " + c.token_file + " cannot be read");
    if ((st.st_mode & 077) != 0)
      return Status::InvalidArgument("ingress.tokenFile " + c.token_file + " is readable by others (chmod 600)");
    auto token = ReadFile(c.token_file);
    if (!token.ok()) return token.status();
    e->token_ = *token;
    while (!e->token_.empty() && (e->token_.back() == '\n' || e->token_.back() == '\r')) e->token_.pop_back();
    if (e->token_.empty()) return Status::InvalidArgument("ingress.tokenFile " + c.token_file + " is empty");
    h.cert_file = c.cert_file;
    h.key_file = c.key_file;
  }
  h.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  // A waiting call holds a handler thread; so does a results subscriber.
  h.handler_threads = static_cast<int>(std::min<int64_t>(c.max_inflight, 1024)) + static_cast<int>(kMaxSubscribers) + 4;
  h.io_timeout_s = std::max(60.0, c.timeout_s + 5);
  IngressEndpoint* self = e.get();
  auto server = StartHttpServer(h, [self](const HttpRequest& r) { return self->Handle(r); });
  if (!server.ok()) return server.status();
  e->server_ = std::move(*server);
  return e;
}

IngressEndpoint::~IngressEndpoint() {
  stopping_ = true;
  {
    MutexLock l(&mu_);
    for (auto& w : waiting_)
      if (auto call = w.lock()) call->Finish(oip::ErrorReply(503, "the worker is stopping; retry"));
    published_.SignalAll();
  }
  if (server_) server_->Stop();
}

std::vector<std::shared_ptr<IngressCall>> IngressEndpoint::TakeAccepted() {
  MutexLock l(&mu_);
  std::vector<std::shared_ptr<IngressCall>> out;
  out.swap(accepted_);
  return out;
}

std::map<std::string, int64_t> IngressEndpoint::responses() const {
  MutexLock l(&mu_);
  return responses_;
}

oip::ServerState IngressEndpoint::State() const {
  oip::ServerState s;
  s.version = opts_.version;
  s.ready = ready_;
  s.models.push_back(*model_);
  s.models.back().ready = ready_;
  return s;
}

bool IngressEndpoint::Authorized(const HttpRequest& req) const {
  if (token_.empty()) return true;
  const std::string want = "Bearer " + token_;
  return req.authorization.size() == want.size() &&
         CRYPTO_memcmp(req.authorization.data(), want.data(), want.size()) == 0;
}

HttpResponse IngressEndpoint::Reply(oip::HttpReply r) {
  {
    MutexLock l(&mu_);
    ++responses_[std::to_string(r.status)];
  }
  return ToHttp(std::move(r));
}

bool IngressEndpoint::Admit() {
  int64_t n = inflight_.load();
  while (n < opts_.cfg.max_inflight)
    if (inflight_.compare_exchange_weak(n, n + 1)) return true;
  return false;
}

HttpResponse IngressEndpoint::Handle(const HttpRequest& req) {
  oip::Route route = oip::RouteRequest(req.method, req.target);
  bool health = route.endpoint == oip::Endpoint::kServerLive || route.endpoint == oip::Endpoint::kServerReady;
  if (!health && !Authorized(req)) {
    auto r = oip::ErrorReply(401, "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return Reply(std::move(r));
  }
  if (route.endpoint == oip::Endpoint::kInfer) return Infer(req, route);
  if (route.endpoint == oip::Endpoint::kResults) {
    oip::ServerState s = State();
    if (auto m = oip::ResolveModel(s, route); !m.ok()) return Reply(oip::ErrorReply(m.status()));
    return Results(req);
  }
  // Everything else has no body worth reading (a stray one is refused unread by the answer). Not
  // counted in responses(), which are the infer and results calls (health probes would drown them).
  return ToHttp(oip::Answer(State(), route));
}

HttpResponse IngressEndpoint::Infer(const HttpRequest& req, const oip::Route& route) {
  const WorkerIngress& c = opts_.cfg;
  oip::ServerState state = State();
  if (auto m = oip::ResolveModel(state, route); !m.ok()) return Reply(oip::ErrorReply(m.status()));
  if (!ready_ || stopping_) return Reply(oip::ErrorReply(503, "model " + model_->name + " is not ready"));
  std::string too_large = "the request body exceeds " + std::to_string(c.max_body_bytes) + " bytes";
  if (req.body_too_large) return Reply(oip::ErrorReply(413, too_large));
  if (req.body_pending) {  // admission before the body is read
    if (inflight_ >= c.max_inflight)
      return Reply(oip::TooManyRequestsReply(
          "model " + model_->name + " has " + std::to_string(c.max_inflight) + " requests in flight", 1));
    return HttpResponse{kHttpContinue, "", "", {}, nullptr};
  }
  oip::RequestLimits limits;
  limits.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  oip::Headers headers(req.headers.begin(), req.headers.end());
  auto parsed = oip::ParseInferRequest({req.body, oip::FindHeader(headers, "Inference-Header-Content-Length")}, limits);
  if (!parsed.ok()) return Reply(oip::ErrorReply(parsed.status()));
  for (const auto& t : parsed->inputs)  // a part for another tier's io worker: say where it goes
    if (std::find(c.joined_with.begin(), c.joined_with.end(), t.name) != c.joined_with.end()) {
      std::string mine;
      for (const auto& i : opts_.inputs) mine += (mine.empty() ? "" : ", ") + i;
      return Reply(oip::ErrorReply(400, "input '" + t.name +
                                            "' is served by the io worker of its own tier, not this one: model '" +
                                            model_->name + "' here takes " + mine));
    }
  if (auto s = oip::ValidateAgainstModel(*parsed, *model_); !s.ok()) return Reply(oip::ErrorReply(s));
  if (!c.joined_with.empty() && parsed->id.empty()) {
    std::string others;
    for (const auto& o : c.joined_with) others += (others.empty() ? "" : ", ") + o;
    return Reply(oip::ErrorReply(400, "request id ('id') is required: model " + model_->name +
                                          "'s parts sent here join the parts of " + others +
                                          " sent to other io workers by it"));
  }
  std::vector<std::pair<std::string, std::string>> parts;
  for (const auto& name : opts_.inputs) {
    const oip::Tensor* t = parsed->FindInput(name);
    auto elems = oip::SplitBytesElements(t->raw, 1, t->raw.size());
    if (!elems.ok())
      return Reply(oip::ErrorReply(400, "input " + name + ": expected one BYTES element: " + elems.status().message()));
    parts.emplace_back(name, std::string((*elems)[0]));
  }
  double timeout_s = c.timeout_s;
  if (parsed->timeout_us && *parsed->timeout_us > 0)
    timeout_s = std::min(3600.0, static_cast<double>(*parsed->timeout_us) / 1e6);
  if (!Admit())
    return Reply(oip::TooManyRequestsReply(
        "model " + model_->name + " has " + std::to_string(c.max_inflight) + " requests in flight", 1));
  std::string id = parsed->id;
  std::shared_ptr<IngressCall> call;
  {
    MutexLock l(&mu_);
    if (id.empty())
      id = "jb-" + std::to_string(++next_id_) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffff);
    parsed->id = id;  // echoed in the answer
    auto deadline = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
    call = std::make_shared<IngressCall>(std::move(*parsed), id, std::move(parts), deadline);
    accepted_.push_back(call);
    waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), [](const auto& w) { return w.expired(); }),
                   waiting_.end());
    waiting_.push_back(call);
  }
  if (stopping_) call->Finish(oip::ErrorReply(503, "the worker is stopping; retry"));
  opts_.wake();
  oip::HttpReply r = call->Wait();
  --inflight_;
  return Reply(std::move(r));
}

// ---- results stream -------------------------------------------------------------------------------

void IngressEndpoint::Publish(const std::string& id, const std::string& output, const std::string& payload) {
  MutexLock l(&mu_);
  if (subscribers_.empty()) return;
  std::string json = "{\"id\":" + JsonString(id) + ",\"model_name\":" + JsonString(opts_.model) +
                     ",\"outputs\":[{\"name\":" + JsonString(output) +
                     ",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[" + JsonString(payload) + "]}]}";
  for (auto& s : subscribers_) {
    if (s->cut) continue;
    if (s->lines.size() >= opts_.results_buffer) {
      s->cut = true;
      continue;
    }
    s->lines.push_back(s->sse ? "data: " + json + "\n\n" : json + "\n");
  }
  published_.SignalAll();
}

HttpResponse IngressEndpoint::Results(const HttpRequest& req) {
  auto sub = std::make_shared<Subscriber>();
  for (const auto& [name, value] : req.headers)
    if (EqualsIgnoreCase(name, "Accept") && value.find("text/event-stream") != std::string::npos) sub->sse = true;
  if (req.query.find("format=sse") != std::string::npos) sub->sse = true;
  {
    MutexLock l(&mu_);
    if (subscribers_.size() >= kMaxSubscribers) {
      ++responses_["429"];
      return ToHttp(oip::TooManyRequestsReply("too many results subscribers", 1));
    }
    subscribers_.push_back(sub);
    ++responses_["200"];
  }
  HttpResponse r;
  r.content_type = sub->sse ? "text/event-stream" : "application/x-ndjson";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.stream = [this, sub](std::string* chunk, bool gone) { return NextLine(sub, chunk, gone); };
  return r;
}

bool IngressEndpoint::NextLine(const std::shared_ptr<Subscriber>& s, std::string* chunk, bool gone) {
  MutexLock l(&mu_);
  auto leave = [&]() REQUIRES(mu_) {
    subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), s), subscribers_.end());
    return false;
  };
  if (gone || stopping_) return leave();
  if (s->lines.empty() && !s->cut)
    published_.WaitFor(&mu_, std::chrono::seconds(1),
                       [&]() REQUIRES(mu_) { return !s->lines.empty() || s->cut || stopping_.load(); });
  if (!s->lines.empty()) {
    // Up to 64 lines per chunk.
    for (int i = 0; i < 64 && !s->lines.empty(); ++i) {
      *chunk += s->lines.front();
      s->lines.pop_front();
    }
    return true;
  }
  if (s->ended) return leave();
  if (s->cut) {  // the final line, then the end
    std::string msg = "{\"error\":\"this subscriber fell more than " + std::to_string(opts_.results_buffer) +
                      " answers behind and was cut; answers were missed\"}";
    *chunk = s->sse ? "event: error\ndata: " + msg + "\n\n" : msg + "\n";
    s->ended = true;
    return true;
  }
  if (stopping_) return leave();
  *chunk = s->sse ? ": ping\n\n" : "\n";  // heartbeat: a client gone away shows as a failed write
  return true;
}

}  // namespace jb
