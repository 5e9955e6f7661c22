// Fencing by term (drivers/fencing.h): a stale instruction (a former leader's older term) is
// refused by jellybean-agent and by the ssh driver's remote supervisor, and what the newer term
// asked for stays. The agent runs for real against an AgentDriver on 127.0.0.1; the ssh driver
// runs its remote scripts through a stand-in `ssh` that executes them locally.
#include "drivers/fencing.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "drivers/agent/agent_driver.h"
#include "drivers/cloud/hooks.h"
#include "drivers/process.h"
#include "drivers/ssh/ssh_driver.h"
#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::WaitFor;

bool Listening(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(s);
  return ok;
}

std::string Trimmed(const fs::path& p) {
  std::string s = testing::ReadFile(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

WorkerConfig SinkOn(const std::string& node, const std::string& tier, int port) {
  WorkerConfig c;
  c.workflow = "wf";
  c.name = "io-" + node;
  c.node = node;
  c.tier = tier;
  c.listen = "127.0.0.1:" + std::to_string(port);
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  c.instances = {sink};
  c.routes = {{kSinkName, 0, 1, c.name, c.listen, tier}};
  return c;
}

TEST(Fencing, TheAgentRefusesAFormerLeadersInstructions) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "token") << "agent-test-token-0123456789\n";
  fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
  auto term = std::make_shared<FencingTerm>();
  term->Set(5);
  AgentDriverOptions o;
  o.state_dir = (dir.path() / "state").string();
  o.bootstrap_token_file = (dir.path() / "token").string();
  o.heartbeat_grace_s = 1;
  o.poll_hold_s = 0.3;
  o.term = term;
  auto driver = AgentDriver::Create(o);
  ASSERT_TRUE(driver.ok()) << driver.status().message();
  const fs::path log = dir.path() / "dev1.log";
  pid_t agent = testing::SpawnLogged(
      {JB_AGENT, "--server", "127.0.0.1:" + std::to_string((*driver)->port()), "--device", "dev1", "--ca",
       (*driver)->ca_file(), "--token-file", (dir.path() / "token").string(), "--state-dir",
       (dir.path() / "dev1").string(), "--worker-binary", JB_WORKER, "--stop-workers-on-exit", "--poll-timeout", "2"},
      log.string());
  ASSERT_GT(agent, 0);
  struct Reap {  // SIGTERM: the agent stops its workers (--stop-workers-on-exit)
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGTERM);
      if (!WaitFor([&] { return ::waitpid(pid, nullptr, WNOHANG) == pid; }, 10s)) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reap{agent};

  // Term 5 deploys a sink; the agent records the term.
  const int port = *PickFreePort();
  ASSERT_TRUE((*driver)->Apply("wf", {SinkOn("dev1", "device", port)}).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = (*driver)->Observe("wf");
        return s.size() == 1 && s[0].ready;
      },
      15s))
      << testing::ReadFile(log);
  EXPECT_EQ(Trimmed(dir.path() / "dev1/term"), "5");

  // A former leader (term 3) asks for the workflow's removal: refused, and the sink keeps serving.
  term->Set(3);
  ASSERT_TRUE((*driver)->Remove("wf").ok());
  ASSERT_TRUE(WaitFor([&] { return testing::ReadFile(log).find("is a former leader") != std::string::npos; }, 10s))
      << testing::ReadFile(log);
  EXPECT_NE(testing::ReadFile(log).find("this daemon's term 3 is older than term 5"), std::string::npos)
      << testing::ReadFile(log);
  EXPECT_TRUE(Listening(port)) << testing::ReadFile(log);
  EXPECT_EQ(Trimmed(dir.path() / "dev1/term"), "5");

  // The newer leader (term 7) gives the same instruction: obeyed.
  term->Set(7);
  ASSERT_TRUE((*driver)->Apply("wf", {}).ok());
  EXPECT_TRUE(WaitFor([&] { return !Listening(port); }, 15s)) << testing::ReadFile(log);
  EXPECT_TRUE(WaitFor([&] { return Trimmed(dir.path() / "dev1/term") == "7"; }, 5s));
}

// Runs the last argument (the driver's "sh -c '...'" command) here.
constexpr const char* kFakeSsh = R"SH(#!/bin/sh
for a; do last=$a; done
case " $* " in *" -O exit "*) exit 0;; esac
exec sh -c "$last"
)SH";

TEST(Fencing, TheSshSupervisorRefusesAFormerLeadersInstructions) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "state");
  fs::create_directories(dir.path() / "remote");
  const std::string ssh = (dir.path() / "fake-ssh").string();
  ASSERT_TRUE(WriteFileCreatingDirs(ssh, kFakeSsh, 0755).ok());
  auto term = std::make_shared<FencingTerm>();
  term->Set(9);
  SshDriverOptions o;
  o.state_dir = (dir.path() / "state").string();
  o.worker_binary = JB_WORKER;
  o.ssh = ssh;
  o.poll_every = 20ms;
  o.command_timeout_s = 30;
  o.term = term;
  SshDriver driver(o);
  SshTarget t;
  t.host = "edge1.test";
  t.remote_dir = (dir.path() / "remote").string();
  driver.SetTarget("wf", "edge1", t);
  const fs::path node = dir.path() / "remote/edge1";
  struct Cleanup {  // the newest term removes whatever the test left running
    SshDriver& driver;
    FencingTerm& term;
    ~Cleanup() {
      term.Set(int64_t{1} << 40);
      (void)driver.Remove("wf");
    }
  } cleanup{driver, *term};

  const int port = *PickFreePort();
  ASSERT_TRUE(driver.Apply("wf", {SinkOn("edge1", "edge", port)}).ok());
  ASSERT_TRUE(WaitFor([&] { return Listening(port); }, 15s)) << testing::ReadFile(node / "wf/io-edge1.log");
  EXPECT_EQ(Trimmed(node / "term"), "9");
  const std::string yaml = testing::ReadFile(node / "wf/io-edge1.yaml");

  // A former leader (term 4) moves the worker to another port: refused before anything is
  // uploaded; the worker keeps serving with the newer leader's configuration.
  term->Set(4);
  const int other = *PickFreePort();
  Status stale = driver.Apply("wf", {SinkOn("edge1", "edge", other)});
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.message().find("fenced: instruction of term 4 refused: this node has seen term 9"), std::string::npos)
      << stale.message();
  EXPECT_TRUE(Listening(port));
  EXPECT_EQ(testing::ReadFile(node / "wf/io-edge1.yaml"), yaml);
  // Nor may it stop the worker.
  EXPECT_FALSE(driver.Remove("wf").ok());
  EXPECT_TRUE(Listening(port));
  EXPECT_EQ(Trimmed(node / "term"), "9");

  // The supervisor's check on its own: a newer term is recorded, an older one refused.
  EXPECT_EQ(testing::Run("sh " + (node / "bin/jb-supervise").string() + " --fence 12").exit_code, 0);
  EXPECT_EQ(Trimmed(node / "term"), "12");
  auto refused = testing::Run("sh " + (node / "bin/jb-supervise").string() + " --fence 11 2>&1");
  EXPECT_EQ(refused.exit_code, 75);
  EXPECT_NE(refused.output.find("this node has seen term 12"), std::string::npos) << refused.output;

  // The newest leader (term 12) removes the workflow: obeyed.
  term->Set(12);
  ASSERT_TRUE(driver.Remove("wf").ok());
  EXPECT_TRUE(WaitFor([&] { return !Listening(port); }, 10s));
}

// A provider that fences (drivers/cloud/hooks.h): its delete hook remembers the highest JB_TERM.
TEST(Fencing, CloudHooksCarryTheTermAndAFencingProviderRefusesAnOlderOne) {
  testing::TempDir dir;
  const fs::path hook = dir.path() / "delete";
  const std::string script =
      "#!/bin/sh\n"
      "seen=$(cat \"$STATE/term\" 2>/dev/null || echo 0)\n"
      "if [ \"$JB_TERM\" -lt \"$seen\" ]; then\n"
      "  echo \"fenced: term $JB_TERM is older than $seen\" >&2; exit 75\n"
      "fi\n"
      "echo \"$JB_TERM\" > \"$STATE/term\"; echo \"$JB_VM_ID\" >> \"$STATE/deleted\"\n";
  ASSERT_TRUE(WriteFileCreatingDirs(hook.string(), script, 0755).ok());
  auto cfg = CloudHookConfigFromSettings({{"create", "/bin/false"},
                                          {"list", "/bin/false"},
                                          {"delete", hook.string()},
                                          {"env.STATE", dir.path().string()}});
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  auto term = std::make_shared<FencingTerm>();
  cfg->term = term;
  CloudHooks hooks(*cfg);
  term->Set(8);
  ASSERT_TRUE(hooks.Delete("vm-1").ok());
  EXPECT_EQ(Trimmed(dir.path() / "term"), "8");
  term->Set(6);  // a former leader
  Status stale = hooks.Delete("vm-2");
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.message().find("exited with status 75"), std::string::npos) << stale.message();
  EXPECT_NE(stale.message().find("fenced: term 6 is older than 8"), std::string::npos) << stale.message();
  EXPECT_EQ(Trimmed(dir.path() / "deleted"), "vm-1");
}

}  // namespace
}  // namespace jb
