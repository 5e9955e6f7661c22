// Result log (ingress/result_log.h): line format, rotation at the size limit, fsync on a period
// (driven by a FakeClock).
#include "ingress/result_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/ingress/temp_dir.h"

namespace jb::ingress {
namespace {

using testing_ingress::TempDir;

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(TempDir::Read(path));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(ResultLog, LineFormatWithAndWithoutLabel) {
  FakeClock clock;  // wall time 2026-01-01T00:00:00Z
  clock.Advance(std::chrono::milliseconds(1234));
  EXPECT_EQ(
      ResultLine({"q-17", "4", "4", true}, clock.WallNow()),
      "{\"key\":\"q-17\",\"answer\":\"4\",\"label\":\"4\",\"correct\":true,\"ts\":\"2026-01-01T00:00:01.234Z\"}\n");
  EXPECT_EQ(ResultLine({"k", "say \"x\"\n", std::nullopt, std::nullopt}, clock.WallNow()),
            "{\"key\":\"k\",\"answer\":\"say \\\"x\\\"\\n\",\"ts\":\"2026-01-01T00:00:01.234Z\"}\n");
  // Bytes that are not UTF-8 travel base64-encoded.
  EXPECT_EQ(ResultLine({"b", std::string("\xff\x00\x01", 3), std::nullopt, std::nullopt}, clock.WallNow()),
            "{\"key\":\"b\",\"answer_base64\":\"/wAB\",\"ts\":\"2026-01-01T00:00:01.234Z\"}\n");
}

TEST(ResultLog, AppendsToAnExistingFile) {
  TempDir dir;
  const std::string path = dir.Write("results.jsonl", "{\"key\":\"old\"}\n");
  FakeClock clock;
  auto log = ResultLog::Open({path, 1 << 20, 2, std::chrono::milliseconds(1000), &clock});
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_TRUE((*log)->Append({"new", "a", std::nullopt, std::nullopt}).ok());
  auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"key\":\"old\"}");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["key"], "new");
}

TEST(ResultLog, RotatesAtTheSizeLimitKeepingMaxFilesAndWholeLines) {
  TempDir dir;
  const std::string path = dir.File("r.jsonl");
  FakeClock clock;
  const size_t line = ResultLine({"k00", "a", std::nullopt, std::nullopt}, clock.WallNow()).size();
  // Three lines fit in a file, the fourth starts a new one.
  auto log = ResultLog::Open({path, 3 * line + 1, 2, std::chrono::milliseconds(1000), &clock});
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 10; ++i) {
    char key[8];
    std::snprintf(key, sizeof(key), "k%02d", i);
    ASSERT_TRUE((*log)->Append({key, "a", std::nullopt, std::nullopt}).ok());
  }
  EXPECT_EQ((*log)->rotations(), 3u);  // files: k00-02, k03-05, k06-08 | k09
  auto keys = [](const std::string& p) {
    std::vector<std::string> k;
    for (const auto& l : Lines(p)) k.push_back(nlohmann::json::parse(l)["key"]);
    return k;
  };
  EXPECT_EQ(keys(path), std::vector<std::string>{"k09"});
  EXPECT_EQ(keys(path + ".1"), (std::vector<std::string>{"k06", "k07", "k08"}));
  EXPECT_EQ(keys(path + ".2"), (std::vector<std::string>{"k03", "k04", "k05"}));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));  // the oldest file was dropped (max_files = 2)
  EXPECT_LE(std::filesystem::file_size(path + ".1"), 3 * line + 1);
}

TEST(ResultLog, ALineLongerThanTheLimitGetsAFileOfItsOwn) {
  TempDir dir;
  const std::string path = dir.File("r.jsonl");
  FakeClock clock;
  auto log = ResultLog::Open({path, 100, 3, std::chrono::milliseconds(1000), &clock});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append({"a", "x", std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE((*log)->Append({"big", std::string(300, 'y'), std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE((*log)->Append({"c", "x", std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(Lines(path + ".2").size(), 1u);
  ASSERT_EQ(Lines(path + ".1").size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(Lines(path + ".1")[0])["key"], "big");
  EXPECT_EQ(nlohmann::json::parse(Lines(path)[0])["key"], "c");
}

TEST(ResultLog, FsyncsOncePerPeriodAndOnlyWhenLinesWereWritten) {
  TempDir dir;
  FakeClock clock;
  auto log = ResultLog::Open({dir.File("r.jsonl"), 1 << 20, 2, std::chrono::milliseconds(1000), &clock});
  ASSERT_TRUE(log.ok());
  ResultLog& l = **log;
  ASSERT_TRUE(l.Append({"a", "1", std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(l.syncs(), 0u);  // within the period since open
  clock.Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(l.Append({"b", "1", std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(l.syncs(), 0u);
  clock.Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(l.Tick().ok());  // a quiet log is synced by the timer
  EXPECT_EQ(l.syncs(), 1u);
  clock.Advance(std::chrono::milliseconds(5000));
  ASSERT_TRUE(l.Tick().ok());  // nothing written since: no fsync
  EXPECT_EQ(l.syncs(), 1u);
  ASSERT_TRUE(l.Append({"c", "1", std::nullopt, std::nullopt}).ok());  // period long passed: synced at once
  EXPECT_EQ(l.syncs(), 2u);
  ASSERT_TRUE(l.Append({"d", "1", std::nullopt, std::nullopt}).ok());
  EXPECT_EQ(l.syncs(), 2u);
  ASSERT_TRUE(l.Sync().ok());
  EXPECT_EQ(l.syncs(), 3u);
}

TEST(ResultLog, ZeroPeriodSyncsEveryLine) {
  TempDir dir;
  FakeClock clock;
  auto log = ResultLog::Open({dir.File("r.jsonl"), 1 << 20, 2, std::chrono::milliseconds(0), &clock});
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*log)->Append({"k", "v", std::nullopt, std::nullopt}).ok());
  EXPECT_EQ((*log)->syncs(), 3u);
}

TEST(ResultLog, OpenErrorsNameThePath) {
  TempDir dir;
  auto log = ResultLog::Open({dir.File("missing-dir/r.jsonl"), 1 << 20, 2, std::chrono::milliseconds(1000), nullptr});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(log.status().message().find(dir.File("missing-dir/r.jsonl")), std::string::npos);
  EXPECT_FALSE(ResultLog::Open({"", 1, 1, std::chrono::milliseconds(0), nullptr}).ok());
  EXPECT_FALSE(ResultLog::Open({dir.File("x"), 1, 0, std::chrono::milliseconds(0), nullptr}).ok());
}

}  // namespace
}  // namespace jb::ingress
