// The three-tier lab, shared by tests/lab/three_tier_test.cc and
// bench/lab/bench_three_tier.cc: four lab hosts (tests/lab/netlab.sh) — host 1 runs the daemon
// (this process joins its network namespace), host 2 is the ssh edge server, hosts 3 and 4 are
// devices running jellybean-agent — and the lab cloud, whose VMs the provider hooks create as new
// hosts. Needs root. Everything is torn down by the destructor, also after a failure.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>

#include <cstdio>
#include <functional>
#include <regex>

#include "api/worker_config.h"
#include "testing/daemon_fixture.h"

namespace jb::testing {

using namespace std::chrono_literals;

inline double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class ThreeTierLab {
 public:
  static std::string Lab() { return LabScript(); }
  static std::string LabFile(const std::string& f) {
    return ReadFile(std::filesystem::path(JB_SOURCE_DIR) / "tests/lab" / f);
  }

  // Brings the lab up; "" or why it cannot run here.
  std::string Up() {
    if (geteuid() != 0) return "the lab needs root (network namespaces); run as root to include it";
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prefix_ = "jbt" + std::to_string(getpid() % 100000);
    auto up = Run(Lab() + " up " + prefix_ + " 4 2>&1");
    if (up.exit_code != 0) {
      Run(Lab() + " down " + prefix_ + " 4");
      return "network namespaces are not available here: " + up.output;
    }
    up_ = true;
    keys_ = dir_.path() / "ssh";
    auto sshd = Run(Lab() + " sshd " + prefix_ + " 2 " + keys_.string() + " 2>&1");
    if (sshd.exit_code != 0) return "sshd: " + sshd.output;
    root_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (!EnterHost1()) return "cannot enter host 1";
    std::ofstream(dir_.path() / "agent-token") << "lab-bootstrap-token-fedcba9876543210\n";
    std::filesystem::permissions(dir_.path() / "agent-token",
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return "";
  }
  ~ThreeTierLab() {
    daemon_.reset();
    for (pid_t p : agents_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    if (root_ns_ >= 0) {
      (void)::setns(root_ns_, CLONE_NEWNET);
      ::close(root_ns_);
    }
    if (up_) Run(Lab() + " down " + prefix_ + " 4");
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  bool EnterHost1() {
    int ns = ::open(("/run/netns/" + prefix_ + "-h1").c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) return false;
    bool ok = ::setns(ns, CLONE_NEWNET) == 0;
    ::close(ns);
    return ok;
  }
  // Runs a lab command from the root namespace (nft/tc run inside the host via ip netns exec).
  std::string LabCmd(const std::string& args) {
    if (::setns(root_ns_, CLONE_NEWNET) != 0) return "setns failed";
    auto r = Run(Lab() + " " + args + " 2>&1");
    EnterHost1();
    return r.exit_code == 0 ? "" : r.output;
  }
  // jellybeand on host 1 with a state dir of `name` (agents on 127.200.0.1:17443).
  bool StartDaemon(const std::string& name = "state") {
    state_ = dir_.path() / name;
    daemon_ = std::make_unique<Daemon>(
        state_, std::vector<std::string>{},
        std::vector<std::string>{"--agent-listen", "127.200.0.1:17443", "--agent-token-file",
                                 (dir_.path() / "agent-token").string(), "--local-host", "127.200.0.1", "--node-grace",
                                 "2", "--node-retry", "12", "--replan-min-interval", "0", "--cloud-reconcile", "1",
                                 "--log-level", "info", "--stop-workers-on-exit"});
    return daemon_->WaitReady(&c_, 30s);
  }
  void StartAgent(int k, const std::string& device) {
    std::vector<std::string> args = {"/usr/sbin/ip",
                                     "netns",
                                     "exec",
                                     prefix_ + "-h" + std::to_string(k),
                                     JB_AGENT,
                                     "--server",
                                     "127.200.0.1:17443",
                                     "--device",
                                     device,
                                     "--ca",
                                     (state_ / "agent/ca.crt").string(),
                                     "--token-file",
                                     (dir_.path() / "agent-token").string(),
                                     "--state-dir",
                                     (dir_.path() / ("agent-" + device)).string(),
                                     "--advertise",
                                     "127.200.0." + std::to_string(k),
                                     "--worker-binary",
                                     JB_WORKER,
                                     "--stop-workers-on-exit"};
    pid_t pid = SpawnLogged(args, (dir_.path() / ("agent-" + device + ".log")).string());
    if (pid > 0) agents_.push_back(pid);
  }
  // The lab Infrastructure: device = agent, edge = ssh, cloud = the lab cloud's hooks; with
  // `local`, every tier uses the local driver on host 1 (the benchmark's baseline).
  std::string InfraYaml(bool local = false) {
    std::string hooks = std::string(JB_SOURCE_DIR) + "/tests/lab/cloud-hooks/";
    std::string remote = (dir_.path() / "remote").string(), k = keys_.string();
    std::string nodes = R"(  nodes:
  - {name: dev-a, tier: device, pricePerHour: 0.01, hardware: lab-device}
  - {name: dev-b, tier: device, pricePerHour: 0.01, hardware: lab-device}
  - {name: edge-1, tier: edge, pricePerHour: 0.2, hardware: lab-edge, address: "jblab@127.200.0.2", credentialsRef: ")" +
                        k + R"(/client_ed25519"}
  - {name: vm-pool, tier: cloud, pricePerHour: 0.5, hardware: lab-cloud, count: 2}
  links:
  - {from: device, to: edge, costPerGiB: 0.5}
  - {from: edge, to: device, costPerGiB: 0.5}
  - {from: edge, to: cloud, costPerGiB: 0.5}
  - {from: cloud, to: edge, costPerGiB: 0.5}
)";
    std::string head =
        "apiVersion: jellybean.dev/v1alpha1\nkind: Infrastructure\nmetadata:\n  name: lab-three-tier\nspec:\n  "
        "tiers:\n";
    if (local)
      return head +
             "  - {name: device, driver: {type: local}}\n  - {name: edge, driver: {type: local}}\n  - {name: cloud, "
             "driver: {type: local}}\n" +
             nodes;
    return head + R"(  - name: device
    driver: {type: agent, settings: {portBase: "17300"}}
  - name: edge
    driver:
      type: ssh
      settings: {sshPort: "2222", knownHosts: ")" +
           k + R"(/known_hosts", remoteDir: ")" + remote + R"(", portBase: "17400"}
  - name: cloud
    driver:
      type: cloud
      settings:
        create: ")" +
           hooks + R"(netns-create"
        list: ")" +
           hooks + R"(list"
        delete: ")" +
           hooks + R"(netns-delete"
        timeoutSeconds: "30"
        env.JB_LAB_CLOUD_DIR: ")" +
           (dir_.path() / "cloud").string() + R"("
        env.JB_LAB_NETLAB: ")" +
           Lab() + R"("
        env.JB_LAB_PREFIX: ")" +
           prefix_ + R"("
        env.JB_LAB_SSH_DIR: ")" +
           k + R"("
        sshPort: "2222"
        user: jblab
        identityFile: ")" +
           k + R"(/client_ed25519"
        knownHosts: ")" +
           k + R"(/known_hosts"
        remoteDir: ")" +
           remote + R"("
        portBase: "17500"
)" + nodes;
  }
  // PUT; "" or the server's answer.
  std::string Put(const std::string& path, const std::string& yaml) {
    auto r = HttpCall(c_, "PUT", kApi + path, yaml, "application/yaml");
    if (r.ok() && r->status < 300) return "";
    return r.ok() ? r->body : r.status().message();
  }
  // The Infrastructure, the profiles and the workflow of tests/lab/three-tier/.
  std::string ApplyAll(bool local = false) {
    if (auto e = Put("infrastructures/lab-three-tier", InfraYaml(local)); !e.empty()) return e;
    std::string profiles = LabFile("three-tier/modelprofiles.yaml");
    std::regex sep("\n---\n");
    for (std::sregex_token_iterator it(profiles.begin(), profiles.end(), sep, -1), end; it != end; ++it) {
      std::smatch m;
      std::string doc = *it;
      if (!std::regex_search(doc, m, std::regex("\n  name: ([a-z-]+)"))) return "a profile without a name";
      if (auto e = Put("modelprofiles/" + m[1].str(), doc); !e.empty()) return e;
    }
    return Put("workflows/lab-pipeline", LabFile("three-tier/workflow.yaml"));
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
  // Serving: the current epoch rolled out, every worker ready, the sink at >= 95% of the plan.
  bool Serving(std::optional<Workflow>* out = nullptr) {
    auto wf = Get();
    if (out) *out = wf;
    if (!wf || !wf->status.plan || wf->status.rollout || !wf->status.observed) return false;
    const auto& o = *wf->status.observed;
    return o.workers > 0 && o.workers_ready == o.workers && o.throughput >= 0.95 * o.expected_throughput &&
           o.expected_throughput > 0;
  }
  std::vector<std::string> Vms() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(dir_.path() / "cloud", ec))
      if (f.path().extension() == ".json") out.push_back(f.path().stem().string());
    return out;
  }
  // Remote supervisors alive on the ssh host and the VMs (shared file system, same pid space).
  std::vector<std::string> RemoteWorkers() {
    std::vector<std::string> out;
    std::error_code ec;
    if (!std::filesystem::exists(dir_.path() / "remote", ec)) return out;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path() / "remote", ec)) {
      if (f.path().extension() != ".sup") continue;
      long pid = std::atol(ReadFile(f.path()).c_str());
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) out.push_back(f.path().stem().string());
    }
    return out;
  }
  // Every worker's outgoing links, from the reports on the (shared) disk.
  std::string Links() {
    std::string links;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path()))
      if (f.path().string().find(".metrics.json") != std::string::npos) {
        auto m = ParseWorkerMetrics(ReadFile(f.path()), f.path().string());
        if (!m.ok()) continue;
        for (const auto& l : m->links)
          links += "  " + m->worker + " (" + m->tier + ") -> " + l.worker + " (" + l.tier +
                   "): " + std::to_string(l.payload_kibps) + " KiB/s\n";
      }
    return links;
  }
  // Serves from nothing after ApplyAll: seconds from the first PUT to Serving, or -1.
  double ApplyAndWaitServing(bool local, std::chrono::seconds limit, std::string* why) {
    auto t0 = Clock::now();
    if (auto e = ApplyAll(local); !e.empty()) {
      *why = e;
      return -1;
    }
    std::optional<Workflow> wf;
    if (!WaitFor([&] { return Serving(&wf); }, limit)) {
      *why = wf ? Cond(*wf, "Deployed") + "\n" + Cond(*wf, "Ready") : "no workflow";
      return -1;
    }
    return Since(t0);
  }

  TempDir dir_;
  std::filesystem::path state_ = dir_.path() / "state";
  std::filesystem::path keys_;
  std::string prefix_;
  bool up_ = false;
  int root_ns_ = -1;
  HttpClientOptions c_;
  std::unique_ptr<Daemon> daemon_;
  std::vector<pid_t> agents_;
};

}  // namespace jb::testing
