#include "worker/dialout.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "worker/net.h"

namespace jb {

using SteadyClock = std::chrono::steady_clock;

namespace {

// A silent partition (packets dropped, no reset) is noticed within about 10 s: the sender's items
// on an idle-looking connection would otherwise wait for TCP's default timeout (minutes).
void KeepAlive(int fd) {
  int one = 1, idle = 5, interval = 2, count = 3;
  unsigned int user_timeout_ms = 10000;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

}  // namespace

// ---- the unreachable worker: DialOut -------------------------------------------------------------

DialOut::~DialOut() {
  for (auto& [name, p] : peers_)
    if (p->fd >= 0 && p->connecting) {
      loop_->Unwatch(p->fd);
      close(p->fd);
    }
}

void DialOut::SetPeers(const std::vector<WorkerPeer>& peers) {
  std::set<std::string> named;
  for (const auto& w : peers) {
    named.insert(w.worker);
    auto& p = peers_[w.worker];
    if (!p) {
      p = std::make_unique<Peer>();
      p->worker = w.worker;
    }
    p->wanted = true;
    bool moved = p->address != w.address;
    p->address = w.address;
    p->tier = w.tier;
    if (moved && p->fd >= 0) Lost(*p);  // redials after back-off
    if (p->fd < 0 && !p->retry_scheduled) Dial(*p);
  }
  for (auto& [name, p] : peers_)
    if (named.count(name) == 0 && p->wanted) {
      p->wanted = false;
      if (p->fd >= 0) Lost(*p);
    }
}

size_t DialOut::connected() const {
  size_t n = 0;
  for (const auto& [name, p] : peers_) n += p->fd >= 0 && !p->connecting ? 1 : 0;
  return n;
}

void DialOut::Dial(Peer& p) {
  auto sa = ParseAddress(p.address);
  int fd = sa.ok() ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
  if (fd < 0) {
    Lost(p);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  KeepAlive(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&*sa), sizeof(*sa)) != 0 && errno != EINPROGRESS) {
    close(fd);
    Lost(p);
    return;
  }
  p.fd = fd;
  p.connecting = true;
  Peer* pp = &p;
  loop_->Watch(fd, EPOLLOUT | EPOLLRDHUP, [this, pp](uint32_t ev) { OnConnect(*pp, ev); });
}

void DialOut::OnConnect(Peer& p, uint32_t events) {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
    Lost(p);
    return;
  }
  if (!(events & EPOLLOUT)) return;
  loop_->Unwatch(p.fd);
  p.connecting = false;
  p.connected_at = SteadyClock::now();
  ++dials_;
  wire::Frame f;
  f.mutable_dial_in()->set_workflow(workflow_);
  f.mutable_dial_in()->set_worker(self_);
  std::string first;
  (void)EncodeFrame(f, &first);
  // From here InboundStreams owns the fd: the sender's Hello arrives on it like on an accepted one.
  int fd = p.fd;
  Peer* pp = &p;
  auto sa = ParseAddress(p.address);
  std::unique_ptr<Transport> t;
  if (tls_ && sa.ok() && tls_->ClientUsesTls(*sa, p.tier))
    t = tls_->Client(fd);
  else
    t = std::make_unique<Transport>(fd);
  inbound_->Adopt(std::move(t), first, [this, pp, fd] {
    if (pp->fd != fd) return;  // an older connection of this peer
    pp->fd = -1;
    // The back-off starts again only after a connection that lasted: a sender that refuses the
    // DialIn at once (no route expects it yet) is not redialed every 20 ms.
    if (SteadyClock::now() - pp->connected_at > std::chrono::seconds(1)) pp->backoff_s = 0.02;
    Lost(*pp);
  });
}

void DialOut::Lost(Peer& p) {
  if (p.fd >= 0) {
    int fd = p.fd;
    if (p.connecting) {
      loop_->Unwatch(fd);
      close(fd);
      p.fd = -1;
      p.connecting = false;
    } else {
      inbound_->Close(fd);  // runs the on_close above, which clears p.fd and comes back here
      return;
    }
  }
  if (!p.wanted || p.retry_scheduled) return;
  p.retry_scheduled = true;
  Peer* pp = &p;
  loop_->After(SteadyClock::now() + std::chrono::microseconds(static_cast<int64_t>(p.backoff_s * 1e6)), [this, pp] {
    pp->retry_scheduled = false;
    if (pp->wanted && pp->fd < 0) Dial(*pp);
  });
  p.backoff_s = std::min(1.0, p.backoff_s * 2);
}

// ---- the reachable sender: its listener and links ------------------------------------------------

void InboundStreams::Adopt(std::unique_ptr<Transport> t, const std::string& first, std::function<void()> on_close) {
  auto c = std::make_unique<Conn>();
  const int fd = t->fd();
  c->fd = fd;
  c->t = std::move(t);
  c->wbuf = first;
  c->on_close = std::move(on_close);
  Conn& ref = *c;
  conns_[fd] = std::move(c);
  loop_->Watch(fd, EPOLLIN | EPOLLRDHUP, [this, fd](uint32_t ev) { OnConn(fd, ev); });
  FlushConn(ref);
}

void InboundStreams::OnDialInFrame(Conn& c, const wire::DialIn& d) {
  int fd = c.fd;
  // Only as the first frame, with nothing after it: the dialing worker waits for our Hello.
  if (c.stream != 0 || !on_dial_in_ || c.decoder.buffered() != 0 || !c.wbuf.empty()) {
    CloseConn(fd);
    return;
  }
  // Over TLS the certificate must name the worker the DialIn claims: another worker of the workflow
  // would otherwise receive (and acknowledge) the items meant for the claimed one.
  if (c.t && c.t->Secure() && c.t->PeerWorker() != d.worker()) {
    ++tls_refused_;
    CloseConn(fd);
    return;
  }
  loop_->Unwatch(fd);
  std::unique_ptr<Transport> t = std::move(c.t);  // the handler owns the connection now
  conns_.erase(fd);
  if (!t) {
    close(fd);
    return;
  }
  (void)on_dial_in_(d, std::move(t));  // refused: the handler's copy closes it
}

void OutboundLinks::SetDialIn(Link& l, bool dial_in) {
  if (l.dial_in == dial_in) return;
  l.dial_in = dial_in;
  if (l.fd >= 0) Broken(l);
  if (!dial_in) Pump(l);  // dial it now
}

void OutboundLinks::Adopt(Link& l, std::unique_ptr<Transport> t) {
  // Closes any older connection (a newer one from the receiver replaces it) and resets the state:
  // everything unacknowledged goes again once the receiver's credit arrives.
  Broken(l);
  const int fd = t->fd();
  KeepAlive(fd);
  l.conn = std::move(t);
  l.fd = fd;
  l.decoder = FrameDecoder(kMaxHelloFrameBytes);
  l.connecting = true;  // the first writable event says Hello, as after a connect()
  Link* lp = &l;
  loop_->Watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, [this, lp](uint32_t ev) { OnEvents(*lp, ev); });
}

bool AcceptDialIn(OutboundLinks* links, const std::string& workflow, const wire::DialIn& d,
                  std::unique_ptr<Transport> t) {
  if (d.workflow() != workflow) return false;
  OutboundLinks::Link* l = links->Find(d.worker());
  if (l == nullptr || !l->dial_in) return false;
  links->Adopt(*l, std::move(t));
  return true;
}

}  // namespace jb
