// The inference endpoint across a SIGKILL of its io worker (a jellybean-worker subprocess with
// durable state): every request in flight ends (an answer, or a transport error when the process
// died under it), none is answered twice or with another request's answer, and the restarted
// worker answers new requests while the parts the dead one had handed on are delivered once.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "tests/worker/loopback.h"
#include "worker/durable_state.h"
#include "worker/worker.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

// One HTTP exchange on a fresh connection; status 0 when the connection broke before an answer.
std::pair<int, std::string> Call(int port, const std::string& body) {
  int fd = testing::ConnectLoopback(port);
  if (fd < 0) return {0, ""};
  std::string req =
      "POST /v2/models/docqa/infer HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  (void)!write(fd, req.data(), req.size());
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  auto end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return {0, ""};
  return {std::stoi(all.substr(9, 3)), all.substr(end + 4)};
}

std::string Body(const std::string& id) {
  return R"({"id":")" + id +
         R"(","inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["page"]},)"
         R"({"name":"audio","shape":[1],"datatype":"BYTES","data":["question"]}]})";
}

class Subprocess {
 public:
  explicit Subprocess(const std::string& config) {
    pid_ = fork();
    if (pid_ == 0) {
      execl(JB_WORKER, JB_WORKER, "--config", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Subprocess() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

WorkerMetrics ReadMetrics(const std::string& path) {
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto m = ParseWorkerMetrics(text, path);
  return m.ok() ? *m : WorkerMetrics{};
}

TEST(IngressKill, AnIoWorkerKilledWithRequestsInFlightAnswersNoneTwice) {
  auto dir = std::filesystem::temp_directory_path() / ("jb_ingress_kill_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  int io_port = *PickFreePort(), a_port = *PickFreePort();
  WorkerConfig io, a;
  for (auto* c : {&io, &a}) {
    c->workflow = "docqa";
    c->metrics_interval_s = 0.02;
    c->edges = {{"image", "J", 1}, {"audio", "J", 1}, {"J", kSinkName, 1}};
    c->routes = {{"J", 0, 1, "a", Addr(a_port), "cloud"}, {kSinkName, 0, 1, "io", Addr(io_port), "edge"}};
  }
  io.name = "io";
  a.name = "a";
  io.listen = Addr(io_port);
  a.listen = Addr(a_port);
  io.metrics_file = (dir / "io.metrics.json").string();
  for (const char* s : {"image", "audio"}) {
    WorkerInstance i;
    i.kind = "source";
    i.type = "ingress";
    i.name = s;
    i.rate = 100;
    io.instances.push_back(i);
  }
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  io.instances.push_back(sink);
  WorkerInstance j;
  j.kind = "operator";
  j.name = "J";
  j.runtime.latency_ms = 400;  // requests are in flight at a when io dies
  j.runtime.output_kib = 0.01;
  a.instances = {j};
  WorkerIngress in;
  in.plain_http = true;
  io.ingress = in;
  std::string config = (dir / "io.yaml").string();
  std::ofstream(config) << WorkerConfigToYaml(io);

  auto aw = Worker::Create(a);
  ASSERT_TRUE(aw.ok()) << aw.status().message();
  std::thread at([&] { (void)(*aw)->Run(); });
  auto stop_a = [&] {
    (*aw)->Stop();
    at.join();
  };

  auto proc = std::make_unique<Subprocess>(config);
  int port = 0;
  ASSERT_TRUE(WaitFor([&] { return (port = ReadMetrics(io.metrics_file).ingress_port) > 0; }, 10s));
  ASSERT_TRUE(WaitFor([&] { return Call(port, Body("warm")).first == 200; }, 10s));

  // Eight requests in flight, then SIGKILL.
  std::vector<std::future<std::pair<int, std::string>>> calls;
  for (int i = 0; i < 8; ++i)
    calls.push_back(std::async(std::launch::async, [port, i] { return Call(port, Body("k" + std::to_string(i))); }));
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadMetrics(io.metrics_file).instances.size() == 3 && [&] {
          for (const auto& im : ReadMetrics(io.metrics_file).instances)
            if (im.name == "image") return im.inflight == 8;
          return false;
        }();
      },
      10s));
  proc->Kill();
  int answered = 0, broken = 0;
  for (int i = 0; i < 8; ++i) {
    auto [status, body] = calls[static_cast<size_t>(i)].get();  // every call ends (bounded by its socket timeout)
    if (status == 200) {
      ++answered;
      EXPECT_NE(body.find("\"id\":\"k" + std::to_string(i) + "\""), std::string::npos) << body;
    } else {
      EXPECT_EQ(status, 0) << body;  // the process died under it: a transport error, never a wrong answer
      ++broken;
    }
  }
  EXPECT_EQ(answered + broken, 8);
  EXPECT_GT(broken, 0);  // J takes 400 ms per request, one at a time: most were still in flight

  // The restarted worker: a new ingress port; new requests get their own answers.
  std::filesystem::remove(io.metrics_file);
  // Its fixed worker port may be held for a moment by an outgoing connection's ephemeral port:
  // started again until it reports (bounded).
  port = 0;
  for (int attempt = 0; attempt < 20 && port == 0; ++attempt) {
    proc = std::make_unique<Subprocess>(config);
    WaitFor([&] { return (port = ReadMetrics(io.metrics_file).ingress_port) > 0; }, 2s);
  }
  ASSERT_GT(port, 0);
  for (int i = 0; i < 3; ++i) {
    std::pair<int, std::string> r;
    ASSERT_TRUE(WaitFor([&] { return (r = Call(port, Body("n" + std::to_string(i)))).first == 200; }, 10s));
    EXPECT_NE(r.second.find("\"id\":\"n" + std::to_string(i) + "\""), std::string::npos) << r.second;
  }
  // The parts the dead process had handed to a are delivered to the new sink once, not answered:
  // the delivery record holds every (source, seq) at most once.
  proc->Kill();
  stop_a();
  std::set<std::pair<std::string, uint64_t>> seen;
  bool twice = false;
  auto record = DeliveryRecord::Open(
      StatePath(io.metrics_file, ".delivered"), 16 << 20,
      [&](const DeliveryRecord::Entry& e) {
        twice |= !seen.insert({e.source, e.seq}).second;
      },
      nullptr);
  ASSERT_TRUE(record.ok()) << record.status().message();
  EXPECT_FALSE(twice);
  EXPECT_GE(seen.size(), 4u);  // warm + the 3 new ones at least
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace jb
