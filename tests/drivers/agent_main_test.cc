// jellybean-agent under systemd's notify protocol (drivers/agent/agent_main.cc), against a fake
// NOTIFY_SOCKET: READY=1 once it runs, WATCHDOG=1 from its poll loop (each round trip to the
// daemon), STATUS= when connected, STOPPING=1 on SIGTERM, exit status 0. And #22's control-link
// cut as seen from both sides: by the daemon (missed heartbeat) and by the agent (its poll timeout).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
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

// A TCP relay on 127.0.0.1 (port 0) to `target_port` that can be cut like a network link: while
// cut, nothing passes in either direction and the connections stay open (no FIN, no reset; what
// a dropped route or an nftables drop rule looks like to both ends), and new connections are
// accepted but never joined to the target. Heal() drops the connections of before (their ends have
// given up on them) and joins new ones again. accepted() counts the connections made to it: a new
// one after a cut is the agent having noticed the cut and reconnecting.
// Thread-safety: the methods may be called from any thread; one thread moves the bytes.
class CuttableRelay {
 public:
  explicit CuttableRelay(int target_port) : target_port_(target_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(0);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(listen_, 16);
    socklen_t len = sizeof(a);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~CuttableRelay() {
    stop_ = true;
    thread_.join();
    ::close(listen_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  void Cut() { cut_ = true; }
  void Heal() {
    ++generation_;
    cut_ = false;
  }

 private:
  struct Pair {
    int down = -1, up = -1;  // the client's connection, the one to the target (-1: held, not joined)
    int generation = 0;
  };
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  static void Close(Pair& p) {
    if (p.down >= 0) ::close(p.down);
    if (p.up >= 0) ::close(p.up);
    p.down = p.up = -1;
  }
  // Moves what `from` has to `to`; false when either end is done.
  static bool Pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::recv(from, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }
  void Loop() {
    std::vector<Pair> pairs;
    while (!stop_) {
      const bool cut = cut_.load();
      const int generation = generation_.load();
      for (auto& p : pairs)
        if (p.generation != generation) Close(p);
      std::erase_if(pairs, [](const Pair& p) { return p.down < 0; });
      std::vector<pollfd> fds{{listen_, POLLIN, 0}};
      const size_t joined = cut ? 0 : pairs.size();
      for (size_t i = 0; i < joined; ++i) {
        fds.push_back({pairs[i].down, POLLIN, 0});
        fds.push_back({pairs[i].up, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      for (size_t i = 0; i < joined; ++i) {
        bool ok = true;
        if (fds[1 + 2 * i].revents != 0) ok = Pump(pairs[i].down, pairs[i].up);
        if (ok && fds[2 + 2 * i].revents != 0) ok = Pump(pairs[i].up, pairs[i].down);
        if (!ok) Close(pairs[i]);
      }
      if ((fds[0].revents & POLLIN) == 0) continue;
      int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      Pair p{c, -1, generation};
      if (!cut) {
        p.up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = Loopback(target_port_);
        if (::connect(p.up, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Close(p);
      }
      if (p.down >= 0) pairs.push_back(p);
    }
    for (auto& p : pairs) Close(p);
  }

  const int target_port_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, cut_{false};
  std::atomic<int> generation_{0}, accepted_{0};
  std::thread thread_;
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

// #22, the agent's side: with its link to the daemon cut (a relay that stops passing anything and
// keeps the connection open, as a dropped route does), the agent gives up on its poll within its
// --poll-timeout (default 5 s; the daemon answers a poll within 40% of it, at most poll_hold_s) and
// reconnects; healed, it is back within its reconnect back-off (at most 2 s). The daemon's side sees
// the same cut within its heartbeat grace plus the poll hold. Both figures are printed, for the
// default poll timeout and a shorter one.
TEST(AgentMain, TheAgentSeesACutControlLinkWithinItsPollTimeout) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "token") << "agent-test-token-0123456789\n";
  fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
  AgentDriverOptions o;  // the daemon's defaults: heartbeat grace 3 s, poll hold 1 s
  o.state_dir = (dir.path() / "state").string();
  o.bootstrap_token_file = (dir.path() / "token").string();
  auto driver = AgentDriver::Create(o);
  ASSERT_TRUE(driver.ok()) << driver.status().message();
  for (const double poll_timeout : {5.0, 2.0}) {  // 5: the agent's default
    SCOPED_TRACE("--poll-timeout " + std::to_string(poll_timeout));
    CuttableRelay relay((*driver)->port());
    const std::string device = "dev" + std::to_string(static_cast<int>(poll_timeout));
    std::vector<std::string> args = {JB_AGENT,
                                     "--server",
                                     "127.0.0.1:" + std::to_string(relay.port()),
                                     "--device",
                                     device,
                                     "--ca",
                                     (*driver)->ca_file(),
                                     "--token-file",
                                     (dir.path() / "token").string(),
                                     "--state-dir",
                                     (dir.path() / device).string(),
                                     "--worker-binary",
                                     JB_WORKER};
    if (poll_timeout != 5.0) args.insert(args.end(), {"--poll-timeout", std::to_string(poll_timeout)});
    const std::string log = (dir.path() / (device + ".log")).string();
    pid_t pid = testing::SpawnLogged(args, log);
    ASSERT_GT(pid, 0);
    auto live = [&] {
      for (const auto& d : (*driver)->LiveDevices())
        if (d == device) return true;
      return false;
    };
    // Cut just after the daemon heard from the agent (its poll is then held): the agent's latest
    // figure, a whole poll timeout after that poll.
    auto stop = [&] {
      ::kill(pid, SIGTERM);
      int st = 0;
      if (!testing::WaitFor([&] { return ::waitpid(pid, &st, WNOHANG) == pid; }, 10s)) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
      }
    };
    if (!testing::WaitFor(live, 20s)) {
      ADD_FAILURE() << "the agent never connected\n" << testing::ReadFile(log);
      stop();
      continue;
    }
    const int before = relay.accepted();
    relay.Cut();
    const auto cut = std::chrono::steady_clock::now();
    double agent_s = -1, daemon_s = -1;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - cut).count();
          if (agent_s < 0 && relay.accepted() > before) agent_s = t;
          if (daemon_s < 0 && !live()) daemon_s = t;
          return agent_s >= 0 && daemon_s >= 0;
        },
        15s))
        << testing::ReadFile(log);
    relay.Heal();
    const auto healed = std::chrono::steady_clock::now();
    EXPECT_TRUE(testing::WaitFor(live, 10s)) << testing::ReadFile(log);
    const double back_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - healed).count();
    std::printf(
        "control cut, --poll-timeout %.0f s: seen by the agent after %.2f s, by the daemon after %.2f s "
        "(heartbeat grace 3 s); healed -> agent back in %.2f s\n",
        poll_timeout, agent_s, daemon_s, back_s);
    EXPECT_GT(agent_s, 0);
    EXPECT_LE(agent_s, poll_timeout + 0.5) << "the agent must give up on a poll within its poll timeout";
    EXPECT_GT(daemon_s, 0);
    EXPECT_LT(daemon_s, 3 + 1 + 1.0) << "the daemon sees it within the heartbeat grace plus the poll hold";
    EXPECT_LT(back_s, 4.0);
    stop();
  }
}

}  // namespace
}  // namespace jb
