#include "reconciler/store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/planner/planner_fixtures.h"
#include "tests/test_util.h"

namespace jb {
namespace {

ModelProfile Profile(const std::string& name, double out_kib = 1) {
  ModelProfile mp;
  mp.metadata.name = name;
  Variant v;
  v.name = "v";
  v.output_size_kib = out_kib;
  v.latency_ms["cpu"] = Latency{10, {}, {}};
  mp.spec.variants.push_back(v);
  return mp;
}

TEST(Store, PersistsAndReloadsWithTheSameVersions) {
  testing::TempDir dir;
  std::map<std::string, std::string> versions;
  {
    Store s(dir.path().string());
    EXPECT_TRUE(s.Load().empty());
    auto in = testing::LoadInstance("manifests/vqa");
    for (Object o : {Object(in.inf), Object(in.wf), Object(in.profiles[0])}) {
      auto put = s.Put(o);
      ASSERT_TRUE(put.ok()) << put.status().message();
      versions[MetaOf(*put).name] = *MetaOf(*put).resource_version;
    }
  }
  Store again(dir.path().string());
  EXPECT_TRUE(again.Load().empty());
  EXPECT_EQ(again.size(), 3u);
  for (const auto& [name, rv] : versions) {
    bool found = false;
    for (const char* kind : {"Workflow", "ModelProfile", "Infrastructure"}) {
      auto got = again.Get(kind, name);
      if (!got.ok()) continue;
      found = true;
      EXPECT_EQ(*MetaOf(*got).resource_version, rv) << name;
    }
    EXPECT_TRUE(found) << name;
  }
  // New writes continue above the highest loaded version.
  auto put = again.Put(Profile("fresh"));
  ASSERT_TRUE(put.ok());
  for (const auto& [name, rv] : versions) EXPECT_GT(std::stoull(*MetaOf(*put).resource_version), std::stoull(rv));
}

TEST(Store, CorruptAndTornFilesAreSkippedNotFatal) {
  testing::TempDir dir;
  {
    Store s(dir.path().string());
    s.Load();
    ASSERT_TRUE(s.Put(Profile("good")).ok());
    ASSERT_TRUE(s.Put(Profile("torn")).ok());
  }
  auto torn = dir.path() / "objects/ModelProfile/torn.json";
  std::string text = testing::ReadFile(torn);
  std::ofstream(torn, std::ios::trunc) << text.substr(0, text.size() / 2);  // a torn write
  std::ofstream(dir.path() / "objects/ModelProfile/garbage.json") << "\x01\x02 not json {";
  Store s(dir.path().string());
  auto problems = s.Load();
  EXPECT_EQ(problems.size(), 2u);
  EXPECT_TRUE(s.Get("ModelProfile", "good").ok());
  EXPECT_FALSE(s.Get("ModelProfile", "torn").ok());
}

TEST(Store, AtomicWriteLeavesNoTempFiles) {
  testing::TempDir dir;
  auto path = (dir.path() / "f.txt").string();
  ASSERT_TRUE(WriteFileAtomic(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two").ok());
  EXPECT_EQ(testing::ReadFile(path), "two");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
  EXPECT_FALSE(WriteFileAtomic((dir.path() / "missing/dir/f").string(), "x").ok());
}

TEST(Store, OptimisticConcurrencyAndGeneration) {
  Store s("");
  auto first = s.Put(Profile("p"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(MetaOf(*first).generation, 1);
  // Same spec: generation stays, resourceVersion moves.
  auto same = s.Put(Profile("p"));
  EXPECT_EQ(MetaOf(*same).generation, 1);
  EXPECT_NE(MetaOf(*same).resource_version, MetaOf(*first).resource_version);
  // Changed spec with the current resourceVersion: generation bumps.
  ModelProfile changed = Profile("p", 2);
  changed.metadata.resource_version = MetaOf(*same).resource_version;
  auto upd = s.Put(changed);
  ASSERT_TRUE(upd.ok());
  EXPECT_EQ(MetaOf(*upd).generation, 2);
  // Stale resourceVersion: conflict.
  changed.metadata.resource_version = MetaOf(*first).resource_version;
  auto stale = s.Put(changed);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Status::Code::kConflict);
}

TEST(Store, WorkflowsKeepStatusAndUseAFinalizer) {
  Store s("");
  auto in = testing::LoadInstance("manifests/vqa");
  auto put = s.Put(in.wf);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(MetaOf(*put).finalizers, std::vector<std::string>{kWorkersFinalizer});
  WorkflowStatus st;
  st.observed_generation = 1;
  ASSERT_TRUE(s.PutStatus("vqa", st).ok());
  auto again = s.Put(in.wf);  // a user update must not wipe the status
  EXPECT_EQ(std::get<Workflow>(*again).status.observed_generation, 1);
  auto del = s.Delete("Workflow", "vqa");
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(MetaOf(*del).deletion_timestamp.has_value());
  EXPECT_TRUE(s.Get("Workflow", "vqa").ok()) << "the finalizer keeps it until the workers are stopped";
  ASSERT_TRUE(s.RemoveFinalizer("Workflow", "vqa", kWorkersFinalizer).ok());
  EXPECT_FALSE(s.Get("Workflow", "vqa").ok());
}

}  // namespace
}  // namespace jb
