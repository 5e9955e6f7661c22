// Small socket helpers shared by the worker's inbound and outbound sides, and Transport: the byte
// stream a connection reads and writes through (plain TCP here, TLS in worker/tls.h), so the
// links, the inbound streams and dial-out connections share one read/write path.
//
// Thread-safety: stateless helpers; a Transport belongs to the loop that owns its connection.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <string>

#include "base/status.h"

namespace jb {

// "host:port" (IPv4, or "localhost") as a socket address; InvalidArgument naming the address.
StatusOr<sockaddr_in> ParseAddress(const std::string& hostport);
// True for 127.0.0.0/8.
bool IsLoopback(const sockaddr_in& sa);

// One connected, non-blocking socket. Owns the fd (closed by the destructor).
class Transport {
 public:
  explicit Transport(int fd) : fd_(fd) {}
  virtual ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int fd() const { return fd_; }
  // As read(2)/write(2): > 0 bytes moved; Read 0: the peer closed; -1 with errno EAGAIN: nothing
  // now, wait for WantsWrite() ? EPOLLOUT : EPOLLIN; -1 with another errno: the connection is broken.
  virtual ssize_t Read(char* buf, size_t n);
  virtual ssize_t Write(const char* buf, size_t n);
  // After an EAGAIN: whether the transport waits for the socket to be writable (plain TCP: a
  // write was refused) or readable (TLS: the handshake waits for the peer).
  virtual bool WantsWrite() const { return true; }
  // After an error: the peer was refused by the TLS peer check (not our CA, another workflow, not
  // TLS at all). Counted by the owner as tlsRefused.
  virtual bool Refused() const { return false; }
  // Whether bytes are encrypted (metrics and logs).
  virtual bool Secure() const { return false; }
  // The worker the peer's certificate names (the WORKER of its jellybean://WORKFLOW/WORKER?epoch=N
  // URI SAN, for our workflow): TLS once the handshake is done; "" for plain TCP or before.
  virtual std::string PeerWorker() const { return ""; }

 private:
  int fd_;
};

}  // namespace jb
