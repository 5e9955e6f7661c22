// Remote drivers in the multi-host lab: this test process joins lab host 1 (the
// daemon's host, network namespace), and deploys through the TierDispatcher onto the local driver
// (host 1) and the ssh driver (sshd on host 2). Needs root; skips otherwise. The lab is torn down
// even when an assertion fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "drivers/agent/agent_driver.h"
#include "drivers/agent/channel.h"
#include "drivers/dispatch.h"
#include "drivers/local/local_driver.h"
#include "drivers/ssh/ssh_driver.h"
#include "tests/drivers/agent_poll.h"
#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using testing::LabScript;

using testing::WaitFor;

class RemoteDrivers : public ::testing::Test {
 protected:
  static constexpr int kHosts = 3;
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces); run the tests as root to include it";
    prctl(PR_SET_CHILD_SUBREAPER, 1);  // sshd and remote supervisors are re-parented here and reaped
    prefix_ = "jbr" + std::to_string(getpid() % 100000);
    auto up = testing::Run(LabScript() + " up " + prefix_ + " " + std::to_string(kHosts) + " 2>&1");
    if (up.exit_code != 0) {
      testing::Run(LabScript() + " down " + prefix_ + " " + std::to_string(kHosts));
      GTEST_SKIP() << "network namespaces are not available here: " << up.output;
    }
    up_ = true;
    keys_ = dir_.path() / "ssh";
    auto sshd = testing::Run(LabScript() + " sshd " + prefix_ + " 2 " + keys_.string() + " 2>&1");
    ASSERT_EQ(sshd.exit_code, 0) << sshd.output;
    // This process (and the threads and processes it starts from now on) lives on host 1.
    root_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int ns = ::open(("/run/netns/" + prefix_ + "-h1").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(ns, 0);
    ASSERT_EQ(::setns(ns, CLONE_NEWNET), 0);
    ::close(ns);
  }
  void TearDown() override {
    for (pid_t p : pids_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    dispatcher_.reset();  // drivers' threads and ssh connections go first
    if (root_ns_ >= 0) {
      (void)::setns(root_ns_, CLONE_NEWNET);
      ::close(root_ns_);
    }
    if (up_) testing::Run(LabScript() + " down " + prefix_ + " " + std::to_string(kHosts));
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  // Runs a lab command from the root namespace, then returns to host 1.
  void LabCmd(const std::string& args) {
    ASSERT_EQ(::setns(root_ns_, CLONE_NEWNET), 0);
    auto r = testing::Run(LabScript() + " " + args + " 2>&1");
    int h1 = ::open(("/run/netns/" + prefix_ + "-h1").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_EQ(::setns(h1, CLONE_NEWNET), 0);
    ::close(h1);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // Runs argv inside lab host `k`; output to <dir>/<log>.
  pid_t Spawn(int k, std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), {"/usr/sbin/ip", "netns", "exec", prefix_ + "-h" + std::to_string(k)});
    pid_t pid = testing::SpawnLogged(args, (dir_.path() / log).string());
    EXPECT_GT(pid, 0);
    pids_.push_back(pid);
    return pid;
  }
  // jellybean-agent for `device` on host `k`.
  pid_t Agent(int k, const std::string& device, const std::string& token_file) {
    return Spawn(
        k,
        {JB_AGENT, "--server", "127.200.0.1:" + std::to_string(agent_->port()), "--device", device, "--ca",
         agent_->ca_file(), "--token-file", token_file, "--state-dir", (dir_.path() / ("agent-" + device)).string(),
         "--advertise", "127.200.0." + std::to_string(k), "--worker-binary", JB_WORKER, "--stop-workers-on-exit"},
        "agent-" + device + ".log");
  }
  // Waits for the exit status of `pid` (-1 on timeout).
  int ExitStatus(pid_t pid, std::chrono::milliseconds limit) {
    int st = 0;
    bool done = WaitFor([&] { return ::waitpid(pid, &st, WNOHANG) == pid; }, limit);
    if (!done) return -1;
    pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  void MakeDrivers() {
    LocalDriverOptions lo;
    lo.state_dir = (dir_.path() / "state").string();
    lo.worker_binary = JB_WORKER;
    lo.host = "127.200.0.1";
    lo.metrics_interval_s = 0.2;
    SshDriverOptions so;
    so.state_dir = lo.state_dir;
    so.worker_binary = JB_WORKER;
    so.poll_every = 300ms;
    so.metrics_interval_s = 0.2;
    std::map<std::string, std::unique_ptr<Driver>> m;
    m["local"] = std::make_unique<LocalDriver>(lo);
    m["ssh"] = std::make_unique<SshDriver>(so);
    std::ofstream(dir_.path() / "token") << "bootstrap-token-0123456789abcdef\n";
    fs::permissions(dir_.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
    AgentDriverOptions ao;
    ao.state_dir = lo.state_dir;
    ao.listen_host = "127.200.0.1";
    ao.bootstrap_token_file = (dir_.path() / "token").string();
    ao.heartbeat_grace_s = 2;
    auto agent = AgentDriver::Create(ao);
    ASSERT_TRUE(agent.ok()) << agent.status().message();
    agent_ = agent->get();
    m["agent"] = std::move(*agent);
    dispatcher_ = std::make_unique<TierDispatcher>(std::move(m));
  }
  InfrastructureSpec Infra(const std::string& known_hosts) {
    InfrastructureSpec s;
    s.tiers = {Tier{"device", DriverSpec{"local", {}}},
               Tier{"edge", DriverSpec{"ssh",
                                       {{"sshPort", "2222"},
                                        {"knownHosts", known_hosts},
                                        {"remoteDir", (dir_.path() / "remote").string()}}}}};
    s.nodes = {Node{"d1", "device", 0, "cpu", 1, std::nullopt, std::nullopt},
               Node{"e1", "edge", 0, "cpu", 1, std::string("jblab@127.200.0.2"), (keys_ / "client_ed25519").string()}};
    return s;
  }
  // io (source + sink) on d1 (local), operator A on e1 (ssh).
  std::vector<WorkerConfig> Workers(int64_t limit) {
    WorkerConfig io, a;
    io.workflow = a.workflow = "wf";
    io.name = "io-device";
    io.node = "d1";
    io.tier = "device";
    a.name = "e1";
    a.node = "e1";
    a.tier = "edge";
    WorkerInstance src;
    src.kind = "source";
    src.name = "S";
    src.rate = 200;
    src.item_kib = 1;
    src.limit = limit;
    WorkerInstance sink;
    sink.kind = "sink";
    sink.name = kSinkName;
    io.instances = {src, sink};
    WorkerInstance op;
    op.kind = "operator";
    op.name = "A";
    op.runtime.latency_ms = 0.5;
    op.runtime.output_kib = 0.1;
    a.instances = {op};
    io.edges = a.edges = {{"S", "A", 1}, {"A", kSinkName, 1}};
    io.routes = a.routes = {{"A", 0, 1, "e1", "", "edge"}, {kSinkName, 0, 1, "io-device", "", "device"}};
    return {io, a};
  }
  std::optional<WorkerState> State(const std::string& worker) {
    for (auto& w : dispatcher_->Observe("wf"))
      if (w.name == worker) return w;
    return std::nullopt;
  }
  InstanceMetrics Inst(const std::string& worker, const std::string& inst) {
    auto s = State(worker);
    if (s && s->metrics)
      for (const auto& i : s->metrics->instances)
        if (i.name == inst) return i;
    return {};
  }

  testing::TempDir dir_;
  std::string prefix_;
  fs::path keys_;
  bool up_ = false;
  int root_ns_ = -1;
  std::unique_ptr<TierDispatcher> dispatcher_;
  AgentDriver* agent_ = nullptr;
  std::vector<pid_t> pids_;
};

TEST_F(RemoteDrivers, SshDriverDeploysSupervisesAndRemovesAWorkerOnAnEdgeHost) {
  MakeDrivers();
  dispatcher_->UseInfrastructure("wf", Infra((keys_ / "known_hosts").string()));
  auto t0 = Clock::now();
  Status s = dispatcher_->Apply("wf", Workers(3000));
  ASSERT_TRUE(s.ok()) << s.message();
  double apply_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(WaitFor(
      [&] { return State("e1") && State("e1")->ready && State("io-device") && State("io-device")->ready; }, 20s))
      << (State("e1") ? State("e1")->message : "no e1") << " / "
      << (State("io-device") ? State("io-device")->message : "no io");
  double ready_s = std::chrono::duration<double>(Clock::now() - t0).count();
  auto e1 = *State("e1");
  EXPECT_EQ(dispatcher_->Desired("wf")[0].listen.rfind("127.200.0.", 0), 0u);
  // The binary on the host is the daemon's (checksum verified by the driver; checked here too).
  auto sum = testing::Run("sha256sum " + std::string(JB_WORKER) + " " +
                          (dir_.path() / "remote/e1/bin/jellybean-worker").string());
  std::istringstream sums(sum.output);
  std::string a, fa, b, fb;
  sums >> a >> fa >> b >> fb;
  EXPECT_EQ(a, b) << sum.output;
  // #19: the worker's log, read on the host over the driver's ssh connection (what jbctl logs shows).
  const fs::path remote_log = dir_.path() / "remote/e1/wf/e1.log";
  ASSERT_TRUE(WaitFor([&] { return !testing::ReadFile(remote_log).empty(); }, 20s));
  int64_t log_end = 0;
  auto tl = Clock::now();
  auto log = dispatcher_->ReadLog("wf", "e1", 0, 1 << 20, &log_end);
  double log_s = std::chrono::duration<double>(Clock::now() - tl).count();
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_FALSE(log->empty());
  EXPECT_EQ(testing::ReadFile(remote_log).rfind(*log, 0), 0u) << *log;
  EXPECT_EQ(log_end, static_cast<int64_t>(log->size()));
  auto bounded = dispatcher_->ReadLog("wf", "e1", -1, 3, &log_end);
  ASSERT_TRUE(bounded.ok()) << bounded.status().message();
  EXPECT_EQ(bounded->size(), 3u);
  std::printf("[ lab ] ssh driver: worker log read over ssh in %.3f s (%zu bytes)\n", log_s, log->size());

  // SIGKILL of the remote worker: its supervisor restarts it, and nothing is lost.
  ASSERT_TRUE(WaitFor([&] { return Inst("io-device", kSinkName).items_out >= 300; }, 20s));
  ASSERT_EQ(::kill(static_cast<pid_t>(e1.pid), SIGKILL), 0);
  ASSERT_TRUE(
      WaitFor([&] { return State("e1")->ready && State("e1")->pid != e1.pid && State("e1")->restarts >= 1; }, 20s))
      << State("e1")->message;
  ASSERT_TRUE(WaitFor([&] { return Inst("io-device", "S").acked == 3000; }, 40s)) << Inst("io-device", "S").acked;
  EXPECT_EQ(Inst("io-device", kSinkName).items_out, 3000);

  // A partitioned host: its worker is reported not ready with ssh's reason; healed, ready again.
  LabCmd("partition " + prefix_ + " 2");
  auto tp = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return !State("e1")->ready; }, 20s));
  double noticed_s = std::chrono::duration<double>(Clock::now() - tp).count();
  std::string why = State("e1")->message;
  EXPECT_NE(why.find("unreachable"), std::string::npos) << why;
  LabCmd("heal " + prefix_ + " 2");
  ASSERT_TRUE(WaitFor([&] { return State("e1")->ready; }, 30s)) << State("e1")->message;

  // Remove: the worker and its files are gone from the host.
  pid_t last = static_cast<pid_t>(State("e1")->pid);
  ASSERT_TRUE(dispatcher_->Remove("wf").ok());
  EXPECT_TRUE(dispatcher_->Workflows().empty());
  EXPECT_TRUE(WaitFor([&] { return ::kill(last, 0) != 0; }, 5s)) << "the remote worker still runs";
  EXPECT_FALSE(fs::exists(dir_.path() / "remote/e1/wf/e1.yaml"));
  std::printf(
      "[ lab ] ssh driver: applied in %.2f s, both workers ready %.2f s after apply; remote SIGKILL -> restarted by "
      "its supervisor, 3000/3000 delivered once; partition noticed in %.1f s (\"%s\")\n",
      apply_s, ready_s, noticed_s, why.c_str());
}

TEST_F(RemoteDrivers, SshDriverRefusesAHostWhoseKeyDoesNotMatchThePinnedOne) {
  MakeDrivers();
  ASSERT_EQ(testing::Run("ssh-keygen -q -t ed25519 -N '' -f " + (dir_.path() / "other").string()).exit_code, 0);
  std::ofstream(dir_.path() / "wrong_known_hosts")
      << "[127.200.0.2]:2222 " << testing::ReadFile(dir_.path() / "other.pub");
  dispatcher_->UseInfrastructure("wf", Infra((dir_.path() / "wrong_known_hosts").string()));
  Status s = dispatcher_->Apply("wf", Workers(10));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Host key verification failed"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir_.path() / "remote/e1/bin/jellybean-worker"));
}

// Devices: agents on hosts 3 register with the bootstrap token, get certificates, and run the
// io worker the daemon assigns (long poll over mutual TLS); the operator runs on host 1 (local).
TEST_F(RemoteDrivers, AgentDriverRegistersDeploysSurvivesAPartitionAndRevokes) {
  MakeDrivers();
  InfrastructureSpec infra;
  infra.tiers = {Tier{"device", DriverSpec{"agent", {{"portBase", "17300"}}}}, Tier{"edge", DriverSpec{"local", {}}}};
  infra.nodes = {Node{"dev3", "device", 0, "cpu", 1, std::nullopt, std::nullopt},
                 Node{"e1", "edge", 0, "cpu", 1, std::nullopt, std::nullopt}};
  auto workers = Workers(0);
  workers[0].node = "dev3";
  workers[1].tier = "edge";
  workers[0].routes = workers[1].routes = {{"A", 0, 1, "e1", "", "edge"}, {kSinkName, 0, 1, "io-device", "", "device"}};
  dispatcher_->UseInfrastructure("wf", infra);
  // Before the device connects there is nowhere to put its worker: a clear, retryable error.
  Status early = dispatcher_->Apply("wf", workers);
  EXPECT_EQ(early.code(), Status::Code::kUnavailable);
  EXPECT_NE(early.message().find("device dev3 has not connected yet"), std::string::npos) << early.message();

  auto t0 = Clock::now();
  pid_t agent = Agent(3, "dev3", (dir_.path() / "token").string());
  ASSERT_TRUE(WaitFor([&] { return dispatcher_->Apply("wf", workers).ok(); }, 20s))
      << testing::ReadFile(dir_.path() / "agent-dev3.log");
  double registered_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(WaitFor([&] { return State("io-device")->ready && State("e1")->ready; }, 20s))
      << State("io-device")->message << "\n"
      << testing::ReadFile(dir_.path() / "agent-dev3.log");
  double ready_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(dispatcher_->Desired("wf")[0].listen, "127.200.0.3:17300");
  auto key_perms = fs::status(dir_.path() / "agent-dev3/device.key").permissions();
  EXPECT_EQ(key_perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  ASSERT_TRUE(WaitFor([&] { return Inst("io-device", kSinkName).items_out >= 200; }, 20s))
      << State("io-device")->message;
  // #19: the device's worker log comes over the agent's long poll.
  const fs::path device_log = dir_.path() / "agent-dev3/workers/wf/io-device.log";
  ASSERT_TRUE(WaitFor([&] { return !testing::ReadFile(device_log).empty(); }, 20s));
  int64_t log_end = 0;
  auto tl = Clock::now();
  auto device_text = dispatcher_->ReadLog("wf", "io-device", 0, 1 << 20, &log_end);
  double log_s = std::chrono::duration<double>(Clock::now() - tl).count();
  ASSERT_TRUE(device_text.ok()) << device_text.status().message();
  EXPECT_FALSE(device_text->empty());
  EXPECT_EQ(testing::ReadFile(device_log).rfind(*device_text, 0), 0u) << *device_text;
  std::printf("[ lab ] agent driver: worker log read over the long poll in %.3f s (%zu bytes)\n", log_s,
              device_text->size());

  // A certificate from another CA is refused; so is a poll without a certificate.
  ASSERT_EQ(testing::Run(
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=dev3 -keyout " +
                (dir_.path() / "rogue.key").string() + " -out " + (dir_.path() / "rogue.crt").string() + " 2>&1")
                .exit_code,
            0);
  auto poll = [&](const std::string& cert, const std::string& key) {
    return testing::PollAgent("127.200.0.1", agent_->port(), agent_->ca_file(), cert, key);
  };
  Status rogue = poll((dir_.path() / "rogue.crt").string(), (dir_.path() / "rogue.key").string());
  EXPECT_FALSE(rogue.ok());
  Status anonymous = poll("", "");
  EXPECT_EQ(anonymous.message(), "unauthenticated");

  // Partition the device: heartbeats stop -> not ready; a new desired state is set meanwhile; on
  // healing the agent catches up to it.
  LabCmd("partition " + prefix_ + " 3");
  auto tp = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return !State("io-device")->ready; }, 10s));
  double noticed_s = std::chrono::duration<double>(Clock::now() - tp).count();
  std::string why = State("io-device")->message;
  EXPECT_NE(why.find("heartbeat missed"), std::string::npos) << why;
  auto cut = dispatcher_->ReadLog("wf", "io-device", 0, 100, &log_end);  // named at once, not after a wait
  EXPECT_EQ(cut.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(cut.status().message().find("device dev3 is not connected"), std::string::npos) << cut.status().message();
  for (auto& w : workers) w.epoch = 2;
  ASSERT_TRUE(dispatcher_->Apply("wf", workers).ok());
  LabCmd("heal " + prefix_ + " 3");
  auto th = Clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        return State("io-device")->ready && State("io-device")->metrics && State("io-device")->metrics->epoch == 2;
      },
      20s))
      << State("io-device")->message;
  double caught_up_s = std::chrono::duration<double>(Clock::now() - th).count();

  // Revocation: the device's next poll is refused and the agent exits with status 3.
  std::ofstream(dir_.path() / "state/agent/revoked") << "dev3\n";
  EXPECT_EQ(ExitStatus(agent, 10s), 3) << testing::ReadFile(dir_.path() / "agent-dev3.log");
  // A wrong bootstrap token: refused at registration (status 3).
  std::ofstream(dir_.path() / "wrong-token") << "not-the-token-0000000000\n";
  pid_t bad = Agent(3, "dev9", (dir_.path() / "wrong-token").string());
  EXPECT_EQ(ExitStatus(bad, 10s), 3) << testing::ReadFile(dir_.path() / "agent-dev9.log");
  std::string log =
      testing::ReadFile(dir_.path() / "agent-dev9.log") + testing::ReadFile(dir_.path() / "agent-dev3.log");
  EXPECT_EQ(log.find("bootstrap-token-0123456789abcdef"), std::string::npos) << "a secret was logged";
  std::printf(
      "[ lab ] agent: registered and deployed %.2f s after start, serving at %.2f s; rogue certificate refused (%s); "
      "partition noticed in %.1f s (\"%s\"); caught up to the new desired state %.2f s after healing; revoked device "
      "refused\n",
      registered_s, ready_s, rogue.message().c_str(), noticed_s, why.c_str(), caught_up_s);
}

}  // namespace
}  // namespace jb
