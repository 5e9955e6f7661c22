// Our own small HTTP interface. The server (daemon/http_server_beast.cc, Boost.Beast) and the client
// (cli/http_client_cpprest.cc, cpprestsdk) are the only translation units that include an HTTP
// library; everything else sees these plain structs.
// The server is shared by the daemon's API (daemon/api_server.h) and a worker's inference endpoint
// (worker/ingress_endpoint.h).
// Thread-safety: a handler is called concurrently from the server's handler threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace jb {

// A handler answers this status to a request whose body is pending (HttpRequest::body_pending) to
// have the body read; it is then called again with the body.
inline constexpr int kHttpContinue = 100;

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // decoded path, no query
  std::string target;  // the request target as received (percent-encoded, with the query)
  std::string query;   // the raw query string after '?' ("" when none)
  // Every header as received, in order (names as the client spelled them; match case-insensitively).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string authorization;  // Authorization header value
  std::string content_type;
  std::string body;
  // The body exceeds the server's limit (HttpServerOptions::max_body_bytes) and was not read;
  // `body` is empty. The connection is closed after the response.
  bool body_too_large = false;
  // Headers only: the request carries a body that the server has not read yet. The handler is
  // called twice for such a request: first with body_pending (and body_too_large when the declared
  // length is over the limit), when it answers kHttpContinue to have the body read (and is called
  // again with it) or a final response to refuse the request unread (e.g. 401): the body is then
  // never buffered and the connection is closed after the response. Requests without a body get
  // one call with body_pending false.
  bool body_pending = false;
};

// A chunk source for a streamed response body: called repeatedly on a handler thread, it may
// block; it stores the next chunk in *chunk and returns true, or returns false at the end of the
// stream. The server ends the stream when the client goes away (the next call sees `gone` true and
// must return false promptly) or the server stops.
using HttpStreamFn = std::function<bool(std::string* chunk, bool gone)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further headers (not Content-Type or Content-Length, which the server sets).
  std::vector<std::pair<std::string, std::string>> headers = {};
  // When set, the body is streamed (chunked transfer encoding) from this after `body` (which may be
  // empty); the connection is closed after the stream ends. A streaming handler holds one handler
  // thread for the stream's life: size handler_threads for it.
  HttpStreamFn stream = nullptr;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // IP address or host name to bind
  int port = 0;                       // 0 = the kernel picks a free port (HttpServer::port() tells which)
  std::string cert_file;              // PEM chain; empty = plain HTTP. TLS 1.2 or newer only.
  std::string key_file;
  // A body over this is refused unread (body_too_large; 413 from the API). Never buffered beyond it.
  size_t max_body_bytes = 4 << 20;
  // Request line plus headers over this get 431 and a close. Default 64 KiB.
  size_t max_header_bytes = 64 << 10;
  // From accept (TLS handshake included), or from the first byte of a later request on a kept-alive
  // connection, to the end of the headers; a client slower than that is disconnected. Default 10 s.
  double header_timeout_s = 10;
  // A kept-alive connection with no request in progress is closed after this. Default 30 s.
  double idle_timeout_s = 30;
  // Reading a body, or writing a response, must finish within this. Default 60 s.
  double io_timeout_s = 60;
  // Connections over this (open or still being answered) are closed at once on accept. Default 1024.
  int max_connections = 1024;
  // Threads doing socket and TLS work (never a handler). Default 2.
  int io_threads = 2;
  // Threads running the handler (which may block on the store or the planner); 0 = the number given
  // to InitHttpThreads, 4 when it was not called.
  int handler_threads = 0;
};

// A running server. Stop() (also run by the destructor) closes the listener and every connection,
// waits for handlers in progress to return, and drops queued ones; it must not be called from a
// handler. port() is thread-safe.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  virtual void Stop() = 0;
};

// Binds and starts serving; the handler runs on the server's handler threads (see HttpRequest for
// the two-call protocol of requests with a body). Errors: kUnavailable when the address cannot be
// bound, kInvalidArgument when the certificate or key cannot be loaded or do not match.
StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(const HttpServerOptions& opts, HttpHandler handler);

struct HttpClientOptions {
  std::string server;   // "https://127.0.0.1:8443"
  std::string ca_file;  // PEM CA to trust (https)
  std::string token;    // bearer token
  double timeout_s = 30;
};

// One request; transport errors are kUnavailable.
StatusOr<HttpResponse> HttpCall(const HttpClientOptions& opts, const std::string& method, const std::string& path,
                                const std::string& body = "", const std::string& content_type = "application/json");

// Sets the default number of handler threads of servers started afterwards
// (HttpServerOptions::handler_threads = 0). Harmless for the client.
void InitHttpThreads(int n);

}  // namespace jb
