// InboundStreams: the worker's listening socket and the streams other workers send items on. A
// stream is named by its sender ("workflow/from->to") and survives reconnections: each connection
// starts with a Hello (stream name, sender incarnation) and is granted a window of unacknowledged
// items (Credit); acknowledgements go back on whichever connection now carries the stream.
//
// Contract (re-sends): an item id is handed on (OnItem) at most once per sender incarnation while
// in progress or done; a re-send of a done item is acknowledged again without being handed on; a
// re-send of one in progress is ignored (acknowledged when it is done). A new sender incarnation
// starts its ids again. Ack() (from the hold ledger) marks an item done and queues its
// acknowledgement; FlushAcks() sends what is queued.
//
// Security (worker/tls.h): with SetTls, an accepted connection speaks TLS (mutual, peer checked),
// or plain TCP where the LinkTls allows it for the peer's address (told apart by its first bytes).
// A refused handshake closes the connection before any frame is decoded and counts in
// tls_refused(). Before its Hello, a connection's frames are bounded by kMaxHelloFrameBytes: a
// larger length prefix closes it before anything is allocated for the frame.
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "worker/done_set.h"
#include "worker/event_loop.h"
#include "worker/framing.h"
#include "worker/hold_ledger.h"
#include "worker/net.h"
#include "worker/tls.h"

namespace jb {

class InboundStreams {
 public:
  // A new item: `ack` names it for the hold ledger.
  using OnItem = std::function<void(const AckRef& ack, wire::Item& item)>;
  InboundStreams(EventLoop* loop, uint32_t window, OnItem on_item)
      : loop_(loop), window_(window), on_item_(std::move(on_item)) {}
  ~InboundStreams();
  InboundStreams(const InboundStreams&) = delete;
  InboundStreams& operator=(const InboundStreams&) = delete;

  // Binds and listens on `address` (host:port, port 0: any); port() is valid afterwards.
  Status Listen(const std::string& address);
  int port() const { return port_; }
  // Marks a stream item done and queues its acknowledgement (ignored for a past incarnation).
  void Ack(const AckRef& a);
  // Sends the queued acknowledgements of every connected stream.
  void FlushAcks();
  size_t streams() const { return streams_.size(); }
  // The TLS settings for connections accepted from now on (nullptr: plain TCP only).
  void SetTls(std::shared_ptr<const LinkTls> tls) { tls_ = std::move(tls); }
  // Connections the TLS peer check refused, since creation.
  int64_t tls_refused() const { return tls_refused_; }
  // Connections opened by an unreachable worker (worker/dialout.h, defined in dialout.cc). A DialIn
  // frame as the first frame of an accepted connection releases it, with its transport (plain or
  // TLS, handshake done; over TLS only when the peer's certificate names the DialIn's worker, else
  // it is closed and counted in tls_refused()), to `fn`, which owns it from then on (false:
  // refused; destroying the transport closes it). Adopt takes a connection this worker opened (its transport: TLS when
  // the sender requires it) as an accepted one, writing `first` on it; `on_close` runs when it is closed. Close closes
  // one.
  using OnDialIn = std::function<bool(const wire::DialIn& d, std::unique_ptr<Transport> t)>;
  void SetDialInHandler(OnDialIn fn) { on_dial_in_ = std::move(fn); }
  void Adopt(std::unique_ptr<Transport> t, const std::string& first, std::function<void()> on_close);
  void Close(int fd) { CloseConn(fd); }

 private:
  struct Stream {
    std::string name;
    uint64_t incarnation = 0;
    int conn = -1;  // fd of the connection now carrying the stream
    DoneSet done;
    std::unordered_set<uint64_t> active;
    std::vector<uint64_t> to_ack;
  };
  struct Conn {
    int fd = -1;
    std::unique_ptr<Transport> t;  // null until the first bytes tell plain from TLS
    sockaddr_in peer{};
    FrameDecoder decoder{kMaxHelloFrameBytes};
    std::string wbuf;
    uint32_t stream = 0;             // index + 1 into streams_ (0: no Hello yet)
    std::function<void()> on_close;  // Adopt()ed connections
  };
  void Accept();
  void OnConn(int fd, uint32_t events);
  void CloseConn(int fd);
  void OnFrame(Conn& c, wire::Frame& f);
  void OnHello(Conn& c, const wire::Hello& h);
  void OnStreamItem(Conn& c, wire::Item& item);
  void FlushConn(Conn& c);
  // Chooses c.t from the first bytes (peeked); false when closed (refused or gone).
  bool Classify(Conn& c);
  void OnDialInFrame(Conn& c, const wire::DialIn& d);  // dialout.cc

  EventLoop* loop_;
  uint32_t window_;
  OnItem on_item_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Stream>> streams_;  // never shrinks: AckRef::stream indexes it
  std::map<std::string, uint32_t> by_name_;
  std::shared_ptr<const LinkTls> tls_;
  int64_t tls_refused_ = 0;
  OnDialIn on_dial_in_;
};

}  // namespace jb
