#include "drivers/agent/channel.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  if (fd_ >= 0) ::close(fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

void TlsChannel::Abort() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Status TlsChannel::IoError(const std::string& what, int rc) {
  int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_ZERO_RETURN) return Status::Unavailable(what + ": connection closed by the peer");
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::DeadlineExceeded(what + ": timed out");
  if (e == SSL_ERROR_SYSCALL) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::DeadlineExceeded(what + ": timed out");
    std::string errs = SslErrors();
    return Status::Unavailable(what + ": " + (errno != 0 ? std::strerror(errno) : "connection closed") + (errs.empty() ? "" : " (" + errs + ")"));
  }
  return Status::Unavailable(what + ": " + SslErrors());
}

StatusOr<std::unique_ptr<TlsChannel>> TlsChannel::Connect(const std::string& host, int port, const std::string& ca_file,
                                                          const std::string& cert_file, const std::string& key_file, double timeout_s) {
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
  if (int rc = getaddrinfo(host.c_str(), p.c_str(), &hints, &res); rc != 0) return Status::Unavailable("resolve " + host + ": " + gai_strerror(rc));
  ch->fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = ::connect(ch->fd_, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) return Status::Unavailable("connect " + host + ":" + p + ": " + std::strerror(errno));
  pollfd pf{ch->fd_, POLLOUT, 0};
  if (::poll(&pf, 1, static_cast<int>(timeout_s * 1000)) != 1) return Status::Unavailable("connect " + host + ":" + p + ": timed out");
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
  if (int r = SSL_connect(ch->ssl_); r != 1) {
    long v = SSL_get_verify_result(ch->ssl_);
    std::string why = v != X509_V_OK ? std::string("server certificate: ") + X509_verify_cert_error_string(v) : SslErrors();
    return Status::Unauthenticated("TLS handshake with " + host + ":" + p + " failed: " + why);
  }
  return ch;
}

Status TlsChannel::Send(const Value& msg) {
  std::string body = ToJson(msg);
  if (body.size() > kMaxAgentFrame) return Status::InvalidArgument("message of " + std::to_string(body.size()) + " bytes is over the frame limit");
  uint32_t n = htonl(static_cast<uint32_t>(body.size()));
  std::string frame(reinterpret_cast<const char*>(&n), 4);
  frame += body;
  size_t off = 0;
  while (off < frame.size()) {
    int r = SSL_write(ssl_, frame.data() + off, static_cast<int>(frame.size() - off));
    if (r <= 0) return IoError("send", r);
    off += static_cast<size_t>(r);
  }
  return Status::Ok();
}

StatusOr<Value> TlsChannel::Receive(double timeout_s) {
  SetTimeout(fd_, timeout_s);
  auto read_n = [&](char* dst, size_t n) -> Status {
    size_t off = 0;
    while (off < n) {
      int r = SSL_read(ssl_, dst + off, static_cast<int>(n - off));
      if (r <= 0) return IoError("receive", r);
      off += static_cast<size_t>(r);
    }
    return Status::Ok();
  };
  uint32_t n = 0;
  if (auto s = read_n(reinterpret_cast<char*>(&n), 4); !s.ok()) return s;
  n = ntohl(n);
  if (n > kMaxAgentFrame) return Status::InvalidArgument("frame of " + std::to_string(n) + " bytes is over the limit");
  std::string body(n, '\0');
  if (auto s = read_n(body.data(), n); !s.ok()) return s;
  return DecodeAgentMessage(body);
}

StatusOr<Value> DecodeAgentMessage(const std::string& body) {
  auto docs = ParseYamlStream(body);
  if (docs.size() != 1 || !docs[0].error.ok() || !docs[0].root.is_map())
    return Status::InvalidArgument("message is not a JSON object" + (docs.size() == 1 && !docs[0].error.ok() ? ": " + docs[0].error.message() : ""));
  return docs[0].root;
}

TlsListener::~TlsListener() {
  Close();
  if (fd_ >= 0) ::close(fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

StatusOr<std::unique_ptr<TlsListener>> TlsListener::Listen(const std::string& host, int port, const std::string& cert_file,
                                                          const std::string& key_file, const std::string& ca_file) {
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
  if (rc != 0 || ::listen(l->fd_, 64) != 0) return Status::Unavailable("agent listener " + host + ":" + p + ": " + std::strerror(errno));
  sockaddr_storage ss{};
  socklen_t sl = sizeof(ss);
  getsockname(l->fd_, reinterpret_cast<sockaddr*>(&ss), &sl);
  l->port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
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
  if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, addr, sizeof(addr));
  else inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, addr, sizeof(addr));
  ch->peer_address_ = addr;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ch->ssl_ = SSL_new(ctx_);
  SSL_set_fd(ch->ssl_, fd);
  ch->handshake_timeout_s_ = handshake_timeout_s;
  return ch;
}

Status TlsChannel::Handshake() {
  SetTimeout(fd_, handshake_timeout_s_);
  if (SSL_accept(ssl_) != 1) {
    long v = SSL_get_verify_result(ssl_);
    std::string why = v != X509_V_OK ? std::string("client certificate: ") + X509_verify_cert_error_string(v) : SslErrors();
    return Status::Unauthenticated("TLS handshake from " + peer_address_ + " refused: " + why);
  }
  ReadPeer(ssl_, &peer_verified_, &peer_cn_, &peer_serial_);
  return Status::Ok();
}

}  // namespace jb
