// IngressEndpoint: the Open Inference Protocol (KServe v2) endpoint of an io worker that hosts a
// workflow's ingress sources (docs/ingress.md). It serves the workflow as one model on the HTTP(S)
// server of daemon/http.h and hands each accepted infer request to the worker's loop as an
// IngressCall; the loop numbers it, emits one item per ingress source and finishes the call when the
// sink on this worker delivers the answer, or when the request is dropped (worker/ingress_worker.cc).
//
// Contract:
//  - Every accepted request (one that got past admission and parsing: it counts in inflight()) is
//    answered exactly once: the loop's answer, the loop's error (500 naming the drop reason), 504
//    at its deadline (Triton's `timeout` parameter, microseconds, else WorkerIngress.timeout_s), or
//    503 when the endpoint stops. IngressCall::Finish decides which came first.
//  - Admission, before the body is read: 404 unknown model, 503 while not ready (SetReady), 429 with
//    Retry-After when inflight() >= max_inflight, 413 when Content-Length (or a chunked body) is over
//    max_body_bytes. After parsing: 400 naming the input and what was expected. Every error has the
//    OIP body {"error": ...}. Memory is bounded: at most max_inflight calls, each at most
//    max_body_bytes; results subscribers at most kMaxSubscribers, each buffering at most
//    results_buffer answers (a slower one is cut with a final line saying so).
//  - Auth: unless plainHttp (loopback addresses only), TLS with cert/key and a bearer token read from
//    tokenFile, which must not be readable by group or others (mode 0600); every path but
//    /v2/health/* needs `Authorization: Bearer <token>` (401 otherwise). The token is never logged.
//  - Inputs: one per ingress source, named as the source, BYTES of shape [1] (the model metadata
//    says so); the item's payload is that one element's bytes.
//  - The results stream (GET /v2/models/{m}/results, our extension): every answer the sink delivers
//    while subscribed, as JSON lines (application/x-ndjson; a blank line every second as heartbeat)
//    or, with `?format=sse` or `Accept: text/event-stream`, server-sent events (`: ping` heartbeat).
// Threads: HTTP handler threads run the endpoint; TakeAccepted, SetReady and Publish are called by
// the loop; all shared state is under mu_ (and each call's own mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/worker_config.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "daemon/http.h"
#include "ingress/oip_reply.h"
#include "ingress/oip_request.h"

namespace jb::oip {
struct ModelInfo;  // ingress/oip_endpoints.h, which is not included here: it brings api/types.h,
struct Route;      // whose jb::Source is not the worker's
struct ServerState;
}  // namespace jb::oip

namespace jb {

// One accepted infer request, shared by the HTTP thread that waits for it and the loop.
class IngressCall {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  IngressCall(oip::InferRequest request, std::string id, std::vector<std::pair<std::string, std::string>> parts,
              TimePoint deadline)
      : request_(std::move(request)), id_(std::move(id)), parts_(std::move(parts)), deadline_(deadline) {}

  const std::string& id() const { return id_; }
  const oip::InferRequest& request() const { return request_; }
  // (ingress source, payload), one per source of the worker.
  const std::vector<std::pair<std::string, std::string>>& parts() const { return parts_; }
  TimePoint deadline() const { return deadline_; }

  // Ends the call with `reply` unless it has ended already; true when this ended it.
  bool Finish(oip::HttpReply reply) EXCLUDES(mu_);
  bool finished() const EXCLUDES(mu_);
  // Blocks until the call ends or its deadline passes (then it ends with 504); the reply.
  oip::HttpReply Wait() EXCLUDES(mu_);

 private:
  const oip::InferRequest request_;
  const std::string id_;
  const std::vector<std::pair<std::string, std::string>> parts_;
  const TimePoint deadline_;
  mutable Mutex mu_;
  CondVar cv_;
  std::optional<oip::HttpReply> reply_ GUARDED_BY(mu_);
};

struct IngressOptions {
  WorkerIngress cfg;
  std::string model;                // the workflow's name
  std::vector<std::string> inputs;  // the ingress sources of this worker
  std::string output;               // the last operator (whose answer reaches the sink)
  std::string version;              // the server's version (server metadata)
  std::function<void()> wake;       // wakes the worker's loop (any thread)
  size_t results_buffer = 1024;     // answers a results subscriber may fall behind before it is cut
};

class IngressEndpoint {
 public:
  static constexpr size_t kMaxSubscribers = 64;

  // Checks the options (TLS materials, token file mode, loopback for plain HTTP) and starts serving.
  // kInvalidArgument for bad options, kUnavailable when the address cannot be bound.
  static StatusOr<std::unique_ptr<IngressEndpoint>> Start(IngressOptions opts);
  // Stops the server; calls not yet answered end with 503 (their handlers are waited for).
  ~IngressEndpoint();

  int port() const { return server_ ? server_->port() : 0; }
  void SetReady(bool ready) { ready_ = ready; }
  // The calls accepted since the last call, in arrival order (loop).
  std::vector<std::shared_ptr<IngressCall>> TakeAccepted() EXCLUDES(mu_);
  // An answer delivered at the sink: to every results subscriber.
  void Publish(const std::string& id, const std::string& output, const std::string& payload) EXCLUDES(mu_);
  // Answers to infer and results calls (and refused credentials) by status code, and accepted
  // calls not yet answered (ingress source metrics).
  std::map<std::string, int64_t> responses() const EXCLUDES(mu_);
  int64_t inflight() const { return inflight_; }
  const std::vector<std::string>& inputs() const { return opts_.inputs; }

 private:
  struct Subscriber {
    std::deque<std::string> lines;
    bool cut = false;    // overflowed: ends with a final line
    bool ended = false;  // the final line was sent
    bool sse = false;
  };
  explicit IngressEndpoint(IngressOptions opts);
  HttpResponse Handle(const HttpRequest& req);
  HttpResponse Infer(const HttpRequest& req, const oip::Route& route);
  HttpResponse Results(const HttpRequest& req);
  bool Authorized(const HttpRequest& req) const;
  HttpResponse Reply(oip::HttpReply r) EXCLUDES(mu_);  // counts the status
  bool Admit();                                        // inflight + 1 unless full
  oip::ServerState State() const;
  bool NextLine(const std::shared_ptr<Subscriber>& s, std::string* chunk, bool gone) EXCLUDES(mu_);

  const IngressOptions opts_;
  std::string token_;
  std::unique_ptr<const oip::ModelInfo> model_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> inflight_{0};
  mutable Mutex mu_;
  CondVar published_;
  std::vector<std::shared_ptr<IngressCall>> accepted_ GUARDED_BY(mu_);
  std::vector<std::weak_ptr<IngressCall>> waiting_ GUARDED_BY(mu_);  // to end with 503 on stop
  std::vector<std::shared_ptr<Subscriber>> subscribers_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> responses_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<HttpServer> server_;
};

// The routing key of a request id: a 64-bit FNV-1a hash of the id scaled to [0, 1), so one id
// always takes the same key range (and so the same workers).
double IngressKeyOf(const std::string& id);
// The seq of every part of request `id` when the workflow's ingress sources are on several io
// workers (WorkerIngress::joined_with): the same on every worker, so the parts join by it (the join
// also checks their request keys). The FNV-1a hash of the id with the top bit set: never a seq of a
// worker's numbering, never 0.
uint64_t IngressSeqOf(const std::string& id);

}  // namespace jb
