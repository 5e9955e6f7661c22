// cpprestsdk adapter for jbctl's HTTP client (one of the two TUs that include cpprestsdk).
//
// TLS failures: cpprestsdk says "Error in SSL handshake" for every one of them, because it
// installs its own verify callback on each connection (for the host-name check), which replaces
// any callback set on the context. So the cause is found by a second, diagnostic handshake with
// OpenSSL directly, made only after a failure: it records the first verification error and its
// depth in a verify callback and checks the host name, and the message names the cause and what
// to do. The CA file is checked before any connection.
#include <arpa/inet.h>
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>

#include "base/asn1_time.h"
#include "cli/http_stream.h"
#include "daemon/http.h"

namespace jb {

namespace {

using Clock = std::chrono::steady_clock;

std::string Seconds(double s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

// OK when `ca_file` holds at least one PEM certificate.
Status CheckCaFile(const std::string& ca_file) {
  struct stat st {};
  if (::stat(ca_file.c_str(), &st) != 0)
    return Status::InvalidArgument("CA file " + ca_file + ": " +
                                   (errno == ENOENT ? "no such file" : std::strerror(errno)) +
                                   " (check --ca, or the CA file of the daemon's state dir)");
  FILE* f = std::fopen(ca_file.c_str(), "r");
  if (f == nullptr) return Status::InvalidArgument("CA file " + ca_file + ": " + std::strerror(errno));
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ERR_clear_error();
  if (c == nullptr)
    return Status::InvalidArgument("CA file " + ca_file + ": not a PEM certificate (" + std::to_string(st.st_size) +
                                   " bytes)");
  X509_free(c);
  return Status::Ok();
}

// The DNS names and IP addresses a certificate is for (subjectAltName, else its CN).
std::string CertNames(X509* c) {
  std::string out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(c, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    std::string n;
    if (g->type == GEN_DNS) {
      n.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
               static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)));
    } else if (g->type == GEN_IPADD) {
      char buf[64] = "";
      int len = ASN1_STRING_length(g->d.iPAddress);
      const unsigned char* p = ASN1_STRING_get0_data(g->d.iPAddress);
      if (len == 4)
        std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
      else if (len == 16)
        inet_ntop(AF_INET6, p, buf, sizeof(buf));
      n = buf;
    }
    if (!n.empty()) out += (out.empty() ? "" : ", ") + n;
  }
  GENERAL_NAMES_free(names);
  if (out.empty()) {
    char cn[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
    out = cn;
  }
  return out;
}

struct VerifyRecord {
  int error = X509_V_OK;  // the first verification error, X509_STORE_CTX_get_error
  int depth = -1;         // and the depth of the certificate it is about (0 = the server's own)
  std::string not_before, not_after;
};

int g_record_index = -1;

int RecordVerify(int preverified, X509_STORE_CTX* store) {
  if (preverified == 1) return 1;
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* rec = static_cast<VerifyRecord*>(SSL_get_ex_data(ssl, g_record_index));
  if (rec != nullptr && rec->error == X509_V_OK) {
    rec->error = X509_STORE_CTX_get_error(store);
    rec->depth = X509_STORE_CTX_get_error_depth(store);
    if (X509* c = X509_STORE_CTX_get_current_cert(store)) {
      rec->not_before = Asn1TimeRfc3339(X509_get0_notBefore(c));
      rec->not_after = Asn1TimeRfc3339(X509_get0_notAfter(c));
    }
  }
  return 1;  // finish the handshake: the diagnosis wants the server's certificate too
}

// Connects to host:port within the deadline; -1 and *why on failure.
int ConnectBy(const std::string& host, int port, Clock::time_point deadline, std::string* why) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    *why = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = fd < 0 ? -1 : ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (fd < 0 || (rc != 0 && errno != EINPROGRESS)) {
    *why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  pollfd pf{fd, POLLOUT, 0};
  int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
  int err = 0;
  socklen_t len = sizeof(err);
  if (::poll(&pf, 1, std::max(1, left)) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    *why = err != 0 ? std::strerror(err) : "timed out";
    ::close(fd);
    return -1;
  }
  int off = 0;
  ::ioctl(fd, FIONBIO, &off);
  return fd;
}

// A handshake with OpenSSL against host:port trusting `ca_file`: "" when it verifies and the
// certificate is for `host`, else the cause and what to do. `timed_out` when the server did not
// finish the handshake in time.
std::string DiagnoseTls(const std::string& server, const std::string& host, int port, const std::string& ca_file,
                        double timeout_s, bool* timed_out) {
  *timed_out = false;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  std::string why;
  int fd = ConnectBy(host, port, deadline, &why);
  if (fd < 0) {
    *timed_out = why == "timed out";
    return *timed_out ? "" : "cannot connect to " + server + ": " + why;
  }
  double left = std::max(0.001, std::chrono::duration<double>(deadline - Clock::now()).count());
  timeval tv{static_cast<time_t>(left),
             static_cast<suseconds_t>((left - static_cast<double>(static_cast<time_t>(left))) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (g_record_index < 0) g_record_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ca_file.empty())
    SSL_CTX_set_default_verify_paths(ctx);
  else
    SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, RecordVerify);
  SSL* ssl = SSL_new(ctx);
  VerifyRecord rec;
  SSL_set_ex_data(ssl, g_record_index, &rec);
  SSL_set_fd(ssl, fd);
  if (in6_addr a6; inet_pton(AF_INET, host.c_str(), &a6) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1)
    SSL_set_tlsext_host_name(ssl, host.c_str());
  std::string out;
  if (SSL_connect(ssl) != 1) {
    int saved = errno;
    *timed_out = saved == EAGAIN || saved == EWOULDBLOCK || Clock::now() >= deadline;
    if (!*timed_out)
      out = "TLS handshake with " + server + " failed: " + [] {
        char buf[256] = "the server closed the connection";
        if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof(buf));
        return std::string(buf);
      }();
  } else if (rec.error != X509_V_OK) {
    switch (rec.error) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        out = std::string(rec.depth == 0 ? "certificate" : "a certificate in the chain") + " expired on " +
              rec.not_after + " (renew the server's certificate, or check this machine's clock)";
        break;
      case X509_V_ERR_CERT_NOT_YET_VALID:
        out = std::string(rec.depth == 0 ? "certificate" : "a certificate in the chain") + " is not valid before " +
              rec.not_before + " (check the clocks of this machine and the server)";
        break;
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        out = "certificate signed by an unknown authority (check --ca / the context's CA file" +
              (ca_file.empty() ? std::string(", none was given") : ", now " + ca_file) + ")";
        break;
      default:
        out = std::string("certificate not trusted: ") + X509_verify_cert_error_string(rec.error) + " (at depth " +
              std::to_string(rec.depth) + ")";
    }
  } else if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
    in6_addr scratch;
    bool ip = inet_pton(AF_INET, host.c_str(), &scratch) == 1 || inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
    int match =
        ip ? X509_check_ip_asc(leaf, host.c_str(), 0) : X509_check_host(leaf, host.c_str(), host.size(), 0, nullptr);
    if (match != 1)
      out = "certificate is for " + CertNames(leaf) + ", not " + host + " (use a --server name the certificate lists)";
    X509_free(leaf);
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return out;
}

web::http::client::http_client_config ClientConfig(const HttpClientOptions& opts) {
  web::http::client::http_client_config cfg;
  cfg.set_timeout(std::chrono::milliseconds(static_cast<int64_t>(opts.timeout_s * 1000)));
  if (!opts.ca_file.empty()) {
    std::string ca = opts.ca_file;
    cfg.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
  }
  return cfg;
}

// The status of a request that threw `what` (cpprestsdk's message): no answer in time, the TLS
// failure's cause (a diagnostic handshake), or cpprestsdk's own message.
Status Failure(const HttpClientOptions& opts, const std::string& what, Clock::time_point started) {
  bool https = opts.server.rfind("https://", 0) == 0;
  double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  auto no_answer = [&] {
    return Status::Unavailable("no answer from " + opts.server + " within " + Seconds(opts.timeout_s) +
                               " s (is the daemon running and is this its address?)");
  };
  if (elapsed >= opts.timeout_s * 0.95) return no_answer();
  if (https) {
    try {
      web::uri u(opts.server);
      bool timed_out = false;
      std::string host = u.host();
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      std::string cause = DiagnoseTls(opts.server, host, u.port() > 0 ? u.port() : 443, opts.ca_file,
                                      std::max(0.5, opts.timeout_s - elapsed), &timed_out);
      if (timed_out) return no_answer();
      if (!cause.empty()) return Status::Unavailable(opts.server + ": " + cause);
    } catch (const std::exception&) {
      // a server URI cpprestsdk could not parse: its own message below says so
    }
  }
  return Status::Unavailable("cannot reach " + opts.server + ": " + what);
}

}  // namespace

StatusOr<HttpResponse> HttpCall(const HttpClientOptions& opts, const std::string& method, const std::string& path,
                                const std::string& body, const std::string& content_type) {
  bool https = opts.server.rfind("https://", 0) == 0;
  if (https && !opts.ca_file.empty())
    if (auto s = CheckCaFile(opts.ca_file); !s.ok()) return s;
  auto started = Clock::now();
  try {
    web::http::client::http_client_config cfg = ClientConfig(opts);
    // One client per thread and endpoint, so that connections (and TLS sessions) are reused.
    thread_local std::map<std::string, std::unique_ptr<web::http::client::http_client>> clients;
    std::string key = opts.server + "|" + opts.ca_file + "|" + std::to_string(opts.timeout_s);
    auto& slot = clients[key];
    const bool reused = slot != nullptr;
    if (!slot) slot = std::make_unique<web::http::client::http_client>(web::uri(opts.server), cfg);
    auto make_request = [&] {
      web::http::http_request req(method);
      req.set_request_uri(web::uri(path));
      if (!opts.token.empty()) req.headers().add("Authorization", "Bearer " + opts.token);
      if (!body.empty() || method == "PUT") req.set_body(body, content_type);
      return req;
    };
    web::http::http_response resp;
    try {
      resp = slot->request(make_request()).get();
    } catch (const std::exception&) {
      // A kept-alive connection the server has since closed (its idle timeout is 30 s) fails the
      // next request before any answer ("Failed to write request body"). An idempotent request is
      // sent once more on a new connection; anything else reports the failure.
      const bool idempotent = method == "GET" || method == "PUT" || method == "DELETE" || method == "HEAD";
      if (!reused || !idempotent) throw;
      slot = std::make_unique<web::http::client::http_client>(web::uri(opts.server), cfg);
      resp = slot->request(make_request()).get();
    }
    HttpResponse out;
    out.status = resp.status_code();
    out.content_type = resp.headers().content_type();
    for (const auto& [name, value] : resp.headers()) out.headers.emplace_back(name, value);
    out.body = resp.extract_utf8string(true).get();
    return out;
  } catch (const std::exception& e) {
    return Failure(opts, e.what(), started);
  }
}

namespace cli {

StatusOr<HttpResponse> HttpGetLines(const HttpClientOptions& opts, const std::string& path, const LineFn& on_line) {
  bool https = opts.server.rfind("https://", 0) == 0;
  if (https && !opts.ca_file.empty())
    if (auto s = CheckCaFile(opts.ca_file); !s.ok()) return s;
  auto started = Clock::now();
  try {
    // Its own client: cancelling closes this connection only.
    web::http::client::http_client client(web::uri(opts.server), ClientConfig(opts));
    web::http::http_request req("GET");
    req.set_request_uri(web::uri(path));
    if (!opts.token.empty()) req.headers().add("Authorization", "Bearer " + opts.token);
    pplx::cancellation_token_source cancel;
    web::http::http_response resp = client.request(req, cancel.get_token()).get();
    HttpResponse out;
    out.status = resp.status_code();
    out.content_type = resp.headers().content_type();
    for (const auto& [name, value] : resp.headers()) out.headers.emplace_back(name, value);
    if (out.status != 200) {
      out.body = resp.extract_utf8string(true).get();
      return out;
    }
    concurrency::streams::istream body = resp.body();
    try {
      while (true) {
        concurrency::streams::container_buffer<std::string> line;
        size_t n = body.read_line(line).get();
        if (n == 0 && body.is_eof()) break;
        if (!on_line(line.collection())) {
          cancel.cancel();
          break;
        }
      }
    } catch (const std::exception& e) {
      return Status::Unavailable("the stream from " + opts.server + " broke: " + e.what());
    }
    return out;
  } catch (const std::exception& e) {
    return Failure(opts, e.what(), started);
  }
}

}  // namespace cli

}  // namespace jb
