// Three-tier end to end (issue #8): the real daemon on lab host 1 deploys the lab workflow
// (tests/lab/three-tier/) across all three remote drivers at once: two devices running
// jellybean-agent (hosts 3 and 4, mutual TLS), an edge server over ssh (host 2) and a cloud pool
// whose VMs the provider hooks create as new lab hosts (tests/lab/cloud-hooks/netns-*). Then the
// faults: a device partition (NotReady, re-plan, traffic continues; healed, it rejoins), the edge
// worker killed (restarted over ssh), the daemon killed mid-rollout (the next one converges, no
// orphan VM or worker), and the workflow deleted (every VM deleted). Needs root; skips otherwise.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>

#include <cstdio>
#include <functional>
#include <regex>

#include "tests/daemon/daemon_fixture.h"
#include "worker/config.h"

namespace jb {
namespace {

using namespace jb::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string Lab() { return std::string(JB_SOURCE_DIR) + "/tests/lab/netlab.sh"; }
std::string LabFile(const std::string& f) { return ReadFile(fs::path(JB_SOURCE_DIR) / "tests/lab" / f); }

bool Until(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class ThreeTier : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces); run the tests as root to include it";
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prefix_ = "jbt" + std::to_string(getpid() % 100000);
    auto up = jb::testing::Run(Lab() + " up " + prefix_ + " 4 2>&1");
    if (up.exit_code != 0) {
      jb::testing::Run(Lab() + " down " + prefix_ + " 4");
      GTEST_SKIP() << "network namespaces are not available here: " << up.output;
    }
    up_ = true;
    keys_ = dir_.path() / "ssh";
    auto sshd = jb::testing::Run(Lab() + " sshd " + prefix_ + " 2 " + keys_.string() + " 2>&1");
    ASSERT_EQ(sshd.exit_code, 0) << sshd.output;
    root_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    EnterHost1();
    std::ofstream(dir_.path() / "agent-token") << "lab-bootstrap-token-fedcba9876543210\n";
    fs::permissions(dir_.path() / "agent-token", fs::perms::owner_read | fs::perms::owner_write);
  }
  void TearDown() override {
    daemon_.reset();
    for (pid_t p : agents_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    if (root_ns_ >= 0) {
      (void)::setns(root_ns_, CLONE_NEWNET);
      ::close(root_ns_);
    }
    if (up_) jb::testing::Run(Lab() + " down " + prefix_ + " 4");
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  void EnterHost1() {
    int ns = ::open(("/run/netns/" + prefix_ + "-h1").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(ns, 0);
    ASSERT_EQ(::setns(ns, CLONE_NEWNET), 0);
    ::close(ns);
  }
  // Runs a lab command from the root namespace (nft/tc run inside the host through ip netns exec).
  void LabCmd(const std::string& args) {
    ASSERT_EQ(::setns(root_ns_, CLONE_NEWNET), 0);
    auto r = jb::testing::Run(Lab() + " " + args + " 2>&1");
    EnterHost1();
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  void StartDaemon() {
    daemon_ = std::make_unique<Daemon>(state_, std::vector<std::string>{},
                                       std::vector<std::string>{"--agent-listen", "127.200.0.1:17443", "--agent-token-file",
                                                                (dir_.path() / "agent-token").string(), "--local-host", "127.200.0.1",
                                                                "--node-grace", "2", "--node-retry", "12", "--replan-min-interval", "0",
                                                                "--cloud-reconcile", "1", "--log-level", "info"});
    ASSERT_TRUE(daemon_->WaitReady(&c_, 30s)) << ReadFile(dir_.path() / "state.log");
  }
  void StartAgent(int k, const std::string& device) {
    std::vector<std::string> args = {"/usr/sbin/ip", "netns", "exec", prefix_ + "-h" + std::to_string(k), JB_AGENT, "--server", "127.200.0.1:17443",
                                     "--device", device, "--ca", (state_ / "agent/ca.crt").string(), "--token-file",
                                     (dir_.path() / "agent-token").string(), "--state-dir", (dir_.path() / ("agent-" + device)).string(),
                                     "--advertise", "127.200.0." + std::to_string(k), "--worker-binary", JB_WORKER, "--stop-workers-on-exit"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = (dir_.path() / ("agent-" + device + ".log")).string();
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    agents_.push_back(pid);
  }
  std::string InfraYaml() {
    std::string hooks = std::string(JB_SOURCE_DIR) + "/tests/lab/cloud-hooks/";
    std::string remote = (dir_.path() / "remote").string(), k = keys_.string();
    return R"(apiVersion: jellybean.dev/v1alpha1
kind: Infrastructure
metadata:
  name: lab-three-tier
spec:
  tiers:
  - name: device
    driver: {type: agent, settings: {portBase: "17300"}}
  - name: edge
    driver:
      type: ssh
      settings: {sshPort: "2222", knownHosts: ")" + k + R"(/known_hosts", remoteDir: ")" + remote + R"(", portBase: "17400"}
  - name: cloud
    driver:
      type: cloud
      settings:
        create: ")" + hooks + R"(netns-create"
        list: ")" + hooks + R"(list"
        delete: ")" + hooks + R"(netns-delete"
        timeoutSeconds: "30"
        env.JB_LAB_CLOUD_DIR: ")" + (dir_.path() / "cloud").string() + R"("
        env.JB_LAB_NETLAB: ")" + Lab() + R"("
        env.JB_LAB_PREFIX: ")" + prefix_ + R"("
        env.JB_LAB_SSH_DIR: ")" + k + R"("
        sshPort: "2222"
        user: jblab
        identityFile: ")" + k + R"(/client_ed25519"
        knownHosts: ")" + k + R"(/known_hosts"
        remoteDir: ")" + remote + R"("
        portBase: "17500"
  nodes:
  - {name: dev-a, tier: device, pricePerHour: 0.01, hardware: lab-device}
  - {name: dev-b, tier: device, pricePerHour: 0.01, hardware: lab-device}
  - {name: edge-1, tier: edge, pricePerHour: 0.2, hardware: lab-edge, address: "jblab@127.200.0.2", credentialsRef: ")" + k + R"(/client_ed25519"}
  - {name: vm-pool, tier: cloud, pricePerHour: 0.5, hardware: lab-cloud, count: 2}
  links:
  - {from: device, to: edge, costPerGiB: 0.5}
  - {from: edge, to: device, costPerGiB: 0.5}
  - {from: edge, to: cloud, costPerGiB: 0.5}
  - {from: cloud, to: edge, costPerGiB: 0.5}
)";
  }
  bool Put(const std::string& path, const std::string& yaml) {
    auto r = HttpCall(c_, "PUT", kApi + path, yaml, "application/yaml");
    EXPECT_TRUE(r.ok() && r->status < 300) << (r.ok() ? r->body : r.status().message());
    return r.ok() && r->status < 300;
  }
  std::optional<Workflow> Get() {
    auto o = GetObject(c_, "workflows/lab-pipeline");
    if (!o) return std::nullopt;
    return std::get<Workflow>(*o);
  }
  static std::string Cond(const Workflow& wf, const std::string& type) {
    for (const auto& c : wf.status.conditions)
      if (c.type == type) return c.status + " " + c.reason + ": " + c.message;
    return "";
  }
  static bool Uses(const Workflow& wf, const std::string& node) {
    if (!wf.status.plan) return false;
    for (const auto& p : wf.status.plan->placements)
      if (p.node == node) return true;
    return false;
  }
  // Serving: the current epoch rolled out, every worker ready, the sink at the planned rate.
  bool Serving(std::optional<Workflow>* out = nullptr) {
    auto wf = Get();
    if (out) *out = wf;
    if (!wf || !wf->status.plan || wf->status.rollout || !wf->status.observed) return false;
    const auto& o = *wf->status.observed;
    return o.workers > 0 && o.workers_ready == o.workers && o.throughput >= 0.95 * o.expected_throughput && o.expected_throughput > 0;
  }
  std::vector<std::string> Vms() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(dir_.path() / "cloud", ec))
      if (f.path().extension() == ".json") out.push_back(f.path().stem().string());
    return out;
  }
  // Remote supervisors alive on the ssh host and the VMs (shared file system, same pid space).
  std::vector<std::string> RemoteWorkers() {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::exists(dir_.path() / "remote", ec)) return out;
    for (const auto& f : fs::recursive_directory_iterator(dir_.path() / "remote", ec)) {
      if (f.path().extension() != ".sup") continue;
      long pid = std::atol(ReadFile(f.path()).c_str());
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) out.push_back(f.path().stem().string());
    }
    return out;
  }

  TempDir dir_;
  fs::path state_ = dir_.path() / "state";
  fs::path keys_;
  std::string prefix_;
  bool up_ = false;
  int root_ns_ = -1;
  HttpClientOptions c_;
  std::unique_ptr<Daemon> daemon_;
  std::vector<pid_t> agents_;
};

TEST_F(ThreeTier, DeploysAcrossAgentsSshAndCloudVmsAndSurvivesFaults) {
  StartDaemon();
  StartAgent(3, "dev-a");
  StartAgent(4, "dev-b");
  auto t0 = Clock::now();
  ASSERT_TRUE(Put("infrastructures/lab-three-tier", InfraYaml()));
  std::string profiles = LabFile("three-tier/modelprofiles.yaml");
  std::regex sep("\n---\n");
  for (std::sregex_token_iterator it(profiles.begin(), profiles.end(), sep, -1), end; it != end; ++it) {
    std::smatch m;
    std::string doc = *it;
    ASSERT_TRUE(std::regex_search(doc, m, std::regex("\n  name: ([a-z-]+)")));
    ASSERT_TRUE(Put("modelprofiles/" + m[1].str(), doc));
  }
  ASSERT_TRUE(Put("workflows/lab-pipeline", LabFile("three-tier/workflow.yaml")));
  std::optional<Workflow> wf;
  ASSERT_TRUE(Until([&] { return Serving(&wf); }, 90s))
      << (wf ? Cond(*wf, "Deployed") + "\n" + Cond(*wf, "Ready") : "no workflow") << "\n" << ReadFile(dir_.path() / "state.log");
  double serving_s = Since(t0);
  for (const char* n : {"dev-a", "dev-b", "edge-1", "vm-pool"}) EXPECT_TRUE(Uses(*wf, n)) << n << " is not in the plan";
  EXPECT_EQ(Vms().size(), 1u);
  EXPECT_NE(Cond(*wf, "SLOMet").rfind("True", 0), std::string::npos) << Cond(*wf, "SLOMet");
  // Observed cross-tier bytes against the plan, over ten 1-s samples once warm. Both count the
  // traffic between operators (the planner's model ends at the last operator; results on their
  // way to the sink are not in it, see the README's limits).
  std::this_thread::sleep_for(6s);
  double observed = 0, predicted = 0;
  for (int i = 0; i < 10; ++i) {
    auto w = Get();
    ASSERT_TRUE(w && w->status.observed);
    observed += w->status.observed->cross_tier_kibps;
    predicted += w->status.observed->predicted_cross_tier_kibps;
    std::this_thread::sleep_for(1s);
  }
  double ratio = observed / predicted;
  std::string links;  // every worker's outgoing links, from the reports on the (shared) disk
  for (const auto& f : fs::recursive_directory_iterator(dir_.path()))
    if (f.path().string().find(".metrics.json") != std::string::npos) {
      auto m = ParseWorkerMetrics(ReadFile(f.path()), f.path().string());
      if (!m.ok()) continue;
      for (const auto& l : m->links)
        links += "  " + m->worker + " (" + m->tier + ") -> " + l.worker + " (" + l.tier + "): " + std::to_string(l.payload_kibps) + " KiB/s\n";
    }
  EXPECT_NEAR(ratio, 1.0, 0.05) << observed / 10 << " KiB/s observed vs " << predicted / 10 << " planned\n" << links;
  std::printf("[ lab ] three tiers (2 agents, ssh edge, 1 hook VM): apply -> serving %.1f s; cross-tier %.1f KiB/s observed vs %.1f planned (x%.4f)\n",
              serving_s, observed / 10, predicted / 10, ratio);

  // Device partition: dev-b goes NotReady, the plan moves its Detect share to the edge, traffic
  // continues; healed, dev-b is tried again and rejoins the plan.
  int64_t epoch = wf->status.plan_epoch.value_or(0);
  LabCmd("partition " + prefix_ + " 4");
  auto tp = Clock::now();
  ASSERT_TRUE(Until([&] { return Serving(&wf) && wf->status.plan_epoch.value_or(0) > epoch && !Uses(*wf, "dev-b"); }, 60s))
      << (wf ? Cond(*wf, "Ready") + " / " + Cond(*wf, "Deployed") : "");
  double restored_s = Since(tp);
  epoch = wf->status.plan_epoch.value_or(0);
  LabCmd("heal " + prefix_ + " 4");
  auto th = Clock::now();
  ASSERT_TRUE(Until([&] { return Serving(&wf) && wf->status.plan_epoch.value_or(0) > epoch && Uses(*wf, "dev-b"); }, 60s))
      << (wf ? Cond(*wf, "Ready") : "");
  double rejoined_s = Since(th);
  std::printf("[ lab ] device partition -> re-planned without dev-b, throughput restored in %.1f s; healed -> dev-b back in the plan, serving in %.1f s\n",
              restored_s, rejoined_s);

  // The edge worker killed: its supervisor on the host restarts it.
  fs::path pidfile;
  for (const auto& f : fs::recursive_directory_iterator(dir_.path() / "remote/edge-1"))
    if (f.path().extension() == ".pid") pidfile = f.path();
  ASSERT_FALSE(pidfile.empty());
  long edge_pid = std::atol(ReadFile(pidfile).c_str());
  ASSERT_GT(edge_pid, 0);
  ASSERT_EQ(::kill(static_cast<pid_t>(edge_pid), SIGKILL), 0);
  auto tk = Clock::now();
  ASSERT_TRUE(Until([&] { return std::atol(ReadFile(pidfile).c_str()) != edge_pid && Serving(); }, 30s));
  std::printf("[ lab ] edge worker SIGKILLed -> restarted over ssh, serving again in %.1f s\n", Since(tk));

  // The daemon killed mid-rollout (a rate change starts one), then restarted: it converges, and
  // neither an orphan VM nor a worker of an old epoch is left.
  epoch = wf->status.plan_epoch.value_or(0);
  ASSERT_TRUE(Put("workflows/lab-pipeline", std::regex_replace(LabFile("three-tier/workflow.yaml"), std::regex("rate: 20"), "rate: 24")));
  ASSERT_TRUE(Until([&] { return Get() && Get()->status.rollout.has_value(); }, 20s));
  daemon_->KeepWorkers();
  daemon_->Signal(SIGKILL);
  daemon_.reset();
  StartDaemon();
  auto tr = Clock::now();
  ASSERT_TRUE(Until([&] { return Serving(&wf) && wf->status.plan_epoch.value_or(0) > epoch; }, 60s)) << (wf ? Cond(*wf, "Ready") : "");
  int64_t now_epoch = wf->status.plan_epoch.value_or(0);
  EXPECT_EQ(Vms().size(), 1u) << "orphan VMs";
  ASSERT_TRUE(Until([&] {
    for (const auto& w : RemoteWorkers())
      if (w.find("~e") != std::string::npos && w.find("~e" + std::to_string(now_epoch)) == std::string::npos) return false;
    return true;
  }, 20s)) << "workers of an old epoch still run";
  std::printf("[ lab ] daemon SIGKILLed mid-rollout -> the next daemon converged in %.1f s (epoch %lld), %zu VM, no old-epoch worker\n",
              Since(tr), static_cast<long long>(now_epoch), Vms().size());

  // Deleting the workflow deletes its VMs and stops every remote worker.
  auto del = HttpCall(c_, "DELETE", kApi + "workflows/lab-pipeline");
  ASSERT_TRUE(del.ok() && del->status < 300);
  EXPECT_TRUE(Until([&] { return Vms().empty() && RemoteWorkers().empty(); }, 30s))
      << Vms().size() << " VM(s), " << RemoteWorkers().size() << " remote worker(s) left";
}

}  // namespace
}  // namespace jb
