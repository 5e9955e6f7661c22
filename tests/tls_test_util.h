// Test helpers for TLS edge cases: certificates made with the openssl CLI, a raw
// OpenSSL client that can misbehave (handshake and hang up, claim a frame and stall), a tiny TLS
// server on port 0, and a process's memory and descriptors from /proc.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/test_util.h"

namespace jb::testing {

// Writes DIR/NAME.key and DIR/NAME.crt: a self-signed CA when `ca` is "", else a certificate
// signed by DIR/CA.{crt,key} with subjectAltName `san` (e.g. "IP:127.0.0.1") valid for `days`
// (negative: already expired). True on success.
inline bool MakeCert(const std::filesystem::path& dir, const std::string& name, const std::string& ca = "",
                     const std::string& san = "IP:127.0.0.1", int days = 30) {
  std::string d = dir.string() + "/";
  if (ca.empty())
    return Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=" + name +
               " -keyout " + d + name + ".key -out " + d + name + ".crt >/dev/null 2>&1")
               .exit_code == 0;
  std::ofstream(d + name + ".ext") << "subjectAltName=" << san << "\n";
  return Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + name + " -keyout " + d +
             name + ".key -out " + d + name + ".csr >/dev/null 2>&1 && openssl x509 -req -in " + d + name +
             ".csr -CA " + d + ca + ".crt -CAkey " + d + ca + ".key -CAcreateserial -days " + std::to_string(days) +
             " -extfile " + d + name + ".ext -out " + d + name + ".crt >/dev/null 2>&1")
             .exit_code == 0;
}

// A TCP connection to 127.0.0.1:port with an optional TLS session over it (no verification).
class RawTlsClient {
 public:
  ~RawTlsClient() { Drop(); }
  // Connects and handshakes, presenting cert/key when given. False when either fails.
  bool Connect(int port, const std::string& cert = "", const std::string& key = "") {
    signal(SIGPIPE, SIG_IGN);  // the test reports a peer that died; it must not die of it itself
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return false;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (!cert.empty() && (SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
                          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1))
      return false;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    bool ok = SSL_connect(ssl_) == 1;
    ERR_clear_error();
    return ok;
  }
  bool Write(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  }
  // A frame header claiming `n` bytes.
  static std::string Header(uint32_t n) {
    return std::string{static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff),
                       static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
  }
  // Reads until EOF or error; true when the peer closed (EOF or reset) within `limit`.
  bool SeesEofWithin(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    timeval tv{0, 50000};  // a read that waits (e.g. after a TLS 1.3 session ticket) comes back to check the time
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (std::chrono::steady_clock::now() < end) {
      char buf[4096];
      int r = SSL_read(ssl_, buf, sizeof(buf));
      if (r > 0) continue;
      int e = SSL_get_error(ssl_, r);
      int saved = errno;
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ || (e == SSL_ERROR_SYSCALL && (saved == EAGAIN || saved == EWOULDBLOCK))) continue;
      return true;  // close_notify, FIN or reset
    }
    return false;
  }
  // Closes without close_notify; with `reset`, by an RST (SO_LINGER 0), so the peer's next write
  // fails with EPIPE/ECONNRESET.
  void Drop(bool reset = false) {
    if (reset && fd_ >= 0) {
      linger l{1, 0};
      setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// A TLS server on 127.0.0.1 port 0 serving `cert`/`key`: each connection gets a handshake and,
// if that succeeds, "HTTP/1.1 200 OK" with body "ok" to whatever it sends. With `silent`, it
// accepts TCP connections and never says anything (a server that does not answer).
class TinyTlsServer {
 public:
  TinyTlsServer(const std::string& cert, const std::string& key, bool silent = false) : silent_(silent) {
    // It writes to clients that hang up by design (a failed verification closes at once).
    signal(SIGPIPE, SIG_IGN);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (silent_) return;  // the kernel completes TCP handshakes into the backlog; nobody answers
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TinyTlsServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd pf{fd_, POLLIN, 0};
      if (::poll(&pf, 1, 50) != 1) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{2, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) {
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          int n = SSL_read(ssl, buf, sizeof(buf));
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        std::string resp =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        if (!req.empty()) SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
        SSL_shutdown(ssl);
      }
      ERR_clear_error();
      SSL_free(ssl);
      ::close(c);
    }
  }
  bool silent_;
  int fd_ = -1;
  int port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A field of /proc/PID/status in kB (VmRSS, VmHWM), or -1.
inline long ProcStatusKb(pid_t pid, const std::string& field) {
  std::string s = ReadFile("/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/status");
  auto p = s.find(field + ":");
  if (p == std::string::npos) return -1;
  return std::atol(s.c_str() + p + field.size() + 1);
}

}  // namespace jb::testing
