// REST benchmark: GET workflows/vqa/status requests per second and p99 latency with 16
// concurrent clients over TLS, printed beside the same figures for GET /healthz (the floor: no
// auth, no store access, same TLS and HTTP stack), measured in the same run.
// Usage: bench_rest [seconds per phase, default 3] [clients, default 16]
// boost/asio (under pplx) uses std::exchange without including <utility>: keep this order.
// clang-format off
#include <utility>
#include <pplx/threadpool.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "daemon/api_server.h"
#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/manifest_watcher.h"
#include "drivers/fake/fake_driver.h"
#include "reconciler/controller.h"
#include "reconciler/memory_store.h"
#include "testing/util.h"

namespace jb {
namespace {

struct Result {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  long errors = 0;
};

Result Load(const HttpClientOptions& c, const std::string& path, int clients, double seconds) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::atomic<long> errors{0};
  auto end = std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      (void)HttpCall(c, "GET", path);  // warm the connection (a failure shows in the timed calls)
      while (std::chrono::steady_clock::now() < end) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = HttpCall(c, "GET", path);
        if (!r.ok() || r->status != 200) errors++;
        lat[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    });
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.rps = static_cast<double>(all.size()) / seconds;
  r.p50_ms = all.empty() ? 0 : all[all.size() / 2];
  r.p99_ms = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  r.errors = errors;
  return r;
}

int Main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  int clients = argc > 2 ? std::atoi(argv[2]) : 16;
  InitHttpThreads(4);  // the server's handler threads
  // The in-process clients run on cpprestsdk's pool, which InitHttpThreads sized too while the
  // server was cpprestsdk's (its default of 40 threads on a small machine makes the clients, not the
  // server, the bottleneck: 5x fewer req/s); keep the clients as they were measured before.
  crossplat::threadpool::initialize_with_threads(4);
  auto dir = std::filesystem::temp_directory_path() / ("jb-bench-rest-" + std::to_string(getpid()));
  DaemonConfig cfg;
  cfg.state_dir = dir.string();
  cfg.listen = "127.0.0.1:0";
  if (auto s = FinishConfig(&cfg); !s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  if (auto s = EnsureTls(&cfg); !s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  auto token = EnsureToken(cfg.token_file);
  MemoryStore store;
  FakeDriver driver;
  Controller controller(&store, &driver);
  controller.Start(2);
  EventRecorder events;
  ManifestWatcher manifests(std::string(JB_SOURCE_DIR) + "/manifests/vqa", &store, &events);
  for (const auto& p : manifests.Sync()) std::fprintf(stderr, "%s\n", p.c_str());
  ApiServer api(&store, &controller, *token);
  api.SetReady(true);
  HttpServerOptions ho;
  ho.cert_file = cfg.tls_cert;
  ho.key_file = cfg.tls_key;
  auto server = StartHttpServer(ho, [&api](const HttpRequest& r) { return api.Handle(r); });
  if (!server.ok()) return std::fprintf(stderr, "%s\n", server.status().message().c_str()), 1;
  HttpClientOptions c;
  c.server = "https://127.0.0.1:" + std::to_string((*server)->port());
  c.ca_file = (dir / "tls/ca.crt").string();
  c.token = *token;
  // Wait until the workflow is planned so /status returns the full plan.
  testing::WaitFor(
      [&] {
        auto r = HttpCall(c, "GET", "/apis/jellybean.dev/v1alpha1/workflows/vqa/status");
        return r.ok() && r->body.find("\"plan\"") != std::string::npos;
      },
      std::chrono::seconds(5));
  Result health = Load(c, "/healthz", clients, seconds);
  Result status = Load(c, "/apis/jellybean.dev/v1alpha1/workflows/vqa/status", clients, seconds);
  std::printf("REST over TLS, %d concurrent clients, %.1f s per endpoint (same run, same server)\n", clients, seconds);
  std::printf("%-40s %10s %10s %10s %8s\n", "endpoint", "req/s", "p50 ms", "p99 ms", "errors");
  std::printf("%-40s %10.0f %10.2f %10.2f %8ld\n", "GET /healthz (floor)", health.rps, health.p50_ms, health.p99_ms,
              health.errors);
  std::printf("%-40s %10.0f %10.2f %10.2f %8ld\n", "GET workflows/vqa/status", status.rps, status.p50_ms, status.p99_ms,
              status.errors);
  std::printf("status / healthz: throughput %.2fx, p99 %.2fx\n", status.rps / health.rps,
              status.p99_ms / health.p99_ms);
  (*server)->Stop();
  controller.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) { return jb::Main(argc, argv); }
