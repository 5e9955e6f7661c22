#include "drivers/agent/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "drivers/process.h"

namespace jb {
namespace fs = std::filesystem;

namespace {

std::string SslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return what + ": " + buf;
}

struct Bio {
  BIO* b = BIO_new(BIO_s_mem());
  ~Bio() { BIO_free(b); }
  std::string str() const {
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    return std::string(p, static_cast<size_t>(n));
  }
};

EVP_PKEY* NewKey() { return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); }

std::string KeyPem(EVP_PKEY* k) {
  Bio b;
  PEM_write_bio_PrivateKey(b.b, k, nullptr, nullptr, 0, nullptr, nullptr);
  return b.str();
}

std::string CertPem(X509* c) {
  Bio b;
  PEM_write_bio_X509(b.b, c);
  return b.str();
}

EVP_PKEY* ReadKey(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return k;
}

X509* ReadCert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* c = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return c;
}

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `pub` with subject CN=`cn`, valid `days`, a random serial, signed by
// the caller (self-signed when `issuer` is null).
X509* NewCert(EVP_PKEY* pub, const std::string& cn, int days, X509* issuer, std::string* serial_hex) {
  X509* c = X509_new();
  X509_set_version(c, 2);
  unsigned char rnd[16];
  RAND_bytes(rnd, sizeof(rnd));
  rnd[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(rnd, sizeof(rnd), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
  if (serial_hex != nullptr) {
    char* h = BN_bn2hex(bn);
    *serial_hex = h;
    OPENSSL_free(h);
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c), -300);
  X509_gmtime_adj(X509_getm_notAfter(c), static_cast<long>(days) * 86400);
  X509_set_pubkey(c, pub);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("jellybean"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return c;
}

}  // namespace

StatusOr<KeyAndCsr> MakeKeyAndCsr(const std::string& common_name) {
  EVP_PKEY* k = NewKey();
  if (k == nullptr) return Status::Internal(SslError("key generation"));
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME* name = X509_REQ_get_subject_name(req);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_REQ_set_pubkey(req, k);
  KeyAndCsr out;
  if (X509_REQ_sign(req, k, EVP_sha256()) <= 0) {
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return Status::Internal(SslError("CSR signing"));
  }
  Bio b;
  PEM_write_bio_X509_REQ(b.b, req);
  out.csr_pem = b.str();
  out.key_pem = KeyPem(k);
  X509_REQ_free(req);
  EVP_PKEY_free(k);
  return out;
}

struct Ca::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Impl() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
};

Ca::~Ca() = default;

StatusOr<std::unique_ptr<Ca>> Ca::LoadOrCreate(const std::string& dir) {
  std::unique_ptr<Ca> ca(new Ca());
  ca->impl_ = std::make_unique<Impl>();
  std::string key_path = dir + "/ca.key", cert_path = dir + "/ca.crt";
  std::error_code ec;
  if (!fs::exists(key_path, ec) || !fs::exists(cert_path, ec)) {
    EVP_PKEY* k = NewKey();
    if (k == nullptr) return Status::Internal(SslError("CA key generation"));
    X509* c = NewCert(k, "jellybean device CA", 3650, nullptr, nullptr);
    AddExt(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    AddExt(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExt(c, c, NID_subject_key_identifier, "hash");
    if (X509_sign(c, k, EVP_sha256()) <= 0) return Status::Internal(SslError("CA self-signing"));
    if (auto s = WriteFileCreatingDirs(key_path, KeyPem(k), 0600); !s.ok()) return s;
    if (auto s = WriteFileCreatingDirs(cert_path, CertPem(c), 0644); !s.ok()) return s;
    EVP_PKEY_free(k);
    X509_free(c);
  }
  ca->impl_->key = ReadKey(ReadFileOrEmpty(key_path));
  ca->cert_pem_ = ReadFileOrEmpty(cert_path);
  ca->impl_->cert = ReadCert(ca->cert_pem_);
  if (ca->impl_->key == nullptr || ca->impl_->cert == nullptr)
    return Status::InvalidArgument(SslError("cannot read the CA in " + dir));
  return ca;
}

StatusOr<IssuedCert> Ca::SignClient(const std::string& csr_pem, const std::string& device, int days) const {
  BIO* b = BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (req == nullptr) return Status::InvalidArgument(SslError("the CSR is not PEM"));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  if (pub == nullptr || X509_REQ_verify(req, pub) != 1) {
    X509_REQ_free(req);
    return Status::InvalidArgument(SslError("the CSR's signature does not verify"));
  }
  IssuedCert out;
  X509* c = NewCert(pub, device, days, impl_->cert, &out.serial_hex);
  AddExt(c, impl_->cert, NID_basic_constraints, "critical,CA:FALSE");
  AddExt(c, impl_->cert, NID_key_usage, "critical,digitalSignature");
  AddExt(c, impl_->cert, NID_ext_key_usage, "clientAuth");
  bool ok = X509_sign(c, impl_->key, EVP_sha256()) > 0;
  X509_REQ_free(req);
  if (!ok) {
    X509_free(c);
    return Status::Internal(SslError("signing the device certificate"));
  }
  out.cert_pem = CertPem(c);
  X509_free(c);
  return out;
}

Status Ca::EnsureServerCert(const std::string& dir, const std::string& host) const {
  std::string key_path = dir + "/server.key", cert_path = dir + "/server.crt", host_path = dir + "/server.host";
  std::error_code ec;
  if (fs::exists(key_path, ec) && fs::exists(cert_path, ec) && ReadFileOrEmpty(host_path) == host) return Status::Ok();
  EVP_PKEY* k = NewKey();
  if (k == nullptr) return Status::Internal(SslError("server key generation"));
  X509* c = NewCert(k, host, 825, impl_->cert, nullptr);
  unsigned char ip[16];
  bool is_ip = inet_pton(AF_INET, host.c_str(), ip) == 1 || inet_pton(AF_INET6, host.c_str(), ip) == 1;
  std::string san = (is_ip ? "IP:" : "DNS:") + host;
  AddExt(c, impl_->cert, NID_subject_alt_name, san.c_str());
  AddExt(c, impl_->cert, NID_ext_key_usage, "serverAuth");
  bool ok = X509_sign(c, impl_->key, EVP_sha256()) > 0;
  Status s = ok ? WriteFileCreatingDirs(key_path, KeyPem(k), 0600)
                : Status::Internal(SslError("signing the server certificate"));
  if (s.ok()) s = WriteFileCreatingDirs(cert_path, CertPem(c), 0644);
  if (s.ok()) s = WriteFileCreatingDirs(host_path, host, 0644);
  EVP_PKEY_free(k);
  X509_free(c);
  return s;
}

// A new key and a leaf certificate for it (CN `cn`, subjectAltName `san`, extended key usage
// `usage`), signed by the CA; `what` names it in errors.
static StatusOr<Ca::ServerPair> SignLeaf(X509* ca_cert, EVP_PKEY* ca_key, const std::string& cn, int days,
                                         const std::string& san, const char* usage, const std::string& what) {
  EVP_PKEY* k = NewKey();
  if (k == nullptr) return Status::Internal(SslError("key generation for " + what));
  X509* c = NewCert(k, cn, days, ca_cert, nullptr);
  bool ok = AddExt(c, ca_cert, NID_basic_constraints, "critical,CA:FALSE") &&
            AddExt(c, ca_cert, NID_subject_alt_name, san.c_str()) && AddExt(c, ca_cert, NID_ext_key_usage, usage) &&
            X509_sign(c, ca_key, EVP_sha256()) > 0;
  Ca::ServerPair out;
  if (ok) {
    out.cert_pem = CertPem(c);
    out.key_pem = KeyPem(k);
  }
  EVP_PKEY_free(k);
  X509_free(c);
  if (!ok) return Status::Internal(SslError("signing " + what));
  return out;
}

StatusOr<Ca::ServerPair> Ca::IssueServer(const std::vector<std::string>& hosts, int days) const {
  if (hosts.empty()) return Status::InvalidArgument("a server certificate needs at least one host");
  std::string san;
  for (const auto& h : hosts) {
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, h.c_str(), ip) == 1 || inet_pton(AF_INET6, h.c_str(), ip) == 1;
    san += (san.empty() ? "" : ",") + std::string(is_ip ? "IP:" : "DNS:") + h;
  }
  return SignLeaf(impl_->cert, impl_->key, hosts[0], days, san, "serverAuth", "the server certificate for " + san);
}

StatusOr<Ca::ServerPair> Ca::IssueUri(const std::string& uri, int days) const {
  return SignLeaf(impl_->cert, impl_->key, uri.substr(0, 64), days, "URI:" + uri, "serverAuth,clientAuth",
                  "the certificate for " + uri);
}

bool Ca::Covers(const std::string& cert_pem, const std::vector<std::string>& hosts, int64_t min_left_s) const {
  X509* c = ReadCert(cert_pem);
  if (c == nullptr) {
    ERR_clear_error();
    return false;
  }
  time_t until = time(nullptr) + static_cast<time_t>(min_left_s);
  bool ok = X509_verify(c, impl_->key) == 1 && X509_cmp_time(X509_get0_notAfter(c), &until) > 0;
  for (const auto& h : hosts) {
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, h.c_str(), ip) == 1 || inet_pton(AF_INET6, h.c_str(), ip) == 1;
    ok = ok &&
         (is_ip ? X509_check_ip_asc(c, h.c_str(), 0) == 1 : X509_check_host(c, h.data(), h.size(), 0, nullptr) == 1);
  }
  X509_free(c);
  ERR_clear_error();
  return ok;
}

StatusOr<std::pair<std::string, std::string>> CertIdentity(const std::string& cert_pem) {
  X509* c = ReadCert(cert_pem);
  if (c == nullptr) return Status::InvalidArgument(SslError("not a PEM certificate"));
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(c), nullptr);
  char* h = BN_bn2hex(bn);
  std::pair<std::string, std::string> out{cn, h};
  OPENSSL_free(h);
  BN_free(bn);
  X509_free(c);
  return out;
}

}  // namespace jb
