// base/log.h: the console line's key=value fields, the journald entry's fields, and that the level
// really filters.
#include "base/log.h"

#include <gtest/gtest.h>

namespace jb::log {
namespace {

TEST(LogTest, FormatLinePutsTheSetFieldsInOrderBeforeTheMessage) {
  Fields f;
  f.workflow = "vqa";
  f.epoch = 3;
  f.worker = "vqa-e3-detect-0";
  f.reason = "Replanned";
  EXPECT_EQ(FormatLine(f, "epoch 3 adopted"),
            "workflow=vqa epoch=3 worker=vqa-e3-detect-0 reason=Replanned epoch 3 adopted");
  EXPECT_EQ(FormatLine(Fields{}, "plain"), "plain");
  Fields only;
  only.reason = "X";
  EXPECT_EQ(FormatLine(only, "m"), "reason=X m");
}

TEST(LogTest, FormatLineQuotesValuesWithSpacesQuotesOrEquals) {
  Fields f;
  f.workflow = "a b";
  f.worker = "say \"hi\"";
  f.reason = "k=v";
  EXPECT_EQ(FormatLine(f, "m"), "workflow=\"a b\" worker=\"say \\\"hi\\\"\" reason=\"k=v\" m");
}

TEST(LogTest, JournalEntryCarriesTheFieldsAsJournalFields) {
  Fields f;
  f.workflow = "vqa";
  f.epoch = 7;
  f.reason = "WorkerExited";
  auto e = JournalEntry(Level::kWarn, f, "killed by SIGKILL");
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0], "MESSAGE=workflow=vqa epoch=7 reason=WorkerExited killed by SIGKILL");
  EXPECT_EQ(e[1], "PRIORITY=4");
  EXPECT_EQ(e[2], "JB_LEVEL=warn");
  EXPECT_EQ(e[3], "JB_WORKFLOW=vqa");
  EXPECT_EQ(e[4], "JB_EPOCH=7");
  EXPECT_EQ(e[5], "JB_REASON=WorkerExited");
  EXPECT_EQ(JournalEntry(Level::kError, Fields{}, "x")[1], "PRIORITY=3");
  EXPECT_EQ(JournalEntry(Level::kInfo, Fields{}, "x")[1], "PRIORITY=6");
  EXPECT_EQ(JournalEntry(Level::kDebug, Fields{}, "x")[1], "PRIORITY=7");
}

TEST(LogTest, ParseLevelTakesTheFlagsValuesAndRefusesOthers) {
  EXPECT_EQ(*ParseLevel("trace"), Level::kTrace);
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("info"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_FALSE(ParseLevel("verbose").ok());
  EXPECT_STREQ(LevelName(Level::kWarn), "warn");
}

TEST(LogTest, TheLevelDecidesWhatIsLogged) {
  Init("log_test", Level::kWarn, Sink::kConsole);
  {
    CaptureForTesting cap;
    Info(Fields{}, "not shown");
    Debug(Fields{}, "not shown");
    Warn(Fields{"vqa", 2, "", "R"}, "shown");
    Error(Fields{}, "also shown");
    auto lines = cap.Lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].second, "workflow=vqa epoch=2 reason=R shown");
    EXPECT_TRUE(cap.Has(Level::kError, {"also shown"}));
  }
  SetLevel(Level::kTrace);
  {
    CaptureForTesting cap;
    Trace(Fields{}, "a trace line");
    EXPECT_TRUE(cap.Has(Level::kTrace, {"a trace line"}));
  }
  SetLevel(Level::kInfo);
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_TRUE(Enabled(Level::kInfo));
}

}  // namespace
}  // namespace jb::log
