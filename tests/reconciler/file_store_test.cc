#include "reconciler/file_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "api/manifest.h"
#include "tests/planner/planner_fixtures.h"
#include "tests/test_util.h"

// What only the file store does: persistence, reloading, the resourceVersion counter file, names
// as file names. The semantics it shares with every Store are in store_test.cc.

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

uint64_t Version(const StatusOr<Object>& o) { return std::stoull(*MetaOf(*o).resource_version); }

// A file as an earlier version of the store wrote it.
void WriteStoredFile(const std::filesystem::path& dir, const std::string& name, const std::string& rv) {
  ModelProfile mp = Profile(name);
  mp.metadata.generation = 1;
  mp.metadata.resource_version = rv;
  std::filesystem::create_directories(dir / "objects/ModelProfile");
  std::ofstream(dir / "objects/ModelProfile" / (name + ".json")) << ObjectToJson(mp, true) << "\n";
}

TEST(FileStore, PersistsAndReloadsWithTheSameVersions) {
  testing::TempDir dir;
  std::map<std::string, std::string> versions;
  {
    FileStore s(dir.path().string());
    EXPECT_TRUE(s.Load().empty());
    auto in = testing::LoadInstance("manifests/vqa");
    for (Object o : {Object(in.inf), Object(in.wf), Object(in.profiles[0])}) {
      auto put = s.Put(o);
      ASSERT_TRUE(put.ok()) << put.status().message();
      versions[MetaOf(*put).name] = *MetaOf(*put).resource_version;
    }
  }
  FileStore again(dir.path().string());
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

TEST(FileStore, CorruptAndTornFilesAreSkippedNotFatal) {
  testing::TempDir dir;
  {
    FileStore s(dir.path().string());
    s.Load();
    ASSERT_TRUE(s.Put(Profile("good")).ok());
    ASSERT_TRUE(s.Put(Profile("torn")).ok());
  }
  auto torn = dir.path() / "objects/ModelProfile/torn.json";
  std::string text = testing::ReadFile(torn);
  std::ofstream(torn, std::ios::trunc) << text.substr(0, text.size() / 2);  // a torn write
  std::ofstream(dir.path() / "objects/ModelProfile/garbage.json") << "\x01\x02 not json {";
  FileStore s(dir.path().string());
  auto problems = s.Load();
  EXPECT_EQ(problems.size(), 2u);
  EXPECT_TRUE(s.Get("ModelProfile", "good").ok());
  EXPECT_FALSE(s.Get("ModelProfile", "torn").ok());
}

TEST(DurableFile, AtomicWriteLeavesNoTempFiles) {
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

TEST(FileStore, EveryNameTheApiAcceptsSurvivesARestart) {
  testing::TempDir dir;
  // Up to 253 characters (DNS-1123); beyond 245 the file name would not fit in NAME_MAX with
  // its ".json" and the temp file's prefix and suffix, so those names are split in two.
  const std::string long_a(253, 'a');
  std::string dotted;
  while (dotted.size() < 251) dotted += "ab.";
  dotted += "c";
  const std::vector<std::string> names = {
      "vqa", "a.b-c", "0", "x.json", std::string(245, 'a'), std::string(246, 'a'), long_a, long_a.substr(0, 250) + "b",
      dotted};
  {
    FileStore s(dir.path().string());
    EXPECT_TRUE(s.Load().empty());
    for (const auto& name : names) {
      auto put = s.Put(Profile(name));
      EXPECT_TRUE(put.ok()) << name << ": " << put.status().message();
    }
  }
  {
    FileStore again(dir.path().string());
    auto problems = again.Load();
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_EQ(again.size(), names.size());
    for (const auto& name : names) EXPECT_TRUE(again.Get("ModelProfile", name).ok()) << name;
    for (const auto& name : names) EXPECT_TRUE(again.Delete("ModelProfile", name).ok()) << name;
  }
  FileStore empty(dir.path().string());
  EXPECT_TRUE(empty.Load().empty());
  EXPECT_EQ(empty.size(), 0u);
  int left = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "objects/ModelProfile"))
    left += e.exists() ? 1 : 0;
  EXPECT_EQ(left, 0) << "deleting the long names removes their directories too";
}

TEST(FileStore, RefusesNamesItCouldNotLoadBack) {
  testing::TempDir dir;
  FileStore s(dir.path().string());
  s.Load();
  // (A std::vector: an initializer list of `const char*` held std::string(254, 'a').c_str() of a
  // destroyed temporary, a use-after-free ASan found.)
  const std::vector<std::string> names = {
      ".hidden", "..", "a/b", "UPPER", "a_b", "-a", "a-", "", std::string(254, 'a')};
  for (const std::string& name : names) {
    auto put = s.Put(Profile(name));
    ASSERT_FALSE(put.ok()) << name;
    EXPECT_EQ(put.status().code(), Status::Code::kInvalidArgument) << name;
    EXPECT_NE(put.status().message().find("expected a DNS-1123 subdomain"), std::string::npos)
        << put.status().message();
  }
  EXPECT_EQ(s.size(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "objects/ModelProfile"));
}

TEST(FileStore, LoaderReportsEveryFileItSkipsAndWhy) {
  testing::TempDir dir;
  {
    FileStore s(dir.path().string());
    s.Load();
    ASSERT_TRUE(s.Put(Profile("good")).ok());
  }
  auto kind_dir = dir.path() / "objects/ModelProfile";
  std::ofstream(kind_dir / "README.txt") << "notes";
  std::filesystem::create_directories(kind_dir / "backup");
  std::ofstream(kind_dir / ".good.json.tmp") << "{ half";
  std::filesystem::copy_file(kind_dir / "good.json", kind_dir / "copy.json");
  FileStore s(dir.path().string());
  auto problems = s.Load();
  ASSERT_EQ(problems.size(), 4u);
  auto reported = [&](const std::string& file, const std::string& why) {
    for (const auto& p : problems)
      if (p.rfind((kind_dir / file).string() + ": skipped, " + why, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(reported("README.txt", "not an object file (expected NAME.json)"));
  EXPECT_TRUE(reported("backup", "not an object file"));
  EXPECT_TRUE(reported(".good.json.tmp", "left over from an interrupted write"));
  EXPECT_TRUE(reported("copy.json", "it holds ModelProfile/good, which does not belong in this file"));
  EXPECT_FALSE(std::filesystem::exists(kind_dir / ".good.json.tmp")) << "a temp file is never an object: removed";
  EXPECT_TRUE(s.Get("ModelProfile", "good").ok());
}

TEST(FileStore, ObjectsStoredUnderEarlierNameRulesAreLoadedNotDropped) {
  testing::TempDir dir;
  // The rule before DNS-1123 allowed uppercase, '_' and a leading '.' (the dotfile was written,
  // then skipped at load: the object vanished). Both are loaded now, readable and deletable.
  WriteStoredFile(dir.path(), "My_Profile", "7");
  WriteStoredFile(dir.path(), ".hidden", "9");
  FileStore s(dir.path().string());
  auto problems = s.Load();
  EXPECT_TRUE(problems.empty()) << problems.front();
  ASSERT_TRUE(s.Get("ModelProfile", "My_Profile").ok());
  ASSERT_TRUE(s.Get("ModelProfile", ".hidden").ok());
  auto update = s.Put(Profile("My_Profile", 3));
  ASSERT_FALSE(update.ok()) << "updates need a valid name";
  EXPECT_EQ(update.status().code(), Status::Code::kInvalidArgument);
  EXPECT_GT(Version(s.Put(Profile("fresh"))), 9u);
  EXPECT_TRUE(s.Delete("ModelProfile", ".hidden").ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "objects/ModelProfile/.hidden.json"));
}

// Regression: after a restart, versions continued from the highest among the remaining objects, so
// a deleted object's version was issued again and a client holding it overwrote a newer object.
TEST(FileStore, VersionsNeverGoBackAfterDeletesAndRestarts) {
  testing::TempDir dir;
  uint64_t a = 0, b = 0;
  {
    FileStore s(dir.path().string());
    s.Load();
    a = Version(s.Put(Profile("a")));
    b = Version(s.Put(Profile("b")));
    ASSERT_GT(b, a);
    ASSERT_TRUE(s.Delete("ModelProfile", "b").ok());
  }
  FileStore s(dir.path().string());
  EXPECT_TRUE(s.Load().empty());
  auto recreated = s.Put(Profile("b"));
  ASSERT_TRUE(recreated.ok());
  EXPECT_GT(Version(recreated), b);
  // A client that read the first "b" updates with its version: the re-created "b" is newer.
  ModelProfile stale = Profile("b", 5);
  stale.metadata.resource_version = std::to_string(b);
  auto update = s.Put(stale);
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.status().code(), Status::Code::kConflict);
  EXPECT_GT(Version(s.Put(Profile("c"))), Version(recreated));
  // The counter on disk covers every version handed out.
  uint64_t counter = std::stoull(testing::ReadFile(dir.path() / "objects/resource-version"));
  EXPECT_GE(counter, Version(s.Get("ModelProfile", "c")));
}

TEST(FileStore, AMissingCounterContinuesAboveTheHighestStoredVersion) {
  testing::TempDir dir;
  uint64_t high = 0;
  {
    FileStore s(dir.path().string());
    s.Load();
    ASSERT_TRUE(s.Put(Profile("a")).ok());
    high = Version(s.Put(Profile("b")));
  }
  std::filesystem::remove(dir.path() / "objects/resource-version");
  FileStore s(dir.path().string());
  EXPECT_TRUE(s.Load().empty()) << "a state directory from before the counter loads as it is";
  EXPECT_GT(Version(s.Put(Profile("c"))), high);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "objects/resource-version"));
}

TEST(FileStore, ACorruptCounterRefusesWritesWithAClearErrorUntilFixed) {
  testing::TempDir dir;
  {
    FileStore s(dir.path().string());
    s.Load();
    ASSERT_TRUE(s.Put(Profile("a")).ok());
  }
  const auto counter = dir.path() / "objects/resource-version";
  for (const char* garbage : {"", "12x\n", "-5\n", "99999999999999999999999\n"}) {
    SCOPED_TRACE(garbage);
    std::ofstream(counter, std::ios::trunc) << garbage;
    FileStore s(dir.path().string());
    auto problems = s.Load();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].rfind(counter.string() + ": corrupt", 0), 0u) << problems[0];
    EXPECT_TRUE(s.Get("ModelProfile", "a").ok()) << "reads still work";
    auto put = s.Put(Profile("b"));
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.status().code(), Status::Code::kUnavailable);
    EXPECT_EQ(put.status().message(), problems[0]);
  }
  std::ofstream(counter, std::ios::trunc) << "5000\n";  // fixed by hand
  FileStore s(dir.path().string());
  EXPECT_TRUE(s.Load().empty());
  EXPECT_GT(Version(s.Put(Profile("b"))), 5000u);
}

// An object whose stored JSON the loader cannot read back (yaml-cpp refuses keys over 1,024
// characters, and a control character is written as a 6-character escape) used to be acknowledged
// and then vanish at the next restart. Found by fuzz/manifest_fuzzer.cc.
TEST(FileStore, RefusesToAcknowledgeWhatItCouldNotLoadBack) {
  testing::TempDir dir;
  {
    FileStore s(dir.path().string());
    EXPECT_TRUE(s.Load().empty());
    for (const std::string& key : {std::string(1100, 'k'), std::string(200, '\x01')}) {
      ModelProfile mp = Profile("labelled");
      mp.metadata.labels[key] = "v";
      auto put = s.Put(mp);
      ASSERT_FALSE(put.ok()) << "key of " << key.size() << " characters was acknowledged";
      EXPECT_NE(put.status().message().find("could not be read back"), std::string::npos) << put.status().message();
    }
    ASSERT_TRUE(s.Put(Profile("plain")).ok());
  }
  FileStore again(dir.path().string());
  EXPECT_TRUE(again.Load().empty());
  EXPECT_EQ(again.size(), 1u);
}

}  // namespace
}  // namespace jb
