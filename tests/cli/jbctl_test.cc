// jbctl's command-line contract: exit codes, stdout/stderr split, output formats.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "api/value.h"
#include "daemon/http.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"

namespace jb {
namespace {

TEST(Jbctl, ValidateExitCodes) {
  EXPECT_EQ(testing::Run(testing::Jbctl() + " validate -f manifests/ >/dev/null").exit_code, 0);
  EXPECT_EQ(
      testing::Run(testing::Jbctl() + " validate -f tests/golden/validate/04-zero-rate.yaml >/dev/null").exit_code, 1);
  auto missing = testing::Run(testing::Jbctl() + " validate -f /nonexistent 2>&1 >/dev/null");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no such file"), std::string::npos) << "errors go to stderr";
  EXPECT_EQ(testing::Run(testing::Jbctl() + " frobnicate 2>/dev/null").exit_code, 1);
}

TEST(Jbctl, PlanTableShowsCostSplitAccuracySolverAndBaselines) {
  auto r = testing::Run(testing::Jbctl() +
                        " plan -f manifests/vqa/ --baseline prototype --baseline cloud-only --baseline most-accurate");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* want : {"OPERATOR", "VARIANT", "NODE", "TIER", "UTILISATION", "compute", "network",
                           "accuracy:", "proven optimal", "prototype", "cloud-only", "most-accurate", "cheaper"})
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
  EXPECT_EQ(r.output.find("WARNING"), std::string::npos) << r.output;
}

TEST(Jbctl, PlanJsonIsMachineReadable) {
  auto r =
      testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ -o json --exclusive --percentile p90 --headroom 0.9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto docs = ParseYamlStream(r.output);
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_TRUE(docs[0].error.ok());
  const Value* plan = docs[0].root.Find("plan");
  ASSERT_NE(plan, nullptr);
  EXPECT_GT(plan->Find("cost")->Find("totalPerHour")->as_number(), 0);
  EXPECT_TRUE(plan->Find("optimal")->as_bool());
  for (const auto& pl : plan->Find("placements")->items()) EXPECT_LE(pl.Find("utilisation")->as_number(), 0.9 + 1e-9);
}

TEST(Jbctl, PlanErrorsAreClear) {
  auto bad = testing::Run(testing::Jbctl() + " plan -f tests/golden/validate/04-zero-rate.yaml 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("04-zero-rate.yaml:59:11: spec.sources[0].rate"), std::string::npos) << bad.output;
  auto infeasible = testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ --min-accuracy 99 2>&1");
  EXPECT_EQ(infeasible.exit_code, 1);
  EXPECT_NE(infeasible.output.find("no variant combination reaches the accuracy floor 99.00"), std::string::npos)
      << infeasible.output;
  EXPECT_EQ(testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ --baseline nope 2>/dev/null").exit_code, 1);
}

// Was: every TLS failure was "Error in SSL handshake" and a missing CA "load_verify_file: asio.ssl
// error". Each now names its cause and what to do.
class JbctlTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::MakeCert(dir_.path(), "ca"));
    ASSERT_TRUE(testing::MakeCert(dir_.path(), "other-ca"));
    ASSERT_TRUE(testing::MakeCert(dir_.path(), "good", "ca", "IP:127.0.0.1,DNS:localhost"));
    ASSERT_TRUE(testing::MakeCert(dir_.path(), "expired", "ca", "IP:127.0.0.1", -1));
    ASSERT_TRUE(testing::MakeCert(dir_.path(), "elsewhere", "ca", "DNS:jb.example.org"));
  }
  // GET /healthz from a server presenting NAME.crt, trusting `ca` (a file under the temp dir).
  StatusOr<HttpResponse> Call(const std::string& name, const std::string& ca, double timeout_s = 5) {
    testing::TinyTlsServer server(File(name + ".crt"), File(name + ".key"));
    HttpClientOptions o;
    o.server = "https://127.0.0.1:" + std::to_string(server.port());
    o.ca_file = File(ca);
    o.timeout_s = timeout_s;
    return HttpCall(o, "GET", "/healthz");
  }
  std::string File(const std::string& f) { return (dir_.path() / f).string(); }
  testing::TempDir dir_;
};

TEST_F(JbctlTls, AGoodServerAnswers) {
  auto r = Call("good", "ca.crt");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
}

TEST_F(JbctlTls, AWrongCaIsAnUnknownAuthority) {
  auto r = Call("good", "other-ca.crt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate signed by an unknown authority (check --ca / the context's CA file"),
            std::string::npos)
      << r.status().message();
}

TEST_F(JbctlTls, AnExpiredCertificateSaysWhen) {
  auto r = Call("expired", "ca.crt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate expired on "), std::string::npos) << r.status().message();
}

TEST_F(JbctlTls, ACertificateForAnotherHostSaysWhichHosts) {
  auto r = Call("elsewhere", "ca.crt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate is for jb.example.org, not 127.0.0.1"), std::string::npos)
      << r.status().message();
}

TEST_F(JbctlTls, AServerThatNeverAnswersIsNamedWithTheTimeout) {
  testing::TinyTlsServer silent("", "", /*silent=*/true);
  HttpClientOptions o;
  o.server = "https://127.0.0.1:" + std::to_string(silent.port());
  o.ca_file = File("ca.crt");
  o.timeout_s = 1;
  auto t0 = std::chrono::steady_clock::now();
  auto r = HttpCall(o, "GET", "/healthz");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  EXPECT_NE(r.status().message().find("no answer from " + o.server + " within 1 s"), std::string::npos)
      << r.status().message();
}

TEST_F(JbctlTls, AMissingOrBadCaFileIsNamedBeforeConnecting) {
  auto r = Call("good", "no-such-ca.crt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CA file " + File("no-such-ca.crt") + ": no such file"), std::string::npos)
      << r.status().message();
  std::ofstream(File("empty-ca.crt")).flush();
  r = Call("good", "empty-ca.crt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CA file " + File("empty-ca.crt") + ": not a PEM certificate"), std::string::npos)
      << r.status().message();
  // The same through the jbctl binary.
  std::ofstream(File("token")) << "0123456789abcdef0123456789abcdef\n";
  auto out = testing::Run(testing::Jbctl() + " get workflows --server https://127.0.0.1:1 --token-file " +
                          File("token") + " --ca " + File("no-such-ca.crt") + " 2>&1");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.output.find("CA file " + File("no-such-ca.crt") + ": no such file"), std::string::npos) << out.output;
}

}  // namespace
}  // namespace jb
