// cpprestsdk adapter for the HTTP server (one of the two TUs that include cpprestsdk).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>

#include "daemon/http.h"

namespace jb {

namespace {

using web::http::http_request;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

// cpprestsdk cannot report the port it bound, so ask the kernel for a free one first.
int FreePort(const std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t len = sizeof(a);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

class CpprestServer : public HttpServer {
 public:
  CpprestServer(std::unique_ptr<http_listener> l, int port) : listener_(std::move(l)), port_(port) {}
  ~CpprestServer() override { Stop(); }
  int port() const override { return port_; }
  void Stop() override {
    if (!listener_) return;
    try {
      listener_->close().wait();
    } catch (const std::exception&) {
    }
    listener_.reset();
  }

 private:
  std::unique_ptr<http_listener> listener_;
  int port_;
};

void Reply(http_request& req, const HttpResponse& resp) {
  web::http::http_response out(static_cast<web::http::status_code>(resp.status));
  out.set_body(resp.body, resp.content_type);
  // Never block a pool thread on the reply (or the body): with a small pool, blocking waits
  // deadlock under concurrent requests. Errors (client gone) are observed and dropped.
  req.reply(out).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (const std::exception&) {
    }
  });
}

void Serve(http_request req, const HttpHandler& handler, size_t max_body) {
  HttpRequest r;
  r.method = req.method();
  r.path = web::uri::decode(req.relative_uri().path());
  auto h = req.headers();
  if (h.has("Authorization")) r.authorization = h["Authorization"];
  if (h.has("Content-Type")) r.content_type = h["Content-Type"];
  if (h.content_length() > max_body) {
    r.body_too_large = true;
    Reply(req, handler(r));
    return;
  }
  req.extract_utf8string(true).then([req, r, handler, max_body](pplx::task<std::string> t) mutable {
    HttpResponse resp;
    try {
      r.body = t.get();
      if (r.body.size() > max_body) {
        r.body_too_large = true;
        r.body.clear();
      }
      resp = handler(r);
    } catch (const std::exception&) {
      resp = HttpResponse{400, "application/json", "{\"kind\":\"Status\",\"code\":400,\"message\":\"cannot read the request body\"}"};
    }
    Reply(req, resp);
  });
}

}  // namespace

void InitHttpThreads(int n) {
  try {
    crossplat::threadpool::initialize_with_threads(static_cast<size_t>(n));
  } catch (const std::exception&) {
    // Already initialised: keep the existing pool.
  }
}

StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(const HttpServerOptions& opts, HttpHandler handler) {
  bool tls = !opts.cert_file.empty();
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = opts.port != 0 ? opts.port : FreePort(opts.address);
    if (port <= 0) return Status::Unavailable("cannot find a free port on " + opts.address);
    http_listener_config cfg;
    cfg.set_timeout(utility::seconds(30));
    if (tls) {
      std::string cert = opts.cert_file, key = opts.key_file;
      cfg.set_ssl_context_callback([cert, key](boost::asio::ssl::context& ctx) {
        ctx.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                        boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                        boost::asio::ssl::context::no_tlsv1_1);
        ctx.use_certificate_chain_file(cert);
        ctx.use_private_key_file(key, boost::asio::ssl::context::pem);
      });
    }
    std::string uri = std::string(tls ? "https://" : "http://") + opts.address + ":" + std::to_string(port) + "/";
    try {
      auto listener = std::make_unique<http_listener>(web::uri(uri), cfg);
      size_t max_body = opts.max_body_bytes;
      listener->support([handler, max_body](http_request req) { Serve(std::move(req), handler, max_body); });
      listener->open().wait();
      return std::unique_ptr<HttpServer>(new CpprestServer(std::move(listener), port));
    } catch (const std::exception& e) {
      last_error = e.what();
      if (opts.port != 0) break;  // a fixed port that fails will keep failing
    }
  }
  return Status::Unavailable("cannot listen on " + opts.address + ": " + last_error);
}

}  // namespace jb
