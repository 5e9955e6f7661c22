#include "daemon/manifest_watcher.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

template <class F>
bool WaitFor(F cond, std::chrono::seconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

TEST(ManifestWatcher, AppliesChangesAndDeletionsAndReportsBadFiles) {
  testing::TempDir dir;
  for (const char* f : {"infrastructure.yaml", "modelprofiles.yaml", "workflow.yaml"})
    fs::copy_file(fs::path(JB_SOURCE_DIR) / "manifests/vqa" / f, dir.path() / f);
  Store store("");
  EventRecorder events;
  ManifestWatcher w(dir.path().string(), &store, &events);
  ASSERT_TRUE(w.Start().ok());
  EXPECT_EQ(store.size(), 5u) << "initial sync applies every document";
  auto rv = MetaOf(*store.Get("Workflow", "vqa")).resource_version;

  // A re-sync with nothing changed writes nothing.
  w.Sync();
  EXPECT_EQ(MetaOf(*store.Get("Workflow", "vqa")).resource_version, rv);

  // Changing a file re-applies it.
  std::string wf = testing::ReadFile(dir.path() / "workflow.yaml");
  auto pos = wf.find("minAccuracy: 56");
  ASSERT_NE(pos, std::string::npos);
  wf.replace(pos, 15, "minAccuracy: 55");
  std::ofstream(dir.path() / "workflow.yaml", std::ios::trunc) << wf;
  EXPECT_TRUE(WaitFor([&] { return MetaOf(*store.Get("Workflow", "vqa")).generation == 2; }));

  // A broken file is reported and applies nothing; what it applied before stays.
  std::string broken = testing::ReadFile(dir.path() / "modelprofiles.yaml");
  std::ofstream(dir.path() / "modelprofiles.yaml", std::ios::trunc) << broken << "---\nkind: Nope\n";
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& e : events.List())
      if (e.reason == "InvalidManifest") return true;
    return false;
  }));
  EXPECT_TRUE(store.Get("ModelProfile", "vqa").ok());

  // Removing a file deletes its objects (a Workflow is marked and waits for its finalizer).
  fs::remove(dir.path() / "workflow.yaml");
  EXPECT_TRUE(WaitFor([&] {
    auto got = store.Get("Workflow", "vqa");
    return got.ok() && MetaOf(*got).deletion_timestamp.has_value();
  }));
  std::ofstream(dir.path() / "modelprofiles.yaml", std::ios::trunc) << broken;  // fixed again
  fs::remove(dir.path() / "modelprofiles.yaml");
  EXPECT_TRUE(WaitFor([&] { return !store.Get("ModelProfile", "vqa").ok(); }));
  EXPECT_TRUE(store.Get("Infrastructure", "vqa-medium").ok());
  w.Stop();
}

}  // namespace
}  // namespace jb
