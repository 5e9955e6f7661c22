// OutboundLinks: one link per destination worker. A link keeps every item it was given until the
// receiver acknowledges it, sends at most the receiver's credit window of them at a time, and on a
// broken connection reconnects with back-off (20 ms doubling to 1 s) and sends everything still
// unacknowledged again, in id order.
//
// Contract (worker.h, flow control): a producer is Blocked() while any link its outputs may take
// has a full backlog (`window` items waiting to be written, or unacknowledged while disconnected),
// and the worker starts an item only while its producer is not blocked. So the items one link
// holds stay below window + one item's outputs, and the worker's held items stay
// <= window x (inbound streams + outbound links) + one item's outputs.
//
// Security (worker/tls.h): with SetTls, a link to an address its LinkTls says needs TLS connects
// over mutual TLS; a connection the peer check refuses counts in tls_refused() and is retried like
// any broken one. Until the receiver's first Credit, frames from it are bounded by
// kMaxHelloFrameBytes.
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/worker_config.h"
#include "worker/event_loop.h"
#include "worker/framing.h"
#include "worker/hold_ledger.h"
#include "worker/net.h"
#include "worker/tls.h"

namespace jb {

class OutboundLinks {
 public:
  struct Out {
    std::string frame;  // one encoded Frame holding the item
    HoldId hold = 0;    // one reference, released when acknowledged
    bool sent = false;
  };
  struct Link {
    std::string worker, address, tier;
    int fd = -1;                      // conn's fd while connected, else -1
    std::unique_ptr<Transport> conn;  // plain TCP or TLS (worker/net.h, tls.h)
    bool connecting = false, ready = false;
    uint32_t window = 0;
    uint64_t next_id = 1;
    std::map<uint64_t, Out> outs;  // every unacknowledged item, by id
    std::deque<uint64_t> pending;  // ids not yet written on the current connection
    size_t inflight = 0;
    std::string wbuf;
    FrameDecoder decoder;  // acks and credits from the receiver
    double backoff_s = 0.02;
    bool retry_scheduled = false;
    LinkMetrics m;
    std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> history;  // payload bytes over time
    bool dial_in = false;  // the receiver is unreachable and dials in: never dialed (worker/dialout.h)
  };

  // `stream_prefix` + destination names each link's stream; `incarnation` tells receivers this
  // process from an earlier one; `window` is the backlog that blocks a producer.
  OutboundLinks(EventLoop* loop, HoldLedger* ledger, std::string stream_prefix, uint64_t incarnation, int64_t window)
      : loop_(loop), ledger_(ledger), prefix_(std::move(stream_prefix)), incarnation_(incarnation), window_(window) {}
  ~OutboundLinks();
  OutboundLinks(const OutboundLinks&) = delete;
  OutboundLinks& operator=(const OutboundLinks&) = delete;

  // The link to `worker`, nullptr when there is none.
  Link* Find(const std::string& worker);
  // The link to `worker`, created (not yet connected) with `address` and `tier` when new.
  Link& Add(const std::string& worker, const std::string& address, const std::string& tier);
  // A new address reconnects the link (e.g. a worker restarted on a new port).
  void SetAddress(Link& l, const std::string& address, const std::string& tier);
  // Queues `item` (its id is set here) on `l`, taking a reference on `hold`. Returns "" or the drop
  // reason ("oversize") when it cannot be encoded (then no reference is taken).
  std::string Send(Link& l, wire::Item item, HoldId hold);
  // Connects links that have items and no connection, writes what their windows allow.
  void PumpAll();
  // Which links each producer's outputs may take (replaces the previous sets).
  void SetProducerLinks(const std::map<std::string, std::set<std::string>>& workers);
  bool Blocked(const std::string& producer) const;
  // Empties every link to a worker not in `named`: returns their unacknowledged items (each with
  // its reference) for the caller to route again or release.
  std::vector<std::pair<Link*, std::map<uint64_t, Out>>> Retire(const std::set<std::string>& named);
  // Dial-in links (worker/dialout.h, defined in dialout.cc): marks `l` as one whose receiver dials
  // in (a change drops the current connection); Adopt takes connected `fd`, opened by the receiver
  // of dial-in link `l`, as its connection (replacing any other) and says Hello on it.
  void SetDialIn(Link& l, bool dial_in);
  void Adopt(Link& l, std::unique_ptr<Transport> t);
  // Metrics of every link (rates over the last 5 s as of `now`).
  std::vector<LinkMetrics> Metrics(std::chrono::steady_clock::time_point now);
  size_t size() const { return links_.size(); }
  // The TLS settings for connections made from now on (nullptr: plain TCP everywhere).
  void SetTls(std::shared_ptr<const LinkTls> tls) { tls_ = std::move(tls); }
  // Breaks every connection (each reconnects and re-sends what is unacknowledged): connections
  // move to new certificates after a rotation.
  void ReconnectAll();
  // Connections the TLS peer check refused (ours or the receiver's), since creation.
  int64_t tls_refused() const { return tls_refused_; }

 private:
  void Connect(Link& l);
  void OnEvents(Link& l, uint32_t events);
  void OnFrame(Link& l, const wire::Frame& f);
  void Broken(Link& l);
  void Pump(Link& l);
  void Flush(Link& l);

  EventLoop* loop_;
  HoldLedger* ledger_;
  std::string prefix_;
  uint64_t incarnation_;
  int64_t window_;
  std::map<std::string, std::unique_ptr<Link>> links_;  // never erased: timers and fds point at them
  std::map<std::string, std::set<Link*>> producer_links_;
  std::shared_ptr<const LinkTls> tls_;
  int64_t tls_refused_ = 0;
};

}  // namespace jb
