// Runtimes behind the Runtime interface: chosen by name, each submitted item completes exactly
// once; the emulated runtime occupies a compute slot for its latency; the exec runtime runs a
// model process, retries an item when the process dies and gives up at the third failure.
#include "worker/runtime.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <utility>
#include <vector>

namespace jb {
namespace {

using namespace std::chrono_literals;

// Runs the loop until `pred` holds or 10 s pass.
bool RunUntil(EventLoop& loop, const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!pred() && std::chrono::steady_clock::now() < end) loop.RunOnce(10);
  return pred();
}

WorkerInstance Operator(const std::string& type) {
  WorkerInstance in;
  in.kind = "operator";
  in.name = "op";
  in.runtime.type = type;
  return in;
}

// An input over `parts` (which must outlive the call of Submit).
RuntimeInput Input(const std::vector<InputPart>& parts) {
  RuntimeInput in;
  in.parts = parts;
  in.enqueued = std::chrono::steady_clock::now();
  return in;
}

const std::vector<InputPart> kOnePart = {{"a", "x"}};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // a model process that exits closes the pipe we write to
    auto l = EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(*l);
  }
  std::unique_ptr<EventLoop> loop_;
  SlotPool slots_{1};
  std::vector<std::pair<uint64_t, RuntimeResult>> results_;  // (ticket, result) in completion order
  RuntimeEnv env() {
    return RuntimeEnv{loop_.get(), &slots_,
                      [this](uint64_t ticket, RuntimeResult r) { results_.emplace_back(ticket, std::move(r)); }};
  }
};

TEST_F(RuntimeTest, AnUnknownRuntimeIsRefusedNamingTheKnownOnes) {
  auto r = MakeRuntime(Operator("http"), env());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown runtime \"http\""), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("emulated, exec"), std::string::npos) << r.status().message();
}

TEST_F(RuntimeTest, EmulatedWithoutLatencyCompletesAtOnceWithItsOutputSize) {
  WorkerInstance in = Operator("emulated");
  in.runtime.output_kib = 2;
  auto r = MakeRuntime(in, env());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Start().ok());
  (*r)->Submit(7, Input(kOnePart));
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].first, 7u);
  EXPECT_EQ(results_[0].second.kind, RuntimeResult::Kind::kDone);
  EXPECT_EQ(results_[0].second.payload.size(), 2048u);
  EXPECT_TRUE((*r)->Ready());
}

TEST_F(RuntimeTest, EmulatedLatencyHoldsTheSlotUntilTheItemEnds) {
  WorkerInstance in = Operator("emulated");
  in.runtime.latency_ms = 20;
  auto r = MakeRuntime(in, env());
  ASSERT_TRUE(r.ok());
  auto start = std::chrono::steady_clock::now();
  (*r)->Submit(1, Input(kOnePart));
  EXPECT_TRUE(results_.empty());
  EXPECT_FALSE((*r)->Ready()) << "the node's only slot is busy";
  ASSERT_TRUE(RunUntil(*loop_, [&] { return results_.size() == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 18ms);
  EXPECT_EQ(results_[0].second.run_ms, 20);
  EXPECT_TRUE((*r)->Ready());
}

TEST_F(RuntimeTest, ExecRunsTheModelProcessOnTheConcatenatedParts) {
  WorkerInstance in = Operator("exec");
  in.runtime.command = {JB_EXAMPLE_MODEL};
  auto r = MakeRuntime(in, env());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Start().ok());
  ASSERT_TRUE((*r)->Ready());
  const std::vector<InputPart> parts = {{"a", "one two "}, {"b", "three"}};
  (*r)->Submit(3, Input(parts));
  EXPECT_FALSE((*r)->Ready()) << "one item at a time";
  ASSERT_TRUE(RunUntil(*loop_, [&] { return results_.size() == 1; }));
  EXPECT_EQ(results_[0].first, 3u);
  EXPECT_EQ(results_[0].second.kind, RuntimeResult::Kind::kDone);
  EXPECT_EQ(results_[0].second.payload, "words=3 bytes=13");
  EXPECT_TRUE((*r)->Ready());
  (*r)->Stop();
}

TEST_F(RuntimeTest, ExecRetriesAnItemWhenTheProcessDiesAndGivesUpAtTheThirdFailure) {
  WorkerInstance in = Operator("exec");
  in.runtime.command = {"/bin/sh", "-c", "head -c 1 >/dev/null; exit 3"};  // dies without answering
  in.runtime.framing = 1;  // a v1 script (it never says hello); v2: tests/worker/runtime_exec_test.cc
  auto r = MakeRuntime(in, env());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Start().ok());
  for (uint64_t attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(RunUntil(*loop_, [&] { return (*r)->Ready(); })) << "restarted for attempt " << attempt;
    (*r)->Submit(attempt, Input(kOnePart));
    ASSERT_TRUE(RunUntil(*loop_, [&] { return results_.size() == attempt + 1; })) << "attempt " << attempt;
    EXPECT_EQ(results_[attempt].first, attempt);
  }
  EXPECT_EQ(results_[0].second.kind, RuntimeResult::Kind::kRetry);
  EXPECT_EQ(results_[1].second.kind, RuntimeResult::Kind::kRetry);
  EXPECT_EQ(results_[2].second.kind, RuntimeResult::Kind::kFailed);
  EXPECT_EQ(results_[2].second.error.rfind("exec-failed: ", 0), 0u) << results_[2].second.error;
}

}  // namespace
}  // namespace jb
