// Mutual TLS on worker links (worker/tls.h) against plain TCP, in the same run. Two in-process
// workers on loopback: io (a source and the sink) -> a (an emulated operator with zero latency,
// outputs as large as its inputs) -> io, so every item crosses two links. Per item size (1 KiB and
// 64 KiB), each transport is measured twice:
//
//   latency: 200 items/s (the links are idle between items); the sink's source-to-sink p50 over
//            two hops, halved: the per-hop latency, which includes the operator's hand-off;
//   items/s: `items` items as fast as the credit windows allow; items acknowledged end to end per
//            second of wall time.
//
// TLS: certificates from a CA made for the run (as drivers/worker_tls.h issues them), mode `on`
// (TLS on loopback too). Plain: no tls block. The ratio TLS/plain is printed for both figures.
// Usage: bench_dataplane_tls [items for items/s, default 20000] [latency items, default 400]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "drivers/agent/pki.h"
#include "worker/worker.h"

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_dataplane_tls: %s\n", what.c_str());
  std::exit(2);
}

struct Running {
  std::unique_ptr<Worker> w;
  std::thread t;
  explicit Running(WorkerConfig c) {
    auto made = Worker::Create(std::move(c));
    if (!made.ok()) Die(made.status().message());
    w = std::move(*made);
    t = std::thread([this] { (void)w->Run(); });
  }
  ~Running() {
    w->Stop();
    t.join();
  }
};

InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
  for (const auto& i : m.instances)
    if (i.name == name) return i;
  return InstanceMetrics{};
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

WorkerTls Issue(const Ca& ca, const std::string& worker) {
  auto pair = ca.IssueUri(WorkerTlsUri("bench", worker, 1), 1);
  if (!pair.ok()) Die(pair.status().message());
  WorkerTls t;
  t.cert_pem = pair->cert_pem;
  t.key_pem = pair->key_pem;
  t.ca_pem = ca.cert_pem();
  t.mode = "on";
  return t;
}

struct Result {
  double hop_p50_ms = 0;
  double items_per_s = 0;
};

// One chain io -> a -> io; returns when `limit` items are acknowledged (or dies after 120 s).
double RunChain(const Ca* ca, double kib, double rate, int64_t limit, double* sink_p50_ms) {
  auto io_port = PickFreePort(), a_port = PickFreePort();
  if (!io_port.ok() || !a_port.ok()) Die("no free port");
  WorkerConfig io, a;
  io.workflow = a.workflow = "bench";
  io.name = "io";
  a.name = "a";
  io.tier = "edge";
  a.tier = "cloud";
  io.listen = Addr(*io_port);
  a.listen = Addr(*a_port);
  io.metrics_interval_s = a.metrics_interval_s = 0.05;
  WorkerInstance src, sink, op;
  src.kind = "source";
  src.name = "S";
  src.rate = rate;
  src.limit = limit;
  src.item_kib = kib;
  sink.kind = "sink";
  sink.name = kSinkName;
  op.kind = "operator";
  op.name = "A";
  op.runtime.latency_ms = 0;
  op.runtime.output_kib = kib;
  io.instances = {src, sink};
  a.instances = {op};
  io.edges = a.edges = {{"S", "A", 1}, {"A", kSinkName, 1}};
  io.routes = a.routes = {{"A", 0, 1, "a", Addr(*a_port), "cloud"}, {kSinkName, 0, 1, "io", Addr(*io_port), "edge"}};
  if (ca != nullptr) {
    io.tls = Issue(*ca, "io");
    a.tls = Issue(*ca, "a");
  }
  Running ra(a);
  auto start = Clock::now();
  Running rio(io);
  auto deadline = start + std::chrono::seconds(120);
  while (Find(rio.w->Metrics(), "S").acked < limit) {
    if (Clock::now() > deadline) Die("the chain did not deliver every item within 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  auto m = rio.w->Metrics();
  if (Find(m, kSinkName).items_out != limit) Die("the sink did not get every item once");
  if (ca != nullptr && (m.links.empty() || !m.links[0].tls)) Die("the TLS run's link is not TLS");
  *sink_p50_ms = Find(m, kSinkName).p50_ms;
  return static_cast<double>(limit) / secs;
}

Result Measure(const Ca* ca, double kib, int64_t items, int64_t latency_items) {
  Result r;
  double p50 = 0;
  (void)RunChain(ca, kib, 200, latency_items, &p50);
  r.hop_p50_ms = p50 / 2;
  double ignored = 0;
  r.items_per_s = RunChain(ca, kib, 1e7, items, &ignored);
  return r;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) {
  using namespace jb;
  int64_t items = argc > 1 ? std::atoll(argv[1]) : 20000;
  int64_t latency_items = argc > 2 ? std::atoll(argv[2]) : 400;
  auto dir = std::filesystem::temp_directory_path() / ("jb-bench-tls-" + std::to_string(getpid()));
  auto ca = Ca::LoadOrCreate(dir.string());
  if (!ca.ok()) Die(ca.status().message());
  std::printf(
      "bench_dataplane_tls: two links per item (io -> a -> io, loopback), %lld items for items/s, %lld at "
      "200/s for latency\n",
      static_cast<long long>(items), static_cast<long long>(latency_items));
  std::printf("%-8s %-6s %14s %12s\n", "item", "link", "hop p50 (ms)", "items/s");
  for (double kib : {1.0, 64.0}) {
    Result plain = Measure(nullptr, kib, items, latency_items);
    Result tls = Measure(ca->get(), kib, items, latency_items);
    std::printf("%-8s %-6s %14.3f %12.0f\n", (std::to_string(static_cast<int>(kib)) + " KiB").c_str(), "plain",
                plain.hop_p50_ms, plain.items_per_s);
    std::printf("%-8s %-6s %14.3f %12.0f\n", (std::to_string(static_cast<int>(kib)) + " KiB").c_str(), "tls",
                tls.hop_p50_ms, tls.items_per_s);
    std::printf("%-8s TLS/plain: hop p50 %.2fx, items/s %.2fx\n",
                (std::to_string(static_cast<int>(kib)) + " KiB").c_str(),
                plain.hop_p50_ms > 0 ? tls.hop_p50_ms / plain.hop_p50_ms : 0,
                plain.items_per_s > 0 ? tls.items_per_s / plain.items_per_s : 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
