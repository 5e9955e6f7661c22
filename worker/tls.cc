#include "worker/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "worker/framing.h"

namespace jb {

namespace {

std::string SslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return what + ": " + buf;
}

void FreeWorkflow(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(ptr); }

// The index of the expected workflow (a std::string owned by the SSL_CTX: connections of a
// rotated-out LinkTls keep its context, and so the workflow they check, alive).
int WorkflowIndex() {
  static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeWorkflow);
  return idx;
}

// The worker a certificate's jellybean:// URI SAN names for `workflow` ("" when none does).
std::string WorkerOfCertificate(X509* cert, const std::string& workflow) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::string worker;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && worker.empty(); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* u = n->d.uniformResourceIdentifier;
    std::string uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(u)),
                    static_cast<size_t>(ASN1_STRING_length(u)));
    if (!workflow.empty() && WorkflowOfTlsUri(uri) == workflow) worker = WorkerOfTlsUri(uri);
  }
  GENERAL_NAMES_free(names);
  return worker;
}

const std::string* ExpectedWorkflow(const SSL* ssl) {
  return static_cast<const std::string*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), WorkflowIndex()));
}

// The leaf certificate must name a worker of our workflow in a jellybean:// URI SAN (the chain is
// checked by OpenSSL before: `ok` is its verdict).
int VerifyPeer(int ok, X509_STORE_CTX* store) {
  if (ok != 1 || X509_STORE_CTX_get_error_depth(store) != 0) return ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const std::string* want = ExpectedWorkflow(ssl);
  bool match = want != nullptr && !WorkerOfCertificate(X509_STORE_CTX_get_current_cert(store), *want).empty();
  if (!match) X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return match ? 1 : 0;
}

bool ModeWantsTls(const std::string& mode, bool loopback) { return mode == "on" || (mode == "loopback" && !loopback); }

class TlsTransport : public Transport {
 public:
  TlsTransport(int fd, SSL* ssl) : Transport(fd), ssl_(ssl) {}
  ~TlsTransport() override { SSL_free(ssl_); }

  ssize_t Read(char* buf, size_t n) override {
    size_t got = 0;
    if (SSL_read_ex(ssl_, buf, n, &got) == 1) return static_cast<ssize_t>(got);
    return Failed(SSL_get_error(ssl_, 0));
  }
  ssize_t Write(const char* buf, size_t n) override {
    size_t put = 0;
    if (SSL_write_ex(ssl_, buf, n, &put) == 1) return static_cast<ssize_t>(put);
    return Failed(SSL_get_error(ssl_, 0));
  }
  bool WantsWrite() const override { return wants_write_; }
  bool Refused() const override { return refused_; }
  bool Secure() const override { return true; }
  std::string PeerWorker() const override {
    X509* cert = SSL_is_init_finished(ssl_) ? SSL_get0_peer_certificate(ssl_) : nullptr;
    const std::string* workflow = ExpectedWorkflow(ssl_);
    return cert != nullptr && workflow != nullptr ? WorkerOfCertificate(cert, *workflow) : "";
  }

 private:
  ssize_t Failed(int err) {
    switch (err) {
      case SSL_ERROR_WANT_READ:
        wants_write_ = false;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_WANT_WRITE:
        wants_write_ = true;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == EAGAIN) return 0;  // EOF in the middle of a record
        return -1;
      default:
        // A protocol error: during the handshake it is the peer check (or a peer that does not
        // speak TLS); afterwards a corrupted stream.
        refused_ = !SSL_is_init_finished(ssl_);
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
  }
  SSL* ssl_;
  bool wants_write_ = true;
  bool refused_ = false;
};

}  // namespace

struct LinkTls::Impl {
  SSL_CTX* ctx = nullptr;
  ~Impl() { SSL_CTX_free(ctx); }
};

LinkTls::~LinkTls() = default;

StatusOr<std::shared_ptr<const LinkTls>> LinkTls::Create(const WorkerTls& cfg, const std::string& workflow) {
  std::shared_ptr<LinkTls> t(new LinkTls());
  t->workflow_ = workflow;
  t->mode_ = cfg.mode;
  t->tier_modes_ = cfg.tier_modes;
  const char* env = std::getenv("JB_TLS_LOOPBACK");
  t->loopback_forced_ = env != nullptr && std::string(env) == "1";
  t->impl_ = std::make_unique<Impl>();
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr) return Status::Internal(SslError("SSL_CTX_new"));
  t->impl_->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(ctx, 0);  // no resumption: every connection shows its certificate
  // A peer that goes away mid-handshake (a link reconnecting after a rotation) is a closed
  // connection, not a refused one.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_ex_data(ctx, WorkflowIndex(), new std::string(workflow));
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyPeer);

  BIO* b = BIO_new_mem_buf(cfg.cert_pem.data(), static_cast<int>(cfg.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  bool ok = cert != nullptr && SSL_CTX_use_certificate(ctx, cert) == 1;
  X509_free(cert);
  if (!ok) return Status::InvalidArgument(SslError("tls.certPem"));
  b = BIO_new_mem_buf(cfg.key_pem.data(), static_cast<int>(cfg.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  ok = key != nullptr && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  if (!ok) return Status::InvalidArgument(SslError("tls.keyPem (or it does not match tls.certPem)"));
  b = BIO_new_mem_buf(cfg.ca_pem.data(), static_cast<int>(cfg.ca_pem.size()));
  X509* ca = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  ok = ca != nullptr && X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) == 1;
  X509_free(ca);
  if (!ok) return Status::InvalidArgument(SslError("tls.caPem"));
  return std::shared_ptr<const LinkTls>(std::move(t));
}

bool LinkTls::ClientUsesTls(const sockaddr_in& address, const std::string& tier) const {
  bool loopback = IsLoopback(address);
  if (loopback_forced_) return true;
  auto it = tier_modes_.find(tier);
  return ModeWantsTls(mode_, loopback) || (it != tier_modes_.end() && ModeWantsTls(it->second, loopback));
}

bool LinkTls::ServerAcceptsPlain(const sockaddr_in& peer) const {
  return !loopback_forced_ && !ModeWantsTls(mode_, IsLoopback(peer));
}

std::unique_ptr<Transport> LinkTls::Client(int fd) const {
  SSL* ssl = SSL_new(impl_->ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  return std::make_unique<TlsTransport>(fd, ssl);
}

std::unique_ptr<Transport> LinkTls::Server(int fd) const {
  SSL* ssl = SSL_new(impl_->ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsTransport>(fd, ssl);
}

FirstBytes ClassifyFirstBytes(const char* data, size_t n) {
  // A TLS handshake record: 0x16, then version 0x03 0x01..0x04. As a frame length prefix those
  // bytes read as at least 0x010316 (66326) > kMaxHelloFrameBytes, which no plain peer may send.
  static_assert(0x010316 > kMaxHelloFrameBytes, "a TLS record must not look like a plain Hello frame");
  if (n >= 1 && static_cast<unsigned char>(data[0]) != 0x16) return FirstBytes::kPlain;
  if (n < 3) return FirstBytes::kWait;
  auto minor = static_cast<unsigned char>(data[2]);
  return static_cast<unsigned char>(data[1]) == 0x03 && minor >= 1 && minor <= 4 ? FirstBytes::kTls
                                                                                 : FirstBytes::kPlain;
}

}  // namespace jb
