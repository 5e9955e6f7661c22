// The agent channel's small PKI: the daemon is the certificate authority of its
// devices. Keys are EC P-256; every private key is written 0600 and never logged.
//
//   <dir>/ca.key, ca.crt          the CA (created on first start, 10 years)
//   <dir>/server.key, server.crt  the daemon's agent-listener certificate, signed by the CA, with
//                                 the listener's host as subjectAltName
//   devices' certificates         signed from their CSR at registration: CN = device name,
//                                 extendedKeyUsage clientAuth, 1 year; serials are random 128-bit
// The same Ca also signs the io workers' ingress certificates (IssueServer: serverAuth, the
// listen addresses as subjectAltNames) from the daemon's CA in <state>/tls; the local driver
// re-issues one that Covers() no longer (drivers/local/ingress_tls.h).
// Thread-safety: the functions are reentrant; Ca is immutable after Load.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb {

struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};

// A new P-256 key and a CSR for CN=`common_name`.
StatusOr<KeyAndCsr> MakeKeyAndCsr(const std::string& common_name);

struct IssuedCert {
  std::string cert_pem;
  std::string serial_hex;
};

class Ca {
 public:
  // Loads <dir>/ca.{key,crt}, creating them (and <dir>) when absent.
  static StatusOr<std::unique_ptr<Ca>> LoadOrCreate(const std::string& dir);
  ~Ca();
  const std::string& cert_pem() const { return cert_pem_; }
  // Signs a client CSR: the certificate's CN is `device` whatever the CSR asks for.
  StatusOr<IssuedCert> SignClient(const std::string& csr_pem, const std::string& device, int days = 365) const;
  // Writes <dir>/server.{key,crt} for `host` (an IP or a DNS name) unless they exist for it.
  Status EnsureServerCert(const std::string& dir, const std::string& host) const;
  // A new P-256 key and a server certificate for `hosts` (IPs or DNS names; the first is the CN),
  // extendedKeyUsage serverAuth, valid `days`.
  struct ServerPair {
    std::string cert_pem;
    std::string key_pem;
  };
  StatusOr<ServerPair> IssueServer(const std::vector<std::string>& hosts, int days) const;
  // A new P-256 key and a certificate whose only subjectAltName is the URI `uri` (a worker's link
  // identity, drivers/worker_tls.h), extendedKeyUsage serverAuth and clientAuth, valid `days`.
  StatusOr<ServerPair> IssueUri(const std::string& uri, int days) const;
  // `cert_pem` is signed by this CA, names every one of `hosts` and stays valid for at least
  // `min_left_s` more seconds (false when it does not parse).
  bool Covers(const std::string& cert_pem, const std::vector<std::string>& hosts, int64_t min_left_s) const;

 private:
  Ca() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string cert_pem_;
};

// The CN and serial (hex) of a PEM certificate.
StatusOr<std::pair<std::string, std::string>> CertIdentity(const std::string& cert_pem);

}  // namespace jb
