// Mutual TLS between workers (worker/tls.h): who is refused, that nothing a refused peer sends
// reaches a sink, rotation under load, exactly-once over TLS, and the bound on frames before Hello.
#include "worker/tls.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "drivers/agent/pki.h"
#include "testing/util.h"
#include "tests/worker/loopback.h"
#include "tests/worker/running_worker.h"
#include "worker/framing.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
using Running = testing::RunningWorker;
using testing::WaitFor;

// A CA in a temporary directory, issuing link certificates as drivers/worker_tls.h does.
struct TestCa {
  std::filesystem::path dir;
  std::unique_ptr<Ca> ca;
  explicit TestCa(const std::string& name) {
    dir = std::filesystem::temp_directory_path() /
          ("jb-tls-test-" + name + "-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
    auto c = Ca::LoadOrCreate(dir.string());
    EXPECT_TRUE(c.ok()) << c.status().message();
    if (c.ok()) ca = std::move(*c);
  }
  ~TestCa() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  WorkerTls Issue(const std::string& workflow, const std::string& worker, int64_t epoch,
                  const std::string& mode = "on") const {
    auto pair = ca->IssueUri(WorkerTlsUri(workflow, worker, epoch), 7);
    EXPECT_TRUE(pair.ok());
    WorkerTls t;
    if (!pair.ok()) return t;
    t.cert_pem = pair->cert_pem;
    t.key_pem = pair->key_pem;
    t.ca_pem = ca->cert_pem();
    t.mode = mode;
    return t;
  }
};

int Port() {
  auto p = PickFreePort();
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : 0;
}
std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

WorkerConfig Base(const std::string& workflow, const std::string& name) {
  WorkerConfig c;
  c.workflow = workflow;
  c.name = name;
  c.tier = name == "io" ? "edge" : "cloud";
  c.metrics_interval_s = 0.02;
  return c;
}

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

// io (source S + sink) -> a (operator A) -> io, as in worker_test.
struct Chain {
  int io_port = Port(), a_port = Port();
  WorkerConfig io, a;
  Chain(const std::string& workflow, double rate, int64_t limit, double kib = 1)
      : io(Base(workflow, "io")), a(Base(workflow, "a")) {
    io.listen = Addr(io_port);
    a.listen = Addr(a_port);
    WorkerInstance src;
    src.kind = "source";
    src.name = "S";
    src.rate = rate;
    src.limit = limit;
    src.item_kib = kib;
    WorkerInstance sink;
    sink.kind = "sink";
    sink.name = kSinkName;
    io.instances = {src, sink};
    WorkerInstance op;
    op.kind = "operator";
    op.name = "A";
    op.runtime.latency_ms = 0.2;
    op.runtime.output_kib = 0.5;
    a.instances = {op};
    io.edges = a.edges = {{"S", "A", 1}, {"A", kSinkName, 1}};
    io.routes = a.routes = {{"A", 0, 1, "a", Addr(a_port), "cloud"}, {kSinkName, 0, 1, "io", Addr(io_port), "edge"}};
  }
};

// A plain TCP sender that speaks the data plane's frames: Hello, then one item for the sink.
std::string HelloAndItemFrames(const std::string& stream) {
  std::string out;
  wire::Frame hello;
  hello.mutable_hello()->set_stream(stream);
  hello.mutable_hello()->set_incarnation(42);
  EXPECT_TRUE(EncodeFrame(hello, &out).ok());
  wire::Frame item;
  auto* it = item.mutable_item();
  it->set_id(1);
  it->set_source("S");
  it->set_seq(900000);
  it->set_op("A");
  it->set_dest(kSinkName);
  it->set_payload("injected");
  EXPECT_TRUE(EncodeFrame(item, &out).ok());
  return out;
}

// Sends `bytes` on a new plain connection to `port`; true when the worker closed it (read 0 or an
// error) instead of answering with a Credit.
bool SendPlainAndSeeClosed(int port, const std::string& bytes) {
  int fd = testing::ConnectLoopback(port);
  if (fd < 0) return false;
  (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);  // 20 s receive timeout (loopback.h)
  close(fd);
  return n <= 0;
}

TEST(WorkerTls, TlsUrisNameTheirWorkflowAndTheFirstBytesTellTlsFromPlainFrames) {
  EXPECT_EQ(WorkerTlsUri("wf", "e1", 3), "jellybean://wf/e1?epoch=3");
  EXPECT_EQ(WorkflowOfTlsUri("jellybean://wf/e1?epoch=3"), "wf");
  EXPECT_EQ(WorkflowOfTlsUri("https://wf/e1"), "");
  EXPECT_EQ(WorkflowOfTlsUri("jellybean:///e1"), "");
  EXPECT_EQ(WorkerOfTlsUri("jellybean://wf/e1?epoch=3"), "e1");
  EXPECT_EQ(WorkerOfTlsUri("https://wf/e1"), "");
  const char tls[] = {0x16, 0x03, 0x01};
  EXPECT_EQ(ClassifyFirstBytes(tls, 3), FirstBytes::kTls);
  EXPECT_EQ(ClassifyFirstBytes(tls, 2), FirstBytes::kWait);
  const char frame790[] = {0x16, 0x03, 0x00};  // a plain frame of 790 bytes
  EXPECT_EQ(ClassifyFirstBytes(frame790, 3), FirstBytes::kPlain);
  const char small[] = {0x20, 0x00, 0x00};
  EXPECT_EQ(ClassifyFirstBytes(small, 1), FirstBytes::kPlain);
}

TEST(WorkerTls, APlainClientIsRefusedAndNothingItSendsReachesTheSink) {
  TestCa ca("plain");
  Chain c("t", 0, 0);
  c.io.instances.erase(c.io.instances.begin());  // the sink only
  c.io.edges = {{"A", kSinkName, 1}};
  c.io.tls = ca.Issue("t", "io", 1, "on");
  {
    Running io(c.io);
    EXPECT_TRUE(SendPlainAndSeeClosed(c.io_port, HelloAndItemFrames("t/a->io")));
    ASSERT_TRUE(WaitFor([&] { return io->Metrics().tls_refused >= 1; }, 5s));
    EXPECT_EQ(Find(io->Metrics(), kSinkName).items_in, 0);
  }
  // The control: the same bytes reach the sink of a worker that accepts plain TCP on loopback.
  c.io.tls->mode = "loopback";
  Running io(c.io);
  int fd = testing::ConnectLoopback(c.io_port);
  ASSERT_GE(fd, 0);
  std::string bytes = HelloAndItemFrames("t/a->io");
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  EXPECT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_in == 1; }, 5s));
  close(fd);
}

// A sender of `sender_workflow` whose certificate comes from the receivers' CA (`same_ca`) or
// another one: nothing it sends reaches the sink, both ends count refusals, and the receivers'
// own chain keeps working over TLS meanwhile.
void ExpectRefusedSender(const std::string& sender_workflow, bool same_ca) {
  TestCa ca("receiver"), other("other");
  Chain c("t", 200, 100);
  c.a.tls = ca.Issue("t", "a", 1);
  c.io.tls = ca.Issue("t", "io", 1);
  WorkerConfig s = Base(sender_workflow, "s");
  s.listen = Addr(Port());
  WorkerInstance src;
  src.kind = "source";
  src.name = "S";
  src.rate = 200;
  src.limit = 50;
  s.instances = {src};
  s.edges = {{"S", kSinkName, 1}};
  s.routes = {{kSinkName, 0, 1, "io", Addr(c.io_port), "edge"}};  // straight to io's sink
  s.tls = (same_ca ? ca : other).Issue(sender_workflow, "s", 1);
  Running io(c.io), a(c.a), sender(s);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 100; }, 15s));
  ASSERT_TRUE(WaitFor([&] { return io->Metrics().tls_refused >= 2 && sender->Metrics().tls_refused >= 1; }, 10s));
  auto m = io->Metrics();
  EXPECT_EQ(Find(m, kSinkName).items_in, 100);  // io's own requests only
  EXPECT_EQ(Find(m, kSinkName).items_out, 100);
  EXPECT_EQ(Find(sender->Metrics(), "S").acked, 0);
  ASSERT_EQ(m.links.size(), 1u);
  EXPECT_TRUE(m.links[0].tls);
}

TEST(WorkerTls, AClientWithACertificateFromAnotherCaIsRefused) { ExpectRefusedSender("t", false); }

TEST(WorkerTls, AWorkerOfAnotherWorkflowIsRefused) { ExpectRefusedSender("other", true); }

TEST(WorkerTls, ChainDeliversEveryItemOnceOverTlsOnLoopbackWhenForcedByTheEnvironment) {
  setenv("JB_TLS_LOOPBACK", "1", 1);
  TestCa ca("env");
  Chain c("t", 2000, 400, 2);
  c.a.tls = ca.Issue("t", "a", 1, "loopback");  // plain on loopback, but for the environment
  c.io.tls = ca.Issue("t", "io", 1, "loopback");
  Running a(c.a), io(c.io);
  unsetenv("JB_TLS_LOOPBACK");
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 400; }, 15s));
  auto m = io->Metrics();
  EXPECT_EQ(Find(m, kSinkName).items_out, 400);
  EXPECT_EQ(Find(m, kSinkName).duplicates, 0);
  ASSERT_EQ(m.links.size(), 1u);
  EXPECT_TRUE(m.links[0].tls);
  EXPECT_EQ(m.links[0].payload_bytes, 400 * 2048);
  EXPECT_EQ(m.tls_refused, 0);
}

TEST(WorkerTls, LoopbackLinksStayPlainByDefault) {
  TestCa ca("default");
  Chain c("t", 2000, 100);
  c.a.tls = ca.Issue("t", "a", 1, "loopback");
  c.io.tls = ca.Issue("t", "io", 1, "loopback");
  Running a(c.a), io(c.io);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 100; }, 15s));
  auto m = io->Metrics();
  ASSERT_EQ(m.links.size(), 1u);
  EXPECT_FALSE(m.links[0].tls);
}

TEST(WorkerTls, RotatingCertificatesUnderLoadLosesNothing) {
  TestCa ca("rotate");
  Chain c("t", 1000, 3000);
  c.a.tls = ca.Issue("t", "a", 1);
  c.io.tls = ca.Issue("t", "io", 1);
  Running a(c.a), io(c.io);
  for (int64_t epoch = 2; epoch <= 4; ++epoch) {
    int64_t before = Find(io->Metrics(), kSinkName).items_out;
    ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), kSinkName).items_out >= before + 300; }, 10s));
    c.a.epoch = c.io.epoch = epoch;
    c.a.tls = ca.Issue("t", "a", epoch);
    c.io.tls = ca.Issue("t", "io", epoch);
    ASSERT_TRUE(a->Reconfigure(c.a).ok());
    ASSERT_TRUE(io->Reconfigure(c.io).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "S").acked == 3000; }, 30s));
  auto m = io->Metrics();
  EXPECT_EQ(Find(m, kSinkName).items_out, 3000);  // every item, once
  EXPECT_EQ(m.tls_refused, 0);
  ASSERT_EQ(m.links.size(), 1u);
  EXPECT_TRUE(m.links[0].tls);
  EXPECT_EQ(m.links[0].items, 3000);
}

TEST(WorkerTls, AnOversizedFrameBeforeHelloClosesTheConnection) {
  Chain c("t", 0, 0);
  c.io.instances.erase(c.io.instances.begin());
  c.io.edges = {{"A", kSinkName, 1}};
  Running io(c.io);  // plain TCP: the bound holds without TLS too
  uint32_t n = kMaxHelloFrameBytes + 1;
  std::string prefix = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                        static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  EXPECT_TRUE(SendPlainAndSeeClosed(c.io_port, prefix + "x"));
  // A Hello-sized frame is fine: the same worker answers a real Hello with a Credit.
  int fd = testing::ConnectLoopback(c.io_port);
  ASSERT_GE(fd, 0);
  std::string hello = HelloAndItemFrames("t/a->io");
  ASSERT_GT(send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), 0);
  char buf[64];
  EXPECT_GT(recv(fd, buf, sizeof(buf), 0), 0);
  close(fd);
}

}  // namespace
}  // namespace jb
