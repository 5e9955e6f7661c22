// The exec runtime (worker/runtime_exec.cc) over exec framing v2 and the legacy v1: the key and the
// named parts reach the model; an error frame fails only its item ("model-error"); a crash or an
// answer under another key restarts the process and retries the item; a model that cannot start
// fails Start() clearly; `framing: 1` still drives a v1-only model. Then a join as an exec process
// in in-process workers (tests/worker/worker_test.cc runs the rest of the data plane).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "tests/test_util.h"
#include "tests/worker/running_worker.h"
#include "worker/runtime.h"
#include "worker/worker.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

bool RunUntil(EventLoop& loop, const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!pred() && std::chrono::steady_clock::now() < end) loop.RunOnce(10);
  return pred();
}

// A fresh directory for one test, removed at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() / ("jb-" + tag + "-" + std::to_string(getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The join model's record: one (pid, key, part names) per request it saw.
struct Seen {
  std::string pid, key, parts;
};
std::vector<Seen> ReadRecord(const std::string& path) {
  std::vector<Seen> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    Seen r;
    std::getline(s, r.pid, '\t');
    std::getline(s, r.key, '\t');
    std::getline(s, r.parts);
    out.push_back(r);
  }
  return out;
}

class ExecRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as jellybean-worker's main(): a model that exits closes our pipe
    auto l = EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(*l);
  }
  RuntimeEnv env() {
    return RuntimeEnv{loop_.get(), &slots_,
                      [this](uint64_t ticket, RuntimeResult r) { results_.emplace_back(ticket, std::move(r)); }};
  }
  std::unique_ptr<Runtime> Started(std::vector<std::string> command, int64_t framing = 2) {
    WorkerInstance in;
    in.kind = "operator";
    in.name = "J";
    in.runtime.type = "exec";
    in.runtime.framing = framing;
    in.runtime.command = std::move(command);
    auto r = MakeRuntime(in, env());
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return nullptr;
    auto s = (*r)->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? std::move(*r) : nullptr;
  }
  // Submits one item (seq, request key, parts) once the runtime is ready and waits for its result.
  std::optional<RuntimeResult> Run(Runtime& r, uint64_t seq, std::string_view request_key,
                                   const std::vector<InputPart>& parts) {
    if (!RunUntil(*loop_, [&] { return r.Ready(); })) return std::nullopt;
    RuntimeInput in;
    in.seq = seq;
    in.request_key = request_key;
    in.parts = parts;
    in.enqueued = std::chrono::steady_clock::now();
    size_t before = results_.size();
    r.Submit(seq, in);
    if (!RunUntil(*loop_, [&] { return results_.size() > before; })) return std::nullopt;
    EXPECT_EQ(results_.back().first, seq);
    return results_.back().second;
  }

  std::unique_ptr<EventLoop> loop_;
  SlotPool slots_{1};
  std::vector<std::pair<uint64_t, RuntimeResult>> results_;
};

const std::vector<InputPart> kTwoParts = {{"Img", "ab"}, {"Txt", "cd"}};

TEST_F(ExecRuntimeTest, V2SendsTheKeyAndOneNamedPartPerInput) {
  auto r = Started({JB_EXAMPLE_JOIN_MODEL, "--expect", "Img", "--expect", "Txt"});
  ASSERT_TRUE(r);
  auto by_seq = Run(*r, 7, "", kTwoParts);
  ASSERT_TRUE(by_seq);
  EXPECT_EQ(by_seq->kind, RuntimeResult::Kind::kDone);
  EXPECT_EQ(by_seq->payload, "key=7\nImg=ab\nTxt=cd") << "no request key: the decimal seq is the key";
  auto by_key = Run(*r, 8, "req-42", kTwoParts);
  ASSERT_TRUE(by_key);
  EXPECT_EQ(by_key->payload, "key=req-42\nImg=ab\nTxt=cd") << "the request key when there is one";
  EXPECT_GE(by_key->run_ms, 0);
}

TEST_F(ExecRuntimeTest, TheWordCountExampleCountsAcrossPartsAsWhenTheyWereConcatenated) {
  auto r = Started({JB_EXAMPLE_MODEL});
  ASSERT_TRUE(r);
  auto res = Run(*r, 1, "", {{"a", "one tw"}, {"b", "o three"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->payload, "words=3 bytes=13");
}

TEST_F(ExecRuntimeTest, AnErrorFrameFailsOnlyItsItemAsModelErrorAndTheProcessStaysUp) {
  TempDir dir("exec-error");
  auto r = Started({JB_EXAMPLE_JOIN_MODEL, "--fail-every", "2", "--record", dir.File("record")});
  ASSERT_TRUE(r);
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    auto res = Run(*r, seq, "", kTwoParts);
    ASSERT_TRUE(res) << seq;
    if (seq % 2 == 0) {
      EXPECT_EQ(res->kind, RuntimeResult::Kind::kFailed) << seq;
      EXPECT_EQ(res->error, "model-error") << seq;
    } else {
      EXPECT_EQ(res->kind, RuntimeResult::Kind::kDone) << seq;
    }
  }
  auto seen = ReadRecord(dir.File("record"));
  ASSERT_EQ(seen.size(), 5u);
  for (const auto& s : seen) EXPECT_EQ(s.pid, seen[0].pid) << "one process served every item";
}

TEST_F(ExecRuntimeTest, AnAnswerUnderAnotherKeyRestartsTheProcessAndRetriesTheItem) {
  TempDir dir("exec-key");
  auto r = Started({JB_EXAMPLE_JOIN_MODEL, "--misanswer-key", "5", "--record", dir.File("record")});
  ASSERT_TRUE(r);
  auto first = Run(*r, 5, "", kTwoParts);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->kind, RuntimeResult::Kind::kRetry);
  EXPECT_EQ(Run(*r, 5, "", kTwoParts)->kind, RuntimeResult::Kind::kRetry);
  auto third = Run(*r, 5, "", kTwoParts);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->kind, RuntimeResult::Kind::kFailed);
  EXPECT_EQ(third->error, "exec-failed: model process answered key \"not-5\" to request \"5\"");
  auto next = Run(*r, 6, "", kTwoParts);  // on a fourth process, restarted without blocking the loop
  ASSERT_TRUE(next);
  EXPECT_EQ(next->kind, RuntimeResult::Kind::kDone);
  std::set<std::string> pids;
  for (const auto& s : ReadRecord(dir.File("record"))) pids.insert(s.pid);
  EXPECT_EQ(pids.size(), 4u);
}

TEST_F(ExecRuntimeTest, AProcessThatDiesOnAnItemIsRestartedAndTheItemDroppedAtTheThirdFailure) {
  auto r = Started({JB_EXAMPLE_JOIN_MODEL, "--exit-on-key", "3"});
  ASSERT_TRUE(r);
  EXPECT_EQ(Run(*r, 2, "", kTwoParts)->kind, RuntimeResult::Kind::kDone);
  EXPECT_EQ(Run(*r, 3, "", kTwoParts)->kind, RuntimeResult::Kind::kRetry);
  EXPECT_EQ(Run(*r, 3, "", kTwoParts)->kind, RuntimeResult::Kind::kRetry);
  auto third = Run(*r, 3, "", kTwoParts);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->kind, RuntimeResult::Kind::kFailed);
  // "exited with code 1" once the process is reaped by then (the loop does not wait for it).
  EXPECT_EQ(third->error.rfind("exec-failed: model process exited", 0), 0u) << third->error;
  auto next = Run(*r, 4, "", kTwoParts);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->payload, "key=4\nImg=ab\nTxt=cd");
}

TEST_F(ExecRuntimeTest, Framing1StillDrivesAV1OnlyModelOnTheConcatenatedParts) {
  auto r = Started({JB_EXAMPLE_MODEL_V1}, /*framing=*/1);
  ASSERT_TRUE(r);
  auto res = Run(*r, 1, "ignored-under-v1", {{"a", "one two "}, {"b", "three"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->kind, RuntimeResult::Kind::kDone);
  EXPECT_EQ(res->payload, "words=3 bytes=13");
}

TEST_F(ExecRuntimeTest, Framing1AlsoDrivesAModelBuiltOnServeModel) {
  auto r = Started({JB_EXAMPLE_JOIN_MODEL}, /*framing=*/1);
  ASSERT_TRUE(r);
  auto res = Run(*r, 1, "", kTwoParts);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->payload, "key=\n=abcd") << "v1: no key, one unnamed part";
}

// Start() of a model that cannot start: the error names the operator and the command, and says why.
Status StartError(std::vector<std::string> command, std::chrono::milliseconds timeout, const RuntimeEnv& env) {
  WorkerInstance in;
  in.kind = "operator";
  in.name = "J";
  in.runtime.type = "exec";
  in.runtime.command = std::move(command);
  auto r = MakeExecRuntimeWith(in, env, ExecRuntimeOptions{timeout});
  if (!r.ok()) return r.status();
  return (*r)->Start();
}

TEST_F(ExecRuntimeTest, StartFailsClearlyWhenTheModelExitsBeforeItsHello) {
  auto s = StartError({"/bin/sh", "-c", "exit 7"}, 10s, env());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exec runtime of J: model process `/bin/sh -c exit 7`"), std::string::npos) << s.message();
  EXPECT_TRUE(s.message().find("exited with code 7") != std::string::npos ||
              s.message().find("stopped reading its stdin") != std::string::npos)
      << s.message();
}

TEST_F(ExecRuntimeTest, StartFailsClearlyWhenTheModelSendsSomethingElse) {
  auto s = StartError({"/bin/sh", "-c", "echo ready; exec cat >/dev/null"}, 10s, env());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("broke the framing: exec frame without the \"JBX\" magic"), std::string::npos)
      << s.message();
}

TEST_F(ExecRuntimeTest, StartFailsWithinTheStartUpTimeoutWhenTheModelSendsNoHello) {
  auto t0 = std::chrono::steady_clock::now();
  auto s = StartError({"/bin/sleep", "30"}, 300ms, env());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sent no hello frame within 300 ms"), std::string::npos) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(ExecRuntimeTest, AV1OnlyModelUnderTheDefaultFramingFailsStartWithAHint) {
  auto s = StartError({JB_EXAMPLE_MODEL_V1}, 300ms, env());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sent no hello frame"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("a v1-only model needs runtime.framing: 1"), std::string::npos) << s.message();
}

TEST_F(ExecRuntimeTest, StartFailsForACommandThatDoesNotExist) {
  auto s = StartError({"/nonexistent/model"}, 10s, env());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot start /nonexistent/model"), std::string::npos) << s.message();
}

// ---- a join as an exec process, in in-process workers ---------------------------------------------

using testing::WaitFor;

using Running = testing::RunningWorker;

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

// Sources Img and Txt (10-byte payloads) and the sink on worker "io"; the join J on worker "a",
// running `command` over exec framing v2.
struct JoinTopology {
  WorkerConfig io, a;
  explicit JoinTopology(std::vector<std::string> command, int64_t limit) {
    auto io_port = PickFreePort(), a_port = PickFreePort();
    EXPECT_TRUE(io_port.ok() && a_port.ok());
    for (auto* c : {&io, &a}) {
      c->workflow = "t";
      c->metrics_interval_s = 0.02;
    }
    io.name = "io";
    io.tier = "edge";
    a.name = "a";
    a.tier = "cloud";
    io.listen = Addr(*io_port);
    a.listen = Addr(*a_port);
    for (const char* name : {"Img", "Txt"}) {
      WorkerInstance s;
      s.kind = "source";
      s.name = name;
      s.rate = 400;
      s.limit = limit;
      s.item_kib = 10.0 / 1024;
      io.instances.push_back(s);
    }
    WorkerInstance sink;
    sink.kind = "sink";
    sink.name = kSinkName;
    io.instances.push_back(sink);
    WorkerInstance j;
    j.kind = "operator";
    j.name = "J";
    j.runtime.type = "exec";
    j.runtime.command = std::move(command);
    a.instances.push_back(j);
    io.edges = a.edges = {{"Img", "J", 1}, {"Txt", "J", 1}, {"J", kSinkName, 1}};
    io.routes = a.routes = {{"J", 0, 1, "a", Addr(*a_port), "cloud"}, {kSinkName, 0, 1, "io", Addr(*io_port), "edge"}};
  }
};

TEST(ExecJoin, AJoinedExecOperatorSeesTheKeyAndBothNamedPartsOfEveryRequest) {
  TempDir dir("exec-join");
  const int64_t n = 40;
  JoinTopology t({JB_EXAMPLE_JOIN_MODEL, "--expect", "Img", "--expect", "Txt", "--record", dir.File("record")}, n);
  Running a(t.a), io(t.io);
  ASSERT_TRUE(a.ok() && io.ok());
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out == n; }, 10s));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = a->Metrics();
        return !m.links.empty() && m.links[0].items == n;
      },
      5s));  // a's snapshot catches up
  auto seen = ReadRecord(dir.File("record"));
  ASSERT_EQ(static_cast<int64_t>(seen.size()), n);
  std::set<std::string> keys;
  int64_t answer_bytes = 0;
  for (const auto& s : seen) {
    EXPECT_EQ(s.parts, "Img,Txt") << "one part per input, named after its producer, in input order";
    EXPECT_EQ(s.key.find_first_not_of("0123456789"), std::string::npos) << s.key << ": the request seq";
    keys.insert(s.key);
    answer_bytes += static_cast<int64_t>(std::string("key=" + s.key + "\nImg=ssssssssss\nTxt=ssssssssss").size());
  }
  EXPECT_EQ(static_cast<int64_t>(keys.size()), n) << "each request once";
  auto am = a->Metrics();
  EXPECT_EQ(Find(am, "J").dropped.size(), 0u);
  // What J sent to the sink is exactly the model's answers to the recorded requests.
  EXPECT_EQ(am.links[0].payload_bytes, answer_bytes);
  EXPECT_EQ(Find(io->Metrics(), kSinkName).duplicates, 0);
}

TEST(ExecJoin, ModelErrorsAreCountedDropsAcknowledgedToTheSourcesAndTheOtherRequestsArrive) {
  TempDir dir("exec-join-error");
  const int64_t n = 40;
  JoinTopology t({JB_EXAMPLE_JOIN_MODEL, "--fail-every", "4", "--record", dir.File("record")}, n);
  Running a(t.a), io(t.io);
  ASSERT_TRUE(a.ok() && io.ok());
  // Was: a joined request that its model failed was never acknowledged to its sources (the join
  // kept its reference), so they held it, and its credit, for good.
  ASSERT_TRUE(
      WaitFor([&] { return Find(io->Metrics(), "Img").acked == n && Find(io->Metrics(), "Txt").acked == n; }, 10s));
  auto seen = ReadRecord(dir.File("record"));
  ASSERT_EQ(static_cast<int64_t>(seen.size()), n);
  int64_t refused = 0;
  for (const auto& s : seen) {
    EXPECT_EQ(s.pid, seen[0].pid) << "the process stayed up";
    if (std::stoll(s.key) % 4 == 0) ++refused;
  }
  ASSERT_TRUE(WaitFor([&] { return Find(a->Metrics(), "J").dropped["model-error"] == refused; }, 5s));
  EXPECT_GT(refused, 0);
  EXPECT_EQ(Find(a->Metrics(), "J").dropped.size(), 1u) << "no other drop reason";
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, n - refused);
}

}  // namespace
}  // namespace jb
