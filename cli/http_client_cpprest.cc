// cpprestsdk adapter for jbctl's HTTP client (one of the two TUs that include cpprestsdk).
#include <cpprest/http_client.h>

#include <map>
#include <memory>

#include "daemon/http.h"

namespace jb {

StatusOr<HttpResponse> HttpCall(const HttpClientOptions& opts, const std::string& method, const std::string& path,
                                const std::string& body, const std::string& content_type) {
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::milliseconds(static_cast<int64_t>(opts.timeout_s * 1000)));
    if (!opts.ca_file.empty()) {
      std::string ca = opts.ca_file;
      cfg.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
    }
    // One client per thread and endpoint, so that connections (and TLS sessions) are reused.
    thread_local std::map<std::string, std::unique_ptr<web::http::client::http_client>> clients;
    std::string key = opts.server + "|" + opts.ca_file + "|" + std::to_string(opts.timeout_s);
    auto& slot = clients[key];
    if (!slot) slot = std::make_unique<web::http::client::http_client>(web::uri(opts.server), cfg);
    auto& client = *slot;
    web::http::http_request req(method);
    req.set_request_uri(web::uri(path));
    if (!opts.token.empty()) req.headers().add("Authorization", "Bearer " + opts.token);
    if (!body.empty() || method == "PUT") req.set_body(body, content_type);
    auto resp = client.request(req).get();
    HttpResponse out;
    out.status = resp.status_code();
    out.content_type = resp.headers().content_type();
    out.body = resp.extract_utf8string(true).get();
    return out;
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot reach " + opts.server + ": " + e.what());
  }
}

}  // namespace jb
