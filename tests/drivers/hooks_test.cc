// Cloud provider hooks (drivers/cloud/hooks.h) against the lab's hook scripts
// (tests/lab/cloud-hooks: VMs as JSON records in a directory), and the leak-proof VM planning.
#include "drivers/cloud/hooks.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

std::string Hook(const std::string& name) { return std::string(JB_SOURCE_DIR) + "/tests/lab/cloud-hooks/" + name; }

CloudHookConfig LabHooks(const fs::path& dir) {
  auto c = CloudHookConfigFromSettings({{"create", Hook("create")},
                                        {"list", Hook("list")},
                                        {"delete", Hook("delete")},
                                        {"timeoutSeconds", "10"},
                                        {"env.JB_LAB_CLOUD_DIR", dir.string()}});
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : CloudHookConfig{};
}

std::map<std::string, std::string> Labels(const std::string& pool) {
  return {{kOwnerLabel, "daemon-a"}, {kWorkflowLabel, "vqa"}, {kPoolLabel, pool}};
}

TEST(CloudHooks, CreateListDeleteThroughTheProviderScripts) {
  testing::TempDir dir;
  CloudHooks hooks(LabHooks(dir.path() / "cloud"));
  auto a = hooks.Create("vqa-gpu-1", "gpu", Labels("gpu"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->name, "vqa-gpu-1");
  EXPECT_EQ(a->state, "running");
  EXPECT_EQ(a->labels.at(kPoolLabel), "gpu");
  auto b = hooks.Create("vqa-gpu-2", "gpu", Labels("gpu"));
  ASSERT_TRUE(b.ok());
  auto listed = hooks.List();
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_EQ(listed->size(), 2u);
  ASSERT_TRUE(hooks.Delete(a->id).ok());
  listed = hooks.List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, b->id);
  // Deleting what is not there: the hook's exit status and stderr come back.
  auto gone = hooks.Delete(a->id);
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.message().find("exited with status 3"), std::string::npos) << gone.message();
  EXPECT_NE(gone.message().find("no VM " + a->id), std::string::npos) << gone.message();
}

TEST(CloudHooks, BadOutputTimeoutsAndMissingSettingsAreClearErrors) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "bad") << "#!/bin/sh\necho 'this is not json: ['\n";
  std::ofstream(dir.path() / "hang") << "#!/bin/sh\nsleep 30\n";
  fs::permissions(dir.path() / "bad", fs::perms::owner_all);
  fs::permissions(dir.path() / "hang", fs::perms::owner_all);
  CloudHookConfig c = LabHooks(dir.path() / "cloud");
  c.list = {(dir.path() / "bad").string()};
  c.create = {(dir.path() / "hang").string()};
  c.timeout_s = 0.5;
  CloudHooks hooks(c);
  auto l = hooks.List();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("printed no valid JSON"), std::string::npos) << l.status().message();
  auto t0 = std::chrono::steady_clock::now();
  auto cr = hooks.Create("x", "p", {});
  ASSERT_FALSE(cr.ok());
  EXPECT_EQ(cr.status().code(), Status::Code::kDeadlineExceeded) << cr.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // killed, not waited for
  auto missing = CloudHookConfigFromSettings({{"create", "x"}, {"list", "y"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("driver.settings.delete"), std::string::npos);
  auto unknown = CloudHookConfigFromSettings({{"create", "x"}, {"list", "y"}, {"delete", "z"}, {"region", "eu"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("driver.settings.region: unknown setting"), std::string::npos);
}

TEST(CloudHooks, PlanningFindsOrphansAndNeverTouchesForeignVms) {
  // "gpu" wants 1, "cpu" wants 2. The account holds: two of our gpu VMs (one created before a
  // crash and never recorded), a VM of another daemon, one of another workflow, and an unlabelled one.
  std::vector<Vm> listed = {
      {"i-1", "vqa-gpu-1", "", "running", Labels("gpu")},
      {"i-2", "vqa-gpu-2", "", "running", Labels("gpu")},
      {"i-3", "x", "", "running", {{kOwnerLabel, "daemon-b"}, {kWorkflowLabel, "vqa"}, {kPoolLabel, "gpu"}}},
      {"i-4", "y", "", "running", {{kOwnerLabel, "daemon-a"}, {kWorkflowLabel, "other"}, {kPoolLabel, "gpu"}}},
      {"i-5", "z", "", "running", {}},
  };
  auto ch = PlanVms("daemon-a", "vqa", {{"gpu", 1}, {"cpu", 2}}, listed);
  ASSERT_EQ(ch.keep.size(), 1u);
  EXPECT_EQ(ch.keep[0].id, "i-1");
  ASSERT_EQ(ch.remove.size(), 1u);
  EXPECT_EQ(ch.remove[0].id, "i-2");  // the orphan
  ASSERT_EQ(ch.create.size(), 2u);
  EXPECT_EQ(ch.create[0], (std::pair<std::string, std::string>{"cpu", "vqa-cpu-1"}));
  EXPECT_EQ(ch.create[1], (std::pair<std::string, std::string>{"cpu", "vqa-cpu-2"}));
  // Nothing wanted any more: every one of ours goes, no one else's.
  auto none = PlanVms("daemon-a", "vqa", {}, listed);
  EXPECT_EQ(none.remove.size(), 2u);
  EXPECT_TRUE(none.create.empty());
}

TEST(CloudHooks, AReconcileLoopAgainstTheLabProviderLeaksNothing) {
  // Plan, apply the changes through the hooks, list again: converges to what is wanted, and back
  // to nothing when the workflow goes.
  testing::TempDir dir;
  CloudHooks hooks(LabHooks(dir.path() / "cloud"));
  auto converge = [&](const std::map<std::string, int64_t>& want) {
    for (int round = 0; round < 3; ++round) {
      auto listed = hooks.List();
      ASSERT_TRUE(listed.ok()) << listed.status().message();
      auto ch = PlanVms("daemon-a", "vqa", want, *listed);
      if (ch.create.empty() && ch.remove.empty()) return;
      for (const auto& [pool, name] : ch.create) ASSERT_TRUE(hooks.Create(name, pool, Labels(pool)).ok());
      for (const auto& vm : ch.remove) ASSERT_TRUE(hooks.Delete(vm.id).ok());
    }
  };
  converge({{"gpu", 3}});
  EXPECT_EQ(hooks.List()->size(), 3u);
  converge({{"gpu", 1}, {"cpu", 1}});
  EXPECT_EQ(hooks.List()->size(), 2u);
  converge({});
  EXPECT_TRUE(hooks.List()->empty());
}

}  // namespace
}  // namespace jb
