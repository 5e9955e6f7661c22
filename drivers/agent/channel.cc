#include "drivers/agent/channel.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/no_sigpipe.h"

namespace jb {

namespace {

std::string SslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

void SetTimeout(int fd, double s) {
  s = std::max(s, 0.001);  // a zero timeval would mean "no timeout"

  timeval tv{static_cast<time_t>(s), static_cast<suseconds_t>((s - static_cast<double>(static_cast<time_t>(s))) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void ReadPeer(SSL* ssl, bool* verified, std::string* cn, std::string* serial) {
  X509* c = SSL_get1_peer_certificate(ssl);
  if (c == nullptr) return;
  *verified = SSL_get_verify_result(ssl) == X509_V_OK;
  char buf[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, buf, sizeof(buf));
  *cn = buf;
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(c), nullptr);
  char* h = BN_bn2hex(bn);
  *serial = h;
  OPENSSL_free(h);
  BN_free(bn);
  X509_free(c);
}

}  // namespace

TlsChannel::~TlsChannel() {
  Close();
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

void TlsChannel::Abort() {
  MutexLock l(&mu_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void TlsChannel::Close() {
  MutexLock l(&mu_);
  if (ssl_ != nullptr) {
    if (SSL_is_init_finished(ssl_)) {
      // close_notify is a courtesy: bounded by the socket's send timeout, and a peer that is
      // already gone must cost neither a SIGPIPE nor a wait.
      SetTimeout(fd_, 1);
      ScopedNoSigpipe no_sigpipe;
      SSL_shutdown(ssl_);
    }
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ERR_clear_error();
}

Status TlsChannel::IoError(const std::string& what, int rc) {
  if (ssl_ == nullptr) return Status::Unavailable(what + ": connection closed");
  int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_ZERO_RETURN) return Status::Unavailable(what + ": connection closed by the peer");
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::DeadlineExceeded(what + ": timed out");
  if (e == SSL_ERROR_SYSCALL) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::DeadlineExceeded(what + ": timed out");
    std::string errs = SslErrors();
    return Status::Unavailable(what + ": " + (errno != 0 ? std::strerror(errno) : "connection closed") +
                               (errs.empty() ? "" : " (" + errs + ")"));
  }
  return Status::Unavailable(what + ": " + SslErrors());
}

StatusOr<std::unique_ptr<TlsChannel>> TlsChannel::Connect(const std::string& host, int port, const std::string& ca_file,
                                                          const std::string& cert_file, const std::string& key_file,
                                                          double timeout_s) {
  std::unique_ptr<TlsChannel> ch(new TlsChannel());
  ch->ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ch->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(ch->ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ch->ctx_, ca_file.c_str(), nullptr) != 1)
    return Status::InvalidArgument("cannot read the CA certificate " + ca_file + ": " + SslErrors());
  if (!cert_file.empty()) {
    if (SSL_CTX_use_certificate_file(ch->ctx_, cert_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ch->ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return Status::InvalidArgument("cannot use the client certificate " + cert_file + ": " + SslErrors());
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  std::string p = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), p.c_str(), &hints, &res); rc != 0)
    return Status::Unavailable("resolve " + host + ": " + gai_strerror(rc));
  ch->fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = ::connect(ch->fd_, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS)
    return Status::Unavailable("connect " + host + ":" + p + ": " + std::strerror(errno));
  pollfd pf{ch->fd_, POLLOUT, 0};
  if (::poll(&pf, 1, static_cast<int>(timeout_s * 1000)) != 1)
    return Status::Unavailable("connect " + host + ":" + p + ": timed out");
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(ch->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Status::Unavailable("connect " + host + ":" + p + ": " + std::strerror(err));
  int flags = 0;
  ::ioctl(ch->fd_, FIONBIO, &flags);
  int one = 1;
  setsockopt(ch->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SetTimeout(ch->fd_, timeout_s);
  ch->ssl_ = SSL_new(ch->ctx_);
  SSL_set_fd(ch->ssl_, ch->fd_);
  SSL_set1_host(ch->ssl_, host.c_str());
  if (inet_addr(host.c_str()) == INADDR_NONE) SSL_set_tlsext_host_name(ch->ssl_, host.c_str());
  int r = 0;
  {
    ScopedNoSigpipe no_sigpipe;
    r = SSL_connect(ch->ssl_);
  }
  if (r != 1) {
    long v = SSL_get_verify_result(ch->ssl_);
    std::string why =
        v != X509_V_OK ? std::string("server certificate: ") + X509_verify_cert_error_string(v) : SslErrors();
    return Status::Unauthenticated("TLS handshake with " + host + ":" + p + " failed: " + why);
  }
  return ch;
}

Status TlsChannel::Send(const Value& msg) {
  std::string body = ToJson(msg);
  if (body.size() > kMaxAgentFrame)
    return Status::InvalidArgument("message of " + std::to_string(body.size()) + " bytes is over the frame limit");
  uint32_t n = htonl(static_cast<uint32_t>(body.size()));
  std::string frame(reinterpret_cast<const char*>(&n), 4);
  frame += body;
  if (ssl_ == nullptr) return Status::Unavailable("send: connection closed");
  ScopedNoSigpipe no_sigpipe;
  size_t off = 0;
  while (off < frame.size()) {
    int r = SSL_write(ssl_, frame.data() + off, static_cast<int>(frame.size() - off));
    if (r <= 0) return IoError("send", r);
    off += static_cast<size_t>(r);
  }
  return Status::Ok();
}

StatusOr<Value> TlsChannel::Receive(double timeout_s) {
  if (ssl_ == nullptr) return Status::Unavailable("receive: connection closed");
  // A server-side peer gets the handshake timeout for its first frame: a connection that says
  // nothing holds a thread and a connection slot, and an honest agent speaks at once.
  if (server_side_ && !received_any_) timeout_s = std::min(timeout_s, handshake_timeout_s_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(timeout_s));
  auto read_some = [&](char* dst, size_t n) -> StatusOr<size_t> {
    double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return Status::DeadlineExceeded("receive: timed out");
    SetTimeout(fd_, left);
    ScopedNoSigpipe no_sigpipe;  // SSL_read writes alerts and key updates
    int r = SSL_read(ssl_, dst, static_cast<int>(std::min<size_t>(n, 1u << 30)));
    if (r <= 0) return IoError("receive", r);
    return static_cast<size_t>(r);
  };
  unsigned char header[4];
  for (size_t off = 0; off < 4;) {
    auto r = read_some(reinterpret_cast<char*>(header) + off, 4 - off);
    if (!r.ok()) return r.status();
    off += *r;
  }
  size_t n = (size_t{header[0]} << 24) | (size_t{header[1]} << 16) | (size_t{header[2]} << 8) | size_t{header[3]};
  if (n > max_frame_)
    return Status::InvalidArgument("frame of " + std::to_string(n) + " bytes is over the limit of " +
                                   std::to_string(max_frame_) +
                                   (max_frame_ < kMaxAgentFrame ? " for a peer without a device certificate" : ""));
  // The buffer grows with what has arrived, never with what the peer claims.
  std::string body;
  char chunk[16384];
  while (body.size() < n) {
    auto r = read_some(chunk, std::min(sizeof(chunk), n - body.size()));
    if (!r.ok()) return r.status();
    body.append(chunk, *r);
  }
  received_any_ = true;
  return DecodeAgentMessage(body);
}

StatusOr<Value> DecodeAgentMessage(const std::string& body) {
  auto docs = ParseYamlStream(body);
  if (docs.size() != 1 || !docs[0].error.ok() || !docs[0].root.is_map())
    return Status::InvalidArgument("message is not a JSON object" +
                                   (docs.size() == 1 && !docs[0].error.ok() ? ": " + docs[0].error.message() : ""));
  return docs[0].root;
}

TlsListener::~TlsListener() {
  Close();
  if (fd_ >= 0) ::close(fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

StatusOr<std::unique_ptr<TlsListener>> TlsListener::Listen(const std::string& host, int port,
                                                           const std::string& cert_file, const std::string& key_file,
                                                           const std::string& ca_file) {
  std::unique_ptr<TlsListener> l(new TlsListener());
  l->ctx_ = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(l->ctx_, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_file(l->ctx_, cert_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(l->ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return Status::InvalidArgument("cannot use the agent listener certificate " + cert_file + ": " + SslErrors());
  if (SSL_CTX_load_verify_locations(l->ctx_, ca_file.c_str(), nullptr) != 1)
    return Status::InvalidArgument("cannot read the device CA " + ca_file + ": " + SslErrors());
  // Ask for a client certificate; one that is sent must verify (registration comes without one).
  SSL_CTX_set_verify(l->ctx_, SSL_VERIFY_PEER, nullptr);
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (names != nullptr) SSL_CTX_set_client_CA_list(l->ctx_, names);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  std::string p = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), p.c_str(), &hints, &res); rc != 0)
    return Status::InvalidArgument("agent listen address " + host + ": " + gai_strerror(rc));
  l->fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l->fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = ::bind(l->fd_, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 || ::listen(l->fd_, 64) != 0)
    return Status::Unavailable("agent listener " + host + ":" + p + ": " + std::strerror(errno));
  sockaddr_storage ss{};
  socklen_t sl = sizeof(ss);
  getsockname(l->fd_, reinterpret_cast<sockaddr*>(&ss), &sl);
  l->port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return l;
}

void TlsListener::Close() {
  if (closed_.exchange(true)) return;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

StatusOr<std::unique_ptr<TlsChannel>> TlsListener::Accept(double handshake_timeout_s) {
  sockaddr_storage ss{};
  socklen_t sl = sizeof(ss);
  int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_CLOEXEC);
  if (closed_) {
    if (fd >= 0) ::close(fd);
    return Status::Unavailable("agent listener closed");
  }
  if (fd < 0) return Status::Internal(std::string("accept: ") + std::strerror(errno));
  std::unique_ptr<TlsChannel> ch(new TlsChannel());
  ch->fd_ = fd;
  char addr[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, addr, sizeof(addr));
  else
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, addr, sizeof(addr));
  ch->peer_address_ = addr;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ch->ssl_ = SSL_new(ctx_);
  SSL_set_fd(ch->ssl_, fd);
  ch->handshake_timeout_s_ = handshake_timeout_s;
  ch->server_side_ = true;
  ch->max_frame_ = kMaxUnauthenticatedAgentFrame;  // until Handshake verifies a certificate
  return ch;
}

Status TlsChannel::Handshake() {
  SetTimeout(fd_, handshake_timeout_s_);
  int r = 0;
  {
    ScopedNoSigpipe no_sigpipe;  // the handshake writes too, to a peer that may have gone
    r = SSL_accept(ssl_);
  }
  if (r != 1) {
    long v = SSL_get_verify_result(ssl_);
    std::string why =
        v != X509_V_OK ? std::string("client certificate: ") + X509_verify_cert_error_string(v) : SslErrors();
    return Status::Unauthenticated("TLS handshake from " + peer_address_ + " refused: " + why);
  }
  ReadPeer(ssl_, &peer_verified_, &peer_cn_, &peer_serial_);
  if (peer_verified_) max_frame_ = kMaxAgentFrame;
  return Status::Ok();
}

}  // namespace jb
