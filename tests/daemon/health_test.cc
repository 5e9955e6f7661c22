// daemon/health.h: when the watchdog may be fed, and the loopback probe of /healthz.
#include "daemon/health.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/test_util.h"
#include "tests/tls_test_util.h"

namespace jb {
namespace {

HealthSample Healthy() {
  HealthSample s;
  s.probe_ok = true;
  s.fds_known = true;
  s.open_fds = 100;
  s.fd_limit = 1024;
  return s;
}

TEST(JudgeHealth, HealthyOnlyWhenTheProbeAnswersAndDescriptorsAreLeft) {
  EXPECT_TRUE(JudgeHealth(Healthy()).healthy);
  EXPECT_EQ(JudgeHealth(Healthy()).reason, "");
  HealthSample s = Healthy();
  s.probe_ok = false;
  s.probe_error = "connect: timed out";
  EXPECT_FALSE(JudgeHealth(s).healthy);
  EXPECT_EQ(JudgeHealth(s).reason, "GET /healthz on its own listener failed: connect: timed out");
  s = Healthy();
  s.open_fds = 1024 - DescriptorReserve(1024);  // exactly the reserve left: still healthy
  EXPECT_TRUE(JudgeHealth(s).healthy);
  s.open_fds += 1;
  EXPECT_FALSE(JudgeHealth(s).healthy);
  EXPECT_EQ(JudgeHealth(s).reason, "1005 of 1024 descriptors in use");
  s = Healthy();
  s.fds_known = false;
  EXPECT_FALSE(JudgeHealth(s).healthy);
  s = Healthy();
  s.fd_limit = 0;  // unlimited
  s.open_fds = 1u << 20;
  EXPECT_TRUE(JudgeHealth(s).healthy);
  EXPECT_EQ(DescriptorReserve(1024), 20u);
  EXPECT_EQ(DescriptorReserve(100), 16u);
  EXPECT_EQ(DescriptorReserve(65536), 1310u);
}

TEST(ProbeHost, TurnsWildcardListenAddressesIntoLoopback) {
  EXPECT_EQ(ProbeHost("0.0.0.0"), "127.0.0.1");
  EXPECT_EQ(ProbeHost(""), "127.0.0.1");
  EXPECT_EQ(ProbeHost("::"), "::1");
  EXPECT_EQ(ProbeHost("[::]"), "::1");
  EXPECT_EQ(ProbeHost("[::1]"), "::1");
  EXPECT_EQ(ProbeHost("10.0.0.5"), "10.0.0.5");
}

TEST(ProbeHealthz, AnswersOkFromATlsServerAndFailsOnOneThatSaysNothing) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::MakeCert(dir.path(), "ca"));
  ASSERT_TRUE(testing::MakeCert(dir.path(), "s", "ca"));
  testing::TinyTlsServer server((dir.path() / "s.crt").string(), (dir.path() / "s.key").string());
  EXPECT_TRUE(ProbeHealthz("127.0.0.1", server.port(), true, 3).ok());
  testing::TinyTlsServer silent("", "", /*silent=*/true);
  auto t0 = std::chrono::steady_clock::now();
  Status s = ProbeHealthz("127.0.0.1", silent.port(), true, 0.5);
  EXPECT_FALSE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3)) << "the deadline holds";
  EXPECT_NE(s.message().find("no answer within"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace jb
