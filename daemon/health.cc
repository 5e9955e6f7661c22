#include "daemon/health.h"

#include <dirent.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/format.h"

namespace jb {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsLeft(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

void SetTimeouts(int fd, double s) {
  s = std::max(s, 0.001);
  timeval tv{static_cast<time_t>(s), static_cast<suseconds_t>((s - static_cast<double>(static_cast<time_t>(s))) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Connects within the deadline; returns the blocking socket or -1 with *why set.
int ConnectBy(const std::string& host, int port, Clock::time_point deadline, std::string* why) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  std::string p = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), p.c_str(), &hints, &res); rc != 0) {
    *why = "resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *why = std::string("socket: ") + std::strerror(errno);  // EMFILE when descriptors ran out
    freeaddrinfo(res);
    return -1;
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    *why = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  pollfd pf{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if (::poll(&pf, 1, std::max(1, static_cast<int>(SecondsLeft(deadline) * 1000))) != 1 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    *why = err != 0 ? std::string("connect: ") + std::strerror(err) : "connect: timed out";
    ::close(fd);
    return -1;
  }
  int off = 0;
  ::ioctl(fd, FIONBIO, &off);
  return fd;
}

}  // namespace

size_t DescriptorReserve(size_t fd_limit) { return std::max<size_t>(16, fd_limit / 50); }

HealthVerdict JudgeHealth(const HealthSample& s) {
  HealthVerdict v;
  if (!s.fds_known) {
    v.reason = "cannot count open descriptors (out of descriptors?)";
    return v;
  }
  if (s.fd_limit > 0 && s.open_fds + DescriptorReserve(s.fd_limit) > s.fd_limit) {
    v.reason = std::to_string(s.open_fds) + " of " + std::to_string(s.fd_limit) + " descriptors in use";
    return v;
  }
  if (!s.probe_ok) {
    v.reason = "GET /healthz on its own listener failed: " + s.probe_error;
    return v;
  }
  v.healthy = true;
  return v;
}

std::string ProbeHost(const std::string& listen_host) {
  std::string h = listen_host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty() || h == "0.0.0.0") return "127.0.0.1";
  if (h == "::") return "::1";
  return h;
}

Status ProbeHealthz(const std::string& host, int port, bool tls, double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  std::string why;
  int fd = ConnectBy(host, port, deadline, &why);
  if (fd < 0) return Status::Unavailable(why);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  std::string got;
  Status out;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  auto fail = [&](const std::string& what) {
    bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK || SecondsLeft(deadline) <= 0.05;
    out = Status::Unavailable(timed_out ? what + ": no answer within " + FormatFixed(timeout_s, 1) + " s" : what);
  };
  if (tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    ssl = ctx != nullptr ? SSL_new(ctx) : nullptr;
    if (ssl == nullptr) {
      fail("TLS set-up failed");
    } else {
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
      SSL_set_fd(ssl, fd);
      SetTimeouts(fd, SecondsLeft(deadline));
      if (SSL_connect(ssl) != 1) fail("TLS handshake failed");
    }
  }
  if (out.ok()) {
    SetTimeouts(fd, SecondsLeft(deadline));
    bool sent =
        tls ? SSL_write(ssl, request.data(), static_cast<int>(request.size())) == static_cast<int>(request.size())
            : ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    if (!sent) fail("sending the request failed");
  }
  while (out.ok() && got.find("\r\n") == std::string::npos && got.size() < 256) {
    if (SecondsLeft(deadline) <= 0) {
      fail("reading the answer");
      break;
    }
    SetTimeouts(fd, SecondsLeft(deadline));
    char buf[256];
    long n = tls ? SSL_read(ssl, buf, sizeof(buf)) : ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      fail(got.empty() ? "connection closed without an answer" : "answer cut short");
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  if (out.ok()) {
    std::string line = got.substr(0, got.find("\r\n"));
    if (line.rfind("HTTP/1.1 200", 0) != 0 && line.rfind("HTTP/1.0 200", 0) != 0)
      out = Status::Unavailable("answered \"" + line + "\"");
  }
  if (ssl != nullptr) SSL_free(ssl);
  if (ctx != nullptr) SSL_CTX_free(ctx);
  ERR_clear_error();
  ::close(fd);
  return out;
}

void CountOpenFds(HealthSample* s) {
  rlimit rl{};
  s->fd_limit =
      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? static_cast<size_t>(rl.rlim_cur) : 0;
  DIR* d = ::opendir("/proc/self/fd");
  s->fds_known = d != nullptr;
  s->open_fds = 0;
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++s->open_fds;
  ::closedir(d);
  if (s->open_fds > 0) --s->open_fds;  // the directory's own descriptor
}

}  // namespace jb
