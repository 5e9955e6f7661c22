// Ingress sources on two tiers (worker/ingress_worker.cc, docs/ingress.md "Ingress on several
// tiers"): io worker "io-edge" serves source image and hosts the sink, "io-cloud" serves source
// audio, worker "a" runs the join J as an exec process (jb-example-join-model, which answers with
// its parts). A client sends image to the edge and audio to the cloud with one request id; both
// calls get the joined answer. A part whose partner never comes ends with 504 and leaves no join
// state; parts sent to the wrong worker and requests without an id are refused with 400.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

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

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

WorkerIngress PlainIngress(std::vector<std::string> joined_with) {
  WorkerIngress in;
  in.plain_http = true;
  in.timeout_s = 20;
  in.max_body_bytes = 4096;
  in.joined_with = std::move(joined_with);
  return in;
}

WorkerInstance Ingress(const std::string& name) {
  WorkerInstance i;
  i.kind = "source";
  i.type = "ingress";
  i.name = name;
  i.rate = 100;
  return i;
}

struct TwoTiers {
  WorkerConfig edge, cloud, a;
  explicit TwoTiers(double join_timeout_s = 10) {
    auto pe = PickFreePort(), pc = PickFreePort(), pa = PickFreePort();
    EXPECT_TRUE(pe.ok() && pc.ok() && pa.ok());
    for (auto* c : {&edge, &cloud, &a}) {
      c->workflow = "docqa";
      c->metrics_interval_s = 0.02;
      c->join_timeout_s = join_timeout_s;
    }
    edge.name = "io-edge";
    edge.tier = "edge";
    edge.listen = Addr(*pe);
    cloud.name = "io-cloud";
    cloud.tier = "cloud";
    cloud.listen = Addr(*pc);
    a.name = "a";
    a.tier = "cloud";
    a.listen = Addr(*pa);
    WorkerInstance sink;
    sink.kind = "sink";
    sink.name = kSinkName;
    edge.instances = {Ingress("image"), sink};
    cloud.instances = {Ingress("audio")};
    WorkerInstance j;
    j.kind = "operator";
    j.name = "J";
    j.runtime.type = "exec";
    j.runtime.command = {JB_EXAMPLE_JOIN_MODEL, "--expect", "image", "--expect", "audio"};
    a.instances = {j};
    edge.ingress = PlainIngress({"audio"});
    cloud.ingress = PlainIngress({"image"});
    // As the deployment builds it: J also feeds audio, the way back to the cloud's io worker.
    for (auto* c : {&edge, &cloud, &a}) {
      c->edges = {{"image", "J", 1}, {"audio", "J", 1}, {"J", kSinkName, 1}, {"J", "audio", 1}};
      c->routes = {{"J", 0, 1, "a", a.listen, "cloud"},
                   {kSinkName, 0, 1, "io-edge", edge.listen, "edge"},
                   {"audio", 0, 1, "io-cloud", cloud.listen, "cloud"}};
    }
  }
};

struct Response {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 exchange (Connection: close), read until the server closes.
Response Exchange(int port, const std::string& bytes) {
  Response r;
  int fd = testing::ConnectLoopback(port);
  if (fd < 0) return r;
  (void)!write(fd, bytes.data(), bytes.size());
  std::string all;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  auto end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.body = all.substr(end + 4);
  return r;
}

Response Infer(int port, const std::string& body) {
  return Exchange(port,
                  "POST /v2/models/docqa/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

// One BYTES input of shape [1]; `extra` goes into the request object (id, parameters).
std::string Part(const std::string& extra, const std::vector<std::pair<std::string, std::string>>& inputs) {
  std::string in;
  for (const auto& [name, data] : inputs)
    in += std::string(in.empty() ? "" : ",") + R"({"name":")" + name + R"(","shape":[1],"datatype":"BYTES","data":[")" +
          data + R"("]})";
  return "{" + extra + (extra.empty() ? "" : ",") + R"("inputs":[)" + in + "]}";
}

int ReadyPort(Running& w) {
  int port = 0;
  EXPECT_TRUE(WaitFor([&] { return (port = w->Metrics().ingress_port) > 0; }, 5s));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Exchange(port, "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 200;
      },
      5s));
  return port;
}

TEST(IngressTiers, PartsSentToTwoTiersWithOneIdJoinAndBothCallersGetTheAnswer) {
  TwoTiers t;
  Running a(t.a), cloud(t.cloud), edge(t.edge);
  int pe = ReadyPort(edge), pc = ReadyPort(cloud);
  // Each endpoint's model lists only its own inputs.
  auto meta = Exchange(pc, "GET /v2/models/docqa HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(meta.status, 200);
  EXPECT_NE(meta.body.find(R"("name":"audio")"), std::string::npos) << meta.body;
  EXPECT_EQ(meta.body.find(R"("name":"image")"), std::string::npos) << meta.body;
  for (int i = 0; i < 3; ++i) {
    const std::string id = "q-" + std::to_string(i);
    auto from_edge = std::async(std::launch::async, [&] {
      return Infer(pe, Part(R"("id":")" + id + R"(")", {{"image", "page " + std::to_string(i)}}));
    });
    auto from_cloud = std::async(std::launch::async, [&] {
      return Infer(pc, Part(R"("id":")" + id + R"(")", {{"audio", "what is the total"}}));
    });
    Response e = from_edge.get(), c = from_cloud.get();
    const std::string joined = "image=page " + std::to_string(i) + "\\naudio=what is the total";
    for (const auto* r : {&e, &c}) {
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_NE(r->body.find(R"("id":")" + id + R"(")"), std::string::npos) << r->body;
      EXPECT_NE(r->body.find(joined), std::string::npos) << r->body;
    }
  }
  // Delivered once each at the sink; the cloud's io worker took one answer per request.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Find(edge->Metrics(), kSinkName).items_out == 3 && Find(cloud->Metrics(), "audio").items_in == 3 &&
               Find(cloud->Metrics(), "audio").inflight == 0;
      },
      5s))
      << WorkerMetricsToJson(cloud->Metrics());
  EXPECT_EQ(Find(edge->Metrics(), kSinkName).duplicates, 0);
}

TEST(IngressTiers, APartWhosePartnerNeverComesEndsWith504AndLeavesNoJoinState) {
  TwoTiers t(/*join_timeout_s=*/0.5);
  Running a(t.a), cloud(t.cloud), edge(t.edge);
  int pe = ReadyPort(edge);
  ReadyPort(cloud);
  constexpr int kLonely = 5;
  std::vector<std::future<Response>> calls;
  for (int i = 0; i < kLonely; ++i)  // deadline 3 s (Triton's timeout, microseconds)
    calls.push_back(std::async(std::launch::async, [&, i] {
      return Infer(
          pe, Part(R"("id":"lonely-)" + std::to_string(i) + R"(","parameters":{"timeout":3000000})", {{"image", "x"}}));
    }));
  for (auto& f : calls) {
    Response r = f.get();
    EXPECT_EQ(r.status, 504) << r.body;
    EXPECT_NE(r.body.find("lonely-"), std::string::npos) << r.body;
  }
  // The join dropped every half at its timeout, counted, and holds nothing.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto j = Find(a->Metrics(), "J");
        auto it = j.dropped.find("join-timeout");
        return it != j.dropped.end() && it->second == kLonely && j.queue == 0;
      },
      5s))
      << WorkerMetricsToJson(a->Metrics());
  EXPECT_EQ(Find(edge->Metrics(), kSinkName).items_out, 0);
  // The endpoint's count reaches the metrics at the worker's next report.
  EXPECT_TRUE(WaitFor([&] { return Find(edge->Metrics(), "image").inflight == 0; }, 5s))
      << Find(edge->Metrics(), "image").inflight;
}

TEST(IngressTiers, WrongPartsAndMissingIdsAreRefusedNamingThem) {
  TwoTiers t;
  Running a(t.a), cloud(t.cloud), edge(t.edge);
  int pe = ReadyPort(edge), pc = ReadyPort(cloud);
  // audio belongs to the cloud's endpoint: the edge says so, alone or beside its own part.
  for (const auto& body :
       {Part(R"("id":"w1")", {{"audio", "x"}}), Part(R"("id":"w2")", {{"image", "x"}, {"audio", "y"}})}) {
    Response r = Infer(pe, body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("input 'audio' is served by the io worker of its own tier"), std::string::npos) << r.body;
  }
  Response r = Infer(pc, Part(R"("id":"w3")", {{"image", "x"}}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("input 'image'"), std::string::npos) << r.body;
  // No id: the parts could not meet.
  r = Infer(pe, Part("", {{"image", "x"}}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("request id ('id') is required"), std::string::npos) << r.body;
  EXPECT_EQ(Find(edge->Metrics(), "image").items_out, 0) << "nothing refused was emitted";
}

}  // namespace
}  // namespace jb
