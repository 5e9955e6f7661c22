// Adoption across replicas (issue 20): two jellybeand replicas on etcd serve a device agent
// (jellybean-agent on loopback, given both replicas' agent listeners); the leader is killed -9, the
// follower takes over and adopts the device's workers: the same processes (PIDs) keep serving, no
// worker is duplicated, and items keep flowing through the takeover. The replicas share the agent
// CA and the worker CA (copied from the first replica's state directory, as the README says).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "testing/daemon_fixture.h"
#include "testing/etcd_cluster.h"
#include "testing/vqa_run.h"
#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr const char* kWorkflow = "ha-pipeline";

// One device tier served by agents, one device, a source and one model on it.
std::string Manifest(int port_base) {
  return R"(apiVersion: jellybean.dev/v1alpha1
kind: Infrastructure
metadata:
  name: ha-devices
spec:
  tiers:
  - name: device
    driver: {type: agent, settings: {portBase: ")" +
         std::to_string(port_base) + R"("}}
  nodes:
  - {name: dev1, tier: device, pricePerHour: 0.01, hardware: lab-device}
---
apiVersion: jellybean.dev/v1alpha1
kind: ModelProfile
metadata:
  name: ha-detect
spec:
  variants:
  - name: det
    accuracy: 90
    outputSizeKiB: 1
    latencyMs:
      lab-device: {p50: 5}
---
apiVersion: jellybean.dev/v1alpha1
kind: Workflow
metadata:
  name: ha-pipeline
spec:
  infrastructure: ha-devices
  sources:
  - name: Camera
    rate: 20
    tier: device
    node: dev1
    itemSizeKiB: 1
  operators:
  - name: Detect
    profile: ha-detect
    inputs:
    - from: Camera
  slo:
    minAccuracy: 50
  options:
    percentile: p50
)";
}

// The device's workers as they report themselves (agent state dir, the local driver's layout).
std::map<std::string, WorkerMetrics> Reports(const fs::path& agent_dir) {
  std::map<std::string, WorkerMetrics> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(agent_dir / "workers" / kWorkflow, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 13 || name.substr(name.size() - 13) != ".metrics.json") continue;
    auto m = ParseWorkerMetrics(testing::ReadFile(e.path()), name);
    if (m.ok()) out[m->worker] = *m;
  }
  return out;
}

int64_t Delivered(const fs::path& agent_dir) {
  int64_t n = 0;
  for (const auto& [w, m] : Reports(agent_dir))
    for (const auto& in : m.instances)
      if (in.kind == "sink") n += in.items_out;
  return n;
}

// Every live jellybean-worker process started for this device (its config is under agent_dir).
std::vector<pid_t> WorkerProcesses(const fs::path& agent_dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = testing::ReadFile(e.path() / "cmdline");
    const std::string exe = cmd.substr(0, cmd.find('\0'));  // not the agent, whose flags name both
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    const bool zombie = testing::ReadFile(e.path() / "stat").find(") Z ") != std::string::npos;
    if (!zombie && fs::path(exe).filename() == "jellybean-worker" && cmd.find(agent_dir.string()) != std::string::npos)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string Readyz(const HttpClientOptions& c) {
  auto r = HttpCall(c, "GET", "/readyz");
  return r.ok() ? r->body : "";
}

bool Ready(const HttpClientOptions& c) {
  auto o = testing::GetObject(c, std::string("workflows/") + kWorkflow);
  if (!o) return false;
  for (const auto& cond : std::get<Workflow>(*o).status.conditions)
    if (cond.type == "Ready") return cond.status == "True";
  return false;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Stops the agent (its workers with it) and whatever worker is left.
struct AgentGuard {
  pid_t pid = -1;
  fs::path dir;
  ~AgentGuard() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st = 0;
      if (!testing::WaitFor([&] { return ::waitpid(pid, &st, WNOHANG) == pid; }, 10s)) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
      }
    }
    testing::Daemon::KillWorkers(dir);
  }
};

TEST(Replicas, ANewLeaderAdoptsAnAgentsWorkersWithoutRestartingThem) {
  testing::EtcdCluster etcd({});
  ASSERT_TRUE(etcd.WaitHealthy());
  testing::TempDir tmp;
  const fs::path sa = tmp.path() / "a", sb = tmp.path() / "b", token = tmp.path() / "agent-token";
  fs::create_directories(sa);
  fs::create_directories(sb);
  std::ofstream(token) << "ha-bootstrap-token-0123456789abcdef\n";
  fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
  const int port_a = testing::FreeLoopbackPort(), port_b = testing::FreeLoopbackPort();
  auto args = [&](const std::string& id, int agent_port) {
    return std::vector<std::string>{"--store",
                                    etcd.StoreSpec("/jb/") + "&timeout-ms=1000",
                                    "--replica-id",
                                    id,
                                    "--lease-ttl",
                                    "2",
                                    "--lease-renew",
                                    "0.2",
                                    "--agent-listen",
                                    "127.0.0.1:" + std::to_string(agent_port),
                                    "--agent-token-file",
                                    token.string(),
                                    "--node-grace",
                                    "5"};
  };
  auto a = std::make_unique<testing::Daemon>(sa, std::vector<std::string>{}, args("replica-a", port_a));
  HttpClientOptions ca, cb;
  ASSERT_TRUE(a->WaitReady(&ca)) << testing::ReadFile(tmp.path() / "a.log");
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(ca).find("leader: replica-a") != std::string::npos; }, 10s));
  // The replicas share the agent CA (agents trust it, it signed their certificates) and the CA of
  // the workers' links, so the new leader's certificates are the old ones' peers.
  for (const char* sub : {"agent", "tls"}) {
    fs::create_directories(sb / sub);
    for (const char* f : {"ca.crt", "ca.key"}) fs::copy_file(sa / sub / f, sb / sub / f);
  }
  testing::Daemon b(sb, {}, args("replica-b", port_b));
  ASSERT_TRUE(b.WaitReady(&cb)) << testing::ReadFile(tmp.path() / "b.log");
  EXPECT_NE(Readyz(cb).find("leader: replica-a"), std::string::npos) << Readyz(cb);

  AgentGuard agent{-1, tmp.path() / "dev1"};
  const std::string agent_log = (tmp.path() / "agent-dev1.log").string();
  agent.pid = testing::SpawnLogged(
      // The follower first: it registers the device (the CA is shared) and answers "not-leader".
      {JB_AGENT, "--server", "127.0.0.1:" + std::to_string(port_b) + ",127.0.0.1:" + std::to_string(port_a), "--device",
       "dev1", "--ca", (sa / "agent/ca.crt").string(), "--token-file", token.string(), "--state-dir",
       agent.dir.string(), "--worker-binary", JB_WORKER, "--poll-timeout", "2"},
      agent_log);
  ASSERT_GT(agent.pid, 0);
  const int port_base = testing::FreeLoopbackPort();
  std::string why;
  std::stringstream docs(Manifest(port_base));
  for (const char* path : {"infrastructures/ha-devices", "modelprofiles/ha-detect", "workflows/ha-pipeline"}) {
    std::string doc, line;
    while (std::getline(docs, line) && line != "---") doc += line + "\n";
    ASSERT_TRUE(testing::PutObject(ca, path, doc, &why)) << path << ": " << why;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Ready(ca) && Delivered(agent.dir) > 20; }, 60s))
      << testing::ReadFile(agent_log) << testing::ReadFile(tmp.path() / "a.log");
  const auto before = Reports(agent.dir);
  ASSERT_GE(before.size(), 2u);
  const size_t workers = WorkerProcesses(agent.dir).size();
  EXPECT_EQ(workers, before.size());
  // The follower shows the leader's status (its reads go to etcd).
  EXPECT_TRUE(Ready(cb));

  // kill -9 the leader: the follower leads and adopts the device's workers.
  const size_t applied_before = Count(testing::ReadFile(agent_log), "runs desired version");
  const int64_t delivered_at_kill = Delivered(agent.dir);
  const auto t0 = Steady::now();
  a->Signal(SIGKILL);
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(cb).find("leader: replica-b") != std::string::npos; }, 15s));
  const double led = std::chrono::duration<double>(Steady::now() - t0).count();
  // The agent finds the new leader and takes its desired state (the same workers).
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Count(testing::ReadFile(agent_log), "runs desired version") > applied_before; }, 30s))
      << testing::ReadFile(agent_log) << testing::ReadFile(tmp.path() / "b.log");
  const double adopted = std::chrono::duration<double>(Steady::now() - t0).count();
  ASSERT_TRUE(testing::WaitFor([&] { return Ready(cb); }, 30s)) << testing::ReadFile(tmp.path() / "b.log");
  // Items keep flowing through the same processes.
  const int64_t delivered_after = Delivered(agent.dir);
  ASSERT_TRUE(testing::WaitFor([&] { return Delivered(agent.dir) > delivered_after + 40; }, 20s))
      << testing::ReadFile(agent_log);
  const auto after = Reports(agent.dir);
  EXPECT_EQ(after.size(), before.size());
  size_t kept = 0;
  for (const auto& [w, m] : before) {
    ASSERT_EQ(after.count(w), 1u) << w;
    EXPECT_EQ(after.at(w).pid, m.pid) << w << " was restarted instead of adopted";
    kept += after.at(w).pid == m.pid ? 1 : 0;
  }
  EXPECT_EQ(WorkerProcesses(agent.dir).size(), workers) << "no worker is duplicated";
  std::printf(
      "adoption: leader killed -9; the follower led after %.2f s, the agent ran its desired state after %.2f s; "
      "%zu of %zu workers kept their PIDs; items delivered %lld at the kill, %lld now\n",
      led, adopted, kept, before.size(), static_cast<long long>(delivered_at_kill),
      static_cast<long long>(Delivered(agent.dir)));
}

}  // namespace
}  // namespace jb
