// The REST certificate from the project's own PKI (daemon/rest_tls.h): its subjectAltNames, its
// re-issue when the listen address changes, and the warning for a certificate that names no
// address clients can use.
#include "daemon/rest_tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "daemon/startup_checks.h"
#include "drivers/agent/pki.h"
#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

DaemonConfig Config(const fs::path& state, const std::string& listen) {
  DaemonConfig c;
  c.state_dir = state.string();
  c.listen = listen;
  return c;
}

bool Covers(const fs::path& state, const std::vector<std::string>& hosts) {
  auto ca = Ca::LoadOrCreate((state / "tls").string());
  return ca.ok() && (*ca)->Covers(testing::ReadFile(state / "tls/server.crt"), hosts, 0);
}

TEST(RestTls, TheGeneratedCertificateNamesTheListenHostAndLoopbackWithoutTheOpensslCommand) {
  testing::TempDir dir;
  // No `openssl` to find: the certificate comes from the library.
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  ::setenv("PATH", "/nonexistent", 1);
  DaemonConfig c = Config(dir.path(), "10.20.30.40:8443");
  Status s = EnsureTls(&c);
  ::setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.tls_cert, (dir.path() / "tls/server.crt").string());
  EXPECT_TRUE(LoadTlsPair(c.tls_cert, c.tls_key).ok());
  EXPECT_TRUE(CheckSignedBy(c.tls_cert, (dir.path() / "tls/ca.crt").string()).ok());
  EXPECT_TRUE(Covers(dir.path(), {"10.20.30.40", "127.0.0.1", "::1", "localhost"}));
  EXPECT_FALSE(Covers(dir.path(), {"10.20.30.41"}));
  struct stat st {};
  ASSERT_EQ(::stat(c.tls_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(RestSanWarning(testing::ReadFile(c.tls_cert), "10.20.30.40"), "");

  DaemonConfig dns = Config(dir.path() / "dns", "[::1]:8443");
  ASSERT_TRUE(EnsureTls(&dns).ok());
  DaemonConfig named = Config(dir.path() / "named", "jb.example.test:8443");
  ASSERT_TRUE(EnsureTls(&named).ok());
  EXPECT_TRUE(Covers(dir.path() / "named", {"jb.example.test", "localhost"}));
}

TEST(RestTls, AChangedListenHostReissuesTheServerCertificateAndKeepsTheCa) {
  testing::TempDir dir;
  DaemonConfig first = Config(dir.path(), "127.0.0.1:8443");
  ASSERT_TRUE(EnsureTls(&first).ok());
  std::string ca = testing::ReadFile(dir.path() / "tls/ca.crt");
  std::string crt = testing::ReadFile(dir.path() / "tls/server.crt");
  DaemonConfig same = Config(dir.path(), "127.0.0.1:9443");
  ASSERT_TRUE(EnsureTls(&same).ok());
  EXPECT_EQ(testing::ReadFile(dir.path() / "tls/server.crt"), crt) << "a certificate that still covers is kept";
  DaemonConfig moved = Config(dir.path(), "192.0.2.7:8443");
  ASSERT_TRUE(EnsureTls(&moved).ok());
  EXPECT_NE(testing::ReadFile(dir.path() / "tls/server.crt"), crt);
  EXPECT_TRUE(Covers(dir.path(), {"192.0.2.7", "127.0.0.1"}));
  EXPECT_EQ(testing::ReadFile(dir.path() / "tls/ca.crt"), ca) << "clients that trust the CA keep working";
}

TEST(RestTls, ACertificateWithoutTheListenHostGetsAClearWarning) {
  testing::TempDir dir;
  DaemonConfig loopback = Config(dir.path(), "127.0.0.1:8443");
  ASSERT_TRUE(EnsureTls(&loopback).ok());
  std::string pem = testing::ReadFile(loopback.tls_cert);
  EXPECT_EQ(RestSanWarning(pem, "127.0.0.1"), "") << "loopback clients can use localhost";
  std::string w = RestSanWarning(pem, "192.0.2.7");
  EXPECT_NE(w.find("does not name the listen host 192.0.2.7"), std::string::npos) << w;
  EXPECT_NE(w.find("IP:127.0.0.1"), std::string::npos) << w;
  EXPECT_NE(w.find("DNS:localhost"), std::string::npos) << w;
  w = RestSanWarning(pem, "0.0.0.0");
  EXPECT_NE(w.find("does not name this machine's names and addresses"), std::string::npos) << w;
  EXPECT_NE(RestSanWarning("not a certificate", "192.0.2.7"), "");
  // The operator's own pair is served as given (never re-issued), with the warning logged.
  DaemonConfig own = Config(dir.path() / "own", "192.0.2.7:8443");
  own.tls_cert = loopback.tls_cert;
  own.tls_key = loopback.tls_key;
  ASSERT_TRUE(EnsureTls(&own).ok());
  EXPECT_EQ(own.tls_cert, loopback.tls_cert);
  EXPECT_EQ(testing::ReadFile(loopback.tls_cert), pem);
}

}  // namespace
}  // namespace jb
