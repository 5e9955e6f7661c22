// The only TU that includes gRPC and the generated etcd protos (see etcd_client.h).
#include "store/etcd/etcd_client.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <thread>

#include "base/file.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace jb::etcd {

namespace pb = etcdserverpb;

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

Status CheckCredentialFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::InvalidArgument(path + ": cannot be read");
  if ((st.st_mode & 077) != 0)
    return Status::InvalidArgument(path + ": a credential file must not be accessible to group or others (mode " +
                                   std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                                   std::to_string(st.st_mode & 7) + "); chmod 0600 it");
  return Status::Ok();
}

StatusOr<EtcdOptions> ParseEtcdSpec(const std::string& spec_in) {
  std::string spec = spec_in;
  if (spec.rfind("etcd:", 0) == 0) spec = spec.substr(5);
  EtcdOptions o;
  std::string query;
  if (auto q = spec.find('?'); q != std::string::npos) {
    query = spec.substr(q + 1);
    spec = spec.substr(0, q);
  }
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string url = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      return Status::InvalidArgument("etcd endpoint \"" + url + "\": expected http://HOST:PORT or https://HOST:PORT");
    while (!url.empty() && url.back() == '/') url.pop_back();
    o.endpoints.push_back(url);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  start = 0;
  while (!query.empty() && start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "prefix") {
      if (v.empty() || v.back() != '/') return Status::InvalidArgument("etcd prefix \"" + v + "\": must end in '/'");
      o.prefix = v;
    } else if (k == "cacert") {
      o.ca_file = v;
    } else if (k == "cert") {
      o.cert_file = v;
    } else if (k == "key") {
      o.key_file = v;
    } else if (k == "timeout-ms") {
      char* end = nullptr;
      long ms = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || ms < 10 || ms > 600000)
        return Status::InvalidArgument("etcd timeout-ms \"" + v + "\": expected 10..600000");
      o.request_timeout = std::chrono::milliseconds(ms);
    } else {
      return Status::InvalidArgument("etcd store option \"" + k +
                                     "\": expected prefix, cacert, cert, key or timeout-ms");
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  if (o.cert_file.empty() != o.key_file.empty())
    return Status::InvalidArgument("etcd: cert and key go together (client-certificate authentication)");
  return o;
}

namespace {

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  std::string msg = "etcd: " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:  // "context deadline exceeded" from a member without quorum
      return Status::Unavailable(msg);
    case grpc::StatusCode::NOT_FOUND:
      return Status::NotFound(msg);
    default:
      return Status::InvalidArgument(msg);
  }
}

KeyValue FromPb(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.lease()};
}

void ToPb(const Op& op, pb::RequestOp* out) {
  switch (op.kind) {
    case Op::Kind::kPut: {
      auto* p = out->mutable_request_put();
      p->set_key(op.key);
      p->set_value(op.value);
      p->set_lease(op.lease);
      break;
    }
    case Op::Kind::kDelete: {
      auto* d = out->mutable_request_delete_range();
      d->set_key(op.key);
      d->set_range_end(op.range_end);
      break;
    }
    case Op::Kind::kRange: {
      auto* r = out->mutable_request_range();
      r->set_key(op.key);
      r->set_range_end(op.range_end);
      break;
    }
  }
}

class GrpcEtcdClient : public EtcdClient {
 public:
  GrpcEtcdClient(EtcdOptions options, std::vector<std::shared_ptr<grpc::Channel>> channels)
      : EtcdClient(std::move(options)), channels_(std::move(channels)) {}

  StatusOr<TxnResult> Range(const std::string& key, const std::string& range_end, int64_t revision) override {
    pb::RangeRequest req;
    req.set_key(key);
    req.set_range_end(range_end);
    req.set_revision(revision);
    pb::RangeResponse resp;
    Status s = Unary(
        [&](grpc::ClientContext* ctx, size_t ch) { return pb::KV::NewStub(channels_[ch])->Range(ctx, req, &resp); });
    if (!s.ok()) return s;
    TxnResult r;
    r.succeeded = true;
    r.revision = resp.header().revision();
    r.ranges.emplace_back();
    for (const auto& kv : resp.kvs()) r.ranges.back().push_back(FromPb(kv));
    return r;
  }

  StatusOr<TxnResult> Txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                          const std::vector<Op>& failure) override {
    pb::TxnRequest req;
    for (const auto& c : compares) {
      auto* pc = req.add_compare();
      pc->set_key(c.key);
      pc->set_result(pb::Compare::EQUAL);
      switch (c.target) {
        case Compare::Target::kMod:
          pc->set_target(pb::Compare::MOD);
          pc->set_mod_revision(c.value);
          break;
        case Compare::Target::kCreate:
          pc->set_target(pb::Compare::CREATE);
          pc->set_create_revision(c.value);
          break;
        case Compare::Target::kLease:
          pc->set_target(pb::Compare::LEASE);
          pc->set_lease(c.value);
          break;
      }
    }
    for (const auto& op : success) ToPb(op, req.add_success());
    for (const auto& op : failure) ToPb(op, req.add_failure());
    pb::TxnResponse resp;
    // Retried on the next endpoint when refused before it was proposed (no leader, no
    // connection); a txn that timed out may have been applied, so it is not retried.
    Status s =
        Unary([&](grpc::ClientContext* ctx, size_t ch) { return pb::KV::NewStub(channels_[ch])->Txn(ctx, req, &resp); },
              /*retry_timeouts=*/false);
    if (!s.ok()) return s;
    TxnResult r;
    r.succeeded = resp.succeeded();
    r.revision = resp.header().revision();
    for (const auto& op : resp.responses()) {
      r.ranges.emplace_back();
      if (op.has_response_range())
        for (const auto& kv : op.response_range().kvs()) r.ranges.back().push_back(FromPb(kv));
    }
    return r;
  }

  Status Compact(int64_t revision) override {
    pb::CompactionRequest req;
    req.set_revision(revision);
    req.set_physical(true);
    pb::CompactionResponse resp;
    return Unary(
        [&](grpc::ClientContext* ctx, size_t ch) { return pb::KV::NewStub(channels_[ch])->Compact(ctx, req, &resp); });
  }

  StatusOr<int64_t> LeaseGrant(int64_t ttl_seconds) override {
    pb::LeaseGrantRequest req;
    req.set_ttl(ttl_seconds);
    pb::LeaseGrantResponse resp;
    Status s = Unary([&](grpc::ClientContext* ctx, size_t ch) {
      return pb::Lease::NewStub(channels_[ch])->LeaseGrant(ctx, req, &resp);
    });
    if (!s.ok()) return s;
    if (!resp.error().empty()) return Status::Unavailable("etcd: lease grant: " + resp.error());
    return resp.id();
  }

  StatusOr<int64_t> LeaseKeepAlive(int64_t lease) override {
    size_t ch = Current();
    grpc::ClientContext ctx;
    Prepare(&ctx);
    auto stream = pb::Lease::NewStub(channels_[ch])->LeaseKeepAlive(&ctx);
    pb::LeaseKeepAliveRequest req;
    req.set_id(lease);
    pb::LeaseKeepAliveResponse resp;
    bool got = stream->Write(req) && stream->Read(&resp);
    stream->WritesDone();
    if (got) {
      ctx.TryCancel();
      (void)stream->Finish();
      return resp.ttl() > 0 ? resp.ttl() : 0;
    }
    Status s = FromGrpc(stream->Finish());
    if (s.ok()) s = Status::Unavailable("etcd: lease keepalive: the stream ended without an answer");
    if (s.code() == Status::Code::kUnavailable) Advance(ch);
    return s;
  }

  Status LeaseRevoke(int64_t lease) override {
    pb::LeaseRevokeRequest req;
    req.set_id(lease);
    pb::LeaseRevokeResponse resp;
    return Unary([&](grpc::ClientContext* ctx, size_t ch) {
      return pb::Lease::NewStub(channels_[ch])->LeaseRevoke(ctx, req, &resp);
    });
  }

  Status Watch(const std::string& key, const std::string& range_end, int64_t start_revision,
               const std::function<void(const std::vector<WatchEvent>&, int64_t)>& on_events,
               const std::atomic<bool>& stop, int64_t* compact_revision) override;

 private:
  void Prepare(grpc::ClientContext* ctx) const {
    ctx->AddMetadata("hasleader", "true");
    ctx->set_deadline(std::chrono::system_clock::now() + options_.request_timeout);
  }
  size_t Current() const { return current_.load(); }
  // Moves to the next endpoint unless another call already moved away from `from`.
  void Advance(size_t from) { current_.compare_exchange_strong(from, (from + 1) % channels_.size()); }
  // A unary call, tried on each endpoint in turn while it fails with kUnavailable (with
  // `retry_timeouts` false, not after a timeout: the request may have been applied). The answer
  // that names a member without a leader wins over connection errors of the others.
  Status Unary(const std::function<grpc::Status(grpc::ClientContext*, size_t)>& call, bool retry_timeouts = true) {
    Status last, no_leader;
    for (size_t attempt = 0; attempt < channels_.size(); ++attempt) {
      size_t ch = Current();
      grpc::ClientContext ctx;
      Prepare(&ctx);
      grpc::Status g = call(&ctx, ch);
      last = FromGrpc(g);
      if (last.code() != Status::Code::kUnavailable) return last;
      if (last.message().find("no leader") != std::string::npos) no_leader = last;
      Advance(ch);
      if (!retry_timeouts && (g.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                              last.message().find("timed out") != std::string::npos))
        return last;
    }
    return no_leader.ok() ? last : no_leader;
  }

  const std::vector<std::shared_ptr<grpc::Channel>> channels_;
  // The endpoint calls go to (an atomic: gRPC's abseil headers clash with base/thread_annotations.h).
  std::atomic<size_t> current_{0};
};

Status GrpcEtcdClient::Watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                             const std::function<void(const std::vector<WatchEvent>&, int64_t)>& on_events,
                             const std::atomic<bool>& stop, int64_t* compact_revision) {
  size_t ch = Current();
  grpc::ClientContext ctx;
  ctx.AddMetadata("hasleader", "true");
  auto stream = pb::Watch::NewStub(channels_[ch])->Watch(&ctx);
  // Cancels the stream when `stop` is set (Read blocks otherwise).
  std::atomic<bool> done{false};
  std::thread canceller([&] {
    while (!done && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ctx.TryCancel();
  });
  pb::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_key(key);
  create->set_range_end(range_end);
  create->set_start_revision(start_revision);
  create->set_prev_kv(true);
  create->set_progress_notify(true);
  Status result;
  if (!stream->Write(req)) {
    result = Status::Unavailable("etcd: watch: cannot send the request");
  } else {
    pb::WatchResponse resp;
    while (stream->Read(&resp)) {
      if (resp.compact_revision() > 0) {
        *compact_revision = resp.compact_revision();
        result =
            Status::FailedPrecondition("etcd: watch: revision " + std::to_string(start_revision) +
                                       " compacted (compact revision " + std::to_string(resp.compact_revision()) + ")");
        break;
      }
      if (resp.canceled()) {
        result = Status::Unavailable("etcd: watch canceled: " + resp.cancel_reason());
        break;
      }
      if (resp.created() && resp.events_size() == 0) continue;
      std::vector<WatchEvent> events;
      for (const auto& e : resp.events()) {
        WatchEvent we;
        we.is_delete = e.type() == mvccpb::Event::DELETE;
        we.kv = FromPb(e.kv());
        we.has_prev = e.has_prev_kv();
        if (we.has_prev) we.prev_kv = FromPb(e.prev_kv());
        events.push_back(std::move(we));
      }
      on_events(events, resp.header().revision());
    }
  }
  done = true;
  ctx.TryCancel();
  canceller.join();
  grpc::Status fin = stream->Finish();
  if (result.ok()) {
    result = stop ? Status::Ok() : FromGrpc(fin);
    if (result.ok() && !stop) result = Status::Unavailable("etcd: watch stream ended");
  }
  if (result.code() == Status::Code::kUnavailable) Advance(ch);
  return result;
}

std::string HostPort(const std::string& url) { return url.substr(url.find("://") + 3); }

}  // namespace

StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(const EtcdOptions& options) {
  if (options.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoint");
  bool tls = options.endpoints.front().rfind("https://", 0) == 0;
  for (const auto& e : options.endpoints)
    if ((e.rfind("https://", 0) == 0) != tls)
      return Status::InvalidArgument("etcd: endpoints mix http:// and https://");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      auto ca = ReadFile(options.ca_file);
      if (!ca.ok()) return Status::InvalidArgument("etcd cacert " + options.ca_file + ": " + ca.status().message());
      ssl.pem_root_certs = *ca;
    }
    if (!options.cert_file.empty()) {
      for (const auto* f : {&options.cert_file, &options.key_file})
        if (auto s = CheckCredentialFile(*f); !s.ok()) return s;
      auto cert = ReadFile(options.cert_file);
      auto key = ReadFile(options.key_file);
      if (!cert.ok()) return Status::InvalidArgument("etcd cert " + options.cert_file + ": " + cert.status().message());
      if (!key.ok()) return Status::InvalidArgument("etcd key " + options.key_file + ": " + key.status().message());
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    if (!options.cert_file.empty() || !options.ca_file.empty())
      return Status::InvalidArgument("etcd: cacert/cert/key need https:// endpoints");
    creds = grpc::InsecureChannelCredentials();
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto& e : options.endpoints) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channels.push_back(grpc::CreateCustomChannel(HostPort(e), creds, args));
  }
  return std::unique_ptr<EtcdClient>(new GrpcEtcdClient(options, std::move(channels)));
}

}  // namespace jb::etcd
