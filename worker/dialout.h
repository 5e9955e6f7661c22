// Devices behind NAT: connection direction decoupled from item direction.
//
// An unreachable worker (WorkerConfig::reachable false: its node or tier accepts no connections
// from other tiers) cannot be dialed by the workers of other tiers that send it items. Instead it
// dials each of them (WorkerConfig::dialOut) and opens the connection with a DialIn frame
// ("I am W of workflow F, send me your stream"):
//
//   - on the sender, InboundStreams (which accepted the connection) hands it to OutboundLinks, whose
//     link to W is marked dial-in (WorkerRoute::dialIn): that link never dials; it adopts the
//     connection, says Hello and sends exactly as over a connection it opened (credits, acks,
//     re-sends). Without a connection its items wait, blocking producers like any disconnected link;
//   - on W, DialOut hands the connection to InboundStreams right after the DialIn frame, so the
//     sender's Hello, items and W's credits and acks take the usual paths of a stream.
//
// Items W sends go over links W dials as usual (its receivers are reachable). A lost connection is
// dialed again with back-off (20 ms doubling to 1 s, reset by a connection that lasted 1 s); TCP keep-alive and a user
// timeout (10 s) notice a silent partition. The sender accepts DialIn only for a worker its routes
// mark dial-in; over TLS only when the dialing peer's certificate names that same worker (a worker of
// the workflow claiming another's name is refused and counted in InboundStreams::tls_refused()).
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/worker_config.h"
#include "worker/event_loop.h"
#include "worker/inbound.h"
#include "worker/links.h"
#include "worker/tls.h"

namespace jb {

// The unreachable worker's side: keeps one connection to each upstream sender.
class DialOut {
 public:
  DialOut(EventLoop* loop, InboundStreams* inbound, std::string workflow, std::string self)
      : loop_(loop), inbound_(inbound), workflow_(std::move(workflow)), self_(std::move(self)) {}
  ~DialOut();
  DialOut(const DialOut&) = delete;
  DialOut& operator=(const DialOut&) = delete;

  // The senders to keep a connection to (replaces the previous set): new ones are dialed, moved
  // ones redialed, removed ones closed.
  void SetPeers(const std::vector<WorkerPeer>& peers);
  // TLS for the connections dialed from now on (nullptr: plain TCP): a dial uses TLS where a link
  // to that sender would (LinkTls::ClientUsesTls with the sender's tier).
  void SetTls(std::shared_ptr<const LinkTls> tls) { tls_ = std::move(tls); }
  // Senders with an established connection (handed to InboundStreams).
  size_t connected() const;
  // Connections established so far (redials included).
  int64_t dials() const { return dials_; }

 private:
  struct Peer {
    std::string worker, address, tier;
    int fd = -1;              // while connecting: ours; once handed on: InboundStreams'
    bool connecting = false;  // false with fd >= 0: handed to InboundStreams
    bool wanted = true;
    bool retry_scheduled = false;
    double backoff_s = 0.02;
    std::chrono::steady_clock::time_point connected_at;
  };
  void Dial(Peer& p);
  void OnConnect(Peer& p, uint32_t events);
  void Lost(Peer& p);

  EventLoop* loop_;
  InboundStreams* inbound_;
  std::string workflow_, self_;
  std::shared_ptr<const LinkTls> tls_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;  // never erased: timers point at them
  int64_t dials_ = 0;
};

// The reachable sender's side: a DialIn frame `d` arrived on accepted connection `fd` (already
// released by InboundStreams). Hands it to the dial-in link of `d.worker`; false (the caller
// closes `fd`) for another workflow or a worker no route marks dial-in.
bool AcceptDialIn(OutboundLinks* links, const std::string& workflow, const wire::DialIn& d,
                  std::unique_ptr<Transport> t);

}  // namespace jb
