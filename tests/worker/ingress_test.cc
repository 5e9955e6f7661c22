// The inference endpoint of an io worker (worker/ingress_endpoint.h, worker/ingress_worker.cc):
// OIP requests through a joined workflow on in-process workers, answered synchronously, in JSON and
// binary; the results stream; every admission error; a client that goes away mid-request.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "api/value.h"
#include "tests/test_util.h"
#include "tests/worker/loopback.h"
#include "tests/worker/running_worker.h"
#include "worker/ingress_endpoint.h"
#include "worker/worker.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

using Running = testing::RunningWorker;

int Port() {
  auto p = PickFreePort();
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : 0;
}
std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

WorkerInstance Ingress(const std::string& name) {
  WorkerInstance i;
  i.kind = "source";
  i.type = "ingress";
  i.name = name;
  i.rate = 100;  // sizes the seq reservation
  return i;
}

WorkerInstance Op(const std::string& name, double latency_ms, double out_kib) {
  WorkerInstance i;
  i.kind = "operator";
  i.name = name;
  i.runtime.latency_ms = latency_ms;
  i.runtime.output_kib = out_kib;
  return i;
}

// Worker "io" (ingress sources image and audio, the sink, the endpoint) and worker "a" (the join
// J of both, and any other operators); J's answer goes back to io's sink. Workflow "docqa".
struct Topology {
  int io_port = Port(), a_port = Port();
  WorkerConfig io, a;
  explicit Topology(double join_latency_ms = 0, int64_t max_inflight = 16) {
    for (auto* c : {&io, &a}) {
      c->workflow = "docqa";
      c->metrics_interval_s = 0.02;
    }
    io.name = "io";
    a.name = "a";
    io.listen = Addr(io_port);
    a.listen = Addr(a_port);
    io.instances = {Ingress("image"), Ingress("audio")};
    WorkerInstance sink;
    sink.kind = "sink";
    sink.name = kSinkName;
    io.instances.push_back(sink);
    a.instances = {Op("J", join_latency_ms, 0.01)};
    io.edges = a.edges = {{"image", "J", 1}, {"audio", "J", 1}, {"J", kSinkName, 1}};
    io.routes = a.routes = {{"J", 0, 1, "a", Addr(a_port), "cloud"}, {kSinkName, 0, 1, "io", Addr(io_port), "edge"}};
    WorkerIngress in;
    in.plain_http = true;
    in.max_inflight = max_inflight;
    in.max_body_bytes = 4096;
    in.timeout_s = 20;
    io.ingress = in;
  }
};

// A raw HTTP/1.1 exchange: sends `bytes`, reads until the server closes (requests carry
// Connection: close) or 20 s pass.
struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  std::string Header(const std::string& name) const {
    std::string lower_head = head, key = "\r\n" + name + ":";
    for (auto& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto at = lower_head.find(key);
    if (at == std::string::npos) return "";
    auto start = head.find_first_not_of(' ', at + key.size());
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

int Connect(int port) { return testing::ConnectLoopback(port); }

Response Exchange(int port, const std::string& bytes) {
  Response r;
  int fd = Connect(port);
  if (fd < 0) return r;
  (void)!write(fd, bytes.data(), bytes.size());
  std::string all;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  auto end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.head = all.substr(0, end + 2);
  r.body = all.substr(end + 4);
  return r;
}

std::string Post(const std::string& path, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Python-urllib/3.11\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

const std::string kJsonBody =
    R"({"id":"req-1","inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["a scanned page"]},)"
    R"({"name":"audio","shape":[1],"datatype":"BYTES","data":["what is the total"]}]})";

int IngressPort(Running& io) {
  int port = 0;
  EXPECT_TRUE(WaitFor([&] { return (port = io->Metrics().ingress_port) > 0; }, 5s));
  return port;
}

// Waits until the endpoint says ready (the first loop round after start).
bool Ready(int port) {
  return WaitFor([&] { return Exchange(port, Get("/v2/health/ready")).status == 200; }, 5s);
}

TEST(IngressWorker, JsonRequestThroughAJoinIsAnsweredWithTheLastOperatorsOutput) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  auto r = Exchange(port, Post("/v2/models/docqa/infer", kJsonBody, "Content-Type: application/json\r\n"));
  ASSERT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, R"({"model_name":"docqa","id":"req-1","outputs":[{"name":"J","datatype":"BYTES","shape":[1],)"
                    R"("data":["eeeeeeeeee"]}]})");
  // One item per source, joined once, delivered once; the metrics count the answer.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = io->Metrics();
        return Find(m, kSinkName).items_out == 1 && Find(m, "image").responses["200"] == 1 &&
               Find(m, "image").inflight == 0 && Find(m, "image").acked == 1 && Find(m, "audio").acked == 1;
      },
      5s))
      << WorkerMetricsToJson(io->Metrics());
}

TEST(IngressWorker, TritonPythonBinaryRequestGetsABinaryAnswer) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  // tritonclient.http with two BYTES inputs (binary by default) and InferRequestedOutput("J"):
  // no Content-Type, Inference-Header-Content-Length = the compact JSON's length.
  const std::string json =
      R"({"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":9}},)"
      R"({"name":"audio","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":9}}],)"
      R"("outputs":[{"name":"J","parameters":{"binary_data":true}}]})";
  const std::string bin = std::string("\x05\0\0\0hello", 9) + std::string("\x05\0\0\0world", 9);
  auto r = Exchange(port, Post("/v2/models/docqa/infer", json + bin,
                               "Inference-Header-Content-Length: " + std::to_string(json.size()) + "\r\n"));
  ASSERT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  size_t n = std::stoul(r.Header("Inference-Header-Content-Length"));
  ASSERT_LE(n, r.body.size());
  std::string header = r.body.substr(0, n);
  EXPECT_NE(header.find(R"("binary_data_size":14)"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("id":")"), std::string::npos) << "a generated id is echoed: " << header;
  EXPECT_EQ(r.body.substr(n), std::string("\x0a\0\0\0eeeeeeeeee", 14));
}

TEST(IngressWorker, ResultsStreamCarriesEveryAnswerAsJsonLines) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  int fd = Connect(port);
  ASSERT_GE(fd, 0);
  std::string get = Get("/v2/models/docqa/results");
  ASSERT_EQ(write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  std::string got;
  char buf[4096];
  // The response head arrives first (the subscriber is registered before it is sent).
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t k = read(fd, buf, sizeof(buf));
    ASSERT_GT(k, 0);
    got.append(buf, static_cast<size_t>(k));
  }
  EXPECT_NE(got.find("application/x-ndjson"), std::string::npos) << got;
  for (int i = 0; i < 3; ++i) {
    std::string body = kJsonBody;
    body.replace(body.find("req-1"), 5, "req-" + std::to_string(10 + i));
    ASSERT_EQ(Exchange(port, Post("/v2/models/docqa/infer", body)).status, 200);
  }
  for (int i = 0; i < 100 && got.find(R"("id":"req-12")") == std::string::npos; ++i) {
    ssize_t k = read(fd, buf, sizeof(buf));
    ASSERT_GT(k, 0);
    got.append(buf, static_cast<size_t>(k));
  }
  close(fd);
  for (const char* id : {"req-10", "req-11", "req-12"})
    EXPECT_NE(got.find(std::string(R"({"id":")") + id + R"(","model_name":"docqa","outputs":[{"name":"J",)"),
              std::string::npos)
        << got;
}

TEST(IngressWorker, ResultsStreamSpeaksServerSentEventsWhenAsked) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  int fd = Connect(port);
  ASSERT_GE(fd, 0);
  std::string get = "GET /v2/models/docqa/results?format=sse HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t k = read(fd, buf, sizeof(buf));
    ASSERT_GT(k, 0);
    got.append(buf, static_cast<size_t>(k));
  }
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos) << got;
  ASSERT_EQ(Exchange(port, Post("/v2/models/docqa/infer", kJsonBody)).status, 200);
  for (int i = 0; i < 100 && got.find("\n\n", got.find("data: ")) == std::string::npos; ++i) {
    ssize_t k = read(fd, buf, sizeof(buf));
    ASSERT_GT(k, 0);
    got.append(buf, static_cast<size_t>(k));
  }
  close(fd);
  EXPECT_NE(got.find(R"(data: {"id":"req-1","model_name":"docqa",)"), std::string::npos) << got;
  // Standard endpoints stay standard: an unknown path under the model is 404, not a stream.
  EXPECT_EQ(Exchange(port, Get("/v2/models/docqa/results/more")).status, 404);
}

TEST(IngressWorker, UnknownModelIs404) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  auto r = Exchange(port, Post("/v2/models/nope/infer", kJsonBody));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_NE(r.body.find(R"({"error":)"), std::string::npos);
  EXPECT_NE(r.body.find("nope"), std::string::npos) << r.body;
}

TEST(IngressWorker, MalformedInputIs400NamingTheInput) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  auto r = Exchange(port, Post("/v2/models/docqa/infer",
                               R"({"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["x"]}]})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("audio"), std::string::npos) << r.body;
  r = Exchange(
      port, Post("/v2/models/docqa/infer", R"({"inputs":[{"name":"image","shape":[1],"datatype":"FP32","data":[1.0]},)"
                                           R"({"name":"audio","shape":[1],"datatype":"BYTES","data":["y"]}]})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("image"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("BYTES"), std::string::npos) << r.body;
}

TEST(IngressWorker, BodyOverTheLimitIs413BeforeItIsRead) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  // Only the headers are sent: the answer comes on the declared length alone.
  auto r = Exchange(port,
                    "POST /v2/models/docqa/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                    "Connection: close\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find(R"({"error":)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("4096"), std::string::npos) << r.body;
}

TEST(IngressWorker, NotReadyIs503UntilTheWorkerHasAnEpoch) {
  Topology t;
  t.io.epoch = 0;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  // Give the loop rounds to publish its state: it stays not ready.
  ASSERT_TRUE(WaitFor([&] { return io->Metrics().instances.size() == 3; }, 5s));
  auto r = Exchange(port, Post("/v2/models/docqa/infer", kJsonBody));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("not ready"), std::string::npos) << r.body;
  EXPECT_EQ(Exchange(port, Get("/v2/health/ready")).status, 503);
  EXPECT_EQ(Exchange(port, Get("/v2/health/live")).status, 200);
  WorkerConfig next = t.io;
  next.epoch = 1;
  ASSERT_TRUE(io->Reconfigure(next).ok());
  ASSERT_TRUE(Ready(port));
  EXPECT_EQ(Exchange(port, Post("/v2/models/docqa/infer", kJsonBody)).status, 200);
}

TEST(IngressWorker, DeadlineFromTheTimeoutParameterIs504) {
  Topology t(/*join_latency_ms=*/3000);
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  std::string body = kJsonBody;
  body.insert(body.size() - 1, R"(,"parameters":{"timeout":100000})");  // 0.1 s, in microseconds
  auto started = std::chrono::steady_clock::now();
  auto r = Exchange(port, Post("/v2/models/docqa/infer", body));
  EXPECT_EQ(r.status, 504);
  EXPECT_NE(r.body.find("deadline"), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "image").responses["504"] == 1; }, 5s));
}

TEST(IngressWorker, FullInflightIs429WithRetryAfter) {
  Topology t(/*join_latency_ms=*/60000, /*max_inflight=*/1);
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  std::string slow = kJsonBody;
  slow.insert(slow.size() - 1, R"(,"parameters":{"timeout":3000000})");
  auto first = std::async(std::launch::async, [&] { return Exchange(port, Post("/v2/models/docqa/infer", slow)); });
  ASSERT_TRUE(WaitFor([&] { return Find(io->Metrics(), "image").inflight == 1; }, 5s));
  auto r = Exchange(port, Post("/v2/models/docqa/infer", kJsonBody));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("Retry-After"), "1");
  EXPECT_NE(r.body.find("in flight"), std::string::npos) << r.body;
  EXPECT_EQ(first.get().status, 504);  // the first one still ends, at its deadline
}

TEST(IngressWorker, ADroppedRequestEndsWith500NamingTheReason) {
  Topology t;
  // J is routed to this worker, which does not host it: every request is dropped "no-route:J".
  t.io.routes = {{"J", 0, 1, "io", Addr(t.io_port), "edge"}, {kSinkName, 0, 1, "io", Addr(t.io_port), "edge"}};
  Running io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  auto r = Exchange(port, Post("/v2/models/docqa/infer", kJsonBody));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("no-route:J"), std::string::npos) << r.body;
}

TEST(IngressWorker, AClientThatGoesAwayMidRequestCostsNoOneElseAnything) {
  Topology t(/*join_latency_ms=*/50);
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  // One client sends half a body and leaves; another sends a whole request and leaves before the
  // answer.
  int half = Connect(port);
  std::string req = Post("/v2/models/docqa/infer", kJsonBody);
  ASSERT_EQ(write(half, req.data(), req.size() - 20), static_cast<ssize_t>(req.size() - 20));
  close(half);
  int whole = Connect(port);
  std::string req2 = req;
  req2.replace(req2.find("req-1"), 5, "req-2");
  ASSERT_EQ(write(whole, req2.data(), req2.size()), static_cast<ssize_t>(req2.size()));
  close(whole);
  // Everyone else is served, and the abandoned request is still answered (to no one): nothing is
  // left in flight.
  std::string req3 = kJsonBody;
  req3.replace(req3.find("req-1"), 5, "req-3");
  EXPECT_EQ(Exchange(port, Post("/v2/models/docqa/infer", req3)).status, 200);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = io->Metrics();
        return Find(m, kSinkName).items_out == 2 && Find(m, "image").inflight == 0 &&
               Find(m, "image").responses["200"] == 2;
      },
      5s));
}

TEST(IngressWorker, HealthAndMetadataDescribeTheWorkflow) {
  Topology t;
  Running a(t.a), io(t.io);
  int port = IngressPort(io);
  ASSERT_TRUE(Ready(port));
  EXPECT_EQ(Exchange(port, Get("/v2/health/live")).body, R"({"live":true})");
  EXPECT_EQ(Exchange(port, Get("/v2/models/docqa/ready")).status, 200);
  auto m = Exchange(port, Get("/v2/models/docqa"));
  EXPECT_EQ(m.status, 200);
  for (const char* s : {R"("name":"docqa")", R"("name":"image")", R"("name":"audio")", R"("name":"J")"})
    EXPECT_NE(m.body.find(s), std::string::npos) << m.body;
}

TEST(IngressWorker, PlainHttpOffLoopbackAndIngressWithoutTheSinkAreRefused) {
  Topology t;
  t.io.ingress->listen = "0.0.0.0:0";
  auto w = Worker::Create(t.io);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("loopback"), std::string::npos) << w.status().message();
  Topology u;
  u.io.instances.pop_back();  // no sink on the io worker
  auto v = Worker::Create(u.io);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("sink"), std::string::npos) << v.status().message();
}

TEST(IngressWorker, KeyOfARequestIdIsStableAndInTheUnitInterval) {
  EXPECT_EQ(IngressKeyOf("req-1"), IngressKeyOf("req-1"));
  EXPECT_NE(IngressKeyOf("req-1"), IngressKeyOf("req-2"));
  for (const char* id : {"", "a", "req-1", "9c1d4a3e-0b7f-4a7e-9d65-2f1e3c4b5a69"}) {
    EXPECT_GE(IngressKeyOf(id), 0.0);
    EXPECT_LT(IngressKeyOf(id), 1.0);
  }
}

}  // namespace
}  // namespace jb
