// jellybean-agent under systemd's notify protocol (drivers/agent/agent_main.cc), against a fake
// NOTIFY_SOCKET: READY=1 once it runs, WATCHDOG=1 from its poll loop (each round trip to the
// daemon), STATUS= when connected, STOPPING=1 on SIGTERM, exit status 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "drivers/agent/agent_driver.h"
#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A datagram socket standing in for systemd's NOTIFY_SOCKET; Next() returns the next message
// containing `what` (the messages before it are kept in `seen`).
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{0, 100000};
    if (bound_) ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~FakeNotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }
  bool WaitFor(const std::string& what, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      seen.emplace_back(buf, static_cast<size_t>(n));
      if (seen.back().find(what) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::string> seen;

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(AgentMain, NotifiesSystemdReadyWatchdogAndStopping) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "token") << "agent-test-token-0123456789\n";
  fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
  AgentDriverOptions o;
  o.state_dir = (dir.path() / "state").string();
  o.bootstrap_token_file = (dir.path() / "token").string();
  o.poll_hold_s = 0.2;  // a round trip (and so a watchdog ping) every 0.2 s
  auto driver = AgentDriver::Create(o);
  ASSERT_TRUE(driver.ok()) << driver.status().message();
  FakeNotifySocket notify((dir.path() / "notify.sock").string());
  ASSERT_TRUE(notify.bound());

  std::vector<std::string> args = {"/usr/bin/env",
                                   "NOTIFY_SOCKET=" + notify.path(),
                                   JB_AGENT,
                                   "--server",
                                   "127.0.0.1:" + std::to_string((*driver)->port()),
                                   "--device",
                                   "dev1",
                                   "--ca",
                                   (*driver)->ca_file(),
                                   "--token-file",
                                   (dir.path() / "token").string(),
                                   "--state-dir",
                                   (dir.path() / "dev1").string(),
                                   "--worker-binary",
                                   JB_WORKER};
  std::string log = (dir.path() / "agent.log").string();
  pid_t pid = testing::SpawnLogged(args, log);
  ASSERT_GT(pid, 0);
  auto reap = [&] {
    int st = 0;
    bool exited = testing::WaitFor([&] { return ::waitpid(pid, &st, WNOHANG) == pid; }, 10s);
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
    }
    return exited && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };

  bool ready = notify.WaitFor("READY=1", 20s);
  if (!ready) reap();
  ASSERT_TRUE(ready) << testing::ReadFile(log);
  EXPECT_NE(notify.seen.back().find("STATUS=connecting to 127.0.0.1:"), std::string::npos) << notify.seen.back();
  EXPECT_TRUE(notify.WaitFor("STATUS=connected to 127.0.0.1:", 20s)) << testing::ReadFile(log);
  // Round trips to the daemon feed the watchdog: several pings, not one at start-up.
  int pings = 0;
  for (int i = 0; i < 3 && notify.WaitFor("WATCHDOG=1", 10s); ++i) ++pings;
  EXPECT_EQ(pings, 3) << testing::ReadFile(log);
  ::kill(pid, SIGTERM);
  EXPECT_TRUE(notify.WaitFor("STOPPING=1", 10s)) << testing::ReadFile(log);
  EXPECT_EQ(reap(), 0) << testing::ReadFile(log);
}

// #22: an agent that stops answering (SIGSTOP: its long poll goes silent) is seen as cut off by
// the daemon within its heartbeat grace plus the poll hold, and back at once when it resumes.
TEST(AgentMain, ACutControlLinkIsSeenWithinAFewSeconds) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "token") << "agent-test-token-0123456789\n";
  fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
  AgentDriverOptions o;
  o.state_dir = (dir.path() / "state").string();
  o.bootstrap_token_file = (dir.path() / "token").string();
  o.poll_hold_s = 1;
  o.heartbeat_grace_s = 2;
  auto driver = AgentDriver::Create(o);
  ASSERT_TRUE(driver.ok()) << driver.status().message();
  std::vector<std::string> args = {JB_AGENT,
                                   "--server",
                                   "127.0.0.1:" + std::to_string((*driver)->port()),
                                   "--device",
                                   "dev1",
                                   "--ca",
                                   (*driver)->ca_file(),
                                   "--token-file",
                                   (dir.path() / "token").string(),
                                   "--state-dir",
                                   (dir.path() / "dev1").string(),
                                   "--worker-binary",
                                   JB_WORKER,
                                   "--poll-timeout",
                                   "2"};
  std::string log = (dir.path() / "agent.log").string();
  pid_t pid = testing::SpawnLogged(args, log);
  ASSERT_GT(pid, 0);
  auto live = [&] { return !(*driver)->LiveDevices().empty(); };
  EXPECT_TRUE(testing::WaitFor(live, 20s)) << testing::ReadFile(log);
  ::kill(pid, SIGSTOP);
  const auto cut = std::chrono::steady_clock::now();
  EXPECT_TRUE(testing::WaitFor([&] { return !live(); }, 10s));
  const double detect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - cut).count();
  std::printf("control cut seen by the daemon after %.2f s (grace 2 s, hold 1 s)\n", detect_s);
  EXPECT_LT(detect_s, 4.0);
  ::kill(pid, SIGCONT);
  const auto healed = std::chrono::steady_clock::now();
  EXPECT_TRUE(testing::WaitFor(live, 10s)) << testing::ReadFile(log);
  const double back_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - healed).count();
  std::printf("agent back after %.2f s\n", back_s);
  EXPECT_LT(back_s, 4.0);
  ::kill(pid, SIGTERM);
  int st = 0;
  if (!testing::WaitFor([&] { return ::waitpid(pid, &st, WNOHANG) == pid; }, 10s)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
  }
}

}  // namespace
}  // namespace jb
