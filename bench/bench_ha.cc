// HA benchmark (issue 20), Debian's etcd started here on free loopback ports (testing/etcd_cluster.h):
//  1. REST throughput, etcd against the file store in the same run: C clients for S seconds each
//     creating ModelProfiles (POST, one object per request) and reading one (GET), against a daemon
//     on the file store and the leader of two replicas on a 3-member etcd; rates, p50/p99 and the
//     etcd/file ratio are printed.
//  2. Failover: the leader is killed (SIGKILL) while a spec change is written through the follower;
//     printed: kill -> the follower leads (/readyz), kill -> the change is reconciled by the new
//     leader (status.observedGeneration reaches the new generation, the workflow planned).
// Usage: bench_ha [seconds per throughput phase, default 3] [clients, default 8]
// Workers: the fake driver (the control plane is measured, not the data plane).
// boost/asio (under pplx) uses std::exchange without including <utility>: keep this order.
// clang-format off
#include <utility>
#include <pplx/threadpool.h>
// clang-format on

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "api/manifest.h"
#include "testing/daemon_fixture.h"
#include "testing/etcd_cluster.h"

namespace jb {
namespace {

using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Result {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  long errors = 0;
};

// `clients` threads call `call(client, i)` (true = success) until `seconds` have passed.
template <typename Call>
Result Load(int clients, double seconds, Call call) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::atomic<long> errors{0};
  const auto end = Steady::now() + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; Steady::now() < end; ++i) {
        const auto t0 = Steady::now();
        if (!call(t, i)) ++errors;
        lat[static_cast<size_t>(t)].push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
      }
    });
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.rps = static_cast<double>(all.size() - static_cast<size_t>(errors.load())) / seconds;
  r.p50_ms = all.empty() ? 0 : all[all.size() / 2];
  r.p99_ms = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  r.errors = errors;
  return r;
}

bool Apply(const fs::path& state) {
  auto r = testing::Run("JB_STATE_DIR=" + state.string() + " " + JB_JBCTL + " apply -f manifests/vqa/ >/dev/null 2>&1");
  return r.exit_code == 0;
}

// A new ModelProfile named `name`, as JSON, from `base` (the vqa profile as the daemon serves it).
std::string ProfileNamed(const Object& base, const std::string& name) {
  Object o = base;
  MetaOf(o).name = name;
  MetaOf(o).resource_version.reset();
  return ObjectToJson(o);
}

struct Throughput {
  Result write, read;
};

Throughput Measure(const HttpClientOptions& c, const std::string& tag, int clients, double seconds) {
  Throughput t;
  auto base = testing::GetObject(c, "modelprofiles/vqa");
  if (!base) {
    std::fprintf(stderr, "bench_ha: %s: no modelprofiles/vqa\n", tag.c_str());
    return t;
  }
  t.write = Load(clients, seconds, [&](int client, int i) {
    auto r = HttpCall(c, "POST", testing::kApi + "modelprofiles",
                      ProfileNamed(*base, "bench-" + tag + "-" + std::to_string(client) + "-" + std::to_string(i)));
    return r.ok() && r->status == 201;
  });
  t.read = Load(clients, seconds, [&](int, int) {
    auto r = HttpCall(c, "GET", testing::kApi + "modelprofiles/vqa");
    return r.ok() && r->status == 200;
  });
  return t;
}

void Print(const char* what, const Result& r) {
  std::printf("  %-28s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  errors %ld\n", what, r.rps, r.p50_ms, r.p99_ms,
              r.errors);
}

std::string Readyz(const HttpClientOptions& c) {
  auto r = HttpCall(c, "GET", "/readyz");
  return r.ok() ? r->body : "";
}

bool ConvergedAt(const HttpClientOptions& c, int64_t generation) {
  auto wf = testing::GetObject(c, "workflows/vqa");
  if (!wf || !testing::Planned(*wf)) return false;
  const auto& st = std::get<Workflow>(*wf).status;
  return st.observed_generation && *st.observed_generation >= generation;
}

int Run(double seconds, int clients) {
  testing::TempDir tmp;
  testing::EtcdCluster etcd({.members = 3});
  if (!etcd.WaitHealthy()) {
    std::fprintf(stderr, "bench_ha: etcd did not become healthy\n");
    return 1;
  }
  const fs::path sf = tmp.path() / "file", sa = tmp.path() / "a", sb = tmp.path() / "b";
  for (const auto& d : {sf, sa, sb}) fs::create_directories(d);
  auto replica = [&](const std::string& id) {
    return std::vector<std::string>{"--store", etcd.StoreSpec("/jb/"), "--driver", "fake",          "--replica-id",
                                    id,        "--lease-ttl",          "2",        "--lease-renew", "0.2"};
  };
  testing::Daemon file(sf, {}, {"--driver", "fake"});
  auto a = std::make_unique<testing::Daemon>(sa, std::vector<std::string>{}, replica("replica-a"));
  HttpClientOptions cf, ca, cb;
  if (!file.WaitReady(&cf) || !a->WaitReady(&ca) ||
      !testing::WaitFor([&] { return Readyz(ca).find("leader: replica-a") != std::string::npos; },
                        std::chrono::seconds(10))) {
    std::fprintf(stderr, "bench_ha: the daemons did not start (logs in %s)\n", tmp.path().c_str());
    return 1;
  }
  testing::Daemon b(sb, {}, replica("replica-b"));
  if (!b.WaitReady(&cb) || !Apply(sf) || !Apply(sa)) {
    std::fprintf(stderr, "bench_ha: replica-b did not start or apply failed\n");
    return 1;
  }

  std::printf("REST throughput, %d clients, %.1f s per phase (TLS, fake driver):\n", clients, seconds);
  const Throughput f = Measure(cf, "file", clients, seconds);
  const Throughput e = Measure(ca, "etcd", clients, seconds);
  Print("file store: create", f.write);
  Print("file store: get", f.read);
  Print("etcd (3 members): create", e.write);
  Print("etcd (3 members): get", e.read);
  std::printf("  etcd / file: create %.2f, get %.2f\n", f.write.rps > 0 ? e.write.rps / f.write.rps : 0,
              f.read.rps > 0 ? e.read.rps / f.read.rps : 0);

  // Failover: the workflow planned on both replicas, then the leader killed.
  if (!testing::WaitFor([&] { return ConvergedAt(cb, 1); }, std::chrono::seconds(90))) {
    std::fprintf(stderr, "bench_ha: vqa was not planned\n");
    return 1;
  }
  const auto t0 = Steady::now();
  a->Signal(SIGKILL);
  auto patched = HttpCall(cb, "PATCH", testing::kApi + "workflows/vqa", R"({"spec":{"slo":{"minAccuracy":55}}})",
                          "application/merge-patch+json");
  if (!patched.ok() || patched->status != 200) {
    std::fprintf(stderr, "bench_ha: the spec change failed: %s\n",
                 patched.ok() ? patched->body.c_str() : patched.status().message().c_str());
    return 1;
  }
  std::vector<Diagnostic> d;
  auto changed = ObjectFromText(patched->body, "patch", &d);
  const int64_t generation = changed.ok() ? MetaOf(*changed).generation.value_or(0) : 0;
  if (!testing::WaitFor([&] { return Readyz(cb).find("leader: replica-b") != std::string::npos; },
                        std::chrono::seconds(20))) {
    std::fprintf(stderr, "bench_ha: replica-b did not take over\n");
    return 1;
  }
  const double led = std::chrono::duration<double>(Steady::now() - t0).count();
  if (!testing::WaitFor([&] { return ConvergedAt(cb, generation); }, std::chrono::seconds(90))) {
    std::fprintf(stderr, "bench_ha: the new leader did not reconcile generation %lld\n",
                 static_cast<long long>(generation));
    return 1;
  }
  const double converged = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("failover (2 replicas, 3-member etcd, lease TTL 2 s, renew 0.2 s):\n");
  std::printf("  leader SIGKILL -> follower leads: %.2f s\n", led);
  std::printf("  leader SIGKILL -> change written meanwhile reconciled (generation %lld planned): %.2f s\n",
              static_cast<long long>(generation), converged);
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3;
  int clients = argc > 2 ? std::atoi(argv[2]) : 8;
  if (seconds <= 0 || clients <= 0) {
    std::fprintf(stderr, "usage: bench_ha [seconds per phase] [clients]\n");
    return 2;
  }
  jb::InitHttpThreads(clients + 2);
  return jb::Run(seconds, clients);
}
