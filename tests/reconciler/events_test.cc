// EventRecorder (reconciler/events.h): merged repeats, the capacity, persistence in a JSON-lines
// file that survives a restart, stays bounded, and skips what it cannot read.
#include "reconciler/events.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/file.h"
#include "base/log.h"
#include "testing/util.h"

namespace jb {
namespace {

size_t Lines(const std::string& path) {
  std::string s = ReadFileOrEmpty(path);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(EventRecorderTest, EventsSurviveAReopenWithTheirCounts) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "events.jsonl").string();
  {
    EventRecorder ev;
    std::vector<std::string> skipped;
    ASSERT_TRUE(ev.Open(path, &skipped).ok());
    EXPECT_TRUE(skipped.empty());
    ev.Record("Workflow", "vqa", "Normal", "Solved", "Planned=True: 5.3 $/h");
    ev.Record("Workflow", "vqa", "Warning", "WorkersNotReady", "Ready=False: 0/6");
    ev.Record("Workflow", "vqa", "Warning", "WorkersNotReady", "Ready=False: 0/6");
    ev.Record("Infrastructure", "vqa-medium", "Normal", "Applied", "from file \"a b\"");
  }
  EventRecorder again;
  std::vector<std::string> skipped;
  ASSERT_TRUE(again.Open(path, &skipped).ok());
  auto all = again.List();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].reason, "Solved");
  EXPECT_EQ(all[1].reason, "WorkersNotReady");
  EXPECT_EQ(all[1].count, 2) << "the repeat's later line replaces the first";
  EXPECT_EQ(all[2].message, "from file \"a b\"");
  EXPECT_EQ(again.List("Workflow", "vqa").size(), 2u);
  // New events go after the loaded ones, and a repeat of the last loaded one is merged.
  again.Record("Workflow", "vqa", "Warning", "WorkersNotReady", "Ready=False: 0/6");
  again.Record("Workflow", "vqa", "Normal", "WorkersReady", "Ready=True: 6/6");
  EventRecorder third;
  ASSERT_TRUE(third.Open(path, &skipped).ok());
  auto wf = third.List("Workflow", "vqa");
  ASSERT_EQ(wf.size(), 3u);
  EXPECT_EQ(wf[1].count, 3);
  EXPECT_EQ(wf[2].reason, "WorkersReady");
}

TEST(EventRecorderTest, TheFileStaysBoundedAndKeepsTheNewest) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "events.jsonl").string();
  {
    EventRecorder ev(10);
    std::vector<std::string> skipped;
    ASSERT_TRUE(ev.Open(path, &skipped).ok());
    for (int i = 0; i < 100; ++i) {
      ev.Record("Workflow", "w" + std::to_string(i), "Normal", "R", "event " + std::to_string(i));
      EXPECT_LE(Lines(path), 20u) << "at most twice the capacity in lines";
    }
    EXPECT_EQ(ev.List().size(), 10u);
  }
  EventRecorder again(10);
  std::vector<std::string> skipped;
  ASSERT_TRUE(again.Open(path, &skipped).ok());
  auto all = again.List();
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front().message, "event 90");
  EXPECT_EQ(all.back().message, "event 99");
  EXPECT_EQ(Lines(path), 10u) << "opening compacts the file";
}

TEST(EventRecorderTest, CorruptLinesAreSkippedWithTheirLineNumberNeverFatal) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "events.jsonl").string();
  Event good{"2026-01-01T00:00:00Z", "Workflow", "vqa", "Normal", "Solved", "ok", 1};
  ASSERT_TRUE(WriteFileAtomic(path, EventLine(1, good) + "not json\n" + "{\"seq\": 2}\n" + "[1,2]\n" +
                                        "{\"seq\":3,\"time\":\"t\",\"kind\":\"k\",\"name\":\"n\",\"type\":\"Bad\","
                                        "\"reason\":\"r\",\"message\":\"m\",\"count\":1}\n" +
                                        EventLine(4, good) + "{\"seq\":5,\"time\":\"t\"")
                  .ok());
  EventRecorder ev;
  std::vector<std::string> skipped;
  ASSERT_TRUE(ev.Open(path, &skipped).ok());
  ASSERT_EQ(skipped.size(), 5u);
  EXPECT_NE(skipped[0].find("events.jsonl line 2: not a JSON object"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find("line 3: no string \"time\""), std::string::npos) << skipped[1];
  EXPECT_NE(skipped[3].find("line 5: type is not Normal or Warning"), std::string::npos) << skipped[3];
  EXPECT_NE(skipped[4].find("line 7"), std::string::npos) << skipped[4];
  EXPECT_EQ(ev.List().size(), 2u);
}

TEST(EventRecorderTest, EveryEventIsLoggedWarningsAtWarn) {
  log::CaptureForTesting cap;
  EventRecorder ev;
  ev.Record("Workflow", "vqa", "Warning", "NodeNotReady", "node edge-1 is left out of the plan");
  ev.Record("Infrastructure", "vqa-medium", "Normal", "Applied", "applied");
  EXPECT_TRUE(cap.Has(log::Level::kWarn, {"workflow=vqa reason=NodeNotReady node edge-1 is left out of the plan"}));
  EXPECT_TRUE(cap.Has(log::Level::kInfo, {"reason=Applied Infrastructure/vqa-medium: applied"}));
}

}  // namespace
}  // namespace jb
