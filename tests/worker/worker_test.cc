// Data-plane tests with in-process workers (each Worker runs its loop on a thread of the test).
#include "worker/worker.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "tests/test_util.h"
#include "tests/worker/running_worker.h"
#include "worker/durable_state.h"
#include "worker/framing.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

using Running = testing::RunningWorker;

// A worker restarted on its fixed port: the port may be taken for a moment by an outgoing
// connection's ephemeral port, so binding is retried for up to 2 s.
std::unique_ptr<Running> Restart(const WorkerConfig& c) {
  auto r = std::make_unique<Running>(c, false);
  for (int i = 0; i < 100 && !r->ok(); ++i) {
    std::this_thread::sleep_for(20ms);
    r = std::make_unique<Running>(c, false);
  }
  return r;
}

WorkerConfig Base(const std::string& name) {
  WorkerConfig c;
  c.workflow = "t";
  c.name = name;
  c.tier = name == "io" ? "edge" : "cloud";
  c.metrics_interval_s = 0.02;
  return c;
}

WorkerInstance Op(const std::string& name, double latency_ms, double out_kib) {
  WorkerInstance i;
  i.kind = "operator";
  i.name = name;
  i.runtime.latency_ms = latency_ms;
  i.runtime.output_kib = out_kib;
  return i;
}

WorkerInstance Src(const std::string& name, double rate, int64_t limit, double kib = 1) {
  WorkerInstance i;
  i.kind = "source";
  i.name = name;
  i.rate = rate;
  i.limit = limit;
  i.item_kib = kib;
  return i;
}

WorkerInstance Sink() {
  WorkerInstance i;
  i.kind = "sink";
  i.name = kSinkName;
  return i;
}

// By value (callers pass temporary snapshots); all zero before the first snapshot.
InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

int64_t Drops(const InstanceMetrics& m) {
  int64_t n = 0;
  for (const auto& [reason, count] : m.dropped) n += count;
  return n;
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

int Port() {
  auto p = PickFreePort();
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : 0;
}

// io (sources + sink, tier edge) feeding operators on worker "a" (tier cloud) and back to the sink.
struct Topology {
  int io_port = Port(), a_port = Port();
  WorkerConfig io = Base("io"), a = Base("a");
  Topology(std::vector<WorkerInstance> sources, std::vector<WorkerInstance> ops, std::vector<WorkerEdge> edges) {
    io.listen = Addr(io_port);
    a.listen = Addr(a_port);
    io.instances = std::move(sources);
    io.instances.push_back(Sink());
    a.instances = std::move(ops);
    io.edges = a.edges = edges;
    std::vector<WorkerRoute> routes;
    for (const auto& op : a.instances) routes.push_back({op.name, 0, 1, "a", Addr(a_port), "cloud"});
    routes.push_back({kSinkName, 0, 1, "io", Addr(io_port), "edge"});
    io.routes = a.routes = routes;
  }
};

TEST(Worker, ChainDeliversEveryItemOnceAndCountsBytesPerLink) {
  Topology t({Src("S", 2000, 400, 2)}, {Op("A", 0.2, 0.5)}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out == 400; }, 10s));
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 400; }, 5s));
  // Snapshots are refreshed every metricsIntervalS: wait for a's to catch up (a loaded machine).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto am = a->Metrics();
        return Find(am, "A").items_out == 400 && am.held_items == 0;
      },
      5s));
  auto m = io->Metrics();
  auto sink = Find(m, kSinkName);
  EXPECT_EQ(sink.duplicates, 0);
  EXPECT_EQ(Drops(sink), 0);
  EXPECT_GT(sink.p50_ms, 0);
  EXPECT_EQ(Find(a->Metrics(), "A").items_out, 400);
  // io -> a carried 400 source payloads of 2 KiB; a -> io carried 400 outputs of 0.5 KiB.
  ASSERT_EQ(m.links.size(), 1u);
  EXPECT_EQ(m.links[0].tier, "cloud");
  EXPECT_EQ(m.links[0].payload_bytes, 400 * 2048);
  auto am = a->Metrics();
  ASSERT_EQ(am.links.size(), 1u);
  EXPECT_EQ(am.links[0].payload_bytes, 400 * 512);
  EXPECT_TRUE(am.emulated);
  EXPECT_EQ(am.held_items, 0);
}

TEST(Worker, OperatorReportsServiceTimePercentilesVariantAndOutputSize) {
  // The emulated runtime's run time is its latency: every percentile of A's service time is 3 ms
  // (queueing excluded, though 500 items/s against one 3 ms slot queue up), its output 0.75 KiB.
  auto op = Op("A", 3, 0.75);
  op.variant = "small";
  Topology t({Src("S", 500, 120)}, {op}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(a->Metrics(), "A").items_out == 120; }, 10s));
  auto am = Find(a->Metrics(), "A");
  EXPECT_EQ(am.variant, "small");
  EXPECT_DOUBLE_EQ(am.p50_ms, 3);
  EXPECT_DOUBLE_EQ(am.p75_ms, 3);
  EXPECT_DOUBLE_EQ(am.p90_ms, 3);
  EXPECT_DOUBLE_EQ(am.p99_ms, 3);
  EXPECT_DOUBLE_EQ(am.output_bytes, 768);
}

TEST(Worker, JoinMatchesPartsByRequest) {
  Topology t({Src("Img", 1000, 300), Src("Txt", 1000, 300)}, {Op("F", 0.1, 1), Op("G", 0.1, 1), Op("J", 0.1, 0.1)},
             {{"Img", "F", 1}, {"Txt", "G", 1}, {"F", "J", 1}, {"G", "J", 1}, {"J", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out == 300; }, 10s));
  ASSERT_TRUE(WaitFor([&] { return Find(a->Metrics(), "J").items_out == 300; }, 5s));  // a's snapshot catches up
  auto am = a->Metrics();
  EXPECT_EQ(Drops(Find(am, "J")), 0);
  EXPECT_EQ(Find(io->Metrics(), kSinkName).duplicates, 0);
}

TEST(Worker, RatioThinsDeterministically) {
  Topology t({Src("S", 2000, 100)}, {Op("A", 0, 0.1)}, {{"S", "A", 0.25}, {"A", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 100; }, 10s));
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 25);
}

TEST(Worker, UnfinishedJoinsAreDroppedAndCounted) {
  // Only one of the join's two inputs ever produces: every part times out and is counted.
  Topology t({Src("Img", 1000, 50)}, {Op("J", 0, 0.1)}, {{"Img", "J", 1}, {"Other", "J", 1}, {"J", kSinkName, 1}});
  t.a.join_timeout_s = 0.1;
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Drops(Find(a->Metrics(), "J")) == 50; }, 10s));
  EXPECT_EQ(Find(a->Metrics(), "J").dropped.at("join-timeout"), 50);
  // Dropped items are acknowledged, so the source is not stuck re-sending them.
  EXPECT_TRUE(WaitFor([&] { return Find(io->Metrics(), "Img").acked == 50; }, 5s));
}

TEST(Worker, ALatePartOfATimedOutJoinIsDroppedNotDiscardedAsADuplicate) {
  // G answers after the join has given up on its request: the late part belongs to a dropped
  // request, it is not a repeat of anything delivered (worker.h, guarantee 4). G's first answer
  // comes after 1 s, so no sender of G's input is heard before every request has waited the 0.1-s
  // timeout: nothing holds them back as "behind" (join_buffer.h).
  Topology t({Src("Img", 100, 4), Src("Txt", 100, 4)}, {Op("F", 0, 1), Op("G", 1000, 1), Op("J", 0, 0.1)},
             {{"Img", "F", 1}, {"Txt", "G", 1}, {"F", "J", 1}, {"G", "J", 1}, {"J", kSinkName, 1}});
  t.a.join_timeout_s = 0.1;
  Running a(t.a), io(t.io);
  ASSERT_TRUE(
      WaitFor([&] { return Find(io->Metrics(), "Img").acked == 4 && Find(io->Metrics(), "Txt").acked == 4; }, 15s));
  ASSERT_TRUE(WaitFor([&] { return Drops(Find(a->Metrics(), "J")) == 8; }, 5s)) << Drops(Find(a->Metrics(), "J"));
  EXPECT_EQ(Find(a->Metrics(), "J").dropped.at("join-timeout"), 8);
  EXPECT_EQ(Find(a->Metrics(), "J").duplicates, 0);
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 0);
}

TEST(Worker, SlowOperatorPushesBackAndMemoryStaysBounded) {
  // The operator serves 200 items/s; the source offers 5000/s. The window (16) must hold the
  // source back: memory stays within the stated bound and nothing is dropped.
  Topology t({Src("S", 5000, 0, 4)}, {Op("A", 5, 0.1)}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  t.io.window = t.a.window = 16;
  Running a(t.a), io(t.io);
  int64_t max_held = 0;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(20ms);
    auto am = a->Metrics(), im = io->Metrics();
    max_held = std::max({max_held, am.held_items, im.held_items});
    EXPECT_LE(am.held_items, am.max_held_items);
    EXPECT_LE(im.held_items, im.max_held_items);
  }
  auto im = io->Metrics();
  auto src = Find(im, "S");
  // Emitted at most what A could serve plus the windows, far below the 5000/s offered.
  EXPECT_LT(src.items_out, 600) << "the source was not held back";
  EXPECT_GT(src.items_out, 100);
  EXPECT_EQ(Drops(Find(a->Metrics(), "A")), 0);
  EXPECT_LE(max_held, 4 * 16 + 4);
}

TEST(Worker, KilledWorkerLosesNothingAfterRestart) {
  // A (4 ms per item) is slower than the source (500/s): a backlog is in flight when it dies.
  Topology t({Src("S", 500, 600)}, {Op("A", 4, 0.1)}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  auto a = std::make_unique<Running>(t.a);
  Running io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out >= 150; }, 10s));
  a->Kill();  // everything in a's memory is gone
  std::this_thread::sleep_for(100ms);
  a = std::make_unique<Running>(t.a);  // back on the same port
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 600; }, 20s));
  auto m = io->Metrics();
  EXPECT_EQ(Find(m, kSinkName).items_out, 600);  // every item, once
  ASSERT_EQ(m.links.size(), 1u);
  EXPECT_GT(m.links[0].resent, 0);  // some had to be sent again
}

TEST(Worker, ARestartedSourceWorkersNewRequestsAreNotDiscardedAsDuplicates) {
  // Regression: the io worker (sources and sink) restarted and its sources numbered
  // their requests from 1 again, while the join on `a` still remembered those numbers as done:
  // every new request was discarded as a duplicate. The sources must continue above every number
  // their predecessor could have used (the reservation persisted next to the metrics file).
  testing::TempDir dir;
  Topology t({Src("Img", 1000, 200), Src("Txt", 1000, 200)}, {Op("F", 0.1, 1), Op("G", 0.1, 1), Op("J", 0.1, 0.1)},
             {{"Img", "F", 1}, {"Txt", "G", 1}, {"F", "J", 1}, {"G", "J", 1}, {"J", kSinkName, 1}});
  t.io.metrics_file = (dir.path() / "io.metrics.json").string();
  Running a(t.a);
  auto io = std::make_unique<Running>(t.io);
  ASSERT_TRUE(WaitFor(
      [&] { return Find((*io)->Metrics(), "Img").acked == 200 && Find((*io)->Metrics(), "Txt").acked == 200; }, 10s));
  ASSERT_TRUE(WaitFor([&] { return Find(a->Metrics(), "J").items_out == 200; }, 5s));
  io->Kill();
  io = Restart(t.io);  // a new process: its sources emit 200 requests again
  ASSERT_TRUE(io->ok());
  ASSERT_TRUE(WaitFor(
      [&] { return Find((*io)->Metrics(), "Img").items_out == 200 && Find((*io)->Metrics(), "Txt").items_out == 200; },
      10s));
  EXPECT_TRUE(WaitFor([&] { return Find((*io)->Metrics(), kSinkName).items_out == 200; }, 10s))
      << "delivered " << Find((*io)->Metrics(), kSinkName).items_out << " of 200 new requests";
  ASSERT_TRUE(WaitFor([&] { return Find(a->Metrics(), "J").items_out == 400; }, 5s));
  EXPECT_EQ(Find(a->Metrics(), "J").duplicates, 0) << "new requests discarded as repeats of the old ones";
  EXPECT_EQ(Drops(Find(a->Metrics(), "J")), 0);
  // The new process numbered above the old one, and the sink's record has all 400 requests once.
  EXPECT_GT(Find((*io)->Metrics(), "Img").first_seq, 200);
  EXPECT_EQ(Find((*io)->Metrics(), "Img").first_seq, Find((*io)->Metrics(), "Txt").first_seq);
  io->Kill();
  std::set<uint64_t> seqs;
  int lines = 0;
  std::istringstream record(testing::ReadFile(dir.path() / "io.delivered"));
  for (std::string line; std::getline(record, line); ++lines) {
    DeliveryRecord::Entry e;
    ASSERT_TRUE(DeliveryRecord::ParseLine(line, &e)) << line;
    EXPECT_EQ(e.source, "Img+Txt");
    seqs.insert(e.seq);
  }
  EXPECT_EQ(lines, 400);
  EXPECT_EQ(seqs.size(), 400u);
}

// A sender speaking the wire protocol by hand (blocking socket, 5 s timeouts).
class RawSender {
 public:
  RawSender(int port, uint64_t incarnation) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    wire::Frame hello;
    hello.mutable_hello()->set_stream("t/up->io");
    hello.mutable_hello()->set_incarnation(incarnation);
    Send(hello);
  }
  ~RawSender() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const wire::Frame& f) {
    std::string out;
    ASSERT_TRUE(EncodeFrame(f, &out).ok());
    ASSERT_EQ(write(fd_, out.data(), out.size()), static_cast<ssize_t>(out.size()));
  }
  void SendItem(uint64_t id, const std::string& source, uint64_t seq) {
    wire::Frame f;
    auto* it = f.mutable_item();
    it->set_source(source);
    it->set_seq(seq);
    it->set_op("J");
    it->set_dest(kSinkName);
    it->set_epoch(1);
    it->set_id(id);
    it->add_trace_ns(1);
    Send(f);
  }
  // Reads until the receiver acknowledges `id`; false on timeout or a closed connection.
  bool WaitAck(uint64_t id) {
    char buf[4096];
    while (true) {
      while (true) {
        auto f = decoder_.Next();
        if (!f.ok() || !f->has_value()) break;
        if ((*f)->has_ack())
          for (uint64_t a : (*f)->ack().ids())
            if (a == id) return true;
      }
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      decoder_.Feed(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  FrameDecoder decoder_;
};

TEST(Worker, ARestartedSinkDoesNotRecordARequestItDeliveredBeforeAgain) {
  // The sink's worker dies after recording a request; the sender (which never saw the ack, or was
  // restarted itself) sends the request again to the new process. It must be recognised from the
  // record, acknowledged, counted as a duplicate discarded, and not recorded twice.
  testing::TempDir dir;
  WorkerConfig io = Base("io");
  io.listen = Addr(Port());
  io.instances = {Sink()};
  io.metrics_file = (dir.path() / "io.metrics.json").string();
  auto w = std::make_unique<Running>(io);
  {
    RawSender s((*w)->port(), 1);
    ASSERT_TRUE(s.connected());
    s.SendItem(1, "A+B", 7);
    ASSERT_TRUE(s.WaitAck(1));
  }
  w->Kill();
  w = Restart(io);
  ASSERT_TRUE(w->ok());
  RawSender s((*w)->port(), 2);  // a restarted sender: its stream ids start again
  ASSERT_TRUE(s.connected());
  s.SendItem(1, "A+B", 7);  // the repeat
  ASSERT_TRUE(s.WaitAck(1)) << "a repeat must still be acknowledged, or the sender holds it forever";
  s.SendItem(2, "A+B", 8);  // a new request
  ASSERT_TRUE(s.WaitAck(2));
  ASSERT_TRUE(WaitFor([&] { return Find((*w)->Metrics(), kSinkName).items_in == 2; }, 5s));
  auto sink = Find((*w)->Metrics(), kSinkName);
  EXPECT_EQ(sink.items_out, 1);
  EXPECT_EQ(sink.duplicates, 1);
  EXPECT_EQ(Drops(sink), 0);
  w->Kill();
  std::string record = testing::ReadFile(dir.path() / "io.delivered");
  std::istringstream in(record);
  std::vector<uint64_t> seqs;
  for (std::string line; std::getline(in, line);) {
    DeliveryRecord::Entry e;
    ASSERT_TRUE(DeliveryRecord::ParseLine(line, &e)) << line;
    seqs.push_back(e.seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{7, 8})) << record;
}

TEST(Worker, NewRoutesTakeEffectWithoutLosingItems) {
  // Two operator workers; halfway through, all keys move from a to b.
  int b_port = Port();
  Topology t({Src("S", 1000, 600)}, {Op("A", 0.5, 0.1)}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  WorkerConfig b = t.a;
  b.name = "b";
  b.listen = Addr(b_port);
  Running a(t.a), bw(b), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").items_out >= 300; }, 10s));
  WorkerConfig moved = t.io;
  moved.epoch = 2;
  moved.routes[0] = {"A", 0, 1, "b", Addr(b_port), "cloud"};
  ASSERT_TRUE(io->Reconfigure(moved).ok());
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 600; }, 10s));
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 600);
  EXPECT_EQ(io->Metrics().epoch, 2);
  EXPECT_GT(Find(bw->Metrics(), "A").items_out, 0);
  EXPECT_GT(Find(a->Metrics(), "A").items_out, 0);
}

TEST(Worker, ADrainingEpochKeepsTheJoinPartsOfARequestTogether) {
  // F is fast and G slow (a backlog builds up at G). Halfway, the join J moves from j1 (epoch 1) to
  // j2 (epoch 2). Parts stamped with epoch 1 still meet on j1 through the drain routes, so no
  // request is split across the two (which would time out both halves).
  int j1_port = Port(), j2_port = Port();
  Topology t({Src("Img", 400, 400), Src("Txt", 400, 400)}, {Op("F", 0.1, 1), Op("G", 2, 1)},
             {{"Img", "F", 1}, {"Txt", "G", 1}, {"F", "J", 1}, {"G", "J", 1}, {"J", kSinkName, 1}});
  std::vector<WorkerRoute> epoch1 = t.io.routes, epoch2;
  epoch1.push_back({"J", 0, 1, "j1", Addr(j1_port), "cloud"});
  epoch2 = epoch1;
  epoch2.back() = {"J", 0, 1, "j2", Addr(j2_port), "cloud"};
  t.io.routes = t.a.routes = epoch1;
  t.a.join_timeout_s = t.io.join_timeout_s = 1;
  WorkerConfig j1 = t.a;
  j1.name = "j1";
  j1.listen = Addr(j1_port);
  j1.instances = {Op("J", 0.1, 0.1)};
  WorkerConfig j2 = j1;
  j2.name = "j2";
  j2.listen = Addr(j2_port);
  j2.epoch = 2;
  j2.routes = epoch2;
  Running a(t.a), w1(j1), w2(j2), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "Img").items_out >= 200; }, 10s));
  for (auto* w : {&a, &io}) {
    WorkerConfig next = (w == &a) ? t.a : t.io;
    next.epoch = 2;
    next.routes = epoch2;
    next.drain_epoch = 1;
    next.drain_routes = epoch1;
    ASSERT_TRUE((*w)->Reconfigure(next).ok());
  }
  ASSERT_TRUE(
      WaitFor([&] { return Find(io->Metrics(), "Img").acked == 400 && Find(io->Metrics(), "Txt").acked == 400; }, 20s));
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 400);
  EXPECT_EQ(Drops(Find(w1->Metrics(), "J")), 0);
  EXPECT_EQ(Drops(Find(w2->Metrics(), "J")), 0);
  EXPECT_GT(Find(w1->Metrics(), "J").items_out, 0);
  EXPECT_GT(Find(w2->Metrics(), "J").items_out, 0);
  // Everything drained: nothing of either epoch is held anywhere.
  ASSERT_TRUE(WaitFor([&] { return io->Metrics().held_by_epoch.empty() && a->Metrics().held_by_epoch.empty(); }, 5s));
}

TEST(Worker, ItemsHeldForARemovedWorkerAreReRouted) {
  // a dies with a backlog and never comes back; the new routes name only b. What io held for a
  // goes to b, so every item still arrives once.
  int b_port = Port();
  Topology t({Src("S", 500, 400)}, {Op("A", 4, 0.1)}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  WorkerConfig b = t.a;
  b.name = "b";
  b.listen = Addr(b_port);
  auto a = std::make_unique<Running>(t.a);
  Running bw(b), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out >= 100; }, 10s));
  a->Kill();
  WorkerConfig moved = t.io;
  moved.epoch = 2;
  moved.routes[0] = {"A", 0, 1, "b", Addr(b_port), "cloud"};
  ASSERT_TRUE(io->Reconfigure(moved).ok());
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 400; }, 20s)) << Find(io->Metrics(), "S").acked;
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 400);
  EXPECT_GT(Find(bw->Metrics(), "A").items_out, 0);
}

TEST(Worker, SourceRatesChangeInPlace) {
  Topology t({Src("S", 100, 0)}, {Op("A", 0, 0.1)}, {{"S", "A", 1}, {"A", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").items_out >= 50; }, 10s));
  WorkerConfig faster = t.io;
  faster.instances[0].rate = 2000;
  faster.instances[0].limit = 1000;
  ASSERT_TRUE(io->Reconfigure(faster).ok());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 1000; }, 10s));
  // ~950 items at 2000/s take about half a second; at the old 100/s they would take 9.5 s.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_EQ(Find(io->Metrics(), kSinkName).items_out, 1000);
}

TEST(Worker, ExecRuntimeRunsAModelProcess) {
  WorkerInstance model = Op("Count", 0, 0);
  model.runtime.type = "exec";
  model.runtime.command = {JB_EXAMPLE_MODEL};
  Topology t({Src("S", 500, 50, 1)}, {model}, {{"S", "Count", 1}, {"Count", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out == 50; }, 10s));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = a->Metrics();
        return !m.links.empty() && m.links[0].items == 50;
      },
      5s));  // snapshot catches up
  auto am = a->Metrics();
  EXPECT_EQ(Find(am, "Count").runtime, "exec");
  EXPECT_FALSE(am.emulated);
  ASSERT_EQ(am.links.size(), 1u);
  // The model answered "words=1 bytes=1024" for each 1 KiB synthetic payload.
  EXPECT_EQ(am.links[0].payload_bytes, 50 * static_cast<int64_t>(std::string("words=1 bytes=1024").size()));
}

// Closed-loop profiles: a model process's service time is its measured run time per item (not
// the queueing before it) and its output size the bytes it answered.
TEST(Worker, ExecRuntimeReportsMeasuredServiceTimePercentilesAndOutputSize) {
  WorkerInstance model = Op("Count", 0, 0);
  model.variant = "wordcount";
  model.runtime.type = "exec";
  model.runtime.command = {JB_EXAMPLE_MODEL};
  Topology t({Src("S", 1000, 200, 1)}, {model}, {{"S", "Count", 1}, {"Count", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(a->Metrics(), "Count").items_out == 200; }, 10s));
  auto m = Find(a->Metrics(), "Count");
  EXPECT_EQ(m.variant, "wordcount");
  EXPECT_GT(m.p50_ms, 0);
  EXPECT_LE(m.p50_ms, m.p75_ms);
  EXPECT_LE(m.p75_ms, m.p90_ms);
  EXPECT_LE(m.p90_ms, m.p99_ms);
  EXPECT_LT(m.p50_ms, 1000);  // a word count of 1 KiB: far below a second, even on a loaded machine
  // "words=1 bytes=1024" for each 1 KiB payload.
  EXPECT_DOUBLE_EQ(m.output_bytes, static_cast<double>(std::string("words=1 bytes=1024").size()));
  std::printf("jb-example-model service time over 200 items: p50 %.3f p75 %.3f p90 %.3f p99 %.3f ms, output %.0f B\n",
              m.p50_ms, m.p75_ms, m.p90_ms, m.p99_ms, m.output_bytes);
}

// Was (while the worker was split): an item retried after its model process died was sent again
// with an empty payload (the runtime had taken it), so the model answered "words=0 bytes=0".
TEST(Worker, AnExecItemRetriedAfterItsModelProcessDiedIsSentAgainWhole) {
  auto dir = std::filesystem::temp_directory_path() / ("jb-exec-retry-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string started = (dir / "started").string();
  WorkerInstance model = Op("Count", 0, 0);
  model.runtime.type = "exec";
  // The first process reads one byte of its request and dies; the restarted one is the model.
  model.runtime.command = {"/bin/sh", "-c",
                           "if [ -e " + started + " ]; then exec " + std::string(JB_EXAMPLE_MODEL) + "; fi; touch " +
                               started + "; head -c 1 >/dev/null; exit 1"};
  model.runtime.framing = 1;  // the dying first process is a v1 script (it never says hello)
  Topology t({Src("S", 500, 1, 1)}, {model}, {{"S", "Count", 1}, {"Count", kSinkName, 1}});
  Running a(t.a), io(t.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out == 1; }, 10s));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = a->Metrics();
        return !m.links.empty() && m.links[0].items == 1;
      },
      5s));
  auto am = a->Metrics();
  EXPECT_EQ(Drops(Find(am, "Count")), 0);
  EXPECT_EQ(am.links[0].payload_bytes, static_cast<int64_t>(std::string("words=1 bytes=1024").size()));
  std::filesystem::remove_all(dir);
}

TEST(Worker, ConfigErrorsAreReported) {
  auto bad = ParseWorkerConfig(
      "workflow: w\nname: x\nroutes:\n- {op: A, lo: 0, hi: 1, worker: a, address: '127.0.0.1:1'}\nbogus: 1\n",
      "w.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("w.yaml:5:1"), std::string::npos) << bad.status().message();
  auto gap = ParseWorkerConfig(
      "workflow: w\nname: x\nroutes:\n- {op: A, lo: 0, hi: 0.5, worker: a, address: '127.0.0.1:1'}\n", "w.yaml");
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.status().message().find("keys [0.5,1) of A go nowhere"), std::string::npos) << gap.status().message();
}

}  // namespace
}  // namespace jb
