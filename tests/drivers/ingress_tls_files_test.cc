// drivers/local/ingress_tls.h and the Ca's server certificates (drivers/agent/pki.h): the files an
// io worker's TLS ingress gets, their modes, what they certify, and when they are issued again.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/file.h"
#include "drivers/local/ingress_tls.h"
#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

int ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

struct Fixture {
  testing::TempDir dir;
  std::string state = dir.path().string();
  std::string wdir = state + "/workers/wf";
  std::unique_ptr<Ca> ca = std::move(*Ca::LoadOrCreate(IngressCaDir(state)));
  StatusOr<IngressFiles> Ensure(const std::string& host = "127.0.0.1") {
    return EnsureIngressFiles(*ca, state, "wf", wdir, "io-edge", host);
  }
};

TEST(IngressFiles, AreIssuedFromTheDaemonsCaWithPrivateKeyAndTokenFiles) {
  Fixture f;
  auto files = f.Ensure();
  ASSERT_TRUE(files.ok()) << files.status().message();
  EXPECT_TRUE(files->changed);
  EXPECT_EQ(files->cert_file, f.wdir + "/io-edge.ingress.crt");
  EXPECT_EQ(ModeOf(files->key_file), 0600);
  EXPECT_EQ(ModeOf(files->token_file), 0600);
  EXPECT_EQ(ModeOf(IngressTokenPath(f.state, "wf")), 0600);
  EXPECT_EQ(IngressTokenPath(f.state, "wf"), f.state + "/ingress/wf.token");
  std::string token = ReadFileOrEmpty(IngressTokenPath(f.state, "wf"));
  EXPECT_EQ(token.size(), 65u) << "32 random bytes as hex and a newline";
  EXPECT_EQ(ReadFileOrEmpty(files->token_file), token) << "the worker's copy is the workflow's token";
  std::string cert = ReadFileOrEmpty(files->cert_file);
  EXPECT_TRUE(f.ca->Covers(cert, {"127.0.0.1", "::1", "localhost"}, 60 * 86400));
  EXPECT_FALSE(f.ca->Covers(cert, {"10.1.2.3"}, 0)) << "an address it does not name";
  EXPECT_FALSE(f.ca->Covers(cert, {"127.0.0.1"}, 91 * 86400)) << "it is valid for 90 days";
  // A second CA does not vouch for it.
  testing::TempDir other;
  auto ca2 = Ca::LoadOrCreate(other.path().string());
  ASSERT_TRUE(ca2.ok());
  EXPECT_FALSE((*ca2)->Covers(cert, {"127.0.0.1"}, 0));
}

TEST(IngressFiles, AreKeptWhileCurrentAndMadeAgainWhenMissingOrForAnotherHost) {
  Fixture f;
  auto first = f.Ensure();
  ASSERT_TRUE(first.ok()) << first.status().message();
  std::string cert = ReadFileOrEmpty(first->cert_file), token = ReadFileOrEmpty(first->token_file);
  auto again = f.Ensure();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(ReadFileOrEmpty(again->cert_file), cert);

  fs::remove(IngressTokenPath(f.state, "wf"));  // a lost token: a new one, copied to the worker
  auto new_token = f.Ensure();
  ASSERT_TRUE(new_token.ok());
  EXPECT_TRUE(new_token->changed);
  EXPECT_NE(ReadFileOrEmpty(new_token->token_file), token);
  EXPECT_EQ(ReadFileOrEmpty(new_token->token_file), ReadFileOrEmpty(IngressTokenPath(f.state, "wf")));
  EXPECT_EQ(ReadFileOrEmpty(new_token->cert_file), cert) << "the certificate is still good";

  auto moved = f.Ensure("10.1.2.3");  // the endpoint listens elsewhere: a certificate naming it
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(moved->changed);
  EXPECT_TRUE(f.ca->Covers(ReadFileOrEmpty(moved->cert_file), {"10.1.2.3", "127.0.0.1", "localhost"}, 0));

  fs::remove(moved->key_file);  // a lost key: the pair is issued again
  auto rekeyed = f.Ensure("10.1.2.3");
  ASSERT_TRUE(rekeyed.ok());
  EXPECT_TRUE(rekeyed->changed);
  EXPECT_EQ(ModeOf(rekeyed->key_file), 0600);
}

TEST(IngressFiles, AnExpiredOrForeignCertificateIsIssuedAgain) {
  Fixture f;
  auto first = f.Ensure();
  ASSERT_TRUE(first.ok());
  // A certificate from another CA (an old daemon's) stands in for one the CA no longer vouches for.
  testing::TempDir other;
  auto ca2 = Ca::LoadOrCreate(other.path().string());
  ASSERT_TRUE(ca2.ok());
  auto foreign = (*ca2)->IssueServer({"127.0.0.1"}, 1);
  ASSERT_TRUE(foreign.ok());
  ASSERT_TRUE(WriteFileAtomic(first->cert_file, foreign->cert_pem).ok());
  auto again = f.Ensure();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->changed);
  EXPECT_TRUE(f.ca->Covers(ReadFileOrEmpty(again->cert_file), {"127.0.0.1"}, 60 * 86400));
  // One that expires within the renewal margin (30 days) is renewed too.
  auto near = f.ca->IssueServer({"127.0.0.1", "::1", "localhost"}, kIngressRenewBeforeDays - 1);
  ASSERT_TRUE(near.ok());
  ASSERT_TRUE(WriteFileAtomic(again->cert_file, near->cert_pem).ok());
  auto renewed = f.Ensure();
  ASSERT_TRUE(renewed.ok());
  EXPECT_TRUE(renewed->changed);
  EXPECT_TRUE(f.ca->Covers(ReadFileOrEmpty(renewed->cert_file), {"127.0.0.1"}, 60 * 86400));
}

TEST(IngressFiles, AWorkflowTokenOthersCanReadIsRefusedNotReplaced) {
  Fixture f;
  ASSERT_TRUE(f.Ensure().ok());
  std::string path = IngressTokenPath(f.state, "wf");
  std::string token = ReadFileOrEmpty(path);
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto s = f.Ensure();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("chmod 600"), std::string::npos) << s.status().message();
  EXPECT_EQ(s.status().message().find(token.substr(0, 64)), std::string::npos) << "never the token itself";
  EXPECT_EQ(ReadFileOrEmpty(path), token);
}

}  // namespace
}  // namespace jb
