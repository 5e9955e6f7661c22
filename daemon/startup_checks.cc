#include "daemon/startup_checks.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/asn1_time.h"

namespace jb {

namespace {

bool IsLoopbackAddress(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (a >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    // ::ffff:127.x.y.z
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

std::string AddressText(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof(buf));
  return buf;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Opens `path` for PEM reading; the error says "no such file" / "empty file" / errno.
StatusOr<File> OpenPem(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status::NotFound(what + " " + path + ": no such file")
                           : Status::InvalidArgument(what + " " + path + ": " + std::strerror(errno));
  if (st.st_size == 0) return Status::InvalidArgument(what + " " + path + ": empty file (0 bytes)");
  File f(std::fopen(path.c_str(), "r"));
  if (!f) return Status::InvalidArgument(what + " " + path + ": " + std::strerror(errno));
  return f;
}

StatusOr<X509Ptr> ReadCert(const std::string& path, const std::string& what) {
  auto f = OpenPem(path, what);
  if (!f.ok()) return f.status();
  X509Ptr c(PEM_read_X509(f->get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!c) return Status::InvalidArgument(what + " " + path + ": not a PEM certificate");
  return c;
}

}  // namespace

Status CheckLoopbackHost(const std::string& host_in) {
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return Status::InvalidArgument("an empty host listens on every address, not only loopback");
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0)
    return Status::InvalidArgument("cannot resolve " + host + " (" + gai_strerror(rc) +
                                   "), so it is not known to be loopback");
  Status out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (IsLoopbackAddress(a->ai_addr)) continue;
    out =
        Status::InvalidArgument(host + " resolves to " + AddressText(a->ai_addr) + ", which is not a loopback address");
    break;
  }
  freeaddrinfo(res);
  return out;
}

StatusOr<CertValidity> LoadTlsPair(const std::string& cert_file, const std::string& key_file) {
  auto cert = ReadCert(cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  auto kf = OpenPem(key_file, "TLS key");
  if (!kf.ok()) return kf.status();
  PkeyPtr key(PEM_read_PrivateKey(kf->get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return Status::InvalidArgument("TLS key " + key_file + ": not a PEM private key (or it is encrypted)");
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("TLS key " + key_file + " does not match the certificate " + cert_file);
  }
  CertValidity v;
  const ASN1_TIME* nb = X509_get0_notBefore(cert->get());
  const ASN1_TIME* na = X509_get0_notAfter(cert->get());
  v.not_before = Asn1TimeRfc3339(nb);
  v.not_after = Asn1TimeRfc3339(na);
  v.not_yet_valid = X509_cmp_current_time(nb) > 0;
  v.expired = X509_cmp_current_time(na) < 0;
  return v;
}

Status CheckSignedBy(const std::string& cert_file, const std::string& ca_file) {
  auto cert = ReadCert(cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  auto ca = ReadCert(ca_file, "CA certificate");
  if (!ca.ok()) return ca.status();
  EVP_PKEY* ca_key = X509_get0_pubkey(ca->get());
  if (ca_key == nullptr || X509_verify(cert->get(), ca_key) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate " + cert_file + " is not signed by " + ca_file);
  }
  return Status::Ok();
}

}  // namespace jb
