// The REST server's certificate, from the project's own PKI (drivers/agent/pki.h, OpenSSL's
// library; no `openssl` command). Unless the operator gives --tls-cert/--tls-key, jellybeand keeps
//   STATE_DIR/tls/ca.{crt,key}          its CA (10 years; also signs the io workers' ingress certs)
//   STATE_DIR/tls/server.{crt,key}      the REST certificate, P-256, kRestCertDays, signed by the CA
// The server certificate's subjectAltNames are RestCertHosts(listen host): localhost, 127.0.0.1,
// ::1, and the listen host (IP or DNS name); for a wildcard listen (0.0.0.0, ::) this machine's
// host name and its interfaces' addresses. At every start a certificate that does not parse, is
// not signed by the CA, misses one of these names or has less than kRestRenewBeforeDays left is
// issued again (new key); a CA that does not load or has expired is made again.
// The operator's own pair is never touched; when --listen is not loopback and the certificate
// names no address or name clients can reach it by, RestSanWarning says so (logged at start).
// Thread-safety: called from the main thread at start-up.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/config.h"

namespace jb {

inline constexpr int kRestCertDays = 825;
inline constexpr int kRestRenewBeforeDays = 30;

// The names the generated REST certificate carries for `listen_host` (brackets of "[::1]" removed).
std::vector<std::string> RestCertHosts(const std::string& listen_host);

// "" when `cert_pem` serves `listen_host` (loopback hosts always: clients on this machine can use
// localhost), else a warning naming the host, the names the certificate has and what to do.
std::string RestSanWarning(const std::string& cert_pem, const std::string& listen_host);

// Ensures the TLS pair of cfg->listen (see above) unless --insecure-plain-http; sets
// cfg->tls_cert/tls_key to the generated files when the operator gave none. Logs what it
// re-issued and RestSanWarning. Errors name the file and what to do.
Status EnsureTls(DaemonConfig* cfg);

}  // namespace jb
