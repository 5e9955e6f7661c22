// The daemon's settings table (daemon/config.h): one list parses the config file, the flags and
// prints --help. Errors name file:line:col and the key, or the flag.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "daemon/daemon.h"
#include "tests/test_util.h"

namespace jb {
namespace {

class DaemonConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::string path = (dir_.path() / "jellybeand.yaml").string();
    EXPECT_TRUE(WriteFileAtomic(path, text).ok());
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(DaemonConfigTest, TheFileSetsEveryKindOfSetting) {
  DaemonConfig c;
  ASSERT_TRUE(
      LoadConfigFile(
          Write("listen: 127.0.0.1:0\nworkers: 4\ninsecurePlainHttp: true\nnodeGraceSeconds: 2.5\ndriver: fake\n"), &c)
          .ok());
  EXPECT_EQ(c.listen, "127.0.0.1:0");
  EXPECT_EQ(c.workers, 4);
  EXPECT_TRUE(c.insecure_plain_http);
  EXPECT_DOUBLE_EQ(c.node_grace_s, 2.5);
  EXPECT_EQ(c.driver, "fake");
  EXPECT_EQ(c.log_level, "info") << "keys not in the file keep their defaults";
}

TEST_F(DaemonConfigTest, FileErrorsNameTheLineColumnAndKey) {
  DaemonConfig c;
  std::string path = Write("listen: 127.0.0.1:0\nworkers: 0\nnodeGrace: 3\ncloudReconcileSeconds: \"x\"\n");
  Status s = LoadConfigFile(path, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path + ":2:10: workers: 0 is out of range; expected a number >= 1 and <= 1024"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(path + ":3:1: nodeGrace: unknown key; expected one of: listen, stateDir"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(path + ":4:24: cloudReconcileSeconds: wrong type"), std::string::npos) << s.message();
  EXPECT_EQ(c.workers, 2) << "a file with errors changes nothing";
}

TEST_F(DaemonConfigTest, FlagsOverrideAndTheirErrorsNameTheFlag) {
  DaemonConfig c;
  std::string config;
  bool help = false;
  ASSERT_TRUE(ParseFlags({"--config", "f.yaml", "--workers", "3", "--stop-workers-on-exit", "--node-grace", "1.5",
                          "--log-level", "debug"},
                         &c, &config, &help)
                  .ok());
  EXPECT_EQ(config, "f.yaml");
  EXPECT_EQ(c.workers, 3);
  EXPECT_TRUE(c.stop_workers_on_exit);
  EXPECT_DOUBLE_EQ(c.node_grace_s, 1.5);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_FALSE(help);
  struct Bad {
    std::vector<std::string> args;
    std::string message;
  };
  for (const auto& b :
       std::vector<Bad>{{{"--workers", "x"}, "--workers: expected an integer >= 1 and <= 1024, got \"x\""},
                        {{"--cloud-reconcile", "0"}, "--cloud-reconcile: expected a number > 0, got \"0\""},
                        {{"--node-grace", "-1"}, "--node-grace: expected a number >= 0, got \"-1\""},
                        {{"--driver", "k8s"}, "--driver: \"k8s\" is not allowed; expected one of local, fake"},
                        {{"--listen"}, "--listen needs a value (ADDR:PORT)"},
                        {{"--no-such-flag"}, "unknown flag \"--no-such-flag\""}}) {
    DaemonConfig d;
    Status s = ParseFlags(b.args, &d, &config, &help);
    EXPECT_EQ(s.message(), b.message);
  }
}

// Edge autonomy (#22): the control-link tracker's data grace and autonomy limit, defaults as the
// reconciler's, ranges checked with the key's name.
TEST_F(DaemonConfigTest, ControlLinkSettings) {
  DaemonConfig c;
  EXPECT_DOUBLE_EQ(c.control_data_grace_s, 4);
  EXPECT_DOUBLE_EQ(c.max_autonomy_s, 300);
  ASSERT_TRUE(LoadConfigFile(Write("controlDataGraceSeconds: 2.5\nmaxAutonomySeconds: 60\n"), &c).ok());
  EXPECT_DOUBLE_EQ(c.control_data_grace_s, 2.5);
  EXPECT_DOUBLE_EQ(c.max_autonomy_s, 60);
  const std::string path = Write("controlDataGraceSeconds: 0\nmaxAutonomySeconds: -3\n");
  Status s = LoadConfigFile(path, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path + ":1:26: controlDataGraceSeconds: 0 is out of range; expected a number >= 0.5"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(path + ":2:21: maxAutonomySeconds: -3 is out of range"), std::string::npos) << s.message();
  std::string config;
  bool help = false;
  DaemonConfig d;
  ASSERT_TRUE(ParseFlags({"--control-data-grace", "3", "--max-autonomy", "120"}, &d, &config, &help).ok());
  EXPECT_DOUBLE_EQ(d.control_data_grace_s, 3);
  EXPECT_DOUBLE_EQ(d.max_autonomy_s, 120);
  EXPECT_EQ(ParseFlags({"--max-autonomy", "0"}, &d, &config, &help).message(),
            "--max-autonomy: expected a number >= 1 and <= 86400, got \"0\"");
  EXPECT_NE(DaemonUsage().find("  --control-data-grace S"), std::string::npos);
  EXPECT_NE(DaemonUsage().find("[maxAutonomySeconds]"), std::string::npos);
}

// The agent heartbeat grace and poll hold (#22: separate and configurable) and the cloud owner
// label (HA replicas on different hosts share one, so a new leader adopts the VMs).
TEST_F(DaemonConfigTest, AgentHeartbeatPollHoldAndCloudOwner) {
  DaemonConfig c;
  EXPECT_DOUBLE_EQ(c.agent_heartbeat_grace_s, 3);
  EXPECT_DOUBLE_EQ(c.agent_poll_hold_s, 1);
  EXPECT_EQ(c.cloud_owner, "");
  ASSERT_TRUE(
      LoadConfigFile(Write("agentHeartbeatGraceSeconds: 1.5\nagentPollHoldSeconds: 0.5\ncloudOwner: fleet-a\n"), &c)
          .ok());
  EXPECT_DOUBLE_EQ(c.agent_heartbeat_grace_s, 1.5);
  EXPECT_DOUBLE_EQ(c.agent_poll_hold_s, 0.5);
  EXPECT_EQ(c.cloud_owner, "fleet-a");
  c.state_dir = "/tmp/jb-config-test";
  EXPECT_TRUE(FinishConfig(&c).ok());
  std::string config;
  bool help = false;
  DaemonConfig d;
  ASSERT_TRUE(
      ParseFlags({"--agent-heartbeat-grace", "2", "--agent-poll-hold", "2", "--cloud-owner", "x"}, &d, &config, &help)
          .ok());
  d.state_dir = "/tmp/jb-config-test";
  Status s = FinishConfig(&d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("agentHeartbeatGraceSeconds (--agent-heartbeat-grace) 2.00 must be above "
                             "agentPollHoldSeconds (--agent-poll-hold) 2.00"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(ParseFlags({"--agent-poll-hold", "0"}, &d, &config, &help).message(),
            "--agent-poll-hold: expected a number >= 0.05 and <= 60, got \"0\"");
}

TEST_F(DaemonConfigTest, HelpListsEveryFlagWithItsFileKey) {
  std::string u = DaemonUsage();
  for (const char* line : {"  --listen ADDR:PORT", "  --insecure-plain-http", "  --node-grace S", "[nodeGraceSeconds]",
                           "[stateDir]", "  --plan-time-limit S"})
    EXPECT_NE(u.find(line), std::string::npos) << line << "\n" << u;
}

}  // namespace
}  // namespace jb
