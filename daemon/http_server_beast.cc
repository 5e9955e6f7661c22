// The HTTP(S) server behind daemon/http.h, on Boost.Beast and Boost.Asio (the only translation unit
// that includes them). What a client without credentials can make it do is bounded:
//   - request line + headers: at most max_header_bytes buffered (431 beyond);
//   - bodies: the handler sees the headers first (HttpRequest::body_pending) and refuses before the
//     body is read; an admitted body is read with a limit, never buffered beyond max_body_bytes;
//   - time: a header deadline from accept (TLS handshake included), an idle deadline between
//     requests, a deadline for reading a body or writing a response; EOF closes at once;
//   - connections: at most max_connections, counted from accept until the socket is closed;
//   - plain HTTP on the TLS port is answered with a 400 that says so.
// Threads: io_threads run the sockets and TLS, each connection on its own strand; handlers run on a
// separate pool so that a blocking handler never stalls the sockets.
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/http.h"
#include "daemon/http_target.h"

namespace jb {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

std::atomic<int> g_handler_threads{4};

// After a final response on a connection that will not be reused, the server stops sending and
// discards what the client still sends for a moment before closing: closing with unread input makes
// the kernel send a reset, which destroys the response before a client that is still sending its
// body (most do not wait for 100 Continue) reads it. Discarding costs no memory; bounded in bytes and
// time so that a client cannot hold the connection this way. 16 MiB covers a refused body of a few
// times the default limit.
constexpr size_t kLingerBytes = 16 << 20;
constexpr double kLingerSeconds = 2;
// Read size while waiting for the next request on a kept-alive connection.
constexpr size_t kIdleReadBytes = 4096;

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

// A response the server makes itself (before or instead of the handler), shaped like the API's.
HttpResponse ServerError(int code, const std::string& message) {
  return HttpResponse{code, "application/json",
                      "{\"apiVersion\":\"v1\",\"kind\":\"Status\",\"status\":\"Failure\",\"code\":" +
                          std::to_string(code) + ",\"message\":\"" + message + "\"}\n"};
}

// What every connection needs from its server. Owned by the server, which destroys every connection
// before it goes (BeastServer::Stop), so connections hold it by plain pointer.
struct Context {
  HttpServerOptions opts;
  HttpHandler handler;
  std::optional<ssl::context> tls;
  net::thread_pool* handlers = nullptr;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
};

// Counts one connection against max_connections, from accept until its socket is closed.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(Context* ctx) : ctx_(ctx) { ++ctx_->connections; }
  ConnectionSlot(ConnectionSlot&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (ctx_ != nullptr) --ctx_->connections;
  }

 private:
  Context* ctx_;
};

// The graceful end of a connection (see kLingerBytes): half-close, discard input until EOF, the byte
// cap or the deadline, then close (by destruction).
class Drainer : public std::enable_shared_from_this<Drainer> {
 public:
  Drainer(ConnectionSlot slot, beast::tcp_stream stream) : slot_(std::move(slot)), stream_(std::move(stream)) {}

  void Start() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    stream_.expires_after(Seconds(kLingerSeconds));
    Read();
  }

 private:
  void Read() {
    stream_.async_read_some(net::buffer(buf_), [self = shared_from_this()](error_code ec, size_t n) {
      self->drained_ += n;
      if (!ec && self->drained_ < kLingerBytes) self->Read();
    });
  }

  ConnectionSlot slot_;
  beast::tcp_stream stream_;
  std::array<char, 8192> buf_{};
  size_t drained_ = 0;
};

// One connection, plain (beast::tcp_stream) or TLS (beast::ssl_stream<beast::tcp_stream>), serving
// its requests one after the other. Every member is used on the connection's strand, except that a
// handler job on the pool reads req_ while no socket operation is in progress.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Context* ctx, ConnectionSlot slot, Stream stream, beast::flat_buffer buffer)
      : ctx_(ctx), slot_(std::move(slot)), stream_(std::move(stream)), buffer_(std::move(buffer)) {}

  // TLS only: the handshake, under the header deadline started at accept.
  void Handshake() {
    stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                            [self = this->shared_from_this()](error_code ec, size_t used) {
                              if (ec) return;  // not TLS after all, a bad certificate, a timeout: close
                              self->buffer_.consume(used);
                              self->ReadHeader();
                            });
  }

  // Plain HTTP: the first request, under the header deadline from accept.
  void Begin() {
    Tcp().expires_after(Seconds(ctx_->opts.header_timeout_s));
    ReadHeader();
  }

 private:
  // Reads the request line and headers (the caller started the deadline).
  void ReadHeader() {
    head_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(ctx_->opts.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    // Beast refuses a declared length over the body limit while parsing the headers; the headers
    // are wanted in any case (for the handler's decision), so the length is checked in OnHeader.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  static bool IsHttpError(const error_code& ec) {
    return ec.category() == make_error_code(http::error::end_of_stream).category();
  }

  // A parse error (as opposed to EOF, a timeout or a reset, which just close the connection).
  static bool IsMalformed(const error_code& ec) {
    return IsHttpError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message;
  }

  void OnHeader(error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return Send(
          ServerError(431, "the request headers exceed " + std::to_string(ctx_->opts.max_header_bytes) + " bytes"),
          false);
    if (ec && IsMalformed(ec)) return Send(ServerError(400, "malformed request: " + ec.message()), false);
    if (ec) return;
    const auto& h = parser_->get();
    req_ = HttpRequest{};
    req_.method = std::string(h.method_string());
    auto target = h.target();
    if (!DecodePath(std::string_view(target.data(), target.size()), &req_.path))
      return Send(ServerError(400, "malformed percent-encoding in the path"), false);
    req_.target = std::string(target.data(), target.size());
    req_.query = QueryOf(req_.target);
    for (const auto& field : h) req_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    req_.authorization = std::string(h[http::field::authorization]);
    req_.content_type = std::string(h[http::field::content_type]);
    req_.body_pending = !parser_->is_done();
    auto declared = parser_->content_length();
    req_.body_too_large = declared && *declared > ctx_->opts.max_body_bytes;
    keep_alive_ = h.keep_alive() && !ctx_->stopping;
    expect_continue_ = beast::iequals(h[http::field::expect], "100-continue");
    head_ = h.method() == http::verb::head;
    Dispatch();
  }

  // Runs the handler on the pool, then continues on the strand.
  void Dispatch() {
    net::post(*ctx_->handlers, [self = this->shared_from_this()] {
      HttpResponse resp;
      try {
        resp = self->ctx_->handler(self->req_);
      } catch (const std::exception&) {
        resp = ServerError(500, "the request handler failed");
      }
      net::post(self->stream_.get_executor(),
                [self, resp = std::move(resp)]() mutable { self->OnResponse(std::move(resp)); });
    });
  }

  void OnResponse(HttpResponse resp) {
    if (resp.status < 100 || resp.status > 599) resp = ServerError(500, "the handler answered an invalid status");
    if (!req_.body_pending) {
      if (resp.status == kHttpContinue) resp = ServerError(500, "the handler answered 100 to a complete request");
      return Send(std::move(resp), keep_alive_);
    }
    if (resp.status != kHttpContinue) return Send(std::move(resp), false);  // refused unread: the body stays in the way
    if (req_.body_too_large)
      return Send(ServerError(413, "the request body exceeds " + std::to_string(ctx_->opts.max_body_bytes) + " bytes"),
                  false);
    if (!expect_continue_) return ReadBody();
    continue_.version(11);
    continue_.result(http::status::continue_);
    Tcp().expires_after(Seconds(ctx_->opts.io_timeout_s));
    http::async_write(stream_, continue_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (!ec) self->ReadBody();
    });
  }

  void ReadBody() {
    Tcp().expires_after(Seconds(ctx_->opts.io_timeout_s));
    parser_->body_limit(ctx_->opts.max_body_bytes);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(error_code ec) {
    if (ec == http::error::body_limit) {  // a chunked body that grew past the limit
      req_.body_too_large = true;
      req_.body_pending = false;
      keep_alive_ = false;
      return Dispatch();
    }
    if (ec && IsMalformed(ec)) return Send(ServerError(400, "malformed request body: " + ec.message()), false);
    if (ec) return;  // EOF, a timeout, a reset: close
    req_.body = std::move(parser_->get().body());
    req_.body_pending = false;
    Dispatch();
  }

  void Send(HttpResponse resp, bool keep_alive) {
    if (resp.stream && !head_) return StartStream(std::move(resp));
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(resp.status));
    res_.set(http::field::content_type, resp.content_type);
    for (const auto& [name, value] : resp.headers) res_.set(name, value);
    res_.body() = std::move(resp.body);
    res_.keep_alive(keep_alive && !ctx_->stopping);
    res_.prepare_payload();
    if (head_) res_.body().clear();  // Content-Length stays that of the GET
    Tcp().expires_after(Seconds(ctx_->opts.io_timeout_s));
    http::async_write(stream_, res_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (ec) return;
      if (self->res_.keep_alive()) return self->WaitForRequest();
      std::make_shared<Drainer>(std::move(self->slot_), beast::tcp_stream(self->Tcp().release_socket()))->Start();
    });
  }

  // A streamed response: the header (chunked), `body` as the first chunk, then the chunks of
  // resp.stream, each fetched on the handler pool (it may block) and written on the strand; the
  // connection closes after the last chunk. A failed write tells the stream the client is gone.
  void StartStream(HttpResponse resp) {
    stream_fn_ = std::move(resp.stream);
    sres_ = {};
    sres_.version(11);
    sres_.result(static_cast<unsigned>(resp.status));
    sres_.set(http::field::content_type, resp.content_type);
    for (const auto& [name, value] : resp.headers) sres_.set(name, value);
    sres_.keep_alive(false);
    sres_.chunked(true);
    sr_.emplace(sres_);
    chunk_ = std::move(resp.body);
    Tcp().expires_after(Seconds(ctx_->opts.io_timeout_s));
    http::async_write_header(stream_, *sr_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (ec) return self->NextChunk(true);
      self->WriteChunk();
    });
  }

  void WriteChunk() {
    if (chunk_.empty()) return NextChunk(false);
    Tcp().expires_after(Seconds(ctx_->opts.io_timeout_s));
    net::async_write(stream_, http::make_chunk(net::buffer(chunk_)),
                     [self = this->shared_from_this()](error_code ec, size_t) { self->NextChunk(bool(ec)); });
  }

  void NextChunk(bool gone) {
    if (ctx_->stopping) gone = true;
    net::post(*ctx_->handlers, [self = this->shared_from_this(), gone] {
      std::string chunk;
      bool more = false;
      try {
        more = self->stream_fn_(&chunk, gone);
      } catch (const std::exception&) {
      }
      net::post(self->stream_.get_executor(), [self, gone, more, chunk = std::move(chunk)]() mutable {
        if (gone) return;  // the client went away: close
        if (!more) return self->EndStream();
        self->chunk_ = std::move(chunk);
        self->WriteChunk();
      });
    });
  }

  void EndStream() {
    Tcp().expires_after(Seconds(ctx_->opts.io_timeout_s));
    net::async_write(stream_, http::make_chunk_last(), [self = this->shared_from_this()](error_code ec, size_t) {
      if (ec) return;
      std::make_shared<Drainer>(std::move(self->slot_), beast::tcp_stream(self->Tcp().release_socket()))->Start();
    });
  }

  // Between requests: the idle deadline until the next request's first byte, then the header deadline.
  void WaitForRequest() {
    if (buffer_.size() > 0) {  // pipelined
      Tcp().expires_after(Seconds(ctx_->opts.header_timeout_s));
      return ReadHeader();
    }
    Tcp().expires_after(Seconds(ctx_->opts.idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(kIdleReadBytes),
                            [self = this->shared_from_this()](error_code ec, size_t n) {
                              if (ec) return;  // EOF, the idle deadline, a reset: close
                              self->buffer_.commit(n);
                              self->Tcp().expires_after(Seconds(self->ctx_->opts.header_timeout_s));
                              self->ReadHeader();
                            });
  }

  Context* ctx_;
  ConnectionSlot slot_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  bool keep_alive_ = false;
  bool expect_continue_ = false;
  bool head_ = false;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> res_;
  // A streamed response (StartStream).
  HttpStreamFn stream_fn_;
  http::response<http::empty_body> sres_;
  std::optional<http::response_serializer<http::empty_body>> sr_;
  std::string chunk_;
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

// The buffer of a connection holds the headers plus at most one read beyond them.
beast::flat_buffer ConnectionBuffer(const Context& ctx) {
  return beast::flat_buffer(ctx.opts.max_header_bytes + 16384);
}

// The first bytes on the TLS port: a TLS ClientHello goes on to a TlsSession; anything else (plain
// HTTP) gets a 400 saying to use https.
class Detector : public std::enable_shared_from_this<Detector> {
 public:
  Detector(Context* ctx, ConnectionSlot slot, tcp::socket socket)
      : ctx_(ctx), slot_(std::move(slot)), stream_(std::move(socket)), buffer_(ConnectionBuffer(*ctx)) {}

  void Start() {
    stream_.expires_after(Seconds(ctx_->opts.header_timeout_s));
    beast::async_detect_ssl(stream_, buffer_,
                            [self = shared_from_this()](error_code ec, bool tls) { self->OnDetect(ec, tls); });
  }

 private:
  void OnDetect(error_code ec, bool tls) {
    if (ec) return;  // EOF or the deadline: close
    if (tls) {
      beast::ssl_stream<beast::tcp_stream> s(std::move(stream_), *ctx_->tls);
      std::make_shared<TlsSession>(ctx_, std::move(slot_), std::move(s), std::move(buffer_))->Handshake();
      return;
    }
    error_code ep_ec;
    auto local = stream_.socket().local_endpoint(ep_ec);
    std::string where = local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
    std::string body = "this port speaks HTTPS; use https://" + where + ":" + std::to_string(local.port()) + "/\n";
    reply_ = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    stream_.expires_after(Seconds(ctx_->opts.io_timeout_s));
    net::async_write(stream_, net::buffer(reply_), [self = shared_from_this()](error_code wec, size_t) {
      if (!wec) std::make_shared<Drainer>(std::move(self->slot_), std::move(self->stream_))->Start();
    });
  }

  Context* ctx_;
  ConnectionSlot slot_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string reply_;
};

class BeastServer final : public HttpServer {
 public:
  BeastServer(const HttpServerOptions& opts, HttpHandler handler) {
    ctx_.opts = opts;
    ctx_.handler = std::move(handler);
  }
  ~BeastServer() override { Stop(); }

  int port() const override { return port_; }

  Status Listen() {
    const auto& o = ctx_.opts;
    if (o.max_body_bytes == 0 || o.max_header_bytes < 1024 || o.max_connections < 1 || o.header_timeout_s <= 0 ||
        o.idle_timeout_s <= 0 || o.io_timeout_s <= 0)
      return Status::InvalidArgument("HTTP server options out of range (limits and timeouts must be positive)");
    if (!o.cert_file.empty()) {
      if (auto s = LoadTls(); !s.ok()) return s;
    }
    ioc_ = std::make_unique<net::io_context>(std::max(1, o.io_threads));
    int handler_threads = o.handler_threads > 0 ? o.handler_threads : g_handler_threads.load();
    pool_ = std::make_unique<net::thread_pool>(static_cast<size_t>(std::max(1, handler_threads)));
    ctx_.handlers = pool_.get();
    auto strand = net::make_strand(*ioc_);
    acceptor_.emplace(strand);
    retry_.emplace(strand);

    std::string host = o.address;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    tcp::resolver resolver(*ioc_);
    error_code ec;
    auto endpoints =
        resolver.resolve(host, std::to_string(o.port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) return Status::Unavailable("cannot listen on " + o.address + ": " + ec.message());
    std::string last_error = "no address";
    for (const auto& e : endpoints) {
      if (BindTo(e.endpoint(), &ec)) break;
      last_error = ec.message();
    }
    if (port_ == 0)
      return Status::Unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + last_error);
    Accept();
    for (int i = 0; i < std::max(1, o.io_threads); ++i) threads_.emplace_back([ioc = ioc_.get()] { Run(ioc); });
    return Status::Ok();
  }

  void Stop() override {
    std::call_once(stopped_, [this] { StopOnce(); });
  }

 private:
  // An exception out of a completion handler (an allocation failure) ends that connection, whose
  // handler is unwound, and never the io thread.
  static void Run(net::io_context* ioc) {
    for (;;) {
      try {
        ioc->run();
        return;
      } catch (const std::exception&) {
      }
    }
  }

  void StopOnce() {
    if (!ioc_) return;
    ctx_.stopping = true;
    if (!threads_.empty()) {  // close the listener on its strand, so that nothing is accepted after Stop
      std::promise<void> closed;
      net::post(acceptor_->get_executor(), [this, &closed] {
        error_code ec;
        acceptor_->close(ec);
        retry_->cancel();
        closed.set_value();
      });
      closed.get_future().wait();
    }
    if (pool_) {
      pool_->stop();  // handlers in progress finish; queued ones are dropped below
      pool_->join();
    }
    ioc_->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // Destroying the pool, then the io context, destroys every connection still queued or waiting
    // on its socket (closing the socket); after that no connection refers to ctx_.
    pool_.reset();
    ctx_.handlers = nullptr;
    acceptor_.reset();
    retry_.reset();
    ioc_.reset();
  }

  Status LoadTls() {
    const auto& o = ctx_.opts;
    ctx_.tls.emplace(ssl::context::tls_server);
    auto& tls = *ctx_.tls;
    error_code ec;
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                    ec);
    if (ec || SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1)
      return Status::Internal("cannot configure TLS: " + ec.message());
    tls.use_certificate_chain_file(o.cert_file, ec);
    if (ec) return Status::InvalidArgument("cannot load the TLS certificate " + o.cert_file + ": " + ec.message());
    tls.use_private_key_file(o.key_file, ssl::context::pem, ec);
    if (ec) return Status::InvalidArgument("cannot load the TLS key " + o.key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(tls.native_handle()) != 1)
      return Status::InvalidArgument("the TLS key " + o.key_file + " does not match the certificate " + o.cert_file);
    return Status::Ok();
  }

  // Opens, binds and listens; false (and *ec) on failure, with the acceptor closed.
  bool BindTo(const tcp::endpoint& endpoint, error_code* ec) {
    acceptor_->close(*ec);
    acceptor_->open(endpoint.protocol(), *ec);
    if (!*ec) acceptor_->set_option(net::socket_base::reuse_address(true), *ec);
    if (!*ec) acceptor_->bind(endpoint, *ec);
    if (!*ec) acceptor_->listen(net::socket_base::max_listen_connections, *ec);
    if (!*ec) port_ = acceptor_->local_endpoint(*ec).port();
    if (!*ec) return true;
    error_code ignored;
    acceptor_->close(ignored);
    port_ = 0;
    return false;
  }

  // One accept at a time, on the acceptor's strand.
  void Accept() {
    acceptor_->async_accept(net::make_strand(*ioc_), [this](error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
      if (ec) {  // out of descriptors or memory: back off instead of spinning, then accept again
        retry_->expires_after(std::chrono::milliseconds(100));
        retry_->async_wait([this](error_code wec) {
          if (!wec) Accept();
        });
        return;
      }
      if (ctx_.connections.load() < ctx_.opts.max_connections) Serve(std::move(socket));
      // else: the socket's destructor closes it at once
      Accept();
    });
  }

  void Serve(tcp::socket socket) {
    error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    ConnectionSlot slot(&ctx_);
    if (ctx_.tls) {
      std::make_shared<Detector>(&ctx_, std::move(slot), std::move(socket))->Start();
      return;
    }
    std::make_shared<PlainSession>(&ctx_, std::move(slot), beast::tcp_stream(std::move(socket)), ConnectionBuffer(ctx_))
        ->Begin();
  }

  Context ctx_;
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<net::thread_pool> pool_;
  std::optional<tcp::acceptor> acceptor_;   // used on its strand only
  std::optional<net::steady_timer> retry_;  // same strand
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::once_flag stopped_;
};

}  // namespace

void InitHttpThreads(int n) {
  if (n > 0) g_handler_threads = n;
}

StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(const HttpServerOptions& opts, HttpHandler handler) {
  try {
    auto server = std::make_unique<BeastServer>(opts, std::move(handler));
    if (auto s = server->Listen(); !s.ok()) return s;
    return std::unique_ptr<HttpServer>(std::move(server));
  } catch (const std::exception& e) {  // thread or allocation failure
    return Status::Unavailable("cannot start the HTTP server on " + opts.address + ": " + e.what());
  }
}

}  // namespace jb
