// SshDriver adoption (issue 20): a new leader's ssh driver, whose state dir has no record of what
// a former leader deployed on an edge host, asks the host what runs and adopts it instead of
// starting a second supervisor beside it. Driver A (term 1) deploys through the stand-in ssh
// (tests/drivers/fake_ssh.h); a fresh driver B (empty state dir, term 2) applies to the same host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <vector>

#include "drivers/process.h"
#include "drivers/ssh/ssh_driver.h"
#include "tests/drivers/fake_ssh.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::IoWorker;
using testing::WaitFor;

// The NUL-separated argv of `pid`, empty when it is gone.
std::vector<std::string> Argv(const std::string& pid) {
  std::istringstream in(testing::ReadFile("/proc/" + pid + "/cmdline"));
  std::vector<std::string> out;
  for (std::string a; std::getline(in, a, '\0');) out.push_back(a);
  return out;
}

class SshAdoptionTest : public ::testing::Test {
 protected:
  struct Leader {
    std::shared_ptr<FencingTerm> term;
    std::unique_ptr<SshDriver> driver;
  };

  void SetUp() override {
    fs::create_directories(dir_.path() / "remote");
    ssh_ = (dir_.path() / "fake-ssh").string();
    ASSERT_TRUE(WriteFileCreatingDirs(ssh_, testing::kFakeSsh, 0755).ok());
    auto port = PickFreePort();
    ASSERT_TRUE(port.ok());
    port_ = *port;
  }
  void TearDown() override {
    // Every driver, newest first, removes what it knows of (with a term no node has seen).
    for (auto it = leaders_.rbegin(); it != leaders_.rend(); ++it) {
      it->term->Set(int64_t{1} << 40);
      (void)it->driver->Remove("wf");
    }
    leaders_.clear();
  }
  // A driver with its own (empty) state dir, as a new leader on another host has.
  SshDriver& NewLeader(const std::string& name, int64_t term) {
    Leader l;
    l.term = std::make_shared<FencingTerm>();
    l.term->Set(term);
    SshDriverOptions o;
    o.state_dir = (dir_.path() / name).string();
    o.worker_binary = JB_WORKER;
    o.ssh = ssh_;
    o.poll_every = 20ms;
    o.command_timeout_s = 30;
    o.metrics_interval_s = 0.1;
    o.term = l.term;
    l.driver = std::make_unique<SshDriver>(o);
    SshTarget t;
    t.host = "edge1.test";
    t.remote_dir = (dir_.path() / "remote").string();
    l.driver->SetTarget("wf", "edge1", t);
    leaders_.push_back(std::move(l));
    return *leaders_.back().driver;
  }
  fs::path NodeDir() const { return dir_.path() / "remote" / "edge1"; }
  // The first word of the worker's <suffix> file on the host (.sup: supervisor pid, .pid: worker pid).
  std::string Remote(const std::string& suffix) const {
    std::istringstream in(testing::ReadFile(NodeDir() / "wf" / ("io" + suffix)));
    std::string first;
    in >> first;
    return first;
  }
  // Processes running in the node directory: supervisors of worker io, and workers.
  std::pair<int, int> Running() const {
    int supervisors = 0, workers = 0;
    std::error_code ec;
    const fs::path node = fs::canonical(NodeDir(), ec);
    for (const auto& p : fs::directory_iterator("/proc", ec)) {
      std::string pid = p.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (fs::read_symlink(p.path() / "cwd", ec) != node || ec) continue;
      auto argv = Argv(pid);
      if (argv == std::vector<std::string>{"sh", "bin/jb-supervise", "wf", "io"}) ++supervisors;
      if (!argv.empty() && argv[0] == "bin/jellybean-worker") ++workers;
    }
    return {supervisors, workers};
  }
  // The sink's items delivered, per `d`'s last poll of a ready worker with pid `pid` (-1 otherwise).
  static int64_t Delivered(SshDriver& d, const std::string& pid) {
    auto st = d.Observe("wf");
    if (st.size() != 1 || !st[0].ready || std::to_string(st[0].pid) != pid || !st[0].metrics) return -1;
    for (const auto& i : st[0].metrics->instances)
      if (i.kind == "sink") return i.items_out;
    return -1;
  }
  // Deploys io with a first leader of term 1 and waits until it delivers; returns its driver.
  SshDriver& DeployWithAFirstLeader() {
    SshDriver& a = NewLeader("state-a", 1);
    EXPECT_TRUE(a.Apply("wf", {IoWorker(port_)}).ok());
    EXPECT_TRUE(WaitFor([&] { return Delivered(a, Remote(".pid")) > 0; }, 20s))
        << testing::ReadFile(NodeDir() / "wf/io.log");
    return a;
  }

  testing::TempDir dir_;
  std::string ssh_;
  int port_ = 0;
  std::vector<Leader> leaders_;
};

TEST_F(SshAdoptionTest, ANewLeadersDriverAdoptsTheRunningWorkerWithoutRestartingIt) {
  SshDriver& a = DeployWithAFirstLeader();
  const std::string sup = Remote(".sup"), pid = Remote(".pid");
  ASSERT_EQ(Running(), std::make_pair(1, 1));

  SshDriver& b = NewLeader("state-b", 2);
  ASSERT_TRUE(b.Apply("wf", {IoWorker(port_)}).ok());
  // Same supervisor, same worker, nothing started beside them (a second supervisor would
  // have rewritten .sup and .pid by the time B sees a ready worker); items keep flowing.
  ASSERT_TRUE(WaitFor([&] { return Delivered(b, pid) > 0; }, 20s));
  EXPECT_EQ(Remote(".sup"), sup);
  EXPECT_EQ(Remote(".pid"), pid);
  EXPECT_EQ(Running(), std::make_pair(1, 1));
  const int64_t at_adoption = Delivered(b, pid);
  ASSERT_TRUE(WaitFor([&] { return Delivered(b, pid) > at_adoption + 10; }, 20s));
  EXPECT_EQ(b.Observe("wf")[0].restarts, 0);
  ASSERT_EQ(b.Desired("wf").size(), 1u);

  // Asking the node fenced it: the former leader may no longer change or stop the worker.
  WorkerConfig moved = IoWorker(port_);
  moved.epoch = 5;
  Status stale = a.Apply("wf", {moved});
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.message().find("fenced: instruction of term 1 refused: this node has seen term 2"), std::string::npos)
      << stale.message();
  EXPECT_FALSE(a.Remove("wf").ok());
  EXPECT_EQ(Remote(".pid"), pid);
  EXPECT_EQ(Running(), std::make_pair(1, 1));
}

// The dispatcher keeps a worker's address from Desired: a node the Infrastructure names is asked
// before the first Apply, so the new leader's Desired already holds what runs there.
TEST_F(SshAdoptionTest, ANodeTheInfrastructureNamesIsAskedBeforeTheFirstApply) {
  DeployWithAFirstLeader();
  const std::string pid = Remote(".pid");
  SshDriver& b = NewLeader("state-b", 2);
  InfrastructureSpec infra;
  infra.tiers = {Tier{"edge", DriverSpec{"ssh", {{"remoteDir", (dir_.path() / "remote").string()}}}}};
  infra.nodes = {Node{"edge1", "edge", 0, "", 1, std::string("edge1.test"), std::nullopt, std::nullopt}};
  b.UseInfrastructure("wf", infra);
  auto desired = b.Desired("wf");
  ASSERT_EQ(desired.size(), 1u);
  EXPECT_EQ(desired[0].listen, IoWorker(port_).listen);
  ASSERT_TRUE(b.Apply("wf", {IoWorker(port_)}).ok());
  ASSERT_TRUE(WaitFor([&] { return Delivered(b, pid) > 0; }, 20s));
  EXPECT_EQ(Remote(".pid"), pid);
  EXPECT_EQ(Running(), std::make_pair(1, 1));
}

TEST_F(SshAdoptionTest, AnAdoptedWorkerIsReloadedInPlaceOrStoppedAsTheNewLeaderWants) {
  DeployWithAFirstLeader();
  const std::string pid = Remote(".pid");
  // New routes/epoch (as after a new leader's re-plan, or new certificates): SIGHUP, same PID.
  SshDriver& b = NewLeader("state-b", 2);
  WorkerConfig next = IoWorker(port_);
  next.epoch = 2;
  ASSERT_TRUE(b.Apply("wf", {next}).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = b.Observe("wf");
        return st.size() == 1 && st[0].ready && st[0].metrics && st[0].metrics->epoch == 2;
      },
      20s))
      << testing::ReadFile(NodeDir() / "wf/io.log");
  EXPECT_EQ(Remote(".pid"), pid);
  EXPECT_EQ(Running(), std::make_pair(1, 1));

  // A third leader whose plan no longer has the worker stops it: nothing is left running.
  SshDriver& c = NewLeader("state-c", 3);
  ASSERT_TRUE(c.Apply("wf", {}).ok());
  EXPECT_TRUE(WaitFor([&] { return Running() == std::make_pair(0, 0); }, 10s));
  EXPECT_FALSE(fs::exists(NodeDir() / "wf/io.yaml"));
}

TEST_F(SshAdoptionTest, AFormerLeaderThatHasNoRecordStartsNothingOnANodeThatHasSeenANewerTerm) {
  DeployWithAFirstLeader();  // term 1
  SshDriver& b = NewLeader("state-b", 2);
  ASSERT_TRUE(b.Apply("wf", {IoWorker(port_)}).ok());
  const std::string pid = Remote(".pid");
  // A driver of term 1 with no record (a former leader restarted on an empty state dir).
  SshDriver& stale = NewLeader("state-stale", 1);
  WorkerConfig moved = IoWorker(port_);
  moved.epoch = 7;
  Status s = stale.Apply("wf", {moved});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fenced: "), std::string::npos) << s.message();
  EXPECT_TRUE(stale.Desired("wf").empty());
  EXPECT_EQ(Remote(".pid"), pid);
  EXPECT_EQ(Running(), std::make_pair(1, 1));
}

}  // namespace
}  // namespace jb
