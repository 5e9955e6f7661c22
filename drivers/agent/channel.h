// The agent channel's transport: framed JSON messages over TLS 1.2+ on a TCP socket,
// with OpenSSL directly (the agent listener needs the peer certificate of each connection, which
// the REST stack does not expose). A frame is a 4-byte big-endian length and that many bytes of
// JSON; frames over 16 MiB are refused, and so are frames over 64 KiB from a peer that has not
// presented a verified certificate (registration is the only thing it may send, and it is small).
// A frame's buffer grows as its bytes arrive: a peer that claims a large frame and sends a few
// bytes costs a few bytes. On the server side the first frame must arrive within the handshake
// timeout, and every frame within its Receive timeout (a deadline for the whole frame, not per
// read, so a peer trickling one byte at a time cannot hold a connection open).
//
// Writes never raise SIGPIPE (OpenSSL writes with write(2); the channel blocks SIGPIPE in the
// calling thread around every write and discards the one a closed peer causes), so a peer that
// closes at once cannot kill a process that forgot to ignore SIGPIPE.
//
// The listener presents the daemon's server certificate and asks for a client certificate signed
// by the device CA: a connection with a certificate that does not verify is refused during the
// handshake; one without a certificate may only register (the caller checks peer_verified()).
// Thread-safety: a TlsChannel is used by one thread at a time; TlsListener::Accept may run on one
// thread while Close is called from another.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "api/value.h"
#include "base/mutex.h"
#include "base/status.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace jb {

inline constexpr size_t kMaxAgentFrame = 16u << 20;
inline constexpr size_t kMaxUnauthenticatedAgentFrame = 64u << 10;

// A number from a peer as an integer: message numbers are doubles, and converting one outside
// int64's range (or NaN) is undefined behaviour. Saturates at the range's ends; NaN is 0.
inline int64_t WireInt(double d) {
  if (!(d == d)) return 0;
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return static_cast<int64_t>(d);
}

// Decodes the body of one frame (the bytes after the length) into its message: OK with a JSON
// object, InvalidArgument for anything else. Pure; TlsChannel::Receive and the fuzz target call it.
StatusOr<Value> DecodeAgentMessage(const std::string& body);

class TlsChannel {
 public:
  ~TlsChannel();
  // Client side: verifies the server against `ca_file` (and its name against `host`); presents
  // `cert_file`/`key_file` when given.
  static StatusOr<std::unique_ptr<TlsChannel>> Connect(const std::string& host, int port, const std::string& ca_file,
                                                       const std::string& cert_file, const std::string& key_file,
                                                       double timeout_s);
  Status Send(const Value& msg);
  StatusOr<Value> Receive(double timeout_s);
  // Server side: the client's certificate, when it sent one that verified against the CA.
  bool peer_verified() const { return peer_verified_; }
  const std::string& peer_cn() const { return peer_cn_; }
  const std::string& peer_serial() const { return peer_serial_; }
  const std::string& peer_address() const { return peer_address_; }
  // Unblocks a Receive in another thread (shutdown of the socket). Safe to call concurrently with
  // Close.
  void Abort() EXCLUDES(mu_);
  // Ends the connection now (TLS close_notify when the handshake completed, then close(2)); the
  // peer sees EOF. Later Send/Receive fail with Unavailable. Must not run while this channel's
  // Send/Receive runs on another thread (Abort is the call for that).
  void Close() EXCLUDES(mu_);
  // Server side: the TLS handshake of an accepted connection (run on the connection's own thread,
  // so a slow client cannot hold up the listener).
  Status Handshake();

 private:
  friend class TlsListener;
  TlsChannel() = default;
  Status IoError(const std::string& what, int rc);
  Mutex mu_;  // guards fd_ and ssl_ against Abort/Close from two threads
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  SSL_CTX* ctx_ = nullptr;  // owned by client channels
  bool peer_verified_ = false;
  double handshake_timeout_s_ = 10;
  bool server_side_ = false;
  bool received_any_ = false;          // server side: the first frame is due within the handshake timeout
  size_t max_frame_ = kMaxAgentFrame;  // kMaxUnauthenticatedAgentFrame for unverified server-side peers
  std::string peer_cn_, peer_serial_, peer_address_;
};

class TlsListener {
 public:
  ~TlsListener();
  // Listens on host:port (port 0: any free port, see port()).
  static StatusOr<std::unique_ptr<TlsListener>> Listen(const std::string& host, int port, const std::string& cert_file,
                                                       const std::string& key_file, const std::string& ca_file);
  int port() const { return port_; }
  // Blocks for the next connection (its handshake is TlsChannel::Handshake, with this timeout);
  // Unavailable once closed.
  StatusOr<std::unique_ptr<TlsChannel>> Accept(double handshake_timeout_s);
  void Close();

 private:
  TlsListener() = default;
  int fd_ = -1;
  int port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<bool> closed_{false};
};

}  // namespace jb
