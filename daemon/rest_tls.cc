#include "daemon/rest_tls.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "daemon/daemon.h"
#include "daemon/startup_checks.h"
#include "drivers/agent/pki.h"
#include "drivers/process.h"

namespace jb {

namespace fs = std::filesystem;

namespace {

std::string Unbracket(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

bool IsWildcard(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::" || host == "*"; }

bool IsIp(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

// This machine's host name and the addresses of its interfaces that are up (no link-local IPv6:
// it needs a zone, which a certificate cannot name).
std::vector<std::string> MachineNames() {
  std::vector<std::string> out;
  char name[256] = "";
  if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') out.emplace_back(name);
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP)) continue;
    char buf[INET6_ADDRSTRLEN] = "";
    if (i->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf));
    }
    if (buf[0] != '\0') out.emplace_back(buf);
  }
  freeifaddrs(ifs);
  return out;
}

// Whether the certificate names `host` (an IP or a DNS name), by OpenSSL's own matching.
bool Names(X509* cert, const std::string& host) {
  if (IsIp(host)) return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  return X509_check_host(cert, host.data(), host.size(), 0, nullptr) == 1;
}

// The subjectAltNames of a certificate, as "DNS:x" / "IP:y", for messages.
std::string SanText(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return "no subjectAltName";
  std::string out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    std::string one;
    if (n->type == GEN_DNS) {
      one = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                                 static_cast<size_t>(ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = "";
      int len = ASN1_STRING_length(n->d.iPAddress);
      inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), buf, sizeof(buf));
      one = std::string("IP:") + buf;
    }
    if (!one.empty()) out += (out.empty() ? "" : ", ") + one;
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "no DNS or IP subjectAltName" : out;
}

void WarnValidity(const std::string& cert_file, const CertValidity& v) {
  if (v.expired)
    spdlog::warn(
        "TLS certificate {} expired on {}: clients will refuse it; renew it (or remove --tls-cert/--tls-key to use a "
        "generated one)",
        cert_file, v.not_after);
  if (v.not_yet_valid)
    spdlog::warn("TLS certificate {} is not valid before {}: check this machine's clock", cert_file, v.not_before);
}

}  // namespace

std::vector<std::string> RestCertHosts(const std::string& listen_host) {
  std::vector<std::string> hosts{"localhost", "127.0.0.1", "::1"};
  std::string host = Unbracket(listen_host);
  std::vector<std::string> more = IsWildcard(host) ? MachineNames() : std::vector<std::string>{host};
  for (auto& h : more)
    if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(std::move(h));
  return hosts;
}

std::string RestSanWarning(const std::string& cert_pem, const std::string& listen_host) {
  const std::string host = Unbracket(listen_host);
  if (!IsWildcard(host) && CheckLoopbackHost(host).ok()) return "";
  BIO* b = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  ERR_clear_error();
  if (cert == nullptr) return "the TLS certificate does not parse";
  // A wildcard listen is reached by any of this machine's names: the certificate must name one
  // that is not loopback.
  std::vector<std::string> wanted = IsWildcard(host) ? MachineNames() : std::vector<std::string>{host};
  bool named = false;
  for (const auto& h : wanted) named = named || (CheckLoopbackHost(h).ok() ? false : Names(cert, h));
  std::string sans = SanText(cert);
  X509_free(cert);
  if (named) return "";
  std::string what = IsWildcard(host) ? "this machine's names and addresses (listening on " + listen_host + ")"
                                      : "the listen host " + host;
  return "the REST TLS certificate does not name " + what + " (it has " + sans +
         "): remote clients will refuse it; use a certificate with a subjectAltName for the address clients use "
         "(or leave --tls-cert/--tls-key out: the generated one names the listen address)";
}

Status EnsureTls(DaemonConfig* cfg) {
  if (cfg->insecure_plain_http) return Status::Ok();
  std::string host;
  int port = 0;
  if (auto s = SplitListen(cfg->listen, &host, &port); !s.ok()) return s;
  fs::path dir = fs::path(cfg->state_dir) / "tls";
  const std::string ca_key = (dir / "ca.key").string(), ca = (dir / "ca.crt").string();
  const std::string key = (dir / "server.key").string(), crt = (dir / "server.crt").string();
  auto same = [](const std::string& a, const std::string& b) {
    return fs::path(a).lexically_normal() == fs::path(b).lexically_normal();
  };
  bool generated = cfg->tls_cert.empty() || (same(cfg->tls_cert, crt) && same(cfg->tls_key, key));
  if (!generated) {
    // The operator's own pair: never touched, but refused at start when it cannot serve.
    auto v = LoadTlsPair(cfg->tls_cert, cfg->tls_key);
    if (!v.ok())
      return Status::InvalidArgument(
          v.status().message() +
          "; give --tls-cert/--tls-key (tlsCert/tlsKey) a PEM certificate and its private key, " +
          "or leave both out and jellybeand generates a pair in " + dir.string());
    WarnValidity(cfg->tls_cert, *v);
    if (auto w = RestSanWarning(ReadFileOrEmpty(cfg->tls_cert), host); !w.empty())
      spdlog::warn("{}: {}", cfg->tls_cert, w);
    return Status::Ok();
  }
  cfg->tls_cert = crt;
  cfg->tls_key = key;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  // Our own files: whatever is wrong with them (zero bytes after a full disk, a half-written key,
  // an expired certificate) is repaired by making them again. A good CA is kept, so clients that
  // trust it keep working; only the server pair is re-issued.
  auto ca_pair = LoadTlsPair(ca, ca_key);
  if (!(ca_pair.ok() && !ca_pair->expired && !ca_pair->not_yet_valid)) {
    if (fs::exists(ca, ec) || fs::exists(ca_key, ec))
      spdlog::warn(
          "generated TLS CA unusable ({}); making a new CA and server certificate in {} (clients must fetch "
          "the new {})",
          ca_pair.ok() ? "expired or not yet valid" : ca_pair.status().message(), dir.string(), ca);
    for (const auto& f : {ca, ca_key, crt, key}) fs::remove(f, ec);
  }
  auto authority = Ca::LoadOrCreate(dir.string());
  if (!authority.ok()) return authority.status();
  const std::vector<std::string> hosts = RestCertHosts(host);
  const std::string current = ReadFileOrEmpty(crt);
  const bool key_ok = LoadTlsPair(crt, key).ok();
  if (key_ok && (*authority)->Covers(current, hosts, int64_t{kRestRenewBeforeDays} * 86400)) return Status::Ok();
  if (!current.empty())
    spdlog::warn("generated TLS server certificate {} re-issued: {}", crt,
                 key_ok ? "it does not name every host of the listen address or expires within " +
                              std::to_string(kRestRenewBeforeDays) + " days"
                        : "it or its key is unusable");
  auto pair = (*authority)->IssueServer(hosts, kRestCertDays);
  if (!pair.ok()) return pair.status();
  if (auto s = WriteFileCreatingDirs(key, pair->key_pem, 0600); !s.ok()) return s;
  if (auto s = WriteFileCreatingDirs(crt, pair->cert_pem, 0644); !s.ok()) return s;
  if (auto s = LoadTlsPair(crt, key); !s.ok())
    return Status::Unavailable("the TLS pair just generated in " + dir.string() + " is unusable (" +
                               s.status().message() + "); is the disk full? Free space and start again");
  return Status::Ok();
}

}  // namespace jb
