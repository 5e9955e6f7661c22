// jellybeand's start-up checks that look at the world rather than at the flags: what a listen
// host resolves to, and whether a TLS certificate and key can serve at all. A configuration that
// cannot work is refused at start with a message that names the file or host and what to do,
// instead of "serving https://..." followed by failing every connection.
// Thread-safety: the functions are reentrant.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace jb {

// OK when `host` resolves and every address it resolves to is loopback (127.0.0.0/8 or ::1).
// "[::1]" is accepted as ::1. InvalidArgument otherwise, naming the first non-loopback address or
// the resolver's error. A name is judged by what it resolves to, never by how it is spelled
// ("127.evil.example" and "localhost.attacker" are not loopback unless they resolve so).
Status CheckLoopbackHost(const std::string& host);

// What a certificate file says about its own validity.
struct CertValidity {
  std::string not_before, not_after;  // RFC 3339, "2030-01-01T00:00:00Z"
  bool expired = false;               // not_after is in the past
  bool not_yet_valid = false;         // not_before is in the future
};

// Loads the PEM certificate `cert_file` and the PEM private key `key_file` and checks that the key
// belongs to the certificate. On failure the message names the file and the problem: "no such
// file", "empty file", "not a PEM certificate", "not a PEM private key", or "the key does not
// match the certificate". Expiry is reported, not refused (the caller warns).
StatusOr<CertValidity> LoadTlsPair(const std::string& cert_file, const std::string& key_file);

// OK when the PEM certificate `cert_file` carries a signature by the PEM certificate `ca_file`.
Status CheckSignedBy(const std::string& cert_file, const std::string& ca_file);

}  // namespace jb
