// The driver registry and api's settings schemas name the same drivers, and the registry creates
// the enabled ones behind a dispatcher (the agent driver only with a listener).
#include "drivers/registry.h"

#include <gtest/gtest.h>

#include "api/driver_settings.h"
#include "drivers/ssh/ssh_driver.h"
#include "tests/test_util.h"

namespace jb {
namespace {

TEST(DriverRegistryTest, NamesTheDriversWhoseSettingsApiValidates) {
  EXPECT_EQ(RegisteredDriverTypes(), DriverTypeNames());
  for (const auto& type : RegisteredDriverTypes()) EXPECT_NE(FindDriverSettings(type), nullptr) << type;
}

TEST(DriverRegistryTest, CreatesEveryDriverButTheAgentWithoutAListener) {
  testing::TempDir dir;
  DriverEnvironment env;
  env.state_dir = dir.path().string();
  env.worker_binary = JB_WORKER;
  std::vector<std::string> log;
  auto d = CreateDrivers(env, &log);
  ASSERT_TRUE(d.ok()) << d.status().message();
  for (const char* type : {"local", "ssh", "cloud"}) EXPECT_TRUE((*d)->Serves(type)) << type;
  EXPECT_FALSE((*d)->Serves("agent"));
  EXPECT_TRUE(log.empty());
}

TEST(DriverSettingsTest, SshSettingsDecodeFromTheirStrings) {
  auto s = DecodeDriverSettings<SshSettings>({{"sshPort", "2222"}, {"connectTimeoutSeconds", "1.5"}, {"user", "jb"}});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->login.ssh_port, 2222);
  EXPECT_DOUBLE_EQ(s->login.connect_timeout_s, 1.5);
  EXPECT_EQ(s->login.user, "jb");
  EXPECT_EQ(s->login.remote_dir, ".jellybean");
  EXPECT_EQ(s->ports.port_base, kDefaultPortBase);
}

// Regression: "sshPort: \"0\"" and "\"x\"" became port 0 (atoi) at deploy time.
TEST(DriverSettingsTest, ABadSshPortIsRefusedNotTurnedIntoPortZero) {
  for (const char* bad : {"0", "x", "22x", "70000", "2.5", ""}) {
    auto s = DecodeDriverSettings<SshSettings>({{"sshPort", bad}});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("driver.settings.sshPort"), std::string::npos) << s.status().message();
  }
  EXPECT_EQ(TargetOf(SshSettings{}.login, "ops@edge-1").port, 22);
}

TEST(DriverSettingsTest, CloudSettingsGatherEnvAndRefuseAnEmptyHook) {
  auto s = DecodeDriverSettings<CloudSettings>(
      {{"create", "c"}, {"list", "l"}, {"delete", "d"}, {"env.REGION", "eu"}, {"sshPort", "2200"}});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->env, (std::map<std::string, std::string>{{"REGION", "eu"}}));
  EXPECT_EQ(s->login.ssh_port, 2200);
  auto empty = DecodeDriverSettings<CloudSettings>({{"create", "c"}, {"list", "l"}, {"delete", ""}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("driver.settings.delete: must not be empty"), std::string::npos)
      << empty.status().message();
}

TEST(DriverSettingsTest, UnknownSettingsAreRefused) {
  auto s = DecodeDriverSettings<AgentSettings>({{"sshPort", "22"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("driver.settings.sshPort: unknown field; expected one of: portBase"),
            std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace jb
