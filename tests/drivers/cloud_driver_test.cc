// CloudDriver without the lab (no root, no sshd): the VM life cycle through the lab's record-only
// provider scripts. A pool's VM is created on the first Host call and kept while it boots; a VM
// that vanished from the provider is replaced; Remove deletes the workflow's VMs and never others.
#include "drivers/cloud/cloud_driver.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

std::string Hook(const std::string& name) { return std::string(JB_SOURCE_DIR) + "/tests/lab/cloud-hooks/" + name; }

InfrastructureSpec Infra(const fs::path& cloud) {
  InfrastructureSpec s;
  s.tiers = {Tier{"cloud", DriverSpec{"cloud",
                                      {{"create", Hook("create")},
                                       {"list", Hook("list")},
                                       {"delete", Hook("delete")},
                                       {"env.JB_LAB_CLOUD_DIR", cloud.string()},
                                       {"sshPort", "1"},
                                       {"connectTimeoutSeconds", "1"}}}}};
  s.nodes = {Node{"gpu", "cloud", 1, "a10", 4, std::nullopt, std::nullopt}};
  return s;
}

std::vector<std::string> Records(const fs::path& cloud) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(cloud, ec))
    if (f.path().extension() == ".json") out.push_back(f.path().stem().string());
  return out;
}

TEST(CloudDriver, CreatesAPoolsVmOnceKeepsItWhileBootingReplacesAVanishedOneAndDeletesOnRemove) {
  testing::TempDir dir;
  fs::path cloud = dir.path() / "cloud";
  CloudDriverOptions o;
  o.state_dir = (dir.path() / "state").string();
  o.worker_binary = "/bin/true";
  o.owner = "test-daemon";
  o.reconcile_every = std::chrono::milliseconds(100);
  o.boot_wait = std::chrono::seconds(0);
  CloudDriver d(o);
  d.UseInfrastructure("wf", Infra(cloud));
  // A foreign VM in the same account is never touched.
  CloudHooks raw(*CloudHookConfigFromSettings({{"create", Hook("create")},
                                               {"list", Hook("list")},
                                               {"delete", Hook("delete")},
                                               {"env.JB_LAB_CLOUD_DIR", cloud.string()}}));
  auto foreign =
      raw.Create("someone-else", "x", {{kOwnerLabel, "another-daemon"}, {kWorkflowLabel, "wf"}, {kPoolLabel, "gpu"}});
  ASSERT_TRUE(foreign.ok());

  // The lab records have no sshd behind them: Host creates the VM and reports it not answering.
  auto h = d.Host("wf", "gpu");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(h.status().message().find("does not answer ssh yet"), std::string::npos) << h.status().message();
  ASSERT_EQ(Records(cloud).size(), 2u);
  // Asking again uses the same VM; the periodic leak check keeps it while it boots.
  (void)d.Host("wf", "gpu");
  ASSERT_TRUE(d.ReconcileVms().ok());
  auto vms = Records(cloud);
  ASSERT_EQ(vms.size(), 2u);
  // The VM vanishes at the provider: the leak check forgets it and the next Host makes a new one.
  std::string ours;
  for (const auto& v : vms)
    if (v != foreign->id) ours = v;
  fs::remove(cloud / (ours + ".json"));
  ASSERT_TRUE(d.ReconcileVms().ok());
  (void)d.Host("wf", "gpu");
  auto after = Records(cloud);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(std::count(after.begin(), after.end(), ours), 0);
  // Remove deletes the workflow's VM; the foreign one stays.
  ASSERT_TRUE(d.Remove("wf").ok());
  EXPECT_EQ(Records(cloud), std::vector<std::string>{foreign->id});
  EXPECT_TRUE(d.Workflows().empty());
}

// Issue 20: a new leader's cloud driver (its own, empty state dir; the replicas' shared owner
// label) finds the VM a former leader made for the pool through `list`: no second VM, and its leak
// check deletes nothing while the pool's worker is being brought up on it.
TEST(CloudDriver, ANewLeadersDriverAdoptsTheFormerLeadersVmInsteadOfCreatingAnother) {
  testing::TempDir dir;
  fs::path cloud = dir.path() / "cloud";
  auto options = [&](const std::string& state) {
    CloudDriverOptions o;
    o.state_dir = (dir.path() / state).string();
    o.worker_binary = "/bin/true";
    o.owner = "replicas";
    o.reconcile_every = std::chrono::milliseconds(100);
    o.boot_wait = std::chrono::seconds(0);
    return o;
  };
  CloudDriver a(options("state-a"));
  a.UseInfrastructure("wf", Infra(cloud));
  (void)a.Host("wf", "gpu");  // creates the VM (it has no sshd behind it: Host stays Unavailable)
  const auto made = Records(cloud);
  ASSERT_EQ(made.size(), 1u);

  CloudDriver b(options("state-b"));
  b.UseInfrastructure("wf", Infra(cloud));
  auto h = b.Host("wf", "gpu");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("does not answer ssh yet"), std::string::npos) << h.status().message();
  EXPECT_EQ(Records(cloud), made);
  ASSERT_TRUE(b.ReconcileVms().ok());
  EXPECT_EQ(Records(cloud), made);
  // The new leader owns it now: removing the workflow deletes it, nothing else is left.
  ASSERT_TRUE(b.Remove("wf").ok());
  EXPECT_TRUE(Records(cloud).empty());
}

TEST(CloudDriver, NamesABadHookSettingAndAnUnknownPool) {
  testing::TempDir dir;
  CloudDriverOptions o;
  o.state_dir = (dir.path() / "state").string();
  o.worker_binary = "/bin/true";
  CloudDriver d(o);
  InfrastructureSpec s = Infra(dir.path() / "cloud");
  s.tiers[0].driver.settings.erase("delete");
  d.UseInfrastructure("wf", s);
  auto h = d.Host("wf", "gpu");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("driver.settings.delete"), std::string::npos) << h.status().message();
  EXPECT_NE(d.Host("wf", "nope").status().message().find("not a pool of a cloud tier"), std::string::npos);
}

}  // namespace
}  // namespace jb
