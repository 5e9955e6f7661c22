// Our own small HTTP interface. The server and client implementations (daemon/http_server_cpprest.cc,
// cli/http_client_cpprest.cc) are the only translation units that include cpprestsdk; everything
// else sees these plain structs.
// Thread-safety: a handler is called concurrently from the server's threads.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/status.h"

namespace jb {

struct HttpRequest {
  std::string method;         // "GET", "PUT", ...
  std::string path;           // decoded path, no query
  std::string authorization;  // Authorization header value
  std::string content_type;
  std::string body;
  bool body_too_large = false;  // the body exceeded the server's limit and was not read
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;               // 0 = pick a free port
  std::string cert_file;      // PEM; empty = plain HTTP
  std::string key_file;
  size_t max_body_bytes = 4 << 20;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  virtual void Stop() = 0;
};

// Starts listening; the handler runs on the server's thread pool.
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

// Sets the size of cpprestsdk's thread pool; call first thing in main (before any HTTP use).
void InitHttpThreads(int n);

}  // namespace jb
