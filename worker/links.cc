#include "worker/links.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "worker/net.h"

namespace jb {

using SteadyClock = std::chrono::steady_clock;

OutboundLinks::~OutboundLinks() = default;  // each link's transport closes its fd

void OutboundLinks::ReconnectAll() {
  for (auto& [name, l] : links_)
    if (l->fd >= 0) Broken(*l);
}

OutboundLinks::Link* OutboundLinks::Find(const std::string& worker) {
  auto it = links_.find(worker);
  return it == links_.end() ? nullptr : it->second.get();
}

OutboundLinks::Link& OutboundLinks::Add(const std::string& worker, const std::string& address,
                                        const std::string& tier) {
  auto& l = links_[worker];
  if (!l) {
    l = std::make_unique<Link>();
    l->worker = worker;
    l->m.worker = worker;
    l->address = address;
    l->tier = tier;
    l->m.tier = tier;
  }
  return *l;
}

void OutboundLinks::SetAddress(Link& l, const std::string& address, const std::string& tier) {
  if (l.address != address) {  // moved: reconnect
    l.address = address;
    if (l.fd >= 0) Broken(l);
  }
  l.tier = tier;
  l.m.tier = tier;
}

std::string OutboundLinks::Send(Link& l, wire::Item item, HoldId hold) {
  uint64_t id = l.next_id++;
  item.set_id(id);
  wire::Frame f;
  *f.mutable_item() = std::move(item);
  Out out;
  if (!EncodeFrame(f, &out.frame).ok()) return "oversize";
  out.hold = hold;
  ledger_->Ref(hold);
  ++l.m.items;
  l.m.payload_bytes += static_cast<int64_t>(f.item().payload().size());
  l.outs.emplace(id, std::move(out));
  if (l.ready) l.pending.push_back(id);
  return "";
}

void OutboundLinks::SetProducerLinks(const std::map<std::string, std::set<std::string>>& workers) {
  producer_links_.clear();
  for (const auto& [producer, names] : workers)
    for (const auto& w : names)
      if (Link* l = Find(w)) producer_links_[producer].insert(l);
}

bool OutboundLinks::Blocked(const std::string& producer) const {
  auto it = producer_links_.find(producer);
  if (it == producer_links_.end()) return false;
  for (const Link* l : it->second)
    if (l->pending.size() + (l->ready ? 0 : l->outs.size()) >= static_cast<size_t>(window_)) return true;
  return false;
}

std::vector<std::pair<OutboundLinks::Link*, std::map<uint64_t, OutboundLinks::Out>>> OutboundLinks::Retire(
    const std::set<std::string>& named) {
  std::vector<std::pair<Link*, std::map<uint64_t, Out>>> retired;
  for (auto& [name, l] : links_) {
    if (named.count(name) != 0 || l->outs.empty()) continue;
    // Keep the Link object (timers may point at it); it just has nothing left to send.
    std::map<uint64_t, Out> outs;
    outs.swap(l->outs);
    Broken(*l);
    retired.emplace_back(l.get(), std::move(outs));
  }
  return retired;
}

void OutboundLinks::Connect(Link& l) {
  if (l.dial_in) return;  // the receiver dials in (worker/dialout.h)
  auto sa = ParseAddress(l.address);
  if (!sa.ok()) return;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int r = connect(fd, reinterpret_cast<sockaddr*>(&*sa), sizeof(*sa));
  if (r != 0 && errno != EINPROGRESS) {
    close(fd);
    l.fd = -1;
    Broken(l);
    return;
  }
  l.conn = tls_ && tls_->ClientUsesTls(*sa, l.tier) ? tls_->Client(fd) : std::make_unique<Transport>(fd);
  l.fd = fd;
  l.decoder = FrameDecoder(kMaxHelloFrameBytes);
  l.connecting = true;
  l.ready = false;
  Link* lp = &l;
  loop_->Watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, [this, lp](uint32_t ev) { OnEvents(*lp, ev); });
}

void OutboundLinks::Broken(Link& l) {
  if (l.fd >= 0) loop_->Unwatch(l.fd);
  if (l.conn && l.conn->Refused()) ++tls_refused_;
  l.conn.reset();  // closes the fd
  l.fd = -1;
  l.connecting = l.ready = false;
  l.m.connected = false;
  l.wbuf.clear();
  l.inflight = 0;
  l.pending.clear();
  if (!l.retry_scheduled && !l.outs.empty() && !l.dial_in) {
    l.retry_scheduled = true;
    Link* lp = &l;
    loop_->After(SteadyClock::now() + std::chrono::microseconds(static_cast<int64_t>(l.backoff_s * 1e6)), [this, lp] {
      lp->retry_scheduled = false;
      if (lp->fd < 0 && !lp->outs.empty()) Connect(*lp);
    });
    l.backoff_s = std::min(1.0, l.backoff_s * 2);
  }
}

void OutboundLinks::OnEvents(Link& l, uint32_t events) {
  if (l.connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(l.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      Broken(l);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    l.connecting = false;
    wire::Frame hello;
    hello.mutable_hello()->set_stream(prefix_ + l.worker);
    hello.mutable_hello()->set_incarnation(incarnation_);
    (void)EncodeFrame(hello, &l.wbuf);
    Flush(l);
    return;
  }
  // TLS: a write may wait for the peer's handshake bytes (WantsWrite() false), so readability
  // also resumes writing.
  if ((events & EPOLLOUT) || (!l.wbuf.empty() && !l.conn->WantsWrite())) Flush(l);
  if (l.fd < 0) return;
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !l.conn->Secure()) return;
  char buf[16384];
  while (l.fd >= 0) {
    ssize_t n = l.conn->Read(buf, sizeof(buf));
    if (n > 0) {
      l.decoder.Feed(buf, static_cast<size_t>(n));
      while (true) {
        auto f = l.decoder.Next();
        if (!f.ok()) {
          Broken(l);  // a bad frame from the receiver
          return;
        }
        if (!f->has_value()) break;
        OnFrame(l, **f);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (l.conn->WantsWrite()) loop_->SetEvents(l.fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
      break;
    }
    Broken(l);  // closed by the receiver, a read error, or a refused TLS handshake
    return;
  }
}

void OutboundLinks::OnFrame(Link& l, const wire::Frame& fr) {
  if (fr.has_credit()) {
    l.window = fr.credit().window();
    l.decoder.set_max_frame_bytes(kMaxFrameBytes);  // the receiver accepted us
    if (!l.ready) {
      // (Re)connected: everything unacknowledged goes again, in id order.
      l.ready = true;
      l.m.connected = true;
      l.m.tls = l.conn->Secure();
      l.backoff_s = 0.02;
      l.pending.clear();
      l.inflight = 0;
      for (auto& [id, out] : l.outs) {
        if (out.sent) ++l.m.resent;
        l.pending.push_back(id);
      }
    }
  } else if (fr.has_ack()) {
    for (uint64_t id : fr.ack().ids()) {
      auto it = l.outs.find(id);
      if (it == l.outs.end()) continue;
      if (it->second.sent && l.inflight > 0) --l.inflight;
      HoldId h = it->second.hold;
      l.outs.erase(it);
      ledger_->Unref(h);
    }
  }
}

void OutboundLinks::PumpAll() {
  for (auto& [name, l] : links_) Pump(*l);
}

void OutboundLinks::Pump(Link& l) {
  if (l.fd < 0) {
    if (!l.outs.empty() && !l.retry_scheduled) Connect(l);
    return;
  }
  if (!l.ready) return;
  while (l.inflight < l.window && !l.pending.empty()) {
    uint64_t id = l.pending.front();
    l.pending.pop_front();
    auto it = l.outs.find(id);
    if (it == l.outs.end()) continue;
    l.wbuf += it->second.frame;
    l.m.wire_bytes += static_cast<int64_t>(it->second.frame.size());
    it->second.sent = true;
    ++l.inflight;
  }
  Flush(l);
}

void OutboundLinks::Flush(Link& l) {
  // Written bytes leave the buffer once per call, not per write: TLS writes one 16 KiB record at a
  // time, and erasing each from the front of a window of large items is quadratic.
  size_t off = 0;
  while (l.fd >= 0 && off < l.wbuf.size()) {
    ssize_t n = l.conn->Write(l.wbuf.data() + off, l.wbuf.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      l.wbuf.erase(0, off);
      loop_->SetEvents(l.fd, EPOLLIN | EPOLLRDHUP | (l.conn->WantsWrite() ? EPOLLOUT : 0u));
      return;
    }
    Broken(l);  // clears the buffer
    return;
  }
  if (l.fd < 0) return;
  l.wbuf.clear();
  if (!l.connecting) loop_->SetEvents(l.fd, EPOLLIN | EPOLLRDHUP);
}

std::vector<LinkMetrics> OutboundLinks::Metrics(SteadyClock::time_point now) {
  std::vector<LinkMetrics> out;
  for (auto& [name, l] : links_) {
    l->m.inflight = static_cast<int64_t>(l->inflight);
    l->m.pending = static_cast<int64_t>(l->outs.size()) - static_cast<int64_t>(l->inflight);
    l->history.emplace_back(now, l->m.payload_bytes);
    while (l->history.size() > 2 && now - l->history.front().first > std::chrono::seconds(5)) l->history.pop_front();
    double dt = std::chrono::duration<double>(now - l->history.front().first).count();
    l->m.payload_kibps = dt > 0 ? static_cast<double>(l->m.payload_bytes - l->history.front().second) / 1024.0 / dt : 0;
    out.push_back(l->m);
  }
  return out;
}

}  // namespace jb
