// Observed accuracy (ingress/accuracy.h): scorers, the Wilson interval against known values, the
// sliding window, and the AccuracyBelowFloor rule.
#include "ingress/accuracy.h"

#include <gtest/gtest.h>

namespace jb::ingress {
namespace {

TEST(ExactScorer, TrimsOuterWhitespaceButKeepsCaseAndInnerSpaces) {
  ExactScorer s;
  EXPECT_TRUE(*s.Score("k", "4\n", "4"));
  EXPECT_TRUE(*s.Score("k", " \tcat \r\n", "cat"));
  EXPECT_TRUE(*s.Score("k", "", "  "));
  EXPECT_FALSE(*s.Score("k", "Cat", "cat"));
  EXPECT_FALSE(*s.Score("k", "a  b", "a b"));
  EXPECT_FALSE(*s.Score("k", "42", "4"));
}

TEST(NormalizedScorer, FoldsAsciiCaseCollapsesWhitespaceRunsAndTrims) {
  NormalizedScorer s;
  EXPECT_TRUE(*s.Score("k", "INV-12345\n", "inv-12345"));
  EXPECT_TRUE(*s.Score("k", " 17\t Jun  2024 ", "17 jun 2024"));
  EXPECT_TRUE(*s.Score("k", "", " \r\n"));
  EXPECT_FALSE(*s.Score("k", "17 Jun2024", "17 Jun 2024")) << "a missing space still counts";
  EXPECT_FALSE(*s.Score("k", "42", "4"));
  // Only ASCII folds: bytes of UTF-8 letters are compared as they are.
  EXPECT_FALSE(*s.Score("k", "\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9"));
  EXPECT_EQ(NormalizedScorer::Normalize("\v A\t\tB  c\f"), "a b c");
}

// Stands in for the worker's process runner: records what it was given, answers a fixed output.
class FakeRunner : public ScorerRunner {
 public:
  StatusOr<std::string> Run(const std::vector<std::string>& argv, const std::string& input,
                            std::chrono::milliseconds timeout) override {
    argv_ = argv;
    input_ = input;
    timeout_ = timeout;
    return output_;
  }
  StatusOr<std::string> output_ = std::string("1\n");
  std::vector<std::string> argv_;
  std::string input_;
  std::chrono::milliseconds timeout_{0};
};

TEST(ExecScorer, SendsOneJsonLineAndReadsTheVerdict) {
  FakeRunner runner;
  auto scorer = MakeScorer("exec", {{"/usr/bin/judge", "--strict"}, std::chrono::milliseconds(250), 4096}, &runner);
  ASSERT_TRUE(scorer.ok());
  auto v = (*scorer)->Score("q-1", "four", "4");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(*v);
  EXPECT_EQ(runner.input_, "{\"key\":\"q-1\",\"answer\":\"four\",\"label\":\"4\"}\n");
  EXPECT_EQ(runner.argv_, (std::vector<std::string>{"/usr/bin/judge", "--strict"}));
  EXPECT_EQ(runner.timeout_, std::chrono::milliseconds(250));
  EXPECT_EQ(ExecScorer::RequestLine("b", std::string("\xff", 1), "x"),
            "{\"key\":\"b\",\"answer_base64\":\"/w==\",\"label\":\"x\"}\n");

  runner.output_ = std::string("{\"correct\": false}\n");
  EXPECT_FALSE(*(*scorer)->Score("q", "a", "b"));
  runner.output_ = std::string("maybe");
  auto bad = (*scorer)->Score("q", "a", "b");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "exec scorer answered 'maybe', expected 1, 0, true, false or {\"correct\": true|false}");
  runner.output_ = Status::DeadlineExceeded("timed out after 250 ms");
  auto late = (*scorer)->Score("q", "a", "b");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().message(), "exec scorer /usr/bin/judge: timed out after 250 ms");
  runner.output_ = std::string(5000, '1');
  EXPECT_FALSE((*scorer)->Score("q", "a", "b").ok());
}

TEST(ExecScorer, VerdictForms) {
  EXPECT_TRUE(*ExecScorer::ParseVerdict("true\n"));
  EXPECT_FALSE(*ExecScorer::ParseVerdict(" 0 "));
  EXPECT_TRUE(*ExecScorer::ParseVerdict("{\"correct\":true,\"why\":\"same\"}"));
  EXPECT_FALSE(ExecScorer::ParseVerdict("{\"correct\":1}").ok());
  EXPECT_FALSE(ExecScorer::ParseVerdict("").ok());
}

TEST(MakeScorer, DefaultIsExactAndUnknownNamesAreRefused) {
  auto d = MakeScorer("", {}, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(*(*d)->Score("k", "x ", "x"));
  EXPECT_EQ(MakeScorer("fuzzy", {}, nullptr).status().message(),
            "unknown scorer 'fuzzy', expected exact, normalized or exec");
  auto n = MakeScorer("normalized", {}, nullptr);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(*(*n)->Score("k", "Due  Date\n", "due date"));
  EXPECT_EQ(MakeScorer("exec", {}, nullptr).status().message(), "scorer exec: a command is required");
}

TEST(Wilson, KnownValues) {
  auto near = [](Interval got, double lo, double hi) {
    EXPECT_NEAR(got.lo, lo, 0.0005);
    EXPECT_NEAR(got.hi, hi, 0.0005);
  };
  near(WilsonInterval(8, 10), 0.490, 0.943);
  near(WilsonInterval(0, 10), 0.000, 0.278);
  near(WilsonInterval(10, 10), 0.722, 1.000);
  near(WilsonInterval(50, 100), 0.404, 0.596);
  near(WilsonInterval(95, 100), 0.888, 0.978);
  near(WilsonInterval(1, 1), 0.207, 1.000);
  near(WilsonInterval(0, 0), 0.0, 1.0);
}

TEST(AccuracyWindow, KeepsTheLastNScores) {
  AccuracyWindow w(3);
  EXPECT_EQ(w.Snapshot().count, 0u);
  for (bool c : {true, true, false, false}) w.Add(c);
  AccuracySnapshot s = w.Snapshot();
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.correct, 1u);  // the first true left the window
  EXPECT_EQ(s.total, 4u);
  EXPECT_NEAR(s.accuracy, 1.0 / 3, 1e-12);
  w.Add(true);
  w.Add(true);
  s = w.Snapshot();
  EXPECT_EQ(s.correct, 2u);
  EXPECT_NEAR(s.wilson95.lo, WilsonInterval(2, 3).lo, 1e-12);
}

AccuracySnapshot Snap(uint64_t correct, uint64_t n) {
  AccuracyWindow w(n);
  for (uint64_t i = 0; i < n; ++i) w.Add(i < correct);
  return w.Snapshot();
}

TEST(AccuracySlo, BelowFloorOnlyWhenTheWholeIntervalIsBelow) {
  EXPECT_FALSE(EvaluateAccuracySlo(Snap(0, 0), 80).met.has_value());  // no labels: not part of SLOMet
  AccuracySloVerdict small = EvaluateAccuracySlo(Snap(6, 10), 80);    // 60%, but [0.313, 0.832]
  EXPECT_EQ(small.met, true);
  EXPECT_EQ(
      small.message,
      "observed accuracy 60.0% (95% interval 31.3%-83.2%, n=10) is not distinguishable from the floor of 80.0% yet");
  AccuracySloVerdict low = EvaluateAccuracySlo(Snap(120, 200), 80);  // 60%, [0.531, 0.665]
  EXPECT_EQ(low.met, false);
  EXPECT_EQ(low.reason, "AccuracyBelowFloor");
  EXPECT_EQ(low.message, "observed accuracy 60.0% (95% interval 53.1%-66.5%, n=200) is below the floor of 80.0%");
  AccuracySloVerdict good = EvaluateAccuracySlo(Snap(95, 100), 80);
  EXPECT_EQ(good.met, true);
  EXPECT_EQ(good.reason, "");
  EXPECT_NE(good.message.find("meets the floor of 80.0%"), std::string::npos);
}

}  // namespace
}  // namespace jb::ingress
