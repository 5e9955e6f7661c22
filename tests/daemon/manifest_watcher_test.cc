#include "daemon/manifest_watcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <thread>

#include "api/manifest.h"
#include "daemon/manifest_ownership.h"
#include "reconciler/memory_store.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

using testing::WaitFor;
using namespace std::chrono_literals;

TEST(ManifestWatcher, AppliesChangesAndDeletionsAndReportsBadFiles) {
  testing::TempDir dir;
  for (const char* f : {"infrastructure.yaml", "modelprofiles.yaml", "workflow.yaml"})
    fs::copy_file(fs::path(JB_SOURCE_DIR) / "manifests/vqa" / f, dir.path() / f);
  MemoryStore store;
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
  EXPECT_TRUE(WaitFor([&] { return MetaOf(*store.Get("Workflow", "vqa")).generation == 2; }, 10s));

  // A broken file is reported and applies nothing; what it applied before stays.
  std::string broken = testing::ReadFile(dir.path() / "modelprofiles.yaml");
  std::ofstream(dir.path() / "modelprofiles.yaml", std::ios::trunc) << broken << "---\nkind: Nope\n";
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const auto& e : events.List())
          if (e.reason == "InvalidManifest") return true;
        return false;
      },
      10s));
  EXPECT_TRUE(store.Get("ModelProfile", "vqa").ok());

  // Removing a file deletes its objects (a Workflow is marked and waits for its finalizer).
  fs::remove(dir.path() / "workflow.yaml");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto got = store.Get("Workflow", "vqa");
        return got.ok() && MetaOf(*got).deletion_timestamp.has_value();
      },
      10s));
  std::ofstream(dir.path() / "modelprofiles.yaml", std::ios::trunc) << broken;  // fixed again
  fs::remove(dir.path() / "modelprofiles.yaml");
  EXPECT_TRUE(WaitFor([&] { return !store.Get("ModelProfile", "vqa").ok(); }, 10s));
  EXPECT_TRUE(store.Get("Infrastructure", "vqa-medium").ok());
  w.Stop();
}

// The vqa manifests in <tmp>/m, synced once by a watcher without its background thread (each test
// calls Sync() itself, as SIGHUP does, so every step is deterministic).
struct WatchedDir {
  testing::TempDir tmp;
  fs::path dir = tmp.path() / "m";
  MemoryStore store;
  EventRecorder events;
  std::unique_ptr<ManifestWatcher> watcher;

  WatchedDir() {
    fs::create_directories(dir);
    for (const char* f : {"infrastructure.yaml", "modelprofiles.yaml", "workflow.yaml"})
      fs::copy_file(fs::path(JB_SOURCE_DIR) / "manifests/vqa" / f, dir / f);
    // No settle time: a removal is confirmed by the next Sync() that sees the same state.
    watcher = std::make_unique<ManifestWatcher>(dir.string(), &store, &events, std::chrono::milliseconds(0));
    auto problems = watcher->Sync();
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_EQ(store.size(), 5u);
  }
  bool Reported(const std::vector<std::string>& problems, const std::string& what) const {
    for (const auto& p : problems)
      if (p.find(what) != std::string::npos) return true;
    return false;
  }
  int InvalidManifestEvents() const {
    int n = 0;
    for (const auto& e : events.List())
      if (e.reason == "InvalidManifest") n += e.count;
    return n;
  }
  // Every object the directory applied, unchanged and not marked for deletion.
  void ExpectAllKept(const std::map<std::string, std::string>& versions) {
    EXPECT_EQ(store.size(), 5u);
    for (const char* kind : {"Workflow", "ModelProfile", "Infrastructure"})
      for (const auto& o : store.List(kind)) {
        EXPECT_FALSE(MetaOf(o).deletion_timestamp.has_value()) << MetaOf(o).name;
        EXPECT_EQ(MetaOf(o).resource_version, versions.at(std::string(kind) + "/" + MetaOf(o).name));
      }
  }
  std::map<std::string, std::string> Versions() {
    std::map<std::string, std::string> out;
    for (const char* kind : {"Workflow", "ModelProfile", "Infrastructure"})
      for (const auto& o : store.List(kind))
        out[std::string(kind) + "/" + MetaOf(o).name] = *MetaOf(o).resource_version;
    return out;
  }
};

// Regression: `cp` and editors truncate, then write; a sync in between saw an empty file and
// deleted its Workflow, which came back re-created (generation 1, history and status lost).
TEST(ManifestWatcher, TruncateThenWriteInPlaceKeepsTheWorkflowAndItsHistory) {
  WatchedDir w;
  WorkflowStatus st;
  st.observed_generation = 1;
  ASSERT_TRUE(w.store.PutStatus("vqa", st).ok());
  std::string text = testing::ReadFile(w.dir / "workflow.yaml");

  std::ofstream(w.dir / "workflow.yaml", std::ios::trunc).close();  // step 1: truncated
  for (int i = 0; i < 2; ++i) {
    auto problems = w.watcher->Sync();
    EXPECT_TRUE(w.Reported(problems, "workflow.yaml: holds no document")) << ::testing::PrintToString(problems);
    auto wf = w.store.Get("Workflow", "vqa");
    ASSERT_TRUE(wf.ok());
    EXPECT_FALSE(MetaOf(*wf).deletion_timestamp.has_value());
  }
  EXPECT_EQ(w.InvalidManifestEvents(), 1) << "reported once, not on every sync";

  auto pos = text.find("minAccuracy: 56");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 15, "minAccuracy: 55");
  std::ofstream(w.dir / "workflow.yaml", std::ios::trunc) << text;  // step 2: the new content
  auto problems = w.watcher->Sync();
  EXPECT_TRUE(problems.empty()) << problems.front();
  auto wf = w.store.Get("Workflow", "vqa");
  ASSERT_TRUE(wf.ok());
  EXPECT_FALSE(MetaOf(*wf).deletion_timestamp.has_value());
  EXPECT_EQ(MetaOf(*wf).generation, 2) << "updated in place, not re-created";
  EXPECT_EQ(std::get<Workflow>(*wf).spec.slo.min_accuracy, 55);
  EXPECT_EQ(std::get<Workflow>(*wf).status.observed_generation, 1) << "the status (history) is kept";
}

TEST(ManifestWatcher, AnEmptyFileIsAnErrorThatKeepsItsObjects) {
  WatchedDir w;
  auto versions = w.Versions();
  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::trunc) << "# nothing yet\n";
  auto problems = w.watcher->Sync();
  EXPECT_TRUE(w.Reported(problems, "modelprofiles.yaml: holds no document")) << ::testing::PrintToString(problems);
  w.ExpectAllKept(versions);
  EXPECT_EQ(w.InvalidManifestEvents(), 1);
}

TEST(ManifestWatcher, AParseErrorOrPartialFileIsAnErrorThatKeepsItsObjects) {
  WatchedDir w;
  auto versions = w.Versions();
  std::string text = testing::ReadFile(w.dir / "modelprofiles.yaml");
  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::trunc) << text.substr(0, text.size() / 3) << "\n  - [unclosed";
  auto problems = w.watcher->Sync();
  EXPECT_TRUE(w.Reported(problems, "modelprofiles.yaml:")) << ::testing::PrintToString(problems);
  w.ExpectAllKept(versions);
  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::trunc) << text;  // the write completes
  problems = w.watcher->Sync();
  EXPECT_TRUE(problems.empty()) << problems.front();
  w.ExpectAllKept(versions);
}

// Regression: a directory that could not be read at SIGHUP deleted everything applied from it.
// Tests run as root, which reads any directory whatever its mode, so the directory is replaced
// by a dangling symbolic link and by a regular file instead.
TEST(ManifestWatcher, ADirectoryThatCannotBeListedKeepsEverything) {
  WatchedDir w;
  auto versions = w.Versions();
  fs::rename(w.dir, w.tmp.path() / "moved");
  fs::create_directory_symlink(w.tmp.path() / "nowhere", w.dir);
  auto problems = w.watcher->Sync();
  EXPECT_TRUE(w.Reported(problems, "cannot be listed")) << ::testing::PrintToString(problems);
  w.ExpectAllKept(versions);

  fs::remove(w.dir);
  std::ofstream(w.dir) << "not a directory";
  problems = w.watcher->Sync();
  EXPECT_TRUE(w.Reported(problems, "cannot be listed")) << ::testing::PrintToString(problems);
  w.ExpectAllKept(versions);

  fs::remove(w.dir);
  fs::rename(w.tmp.path() / "moved", w.dir);
  problems = w.watcher->Sync();
  EXPECT_TRUE(problems.empty()) << problems.front();
  w.ExpectAllKept(versions);
}

TEST(ManifestWatcher, AFileReplacedByADanglingLinkOrAFifoKeepsItsObjectsAndIsNeverRead) {
  WatchedDir w;
  auto versions = w.Versions();
  fs::remove(w.dir / "workflow.yaml");
  fs::create_symlink(w.tmp.path() / "nowhere.yaml", w.dir / "workflow.yaml");
  ASSERT_EQ(mkfifo((w.dir / "more.yaml").c_str(), 0600), 0);  // reading it would block
  for (int i = 0; i < 2; ++i) {
    auto problems = w.watcher->Sync();
    EXPECT_TRUE(w.Reported(problems, "workflow.yaml: is a link to nothing")) << ::testing::PrintToString(problems);
    EXPECT_TRUE(w.Reported(problems, "more.yaml: is not a regular file")) << ::testing::PrintToString(problems);
  }
  w.ExpectAllKept(versions);
}

TEST(ManifestWatcher, OnlyRemovingTheFileDeletesItsObjects) {
  WatchedDir w;
  auto versions = w.Versions();
  fs::remove(w.dir / "modelprofiles.yaml");
  fs::remove(w.dir / "workflow.yaml");
  w.watcher->Sync();
  w.ExpectAllKept(versions);  // seen once: confirmed by the next sync
  w.watcher->Sync();
  EXPECT_FALSE(w.store.Get("ModelProfile", "vqa").ok());
  auto wf = w.store.Get("Workflow", "vqa");
  ASSERT_TRUE(wf.ok()) << "a Workflow waits for its finalizer";
  EXPECT_TRUE(MetaOf(*wf).deletion_timestamp.has_value());
  EXPECT_TRUE(w.store.Get("Infrastructure", "vqa-medium").ok());
}

// Editors that save by deleting and re-creating the file (or renaming it away first) leave a moment
// with no file at all.
TEST(ManifestWatcher, AFileDeletedAndRecreatedBetweenTwoSyncsKeepsItsObjects) {
  WatchedDir w;
  auto versions = w.Versions();
  std::string text = testing::ReadFile(w.dir / "workflow.yaml");
  fs::rename(w.dir / "workflow.yaml", w.dir / "workflow.yaml~");
  w.watcher->Sync();
  std::ofstream(w.dir / "workflow.yaml") << text;
  auto problems = w.watcher->Sync();
  EXPECT_TRUE(problems.empty()) << problems.front();
  w.watcher->Sync();
  w.ExpectAllKept(versions);
}

// A writer caught between two documents leaves a file that parses, but without its last documents.
TEST(ManifestWatcher, ADocumentRemovedFromAFileIsDeletedOnlyOnceTheFileSettles) {
  WatchedDir w;
  auto versions = w.Versions();
  std::string text = testing::ReadFile(w.dir / "modelprofiles.yaml");
  auto cut = text.find("\n---", text.find("speech-recognition"));
  ASSERT_NE(cut, std::string::npos);
  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::trunc) << text.substr(0, cut + 1);  // without "vqa"
  w.watcher->Sync();
  w.ExpectAllKept(versions);
  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::trunc) << text;  // the write completes
  w.watcher->Sync();
  w.watcher->Sync();
  w.ExpectAllKept(versions);

  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::trunc) << text.substr(0, cut + 1);  // a real edit
  w.watcher->Sync();
  EXPECT_TRUE(w.store.Get("ModelProfile", "vqa").ok());
  w.watcher->Sync();
  EXPECT_FALSE(w.store.Get("ModelProfile", "vqa").ok());
  EXPECT_TRUE(w.store.Get("ModelProfile", "speech-recognition").ok());
}

TEST(ManifestWatcher, HiddenFilesAndDirectoriesAreNotManifests) {
  WatchedDir w;
  auto versions = w.Versions();
  // An editor's backup, and a ConfigMap-style "..2024_01_01" directory behind a "..data" link.
  fs::copy_file(w.dir / "workflow.yaml", w.dir / ".workflow.yaml");
  fs::create_directories(w.dir / "..2024_01_01");
  fs::copy_file(w.dir / "modelprofiles.yaml", w.dir / "..2024_01_01/modelprofiles.yaml");
  fs::create_directory_symlink("..2024_01_01", w.dir / "..data");
  fs::create_symlink("user@host.1234", w.dir / ".#workflow.yaml");  // emacs lock file
  auto problems = w.watcher->Sync();
  EXPECT_TRUE(problems.empty()) << problems.front();
  w.ExpectAllKept(versions);
}

}  // namespace
}  // namespace jb

namespace jb {
namespace {

// The vqa Workflow with its minAccuracy floor changed, as `jbctl apply` would send it.
Object WorkflowWithFloor(const fs::path& file, const std::string& floor) {
  std::string wf = testing::ReadFile(file);
  auto pos = wf.find("minAccuracy: 56");
  EXPECT_NE(pos, std::string::npos);
  wf.replace(pos, 15, "minAccuracy: " + floor);
  auto obj = ObjectFromText(wf, file.string(), nullptr);
  EXPECT_TRUE(obj.ok());
  return *obj;
}

TEST(ManifestWatcher, ObjectsAppliedFromTheDirectoryNameTheirFile) {
  WatchedDir w;
  for (const char* kind : {"Workflow", "ModelProfile", "Infrastructure"})
    for (const auto& o : w.store.List(kind)) {
      std::string owner = ManifestOwner(o);
      EXPECT_TRUE(fs::path(owner).is_absolute()) << owner;
      EXPECT_EQ(fs::path(owner).parent_path(), fs::absolute(w.dir).lexically_normal());
      EXPECT_EQ(MetaOf(o).annotations.at(kManifestHashAnnotation), ManifestHash(o));
    }
  EXPECT_EQ(ManifestOwner(*w.store.Get("Workflow", "vqa")), fs::absolute(w.dir / "workflow.yaml").string());
}

// Regression (issue 18): an edit in the watched directory silently reverted two `jbctl apply`
// changes. Now a forced apply takes the object over, and neither an edit of another file, nor a
// SIGHUP re-scan, nor a restarted watcher writes it again; editing its own document takes it back.
TEST(ManifestWatcher, AnEditOfAnotherFileOrARescanDoesNotRevertAForcedApply) {
  WatchedDir w;
  Object mine = WorkflowWithFloor(w.dir / "workflow.yaml", "50");
  std::string note;
  auto cur = w.store.Get("Workflow", "vqa");
  ASSERT_EQ(ClaimForApiWrite(&*cur, &mine, false, &note).code(), Status::Code::kConflict);
  ASSERT_TRUE(ClaimForApiWrite(&*cur, &mine, true, &note).ok());
  ASSERT_TRUE(w.store.Put(mine).ok());
  auto rv = MetaOf(*w.store.Get("Workflow", "vqa")).resource_version;
  auto floor = [&] { return std::get<Workflow>(*w.store.Get("Workflow", "vqa")).spec.slo.min_accuracy; };
  ASSERT_EQ(floor(), 50);

  // Another file changes: it is applied, the Workflow is not touched.
  std::ofstream(w.dir / "modelprofiles.yaml", std::ios::app) << "\n# edited\n";
  ASSERT_TRUE(w.watcher->Sync().empty());
  EXPECT_EQ(MetaOf(*w.store.Get("Workflow", "vqa")).resource_version, rv);
  // A restarted daemon's watcher (nothing seen yet) leaves it too.
  ManifestWatcher fresh(w.dir.string(), &w.store, &w.events, std::chrono::milliseconds(0));
  ASSERT_TRUE(fresh.Sync().empty());
  EXPECT_EQ(MetaOf(*w.store.Get("Workflow", "vqa")).resource_version, rv);
  EXPECT_EQ(floor(), 50);
  EXPECT_EQ(ManifestOwner(*w.store.Get("Workflow", "vqa")), "");

  // Its own document edited: the file takes it back, with an event saying so.
  std::string wf = testing::ReadFile(w.dir / "workflow.yaml");
  wf.replace(wf.find("minAccuracy: 56"), 15, "minAccuracy: 54");
  std::ofstream(w.dir / "workflow.yaml", std::ios::trunc) << wf;
  ASSERT_TRUE(fresh.Sync().empty());
  EXPECT_EQ(floor(), 54);
  EXPECT_EQ(ManifestOwner(*w.store.Get("Workflow", "vqa")), fs::absolute(w.dir / "workflow.yaml").string());
  bool reclaimed = false;
  for (const auto& e : w.events.List())
    reclaimed |= e.reason == "ManifestOwner" && e.message.find("back from jbctl") != std::string::npos;
  EXPECT_TRUE(reclaimed);
}

// The background loop applies only the files whose content changed: an object deleted through
// the API stays deleted while its file is unchanged, even when other files change; a SIGHUP
// (Sync) applies every file and brings it back.
TEST(ManifestWatcher, TheLoopAppliesOnlyFilesWhoseContentChanged) {
  testing::TempDir dir;
  for (const char* f : {"infrastructure.yaml", "modelprofiles.yaml", "workflow.yaml"})
    fs::copy_file(fs::path(JB_SOURCE_DIR) / "manifests/vqa" / f, dir.path() / f);
  MemoryStore store;
  EventRecorder events;
  ManifestWatcher w(dir.path().string(), &store, &events);
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(store.Get("Infrastructure", "vqa-medium").ok());
  ASSERT_TRUE(store.Delete("Infrastructure", "vqa-medium").ok());
  std::string wf = testing::ReadFile(dir.path() / "workflow.yaml");
  wf.replace(wf.find("minAccuracy: 56"), 15, "minAccuracy: 55");
  std::ofstream(dir.path() / "workflow.yaml", std::ios::trunc) << wf;
  ASSERT_TRUE(WaitFor([&] { return MetaOf(*store.Get("Workflow", "vqa")).generation == 2; }, 10s));
  EXPECT_FALSE(store.Get("Infrastructure", "vqa-medium").ok()) << "an unchanged file was applied again";
  w.Sync();
  EXPECT_TRUE(store.Get("Infrastructure", "vqa-medium").ok());
  w.Stop();
}

}  // namespace
}  // namespace jb
