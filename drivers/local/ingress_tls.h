// The TLS materials of a local io worker's inference endpoint (issue 16: TLS and a bearer token on
// the ingress by default). The daemon's CA (<state>/tls/ca.{crt,key}: the one its REST server's
// certificate comes from, created here when absent) signs each ingress io worker's server
// certificate, and each workflow has one bearer token <state>/ingress/<workflow>.token (32 random
// bytes as hex, mode 0600, never logged: only its path appears in status and logs).
//
// Files per worker, beside its config in <state>/workers/<workflow>/:
//   <worker>.ingress.crt    the certificate (0644): subjectAltNames 127.0.0.1, ::1, localhost and
//                           the listen host when it is another address; valid kIngressCertDays
//   <worker>.ingress.key    its P-256 key (0600)
//   <worker>.ingress.token  a copy of the workflow's token (0600), which the worker reads at start
// Renewal, at every Apply: a certificate that does not parse, is not signed by the CA, does not
// name every host or has less than kIngressRenewBeforeDays left is issued again with a new key; a
// missing or empty workflow token is made again; a worker copy that differs is rewritten. Any of
// these reports `changed`, and the driver restarts the worker so that it serves the new files.
// A workflow token readable by group or others is refused (chmod 600), never silently replaced.
// Thread-safety: reentrant (callers serialise per workflow).
#pragma once

#include <string>

#include "base/status.h"
#include "drivers/agent/pki.h"

namespace jb {

inline constexpr int kIngressCertDays = 90;
inline constexpr int kIngressRenewBeforeDays = 30;

struct IngressFiles {
  std::string cert_file, key_file, token_file;
  bool changed = false;  // something was (re)written: a running worker must restart to serve it
};

// <state>/tls: the daemon's CA, which clients trust (ca.crt).
std::string IngressCaDir(const std::string& state_dir);
// <state>/ingress/<workflow>.token
std::string IngressTokenPath(const std::string& state_dir, const std::string& workflow);

// The workflow's bearer token (IngressTokenPath), made when missing or empty; refused when the
// file is readable by group or others. Never logged.
StatusOr<std::string> EnsureIngressToken(const std::string& state_dir, const std::string& workflow);

// Makes sure the files of worker `worker` (listening on `listen_host`) exist in `worker_dir` and
// are current, as described above.
StatusOr<IngressFiles> EnsureIngressFiles(const Ca& ca, const std::string& state_dir, const std::string& workflow,
                                          const std::string& worker_dir, const std::string& worker,
                                          const std::string& listen_host);

}  // namespace jb
