#include "drivers/local/ingress_tls.h"

#include <openssl/rand.h>

#include <filesystem>
#include <vector>

#include "base/file.h"
#include "drivers/process.h"

namespace jb {
namespace fs = std::filesystem;

namespace {

std::string TrimEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The workflow's token: read, or made when missing or empty. The value is returned to be copied
// for the worker; it is never logged.
StatusOr<std::string> EnsureWorkflowToken(const std::string& path, bool* made) {
  *made = false;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (auto s = CheckPrivateFile(path, "ingress token file"); !s.ok()) return s;
    std::string t = TrimEnd(ReadFileOrEmpty(path));
    if (!t.empty()) return t;
  }
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof(buf)) != 1) return Status::Unavailable("no randomness for the ingress token");
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (unsigned char c : buf) {
    t += hex[c >> 4];
    t += hex[c & 15];
  }
  if (auto s = WriteFileCreatingDirs(path, t + "\n", 0600); !s.ok()) return s;
  *made = true;
  return t;
}

}  // namespace

StatusOr<std::string> EnsureIngressToken(const std::string& state_dir, const std::string& workflow) {
  bool made = false;
  return EnsureWorkflowToken(IngressTokenPath(state_dir, workflow), &made);
}

std::string IngressCaDir(const std::string& state_dir) { return state_dir + "/tls"; }

std::string IngressTokenPath(const std::string& state_dir, const std::string& workflow) {
  return state_dir + "/ingress/" + workflow + ".token";
}

StatusOr<IngressFiles> EnsureIngressFiles(const Ca& ca, const std::string& state_dir, const std::string& workflow,
                                          const std::string& worker_dir, const std::string& worker,
                                          const std::string& listen_host) {
  IngressFiles f;
  std::string base = worker_dir + "/" + worker + ".ingress.";
  f.cert_file = base + "crt";
  f.key_file = base + "key";
  f.token_file = base + "token";

  std::vector<std::string> hosts = {"127.0.0.1", "::1", "localhost"};
  if (!listen_host.empty() && listen_host != "0.0.0.0" && listen_host != "::" && listen_host != hosts[0] &&
      listen_host != hosts[1] && listen_host != hosts[2])
    hosts.insert(hosts.begin(), listen_host);
  std::error_code ec;
  const int64_t renew_before_s = int64_t{kIngressRenewBeforeDays} * 86400;
  if (!fs::exists(f.key_file, ec) || !ca.Covers(ReadFileOrEmpty(f.cert_file), hosts, renew_before_s)) {
    auto pair = ca.IssueServer(hosts, kIngressCertDays);
    if (!pair.ok()) return pair.status();
    // The certificate goes first: a crash between the writes leaves none, and the next Apply
    // issues a pair again (never a certificate beside a key it does not match).
    fs::remove(f.cert_file, ec);
    if (auto s = WriteFileCreatingDirs(f.key_file, pair->key_pem, 0600); !s.ok()) return s;
    if (auto s = WriteFileCreatingDirs(f.cert_file, pair->cert_pem, 0644); !s.ok()) return s;
    f.changed = true;
  }

  bool made = false;
  auto token = EnsureWorkflowToken(IngressTokenPath(state_dir, workflow), &made);
  if (!token.ok()) return token.status();
  if (made || TrimEnd(ReadFileOrEmpty(f.token_file)) != *token || !CheckPrivateFile(f.token_file, "token").ok()) {
    if (auto s = WriteFileCreatingDirs(f.token_file, *token + "\n", 0600); !s.ok()) return s;
    f.changed = true;
  }
  return f;
}

}  // namespace jb
