// bench_ingress: requests/s and p50/p99 at a worker's inference endpoint (worker/ingress_endpoint.h)
// under `hey` (Debian bookworm's package, in `make setup`), against the same exec model fed directly
// through the worker protocol in the same run; prints both and their ratio.
//
//   bench_ingress [requests=2000] [concurrency=8]
//
// Both runs are on loopback, in this process, with one worker hosting source -> model -> sink:
//  - ingress: an ingress source; `hey -n requests -c concurrency` POSTs one JSON OIP request at a
//    time per connection and waits for each answer (closed loop, synchronous calls);
//  - direct: a generator source emitting the same payload, `requests` items as fast as the
//    worker's flow control lets it (the model's own throughput through the worker protocol);
//    its p50/p99 are the sink's end-to-end latencies (queueing included, as the generator does not
//    wait for answers).
// The model is jb-example-model (exec runtime, word count), so the figures are the data path's
// cost around a model that does almost nothing.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "worker/worker.h"

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;

const char* kPayload = "what is the total amount due on this invoice";

WorkerConfig Config(const std::string& source_type, int64_t limit, int port) {
  WorkerConfig c;
  c.workflow = "bench";
  c.name = "io";
  c.listen = "127.0.0.1:" + std::to_string(port);
  c.metrics_interval_s = 0.05;
  WorkerInstance src;
  src.kind = "source";
  src.name = "q";
  src.type = source_type;
  src.rate = source_type == "ingress" ? 1000 : 1e6;
  src.limit = limit;
  WorkerInstance op;
  op.kind = "operator";
  op.name = "M";
  op.runtime.type = "exec";
  op.runtime.command = {JB_EXAMPLE_MODEL};
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  c.instances = {src, op, sink};
  c.edges = {{"q", "M", 1}, {"M", kSinkName, 1}};
  c.routes = {{"M", 0, 1, "io", c.listen, ""}, {kSinkName, 0, 1, "io", c.listen, ""}};
  if (source_type == "ingress") {
    WorkerIngress in;
    in.plain_http = true;
    in.max_inflight = 1024;
    c.ingress = in;
  }
  return c;
}

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return {};
}

template <class F>
bool WaitFor(F f, double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return f();
}

struct Figures {
  double rps = 0, p50_ms = 0, p99_ms = 0;
};

double Match(const std::string& text, const std::string& re) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(re))) return -1;
  return std::stod(m[1]);
}

int RunIngress(int requests, int concurrency, Figures* f) {
  auto w = Worker::Create(Config("ingress", 0, 0));
  if (!w.ok()) {
    std::fprintf(stderr, "bench_ingress: %s\n", w.status().message().c_str());
    return 1;
  }
  std::thread t([&] { (void)(*w)->Run(); });
  int port = 0;
  WaitFor([&] { return (port = (*w)->Metrics().ingress_port) > 0; }, 10);
  std::string body_file = "/tmp/bench_ingress_" + std::to_string(getpid()) + ".json";
  std::ofstream(body_file) << R"({"inputs":[{"name":"q","shape":[1],"datatype":"BYTES","data":[")" << kPayload
                           << R"("]}]})";
  std::string cmd = "hey -n " + std::to_string(requests) + " -c " + std::to_string(concurrency) + " -m POST -D " +
                    body_file + " -T application/json http://127.0.0.1:" + std::to_string(port) +
                    "/v2/models/bench/infer 2>&1";
  // Ready once the loop has run a round (health/ready): hey's first requests would get 503.
  WaitFor([&] { return (*w)->Metrics().instances.size() == 3; }, 10);
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
    int rc = pclose(p);
    if (rc != 0) std::fprintf(stderr, "bench_ingress: hey exited %d\n%s", rc, out.c_str());
  }
  unlink(body_file.c_str());
  WaitFor([&] { return Find((*w)->Metrics(), "q").responses["200"] >= requests; }, 5);  // the next snapshot
  auto m = (*w)->Metrics();
  (*w)->Stop();
  t.join();
  f->rps = Match(out, R"(Requests/sec:\s+([0-9.]+))");
  f->p50_ms = Match(out, R"(50% in ([0-9.]+) secs)") * 1000;
  f->p99_ms = Match(out, R"(99% in ([0-9.]+) secs)") * 1000;
  auto ok = Find(m, "q").responses["200"];
  if (f->rps <= 0 || ok != requests) {
    std::fprintf(stderr, "bench_ingress: hey output not understood or not all answered (%lld of %d)\n%s",
                 static_cast<long long>(ok), requests, out.c_str());
    return 1;
  }
  return 0;
}

int RunDirect(int requests, Figures* f) {
  auto c = Config("generator", requests, 0);
  c.instances[0].item_kib = 0;
  std::string dir = "/tmp/bench_ingress_direct_" + std::to_string(getpid());
  mkdir(dir.c_str(), 0700);
  std::ofstream(dir + "/payload") << kPayload;
  c.instances[0].files = dir;
  auto start = Clock::now();
  auto w = Worker::Create(c);
  if (!w.ok()) {
    std::fprintf(stderr, "bench_ingress: %s\n", w.status().message().c_str());
    return 1;
  }
  std::thread t([&] { (void)(*w)->Run(); });
  bool done = WaitFor([&] { return Find((*w)->Metrics(), kSinkName).items_out == requests; }, 120);
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  auto sink = Find((*w)->Metrics(), kSinkName);
  (*w)->Stop();
  t.join();
  unlink((dir + "/payload").c_str());
  rmdir(dir.c_str());
  if (!done) {
    std::fprintf(stderr, "bench_ingress: the direct run delivered %lld of %d\n", static_cast<long long>(sink.items_out),
                 requests);
    return 1;
  }
  f->rps = requests / s;
  f->p50_ms = sink.p50_ms;
  f->p99_ms = sink.p99_ms;
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) {
  int requests = argc > 1 ? std::atoi(argv[1]) : 2000;
  int concurrency = argc > 2 ? std::atoi(argv[2]) : 8;
  if (requests < 1 || requests > 1000000 || concurrency < 1 || concurrency > 1024 || requests < concurrency) {
    std::fprintf(stderr, "usage: bench_ingress [requests 1..1000000] [concurrency 1..1024, <= requests]\n");
    return 2;
  }
  if (std::system("command -v hey >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "bench_ingress: `hey` is not installed (make setup installs it)\n");
    return 1;
  }
  jb::Figures ingress, direct;
  if (int rc = jb::RunIngress(requests, concurrency, &ingress); rc != 0) return rc;
  if (int rc = jb::RunDirect(requests, &direct); rc != 0) return rc;
  std::printf("bench_ingress: %d requests, exec model jb-example-model, loopback\n", requests);
  std::printf("  ingress (OIP JSON, hey -c %d): %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n", concurrency, ingress.rps,
              ingress.p50_ms, ingress.p99_ms);
  std::printf("  direct  (worker protocol)    : %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms (open loop: queueing)\n",
              direct.rps, direct.p50_ms, direct.p99_ms);
  std::printf("  ratio ingress/direct throughput: %.2f\n", ingress.rps / direct.rps);
  return 0;
}
