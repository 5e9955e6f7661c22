// The path of labelled items through in-process workers (worker/worker_items.cc): dataset sources,
// request keys and labels through operators and joins, the sink's scoring and result log.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/test_util.h"
#include "tests/worker/running_worker.h"
#include "worker/framing.h"
#include "worker/worker.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

using Running = testing::RunningWorker;

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }
int Port() {
  auto p = PickFreePort();
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : 0;
}

WorkerConfig Base(const std::string& name, int port) {
  WorkerConfig c;
  c.workflow = "t";
  c.name = name;
  c.listen = Addr(port);
  c.metrics_interval_s = 0.02;
  return c;
}

// An index of inline items: key -> label ("" = none); the data is "data of KEY".
std::string Index(const std::filesystem::path& dir, const std::string& name,
                  const std::vector<std::pair<std::string, std::string>>& items) {
  std::ofstream f(dir / name);
  for (const auto& [k, l] : items)
    f << "{\"key\": \"" << k << "\", \"data\": \"data of " << k << "\""
      << (l.empty() ? "" : ", \"label\": \"" + l + "\"") << "}\n";
  return (dir / name).string();
}

WorkerInstance Dataset(const std::string& name, const std::string& index) {
  WorkerInstance i;
  i.kind = "source";
  i.name = name;
  i.type = "dataset";
  i.dataset = index;
  i.loop = false;
  i.rate = 500;
  return i;
}

WorkerInstance Op(const std::string& name) {
  WorkerInstance i;
  i.kind = "operator";
  i.name = name;
  i.runtime.output_kib = 1.0 / 1024;  // the emulated answer: "e"
  return i;
}

WorkerInstance SinkInst(const std::string& scorer, const std::optional<std::string>& log) {
  WorkerInstance i;
  i.kind = "sink";
  i.name = kSinkName;
  i.scorer = scorer;
  i.result_log = log;
  return i;
}

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

// Sources Doc and Q on io (or Q on io2), operators F, G and the join J on a, the sink on io.
struct Joined {
  int io_port = Port(), io2_port = Port(), a_port = Port();
  WorkerConfig io = Base("io", io_port), io2 = Base("io2", io2_port), a = Base("a", a_port);
  Joined(std::vector<WorkerInstance> io_instances, std::vector<WorkerInstance> io2_instances) {
    io.instances = std::move(io_instances);
    io2.instances = std::move(io2_instances);
    a.instances = {Op("F"), Op("G"), Op("J")};
    io.edges = io2.edges =
        a.edges = {{"Doc", "F", 1}, {"Q", "G", 1}, {"F", "J", 1}, {"G", "J", 1}, {"J", kSinkName, 1}};
    std::vector<WorkerRoute> routes;
    for (const auto& op : a.instances) routes.push_back({op.name, 0, 1, "a", Addr(a_port), ""});
    routes.push_back({kSinkName, 0, 1, "io", Addr(io_port), ""});
    io.routes = io2.routes = a.routes = routes;
  }
};

TEST(WorkerItems, LabelledDatasetPartsJoinAndTheSinkScoresAndLogsEveryAnswerOnce) {
  testing::TempDir dir;
  // The emulated join answers "e": right for k0..k2 (any case: normalized), wrong for k3 and k4.
  std::vector<std::pair<std::string, std::string>> items = {
      {"k0", "e"}, {"k1", "E "}, {"k2", "e"}, {"k3", "x"}, {"k4", "y"}};
  std::vector<std::pair<std::string, std::string>> questions = {
      {"k4", ""}, {"k3", ""}, {"k2", ""}, {"k1", ""}, {"k0", ""}};
  const auto log = dir.path() / "answers.jsonl";
  Joined t({Dataset("Doc", Index(dir.path(), "docs.jsonl", items)),
            Dataset("Q", Index(dir.path(), "questions.jsonl", questions)), SinkInst("normalized", log.string())},
           {});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out == 5; }, 10s));
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).scored == 5; }, 5s));
  auto sink = Find(io->Metrics(), kSinkName);
  EXPECT_EQ(sink.correct, 3);
  EXPECT_EQ(sink.window_scored, 5);
  EXPECT_EQ(sink.window_correct, 3);
  EXPECT_EQ(sink.score_errors, 0);
  EXPECT_TRUE(WaitFor([&] { return Find(io->Metrics(), "Doc").acked == 5; }, 5s));
  EXPECT_EQ(Find(io->Metrics(), "Doc").items_out, 5) << "once: the data set's 5 items, then the source stops";
  EXPECT_TRUE(Find(a->Metrics(), "J").dropped.empty());
  // Every answer in the result log once, with its key, the joined source and its label.
  std::set<std::string> keys;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::ifstream in(log);
        keys.clear();
        for (std::string l; std::getline(in, l);) keys.insert(l.substr(0, l.find(",\"seq\"")));
        return keys.size() == 5;
      },
      5s));
  EXPECT_EQ(*keys.begin(), "{\"key\":\"k0\",\"source\":\"Doc+Q\"");
  std::ifstream in(log);
  std::string first;
  std::getline(in, first);
  EXPECT_NE(first.find("\"answer\":\"e\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"correct\":"), std::string::npos) << first;
  EXPECT_NE(first.find("\"latency_ms\":"), std::string::npos) << first;
}

TEST(WorkerItems, DatasetSourcesOfOneWorkerWithDifferentKeysAreRefused) {
  testing::TempDir dir;
  WorkerConfig io = Base("io", 0);
  io.instances = {Dataset("Doc", Index(dir.path(), "a.jsonl", {{"k0", ""}, {"k1", ""}})),
                  Dataset("Q", Index(dir.path(), "b.jsonl", {{"k0", ""}, {"k2", ""}})), SinkInst("exact", {})};
  io.edges = {{"Doc", kSinkName, 1}, {"Q", kSinkName, 1}};
  io.routes = {{kSinkName, 0, 1, "io", "127.0.0.1:1", ""}};
  auto w = Worker::Create(io);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("dataset sources Doc and Q replay different keys"), std::string::npos)
      << w.status().message();
  EXPECT_NE(w.status().message().find("key 'k1'"), std::string::npos) << w.status().message();
}

TEST(WorkerItems, PartsWithDifferentRequestKeysAreDroppedAtTheJoinAndCounted) {
  // Sources on two workers (nothing checks them against each other): their seqs meet at the join
  // with different keys.
  testing::TempDir dir;
  Joined t({Dataset("Doc", Index(dir.path(), "a.jsonl", {{"a", ""}, {"b", ""}, {"c", ""}})), SinkInst("exact", {})},
           {Dataset("Q", Index(dir.path(), "b.jsonl", {{"b", ""}, {"c", ""}, {"d", ""}}))});
  Running a(t.a), io(t.io), io2(t.io2);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto j = Find(a->Metrics(), "J");
        return j.dropped.count("join-key-mismatch") && j.dropped.at("join-key-mismatch") == 6;
      },
      10s));
  EXPECT_TRUE(
      WaitFor([&] { return Find(io->Metrics(), "Doc").acked == 3 && Find(io2->Metrics(), "Q").acked == 3; }, 5s))
      << "dropped parts are acknowledged";
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 0);
}

// Sends items to a worker by hand (blocking socket), as the worker tests do.
class RawSender {
 public:
  explicit RawSender(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    wire::Frame hello;
    hello.mutable_hello()->set_stream("t/up->io");
    hello.mutable_hello()->set_incarnation(1);
    Send(hello);
  }
  ~RawSender() { close(fd_); }
  void Send(const wire::Frame& f) {
    std::string out;
    ASSERT_TRUE(EncodeFrame(f, &out).ok());
    ASSERT_EQ(write(fd_, out.data(), out.size()), static_cast<ssize_t>(out.size()));
  }
  void SendAnswer(uint64_t id, uint64_t seq, const std::string& answer, const std::string& label) {
    wire::Frame f;
    auto* it = f.mutable_item();
    it->set_source("A+B");
    it->set_seq(seq);
    it->set_op("J");
    it->set_dest(kSinkName);
    it->set_epoch(1);
    it->set_id(id);
    it->set_request_key("k" + std::to_string(seq));
    it->set_label(label);
    it->set_payload(answer);
    it->add_trace_ns(1);
    Send(f);
  }

 private:
  int fd_ = -1;
};

TEST(WorkerItems, ARepeatedDeliveryIsNeverScoredTwice) {
  WorkerConfig io = Base("io", Port());
  io.instances = {SinkInst("exact", {})};
  Running w(io);
  RawSender s(w->port());
  s.SendAnswer(1, 7, "4", "4");
  s.SendAnswer(2, 7, "4", "4");  // the same request again (a re-send)
  s.SendAnswer(3, 8, "5", "4");
  ASSERT_TRUE(WaitFor([&] { return Find(w->Metrics(), kSinkName).items_in == 3; }, 5s));
  auto sink = Find(w->Metrics(), kSinkName);
  EXPECT_EQ(sink.duplicates, 1);
  EXPECT_EQ(sink.scored, 2);
  EXPECT_EQ(sink.correct, 1);
}

}  // namespace
}  // namespace jb
