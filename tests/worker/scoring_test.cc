// The sink's scoring and result log (worker/scoring.h): inline and exec scorers, the window, the
// exec thread's bound, the result log's lines, and the process runner the exec scorer uses.
#include "worker/scoring.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "testing/util.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

SinkScoring::Answer Ans(const std::string& key, const std::string& answer, std::optional<std::string> label,
                        uint64_t seq = 1) {
  SinkScoring::Answer a;
  a.key = key;
  a.source = "Doc+Q";
  a.seq = seq;
  a.answer = answer;
  a.label = std::move(label);
  a.latency_ms = 12.25;
  return a;
}

std::unique_ptr<SinkScoring> Make(SinkScoringOptions o) {
  auto s = SinkScoring::Create(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<std::string> Lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(SinkScoring, ExactKeepsCaseNormalizedFoldsItAndUnlabelledAnswersAreNotScored) {
  SinkScoringOptions o;
  auto exact = Make(o);
  o.scorer = "normalized";
  auto norm = Make(o);
  ASSERT_TRUE(exact && norm);
  for (auto* s : {exact.get(), norm.get()}) {
    s->Add(Ans("k1", "INV-12345\n", "inv-12345"));
    s->Add(Ans("k2", "17  Jun 2024", "17 Jun 2024"));
    s->Add(Ans("k3", "4", "4"));
    s->Add(Ans("k4", "anything", std::nullopt));
  }
  auto e = exact->counts(), n = norm->counts();
  EXPECT_EQ(e.scored, 3);
  EXPECT_EQ(e.correct, 1);
  EXPECT_EQ(n.scored, 3);
  EXPECT_EQ(n.correct, 3);
  EXPECT_EQ(e.score_errors, 0);
}

TEST(SinkScoring, TheWindowHoldsTheLastScores) {
  SinkScoringOptions o;
  o.accuracy_window = 2;
  auto s = Make(o);
  ASSERT_TRUE(s);
  s->Add(Ans("a", "x", "x"));
  s->Add(Ans("b", "x", "y"));
  s->Add(Ans("c", "x", "x"));
  auto c = s->counts();
  EXPECT_EQ(c.scored, 3);
  EXPECT_EQ(c.correct, 2);
  EXPECT_EQ(c.window_scored, 2);
  EXPECT_EQ(c.window_correct, 1);
}

TEST(SinkScoring, AnExecScorerJudgesOnItsOwnThread) {
  SinkScoringOptions o;
  o.scorer = "exec";
  // Correct when the answer is "yes"; "?" makes the scorer fail (an error, not a wrong answer).
  o.scorer_command = {"/bin/sh", "-c",
                      "read l; case \"$l\" in *'\"answer\":\"yes\"'*) echo 1;; *'\"answer\":\"?\"'*) exit 3;; "
                      "*) echo '{\"correct\": false}';; esac"};
  auto s = Make(o);
  ASSERT_TRUE(s);
  s->Add(Ans("a", "yes", "yes"));
  s->Add(Ans("b", "no", "yes"));
  s->Add(Ans("c", "?", "yes"));
  s->Add(Ans("d", "yes", std::nullopt));  // not scored
  ASSERT_TRUE(s->WaitIdle(20s));
  auto c = s->counts();
  EXPECT_EQ(c.scored, 2);
  EXPECT_EQ(c.correct, 1);
  EXPECT_EQ(c.score_errors, 1);
  EXPECT_EQ(c.window_scored, 2);
}

TEST(SinkScoring, AnExecScorerNeverBlocksAddAndOverItsBoundAnAnswerIsAScoreError) {
  testing::TempDir dir;
  const auto go = dir.path() / "go";
  SinkScoringOptions o;
  o.scorer = "exec";
  o.max_queue = 1;
  o.scorer_command = {"/bin/sh", "-c",
                      "cat >/dev/null; while [ ! -e '" + go.string() + "' ]; do sleep 0.01; done; echo 1"};
  auto s = Make(o);
  ASSERT_TRUE(s);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) s->Add(Ans("k" + std::to_string(i), "a", "a"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "Add waited for the scorer";
  EXPECT_GE(s->counts().score_errors, 1) << "one running and one waiting at most";
  std::ofstream(go) << "";
  ASSERT_TRUE(s->WaitIdle(20s));
  auto c = s->counts();
  EXPECT_EQ(c.scored + c.score_errors, 3);
  EXPECT_EQ(c.correct, c.scored);
}

TEST(SinkScoring, TheQueueIsBoundedByBytesToo) {
  testing::TempDir dir;
  SinkScoringOptions o;
  o.result_log = (dir.path() / "answers.jsonl").string();
  o.max_queue_bytes = 10;
  auto s = Make(o);
  ASSERT_TRUE(s);
  s->Add(Ans("big", std::string(11, 'a'), std::nullopt));  // over the bound alone: not logged
  ASSERT_TRUE(s->WaitIdle(10s));
  EXPECT_EQ(s->counts().log_errors, 1);
  s->Add(Ans("small", "a", "a"));
  ASSERT_TRUE(s->WaitIdle(10s));
  EXPECT_EQ(s->counts().log_errors, 1);
  EXPECT_EQ(s->counts().correct, 1) << "an inline verdict does not wait for the queue";
  s.reset();
  EXPECT_EQ(Lines(dir.path() / "answers.jsonl").size(), 1u);
}

TEST(SinkScoring, TheResultLogHasALinePerAnswerWithVerdictAndLatency) {
  testing::TempDir dir;
  SinkScoringOptions o;
  o.result_log = (dir.path() / "answers.jsonl").string();
  auto s = Make(o);
  ASSERT_TRUE(s);
  s->Add(Ans("q00-d03", "17 Jun 2024\n", "17 Jun 2024", 41));
  s->Add(Ans("", "eee", std::nullopt, 42));
  ASSERT_TRUE(s->WaitIdle(10s));
  s.reset();  // syncs and closes
  auto lines = Lines(dir.path() / "answers.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, lines[0].find(",\"ts\"")),
            "{\"key\":\"q00-d03\",\"source\":\"Doc+Q\",\"seq\":41,\"answer\":\"17 Jun 2024\\n\",\"label\":\"17 Jun "
            "2024\",\"correct\":true,\"latency_ms\":12.25");
  EXPECT_EQ(lines[1].substr(0, lines[1].find(",\"ts\"")),
            "{\"key\":\"\",\"source\":\"Doc+Q\",\"seq\":42,\"answer\":\"eee\",\"latency_ms\":12.25");
}

TEST(SinkScoring, BadOptionsAreRefusedWithAReason) {
  SinkScoringOptions o;
  o.scorer = "exec";
  auto s = SinkScoring::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "sink: scorer exec: a command is required");
  o.scorer = "exact";
  o.result_log = "/nonexistent-dir/answers.jsonl";
  s = SinkScoring::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent-dir/answers.jsonl"), std::string::npos);
}

TEST(ProcessScorerRunner, OutputExitCodesTimeoutsAndMissingCommands) {
  ProcessScorerRunner r;
  auto out = r.Run({"/bin/sh", "-c", "tr a-z A-Z"}, "hello\n", 5s);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "HELLO\n");
  auto fail = r.Run({"/bin/sh", "-c", "exit 3"}, "x", 5s);
  ASSERT_FALSE(fail.ok());
  EXPECT_EQ(fail.status().message(), "exited with code 3");
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = r.Run({"/bin/sleep", "30"}, "", 200ms);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "killed on the timeout";
  auto missing = r.Run({"/nonexistent/judge"}, "x", 5s);
  ASSERT_FALSE(missing.ok());
  // A scorer that exits without reading a large input: an error or a verdict, never SIGPIPE.
  auto early = r.Run({"/bin/sh", "-c", "echo 1"}, std::string(1 << 20, 'a'), 5s);
  EXPECT_TRUE(early.ok()) << early.status().message();
}

}  // namespace
}  // namespace jb
