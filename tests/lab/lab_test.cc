// Multi-host lab: jellybean-workers on two test hosts (network namespaces on
// a bridge, 127.200.0.x, tests/lab/netlab.sh), items crossing a real veth link. A partition of the
// operator's host (nftables) stops traffic; healing it lets the senders re-send, and the sink still
// gets every item exactly once. A tc tbf cap on a host's link bounds what crosses it.
// Needs root (network namespaces); skips with a message otherwise. Tears the lab down even when an
// assertion fails (fixture destructor).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "api/worker_config.h"
#include "tests/test_util.h"
#include "worker/worker.h"

extern char** environ;

namespace jb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using testing::LabScript;

using testing::WaitFor;

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces); run the tests as root to include it";
    // Daemons the lab starts (sshd) are re-parented to this process, which reaps them.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prefix_ = "jbl" + std::to_string(getpid() % 100000);
    auto up = testing::Run(LabScript() + " up " + prefix_ + " 2 2>&1");
    if (up.exit_code != 0) {
      testing::Run(LabScript() + " down " + prefix_ + " 2");
      GTEST_SKIP() << "network namespaces are not available here: " << up.output;
    }
    up_ = true;
  }
  void TearDown() override {
    for (pid_t p : pids_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    if (up_) testing::Run(LabScript() + " down " + prefix_ + " 2");
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  // Starts jellybean-worker with `c` inside host `k`.
  void Start(int k, const WorkerConfig& c) {
    fs::path cfg = dir_.path() / (c.name + ".yaml");
    std::ofstream(cfg) << WorkerConfigToYaml(c);
    pid_t pid = testing::SpawnLogged(
        {"/usr/sbin/ip", "netns", "exec", prefix_ + "-h" + std::to_string(k), JB_WORKER, "--config", cfg.string()},
        (dir_.path() / (c.name + ".log")).string());
    ASSERT_GT(pid, 0);
    pids_.push_back(pid);
  }
  WorkerMetrics Metrics(const std::string& worker) {
    auto m = ParseWorkerMetrics(testing::ReadFile(dir_.path() / (worker + ".metrics.json")), worker);
    return m.ok() ? *m : WorkerMetrics{};
  }
  static InstanceMetrics Find(const WorkerMetrics& m, const std::string& name) {
    for (const auto& i : m.instances)
      if (i.name == name) return i;
    return {};
  }
  std::string Cmd(const std::string& args) { return LabScript() + " " + args + " 2>&1"; }

  testing::TempDir dir_;
  std::string prefix_;
  bool up_ = false;
  std::vector<pid_t> pids_;
};

// One worker of the lab's workflow; with a `metrics_dir`, it writes <name>.metrics.json there.
WorkerConfig LabWorker(const std::string& name, const std::string& listen, const std::string& tier,
                       double metrics_interval_s, const fs::path& metrics_dir) {
  WorkerConfig c;
  c.workflow = "lab";
  c.name = name;
  c.tier = tier;
  c.listen = listen;
  c.metrics_interval_s = metrics_interval_s;
  if (!metrics_dir.empty()) c.metrics_file = (metrics_dir / (name + ".metrics.json")).string();
  return c;
}

// io (sources + sink) on host 1, the operator on host 2; routes use the hosts' 127.200 addresses.
void Topology(const fs::path& metrics_dir, double metrics_interval_s, double rate, int64_t limit, double item_kib,
              WorkerConfig* io, WorkerConfig* a) {
  *io = LabWorker("io", "127.200.0.1:7101", "device", metrics_interval_s, metrics_dir);
  *a = LabWorker("a", "127.200.0.2:7102", "edge", metrics_interval_s, metrics_dir);
  WorkerInstance src;
  src.kind = "source";
  src.name = "S";
  src.rate = rate;
  src.limit = limit;
  src.item_kib = item_kib;
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  io->instances = {src, sink};
  WorkerInstance op;
  op.kind = "operator";
  op.name = "A";
  op.runtime.latency_ms = 0.2;
  op.runtime.output_kib = 0.1;
  a->instances = {op};
  io->edges = a->edges = {{"S", "A", 1}, {"A", kSinkName, 1}};
  io->routes =
      a->routes = {{"A", 0, 1, "a", "127.200.0.2:7102", "edge"}, {kSinkName, 0, 1, "io", "127.200.0.1:7101", "device"}};
}

TEST_F(LabTest, APartitionedHostLosesNothingOnceHealed) {
  WorkerConfig io, a;
  Topology(dir_.path(), 0.1, 200, 3000, 1, &io, &a);
  Start(2, a);
  Start(1, io);
  ASSERT_TRUE(WaitFor([&] { return Find(Metrics("io"), kSinkName).items_out >= 300; }, 20s))
      << "nothing crossed the lab link\n"
      << testing::ReadFile(dir_.path() / "io.log") << testing::ReadFile(dir_.path() / "a.log");
  auto p = testing::Run(Cmd("partition " + prefix_ + " 2"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  auto t0 = Clock::now();
  // What was in flight settles: two consecutive reports of the io worker show the same sink count.
  WorkerMetrics last = Metrics("io");
  ASSERT_TRUE(WaitFor(
      [&] {
        WorkerMetrics now = Metrics("io");
        if (now.uptime_s <= last.uptime_s) return false;  // not a new report yet
        bool settled = Find(now, kSinkName).items_out == Find(last, kSinkName).items_out;
        last = now;
        return settled;
      },
      10s))
      << "the sink kept receiving after the partition";
  int64_t before = Find(last, kSinkName).items_out;
  // Then 1.5 s of the worker's own reports (its uptime, not the test's clock: a report written
  // late would otherwise shorten the window).
  WorkerMetrics later;
  ASSERT_TRUE(WaitFor(
      [&] {
        later = Metrics("io");
        return later.uptime_s >= last.uptime_s + 1.5;
      },
      10s));
  int64_t during = Find(later, kSinkName).items_out;
  EXPECT_LE(during - before, 5) << "items still crossed a partitioned link";
  ASSERT_EQ(testing::Run(Cmd("heal " + prefix_ + " 2")).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Find(Metrics("io"), "S").acked == 3000; }, 30s)) << Find(Metrics("io"), "S").acked;
  auto m = Metrics("io");
  EXPECT_EQ(Find(m, kSinkName).items_out, 3000);  // every item, once
  int64_t resent = 0;
  for (const auto& l : m.links) resent += l.resent;
  std::printf(
      "[ lab ] partition of host 2 for %.1f s: sink stalled (%lld items in the last 1.5 s), then all 3000 delivered "
      "once, %lld re-sent, %lld duplicate(s) discarded\n",
      std::chrono::duration<double>(Clock::now() - t0).count(), static_cast<long long>(during - before),
      static_cast<long long>(resent), static_cast<long long>(Find(m, kSinkName).duplicates));
}

TEST_F(LabTest, ABandwidthCapBoundsWhatCrossesTheLink) {
  // 64 KiB items at 100/s offer 6400 KiB/s (52 Mbit/s); host 1's link is capped at 8 Mbit/s. The
  // credit window (16 items) keeps the sender from filling the kernel's buffers, so the sink's
  // delivery rate shows the cap, and the source is held back instead of queueing.
  ASSERT_EQ(testing::Run(Cmd("bandwidth " + prefix_ + " 1 8")).exit_code, 0);
  WorkerConfig io, a;
  Topology(dir_.path(), 0.1, 100, 0, 64, &io, &a);
  io.window = a.window = 16;
  Start(2, a);
  Start(1, io);
  ASSERT_TRUE(WaitFor([&] { return Find(Metrics("io"), kSinkName).items_out >= 20; }, 20s))
      << testing::ReadFile(dir_.path() / "io.log");
  // Past the start-up: two more credit windows delivered, so what the kernel's buffers took in
  // before the window closed has drained and the sink runs at the link's pace.
  int64_t start = Find(Metrics("io"), kSinkName).items_out;
  ASSERT_TRUE(WaitFor([&] { return Find(Metrics("io"), kSinkName).items_out >= start + 2 * io.window; }, 20s));
  // The measurement window: 5 s of the io worker's own clock (uptime in its reports), so the
  // count and the time come from the same report.
  WorkerMetrics m1 = Metrics("io");
  WorkerMetrics m2;
  ASSERT_TRUE(WaitFor(
      [&] {
        m2 = Metrics("io");
        return m2.uptime_s >= m1.uptime_s + 5;
      },
      15s));
  int64_t n1 = Find(m1, kSinkName).items_out, n2 = Find(m2, kSinkName).items_out;
  double kibps = static_cast<double>(n2 - n1) * 64 / (m2.uptime_s - m1.uptime_s);
  double cap_kibps = 8e6 / 8 / 1024;  // 976.6 KiB/s
  auto m = Metrics("io");
  std::printf(
      "[ lab ] link capped at 8 Mbit/s (%.0f KiB/s): %.0f KiB/s of source payload delivered, against 6400 offered; "
      "source emitted %lld in %.1f s\n",
      cap_kibps, kibps, static_cast<long long>(Find(m, "S").items_out), m.uptime_s);
  EXPECT_LE(kibps, cap_kibps * 1.05);
  EXPECT_GE(kibps, cap_kibps * 0.5);
  EXPECT_LT(Find(m, "S").items_out, 100 * m.uptime_s * 0.5) << "the source was not held back";
  EXPECT_LE(m.held_items, m.max_held_items);
}

// sshd on host 2 (the edge host): key login from host 1 with the host key pinned in
// known_hosts; a different pinned key is refused. Then a worker started over ssh on host 2 serves
// the io worker on host 1, as the ssh driver will do it.
TEST_F(LabTest, SshReachesAnEdgeHostWithItsPinnedKeyAndStartsAWorkerThere) {
  fs::path keys = dir_.path() / "ssh";
  auto sshd = testing::Run(Cmd("sshd " + prefix_ + " 2 " + keys.string()));
  ASSERT_EQ(sshd.exit_code, 0) << sshd.output;
  auto ssh = [&](const std::string& known_hosts, const std::string& remote) {
    return testing::Run(
        "ip netns exec " + prefix_ + "-h1 ssh -i " + (keys / "client_ed25519").string() + " -o UserKnownHostsFile=" +
        known_hosts + " -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 -p 2222 root@127.200.0.2 '" +
        remote + "' 2>&1");
  };
  auto who = ssh((keys / "known_hosts").string(), "ip -4 -o addr show dev eth0");
  ASSERT_EQ(who.exit_code, 0) << who.output;
  EXPECT_NE(who.output.find("127.200.0.2"), std::string::npos) << who.output;
  // Host key checking is on: another key pinned for the host is refused.
  ASSERT_EQ(testing::Run("ssh-keygen -q -t ed25519 -N '' -f " + (dir_.path() / "other").string()).exit_code, 0);
  std::ofstream(dir_.path() / "wrong_known_hosts")
      << "[127.200.0.2]:2222 " << testing::ReadFile(dir_.path() / "other.pub");
  auto refused = ssh((dir_.path() / "wrong_known_hosts").string(), "true");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Host key verification failed"), std::string::npos) << refused.output;

  // The operator's worker starts over ssh, detached from the session, on host 2.
  WorkerConfig io, a;
  Topology(dir_.path(), 0.1, 200, 1000, 1, &io, &a);
  fs::path cfg = dir_.path() / "a.yaml";
  std::ofstream(cfg) << WorkerConfigToYaml(a);
  auto started =
      ssh((keys / "known_hosts").string(), std::string("setsid ") + JB_WORKER + " --config " + cfg.string() + " > " +
                                               (dir_.path() / "a.log").string() + " 2>&1 < /dev/null & echo $!");
  ASSERT_EQ(started.exit_code, 0) << started.output;  // (the lab's teardown kills what runs on host 2)
  Start(1, io);
  ASSERT_TRUE(WaitFor([&] { return Find(Metrics("io"), "S").acked == 1000; }, 20s))
      << testing::ReadFile(dir_.path() / "a.log") << testing::ReadFile(dir_.path() / "io.log");
  EXPECT_EQ(Find(Metrics("io"), kSinkName).items_out, 1000);
  int64_t remote_pid = Metrics("a").pid;
  EXPECT_GT(remote_pid, 0);
  std::printf(
      "[ lab ] ssh into host 2 with its pinned key: ok; a wrong pinned key: refused; worker started over ssh (pid "
      "%lld) served 1000 items\n",
      static_cast<long long>(remote_pid));
}

// The delay proxy (no root needed): io -> proxy (20 ms) -> a -> io on loopback adds 20 ms to the
// items' end-to-end latency at the sink, against the same path without it.
TEST(DelayProxy, AddsItsDelayToEveryItem) {
  testing::TempDir dir;
  auto run = [&](int delay_ms) -> double {
    auto port = [] {
      auto p = PickFreePort();
      return p.ok() ? *p : 0;
    };
    int io_port = port(), a_port = port();
    std::string a_addr = "127.0.0.1:" + std::to_string(a_port);
    pid_t proxy = -1;
    if (delay_ms > 0) {
      fs::path pf = dir.path() / "proxy.port";
      fs::remove(pf);
      std::vector<std::string> args = {
          JB_DELAY_PROXY,           "--listen",    "127.0.0.1:0", "--to", a_addr, "--delay-ms",
          std::to_string(delay_ms), "--port-file", pf.string()};
      std::vector<char*> argv;
      for (auto& x : args) argv.push_back(x.data());
      argv.push_back(nullptr);
      EXPECT_EQ(posix_spawn(&proxy, argv[0], nullptr, nullptr, argv.data(), environ), 0);
      EXPECT_TRUE(WaitFor([&] { return fs::exists(pf); }, 5s));
      a_addr = "127.0.0.1:" + std::to_string(std::atoi(testing::ReadFile(pf).c_str()));
    }
    WorkerConfig io, a;
    Topology({}, 0.05, 100, 200, 1, &io, &a);  // in-process: metrics come from Worker::Metrics()
    io.listen = "127.0.0.1:" + std::to_string(io_port);
    a.listen = "127.0.0.1:" + std::to_string(a_port);
    io.routes = a.routes = {{"A", 0, 1, "a", a_addr, "edge"}, {kSinkName, 0, 1, "io", io.listen, "device"}};
    auto wa = Worker::Create(a);
    auto wio = Worker::Create(io);
    EXPECT_TRUE(wa.ok() && wio.ok());
    if (!wa.ok() || !wio.ok()) return -1;
    std::thread ta([&] { (void)(*wa)->Run(); }), tio([&] { (void)(*wio)->Run(); });
    bool done = WaitFor(
        [&] {
          for (const auto& i : (*wio)->Metrics().instances)
            if (i.kind == "sink" && i.items_out == 200) return true;
          return false;
        },
        20s);
    EXPECT_TRUE(done);
    double p50 = 0;
    for (const auto& i : (*wio)->Metrics().instances)
      if (i.kind == "sink") p50 = i.p50_ms;
    (*wio)->Stop();
    (*wa)->Stop();
    tio.join();
    ta.join();
    if (proxy > 0) {
      ::kill(proxy, SIGKILL);
      ::waitpid(proxy, nullptr, 0);
    }
    return p50;
  };
  double direct = run(0), delayed = run(20);
  std::printf("[ lab ] sink p50 %.2f ms direct, %.2f ms through a 20 ms delay proxy (+%.2f ms)\n", direct, delayed,
              delayed - direct);
  EXPECT_GE(delayed - direct, 18);
  EXPECT_LE(delayed - direct, 35);
}

}  // namespace
}  // namespace jb
