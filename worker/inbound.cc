#include "worker/inbound.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "worker/net.h"

namespace jb {

InboundStreams::~InboundStreams() {
  for (auto& [fd, c] : conns_)
    if (!c->t) close(fd);  // else the transport closes it
  if (listen_fd_ >= 0) {
    loop_->Unwatch(listen_fd_);
    close(listen_fd_);
  }
}

Status InboundStreams::Listen(const std::string& address) {
  auto sa = ParseAddress(address);
  if (!sa.ok()) return sa.status();
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&*sa), sizeof(*sa)) != 0)
    return Status::Unavailable("bind " + address + ": " + std::strerror(errno));
  if (listen(listen_fd_, 128) != 0) return Status::Unavailable(std::string("listen: ") + std::strerror(errno));
  sockaddr_in got{};
  socklen_t len = sizeof(got);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&got), &len);
  port_ = ntohs(got.sin_port);
  loop_->Watch(listen_fd_, EPOLLIN, [this](uint32_t) { Accept(); });
  return Status::Ok();
}

void InboundStreams::Accept() {
  while (true) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->peer = peer;
    if (!tls_)
      c->t = std::make_unique<Transport>(fd);
    else if (!tls_->ServerAcceptsPlain(peer))
      c->t = tls_->Server(fd);  // a plain peer fails the handshake (counted as refused)
    conns_[fd] = std::move(c);
    loop_->Watch(fd, EPOLLIN | EPOLLRDHUP, [this, fd](uint32_t ev) { OnConn(fd, ev); });
  }
}

void InboundStreams::CloseConn(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  if (it->second->stream != 0) {
    Stream& s = *streams_[it->second->stream - 1];
    if (s.conn == fd) s.conn = -1;
  }
  loop_->Unwatch(fd);
  if (!it->second->t) close(fd);  // else the transport closes it
  auto on_close = std::move(it->second->on_close);
  conns_.erase(it);
  if (on_close) on_close();
}

void InboundStreams::OnConn(int fd, uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (!c.t && !Classify(c)) return;
  if (!c.t) return;  // waiting for more first bytes
  if ((events & EPOLLOUT) || (!c.wbuf.empty() && !c.t->WantsWrite())) FlushConn(c);
  if (conns_.count(fd) == 0) return;
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !c.t->Secure()) return;
  char buf[65536];
  while (true) {
    ssize_t n = c.t->Read(buf, sizeof(buf));
    if (n > 0) {
      c.decoder.Feed(buf, static_cast<size_t>(n));
      while (true) {
        auto f = c.decoder.Next();
        if (!f.ok()) {
          CloseConn(fd);  // poisoned stream: the sender re-sends on a new connection
          return;
        }
        if (!f->has_value()) break;
        OnFrame(c, **f);
        if (conns_.count(fd) == 0) return;  // handed on (a DialIn) or closed
      }
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      if (n < 0 && c.t->Refused()) ++tls_refused_;
      CloseConn(fd);
      return;
    }
    if (errno == EINTR) continue;
    if (c.t->WantsWrite()) loop_->SetEvents(fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
    break;
  }
}

bool InboundStreams::Classify(Conn& c) {
  char first[3];
  ssize_t n = recv(c.fd, first, sizeof(first), MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n <= 0) {
    CloseConn(c.fd);
    return false;
  }
  switch (ClassifyFirstBytes(first, static_cast<size_t>(n))) {
    case FirstBytes::kWait:
      return true;
    case FirstBytes::kTls:
      c.t = tls_->Server(c.fd);
      return true;
    case FirstBytes::kPlain:
      c.t = std::make_unique<Transport>(c.fd);
      return true;
  }
  return true;
}

void InboundStreams::OnFrame(Conn& c, wire::Frame& f) {
  if (f.has_hello()) {
    OnHello(c, f.hello());
  } else if (f.has_item()) {
    if (c.stream == 0) return;  // items before Hello: ignore, the sender re-sends
    OnStreamItem(c, *f.mutable_item());
  } else if (f.has_dial_in()) {
    OnDialInFrame(c, f.dial_in());
  }
}

void InboundStreams::OnHello(Conn& c, const wire::Hello& h) {
  auto [it, added] = by_name_.emplace(h.stream(), static_cast<uint32_t>(streams_.size()));
  if (added) {
    streams_.push_back(std::make_unique<Stream>());
    streams_.back()->name = h.stream();
  }
  Stream& s = *streams_[it->second];
  if (s.incarnation != h.incarnation()) {  // a restarted sender: its ids start again
    s.incarnation = h.incarnation();
    s.done.Reset();
    s.active.clear();
    s.to_ack.clear();
  }
  if (s.conn >= 0 && s.conn != c.fd) {
    int old = s.conn;
    s.conn = -1;
    CloseConn(old);
  }
  s.conn = c.fd;
  c.stream = it->second + 1;
  c.decoder.set_max_frame_bytes(kMaxFrameBytes);  // an accepted sender may send items of any size
  wire::Frame credit;
  credit.mutable_credit()->set_window(window_);
  (void)EncodeFrame(credit, &c.wbuf);
  FlushConn(c);
}

void InboundStreams::OnStreamItem(Conn& c, wire::Item& item) {
  Stream& s = *streams_[c.stream - 1];
  uint64_t id = item.id();
  if (s.done.Contains(id)) {  // a re-send of something already safe: acknowledge again
    s.to_ack.push_back(id);
    return;
  }
  if (!s.active.insert(id).second) return;  // still in progress; acknowledged when done
  on_item_(AckRef{c.stream - 1, s.incarnation, id}, item);
}

void InboundStreams::Ack(const AckRef& a) {
  if (a.stream >= streams_.size()) return;
  Stream& s = *streams_[a.stream];
  if (s.incarnation != a.incarnation) return;
  s.active.erase(a.id);
  s.done.Add(a.id);
  s.to_ack.push_back(a.id);
}

void InboundStreams::FlushAcks() {
  for (auto& s : streams_) {
    if (s->to_ack.empty() || s->conn < 0) continue;
    auto c = conns_.find(s->conn);
    if (c == conns_.end()) continue;
    wire::Frame ack;
    for (uint64_t id : s->to_ack) ack.mutable_ack()->add_ids(id);
    s->to_ack.clear();
    (void)EncodeFrame(ack, &c->second->wbuf);
    FlushConn(*c->second);
  }
}

void InboundStreams::FlushConn(Conn& c) {
  size_t off = 0;  // written bytes leave the buffer once per call (see OutboundLinks::Flush)
  while (off < c.wbuf.size()) {
    ssize_t n = c.t->Write(c.wbuf.data() + off, c.wbuf.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.wbuf.erase(0, off);
      loop_->SetEvents(c.fd, EPOLLIN | EPOLLRDHUP | (c.t->WantsWrite() ? EPOLLOUT : 0u));
      return;
    }
    CloseConn(c.fd);
    return;
  }
  c.wbuf.clear();
  loop_->SetEvents(c.fd, EPOLLIN | EPOLLRDHUP);
}

}  // namespace jb
