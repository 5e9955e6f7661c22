// SshDriver without a remote host: `ssh` is a stand-in script that runs the remote command locally
// (the "remote" node directory is a temp dir), so the driver's remote scripts run for real with
// the real jellybean-worker, as a non-root user and without the network lab.
// Regressions: Remove left the workers' durable state (<name>.seq, <name>.delivered) on the host;
// a remote supervisor found dead was started again on every poll, with no back-off.
#include "drivers/ssh/ssh_driver.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "drivers/process.h"
#include "tests/drivers/fake_ssh.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::IoWorker;
using testing::kFakeSsh;
using testing::WaitFor;

// The start times (seconds, fractional) a script appended to `path`, one per line.
std::vector<double> Starts(const fs::path& path) {
  std::istringstream in(testing::ReadFile(path));
  std::vector<double> out;
  for (double t = 0; in >> t;) out.push_back(t);
  return out;
}

class SshDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() / "state");
    fs::create_directories(dir_.path() / "remote");
    ssh_ = (dir_.path() / "fake-ssh").string();
    ASSERT_TRUE(WriteFileCreatingDirs(ssh_, kFakeSsh, 0755).ok());
  }
  void TearDown() override {
    if (driver_) (void)driver_->Remove("wf");
    driver_.reset();
  }
  void NewDriver(const std::string& worker_binary) {
    SshDriverOptions o;
    o.state_dir = (dir_.path() / "state").string();
    o.worker_binary = worker_binary;
    o.ssh = ssh_;
    o.poll_every = 20ms;
    o.command_timeout_s = 30;
    o.metrics_interval_s = 0.1;
    driver_ = std::make_unique<SshDriver>(o);
    SshTarget t;
    t.host = "edge1.test";
    t.remote_dir = (dir_.path() / "remote").string();
    driver_->SetTarget("wf", "edge1", t);
  }
  fs::path NodeDir() const { return dir_.path() / "remote" / "edge1"; }
  fs::path Remote(const std::string& suffix) const { return NodeDir() / "wf" / ("io" + suffix); }
  // A stand-in worker binary (or supervisor) that notes each start in `log` and exits at once.
  std::string Crasher(const std::string& name, const fs::path& log) {
    std::string path = (dir_.path() / name).string();
    EXPECT_TRUE(WriteFileCreatingDirs(path, "#!/bin/sh\ndate +%s.%N >> '" + log.string() + "'\nexit 1\n", 0755).ok());
    return path;
  }

  testing::TempDir dir_;
  std::string ssh_;
  std::unique_ptr<SshDriver> driver_;
};

TEST_F(SshDriverTest, RemoveDeletesTheWorkersSequenceReservationAndDeliveryRecord) {
  NewDriver(JB_WORKER);
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(driver_->Apply("wf", {IoWorker(*port)}).ok());
  // The source reserves its sequence numbers and the sink records deliveries on the "remote" host.
  ASSERT_TRUE(WaitFor([&] { return fs::exists(Remote(".seq")) && fs::exists(Remote(".delivered")); }, 20s))
      << testing::ReadFile(Remote(".log"));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = driver_->Observe("wf");
        return st.size() == 1 && st[0].ready;
      },
      20s));
  ASSERT_TRUE(driver_->Remove("wf").ok());
  for (const char* suffix : {".seq", ".delivered", ".yaml", ".pid", ".sup", ".log", ".metrics.json"})
    EXPECT_FALSE(fs::exists(Remote(suffix))) << suffix << " left on the host";
  EXPECT_FALSE(fs::exists(NodeDir() / "wf")) << "the workflow's directory is left on the host";
  EXPECT_TRUE(driver_->Workflows().empty());
}

TEST_F(SshDriverTest, ACrashingRemoteWorkerIsRestartedWithGrowingBackOff) {
  fs::path starts = dir_.path() / "worker-starts";
  NewDriver(Crasher("crashing-worker", starts));
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(driver_->Apply("wf", {IoWorker(*port)}).ok());
  ASSERT_TRUE(WaitFor([&] { return Starts(starts).size() >= 4; }, 20s)) << Starts(starts).size() << " starts";
  auto t = Starts(starts);
  // RestartBackoff: 0.2 s, 0.4 s, 0.8 s between the starts (lower bounds: sleeps may run long).
  EXPECT_GE(t[1] - t[0], 0.2 - 0.02);
  EXPECT_GE(t[2] - t[1], 0.4 - 0.02);
  EXPECT_GE(t[3] - t[2], 0.8 - 0.02);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = driver_->Observe("wf");
        return st.size() == 1 && !st[0].ready && st[0].restarts >= 3;
      },
      20s));
}

TEST_F(SshDriverTest, ADeadSupervisorIsStartedAgainWithGrowingBackOff) {
  NewDriver(JB_WORKER);
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(driver_->Apply("wf", {IoWorker(*port)}).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = driver_->Observe("wf");
        return st.size() == 1 && st[0].ready;
      },
      20s));
  // The installed supervisor now exits at once (as on a host where it cannot run); kill the
  // running one and its worker, so every start the driver makes from now on dies straight away.
  fs::path starts = dir_.path() / "supervisor-starts";
  std::string crasher = Crasher("crashing-supervisor", starts);
  fs::copy_file(crasher, NodeDir() / "bin" / "jb-supervise", fs::copy_options::overwrite_existing);
  std::istringstream sup(testing::ReadFile(Remote(".sup"))), pid(testing::ReadFile(Remote(".pid")));
  long s = 0, p = 0;
  ASSERT_TRUE(sup >> s);
  ASSERT_TRUE(pid >> p);
  ::kill(static_cast<pid_t>(s), SIGKILL);
  ::kill(static_cast<pid_t>(p), SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Starts(starts).size() >= 4; }, 20s)) << Starts(starts).size() << " starts";
  auto t = Starts(starts);
  // Polled every 20 ms: without a back-off the starts come one poll apart.
  EXPECT_GE(t[1] - t[0], 0.2 - 0.02);
  EXPECT_GE(t[2] - t[1], 0.4 - 0.02);
  EXPECT_GE(t[3] - t[2], 0.8 - 0.02);
}

// #19: the worker's log comes from its host over the driver's ssh command path: the whole log,
// the last bytes, a bounded read and the next read from its end offset, an unknown worker named.
TEST_F(SshDriverTest, ReadLogReadsTheWorkersLogOnItsHostBoundedInBytes) {
  NewDriver(JB_WORKER);
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(driver_->Apply("wf", {IoWorker(*port)}).ok());
  ASSERT_TRUE(WaitFor([&] { return testing::ReadFile(Remote(".log")).size() >= 8; }, 20s));
  int64_t end = 0;
  auto all = driver_->ReadLog("wf", "io", 0, 1 << 20, &end);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_GE(all->size(), 8u);
  EXPECT_EQ(testing::ReadFile(Remote(".log")).rfind(*all, 0), 0u) << "the file's bytes, from its start";
  EXPECT_EQ(end, static_cast<int64_t>(all->size()));
  // At most max_bytes: from an offset, and the last ones.
  auto part = driver_->ReadLog("wf", "io", 2, 5, &end);
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_EQ(*part, all->substr(2, 5));
  EXPECT_EQ(end, 7);
  // What the host's log holds after `end` (appended here as the supervisor would).
  std::ofstream(Remote(".log"), std::ios::app) << "a line written later\n";
  const std::string file = testing::ReadFile(Remote(".log"));
  auto tail = driver_->ReadLog("wf", "io", -1, 21, &end);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, file.substr(file.size() - 21));
  EXPECT_EQ(end, static_cast<int64_t>(file.size()));
  auto next = driver_->ReadLog("wf", "io", static_cast<int64_t>(all->size()), 1 << 20, &end);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(all->size() + next->size(), static_cast<size_t>(end));
  EXPECT_NE(next->find("a line written later\n"), std::string::npos) << *next;
  auto none = driver_->ReadLog("wf", "nope", 0, 100, &end);
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_NE(none.status().message().find("its workers: io"), std::string::npos) << none.status().message();
}

}  // namespace
}  // namespace jb
