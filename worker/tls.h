// Mutual TLS on worker-to-worker links (issue 21). A LinkTls is built from the worker's `tls`
// config block (api/worker_config.h): its certificate and key, issued by the daemon's CA for this
// worker and plan epoch with the URI SAN jellybean://WORKFLOW/WORKER?epoch=N, and that CA.
//
// Peer check, on both ends of every TLS connection: TLS 1.3 only, the peer presents a certificate
// chaining to our CA, and its URI SAN names a worker of our workflow (any worker, any epoch:
// certificates of consecutive epochs overlap while one rolls out). Which worker it names is
// Transport::PeerWorker(), checked where a frame claims a worker (a DialIn, worker/dialout.h). Anything else fails the
// handshake, before any frame is decoded; the Transport then reports Refused().
//
// Which links use TLS: a client uses TLS when its own mode or the destination tier's mode asks for
// it for that address (`on`: always; `loopback`: unless the address is loopback; `off`: never), or
// when JB_TLS_LOOPBACK=1 is set in the environment. A server always accepts TLS; it accepts plain
// TCP only when its mode allows plain for the peer's address (it tells the two apart from the
// first bytes: a TLS record starts 16 03, which as a frame length exceeds kMaxHelloFrameBytes).
//
// Rotation: a new LinkTls (a new epoch's certificate) serves the connections made from then on;
// established ones keep the context they were made with (OpenSSL reference-counts it).
//
// OpenSSL stays in tls.cc. Thread-safety: a LinkTls is immutable after Create (shared by the loop's
// connections); a transport belongs to the loop.
#pragma once

#include <netinet/in.h>

#include <map>
#include <memory>
#include <string>

#include "api/worker_config.h"
#include "base/status.h"
#include "worker/net.h"

namespace jb {

class LinkTls {
 public:
  // InvalidArgument naming what does not parse (certificate, key, CA, or a key that does not match).
  static StatusOr<std::shared_ptr<const LinkTls>> Create(const WorkerTls& cfg, const std::string& workflow);
  ~LinkTls();
  LinkTls(const LinkTls&) = delete;
  LinkTls& operator=(const LinkTls&) = delete;

  // Whether a connection to `address` of a worker on `tier` uses TLS.
  bool ClientUsesTls(const sockaddr_in& address, const std::string& tier) const;
  // Whether plain TCP from `peer` is accepted.
  bool ServerAcceptsPlain(const sockaddr_in& peer) const;
  // Wraps a connected (or connecting) fd; takes ownership of it.
  std::unique_ptr<Transport> Client(int fd) const;
  std::unique_ptr<Transport> Server(int fd) const;
  const std::string& workflow() const { return workflow_; }

 private:
  LinkTls() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string workflow_, mode_;
  std::map<std::string, std::string> tier_modes_;
  bool loopback_forced_ = false;  // JB_TLS_LOOPBACK=1
};

// How an accepted connection proceeds, from the bytes it sent first (peeked, not consumed).
enum class FirstBytes { kWait, kTls, kPlain };
FirstBytes ClassifyFirstBytes(const char* data, size_t n);

}  // namespace jb
