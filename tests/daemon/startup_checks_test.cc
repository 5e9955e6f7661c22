// daemon/startup_checks.h: loopback by resolution, TLS pairs that can or cannot serve; and the
// configuration checks in FinishConfig that use them.
#include "daemon/startup_checks.h"

#include <gtest/gtest.h>

#include <fstream>

#include "daemon/daemon.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"

namespace jb {
namespace {

TEST(CheckLoopbackHost, JudgesWhatANameResolvesToNotHowItIsSpelled) {
  for (const char* ok : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"})
    EXPECT_TRUE(CheckLoopbackHost(ok).ok()) << ok;
  for (const char* bad : {"127.evil.example", "localhost.attacker", "0.0.0.0", "::", "10.1.2.3", ""}) {
    Status s = CheckLoopbackHost(bad);
    EXPECT_FALSE(s.ok()) << bad;
  }
  EXPECT_NE(CheckLoopbackHost("10.1.2.3").message().find("resolves to 10.1.2.3, which is not a loopback address"),
            std::string::npos);
}

TEST(FinishConfig, PlainHttpIsAllowedOnLoopbackNamesAndAddressesOnly) {
  testing::TempDir dir;
  for (const char* listen : {"localhost:0", "127.0.0.1:0", "::1:0"}) {
    DaemonConfig c;
    c.state_dir = dir.path().string();
    c.insecure_plain_http = true;
    c.listen = listen;
    EXPECT_TRUE(FinishConfig(&c).ok()) << listen;
  }
  for (const char* listen : {"127.evil.example:0", "localhost.attacker:0"}) {
    DaemonConfig c;
    c.state_dir = dir.path().string();
    c.insecure_plain_http = true;
    c.listen = listen;
    Status s = FinishConfig(&c);
    EXPECT_FALSE(s.ok()) << listen;
    EXPECT_NE(s.message().find("only allowed on a loopback address"), std::string::npos) << s.message();
  }
}

TEST(LoadTlsPair, NamesTheFileAndTheProblem) {
  testing::TempDir dir;
  auto p = [&](const char* f) { return (dir.path() / f).string(); };
  ASSERT_TRUE(testing::MakeCert(dir.path(), "ca"));
  ASSERT_TRUE(testing::MakeCert(dir.path(), "a", "ca"));
  ASSERT_TRUE(testing::MakeCert(dir.path(), "b", "ca"));
  ASSERT_TRUE(testing::MakeCert(dir.path(), "old", "ca", "IP:127.0.0.1", -1));
  auto good = LoadTlsPair(p("a.crt"), p("a.key"));
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_FALSE(good->expired);
  EXPECT_FALSE(good->not_yet_valid);
  EXPECT_EQ(LoadTlsPair(p("nope.crt"), p("a.key")).status().message(),
            "TLS certificate " + p("nope.crt") + ": no such file");
  std::ofstream(p("zero.crt")).flush();
  EXPECT_EQ(LoadTlsPair(p("zero.crt"), p("a.key")).status().message(),
            "TLS certificate " + p("zero.crt") + ": empty file (0 bytes)");
  EXPECT_EQ(LoadTlsPair(p("a.key"), p("a.key")).status().message(),
            "TLS certificate " + p("a.key") + ": not a PEM certificate");
  EXPECT_EQ(LoadTlsPair(p("a.crt"), p("a.crt")).status().message(),
            "TLS key " + p("a.crt") + ": not a PEM private key (or it is encrypted)");
  EXPECT_EQ(LoadTlsPair(p("a.crt"), p("b.key")).status().message(),
            "TLS key " + p("b.key") + " does not match the certificate " + p("a.crt"));
  auto old = LoadTlsPair(p("old.crt"), p("old.key"));
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->expired);
  EXPECT_TRUE(CheckSignedBy(p("a.crt"), p("ca.crt")).ok());
  ASSERT_TRUE(testing::MakeCert(dir.path(), "other"));
  EXPECT_FALSE(CheckSignedBy(p("a.crt"), p("other.crt")).ok());
}

TEST(EnsureTls, RepairsItsOwnFilesAndKeepsAGoodCa) {
  testing::TempDir dir;
  DaemonConfig c;
  c.state_dir = dir.path().string();
  ASSERT_TRUE(EnsureTls(&c).ok());
  std::string ca = testing::ReadFile(dir.path() / "tls/ca.crt");
  ASSERT_FALSE(ca.empty());
  // A full disk at the first start left a zero-byte server certificate.
  std::ofstream(dir.path() / "tls/server.crt", std::ios::trunc).flush();
  DaemonConfig again;
  again.state_dir = dir.path().string();
  ASSERT_TRUE(EnsureTls(&again).ok());
  EXPECT_TRUE(LoadTlsPair(again.tls_cert, again.tls_key).ok());
  EXPECT_EQ(testing::ReadFile(dir.path() / "tls/ca.crt"), ca) << "a good CA is kept (clients trust it)";
  EXPECT_TRUE(CheckSignedBy(again.tls_cert, (dir.path() / "tls/ca.crt").string()).ok());
}

}  // namespace
}  // namespace jb
