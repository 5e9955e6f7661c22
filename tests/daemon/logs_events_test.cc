// The daemon's story (#18): events survive a restart (STATE/events.jsonl), --log-level changes what
// the log shows, and worker logs come through the daemon (GET .../workflows/NAME/logs, jbctl logs).
// Real jellybeand and jbctl binaries, port 0, temp state dirs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "api/manifest.h"
#include "daemon/http.h"
#include "testing/daemon_fixture.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using testing::Daemon;
using testing::GetObject;
using testing::kApi;
using testing::Planned;

std::string Jbctl(const std::filesystem::path& state, const std::string& args) {
  return "JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " " + args;
}

TEST(DaemonEvents, EventsSurviveARestartAndACorruptLineIsSkipped) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  HttpClientOptions c;
  {
    Daemon d(state, {}, {"--driver", "fake"});
    ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
    ASSERT_EQ(testing::Run(Jbctl(state, "apply -f manifests/vqa/")).exit_code, 0);
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          auto wf = GetObject(c, "workflows/vqa");
          return wf && Planned(*wf);
        },
        std::chrono::seconds(20)));
    auto ev = HttpCall(c, "GET", kApi + "events/Workflow/vqa");
    ASSERT_TRUE(ev.ok());
    EXPECT_NE(ev->body.find("\"reason\":\"Solved\""), std::string::npos) << ev->body;
    EXPECT_EQ(d.Stop(), 0);
  }
  // A torn or foreign line in the file is skipped with a warning, never fatal.
  std::ofstream(state / "events.jsonl", std::ios::app) << "{\"seq\": \"torn\n";
  Daemon again(state, {}, {"--driver", "fake"});
  ASSERT_TRUE(again.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  auto ev = HttpCall(c, "GET", kApi + "events/Workflow/vqa");
  ASSERT_TRUE(ev.ok());
  EXPECT_NE(ev->body.find("\"reason\":\"Solved\""), std::string::npos) << "after the restart: " << ev->body;
  auto describe = testing::Run(Jbctl(state, "describe workflow vqa"));
  EXPECT_NE(describe.output.find("Normal   Solved"), std::string::npos) << describe.output;
  EXPECT_NE(testing::ReadFile(dir.path() / "state.log").find("events.jsonl line"), std::string::npos)
      << testing::ReadFile(dir.path() / "state.log");
  EXPECT_EQ(again.Stop(), 0);
}

TEST(DaemonEvents, TheLogLevelDecidesWhatTheLogShows) {
  for (const char* level : {"warn", "info", "debug"}) {
    testing::TempDir dir;
    auto state = dir.path() / "state";
    HttpClientOptions c;
    Daemon d(state, {}, {"--driver", "fake", "--log-level", level});
    ASSERT_TRUE(d.WaitReady(&c));
    ASSERT_EQ(testing::Run(Jbctl(state, "apply -f manifests/vqa/")).exit_code, 0);
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          auto wf = GetObject(c, "workflows/vqa");
          return wf && Planned(*wf);
        },
        std::chrono::seconds(20)));
    EXPECT_EQ(d.Stop(), 0);
    const std::string log = testing::ReadFile(dir.path() / "state.log");
    const bool info = std::string(level) != "warn", debug = std::string(level) == "debug";
    EXPECT_EQ(log.find("workflow=vqa epoch=1 reason=initial adopted plan epoch 1") != std::string::npos, info)
        << level << ":\n"
        << log;
    EXPECT_EQ(log.find("reconciled in") != std::string::npos, debug) << level << ":\n" << log;
  }
}

TEST(DaemonLogs, WorkerLogsComeThroughTheDaemon) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  HttpClientOptions c;
  Daemon d(state);  // the local driver: real worker processes
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  ASSERT_EQ(testing::Run(Jbctl(state, "apply -f manifests/vqa/")).exit_code, 0);
  const auto log_file = state / "workers" / "vqa" / "io-edge.log";
  ASSERT_TRUE(testing::WaitFor([&] { return !testing::ReadFile(log_file).empty(); }, std::chrono::seconds(30)))
      << testing::ReadFile(dir.path() / "state.log");
  const std::string logs = kApi + "workflows/vqa/logs";
  auto r = HttpCall(c, "GET", logs + "?worker=io-edge");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->content_type.rfind("text/plain", 0), 0u);
  EXPECT_EQ(testing::ReadFile(log_file).rfind(r->body, 0), 0u) << "the file's bytes, from its start";
  // tailLines, an unknown worker (named, with the workflow's workers), no worker, a bad number.
  r = HttpCall(c, "GET", logs + "?worker=io-edge&tailLines=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::count(r->body.begin(), r->body.end(), '\n'), 1) << r->body;
  r = HttpCall(c, "GET", logs + "?worker=nope");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("no worker \\\"nope\\\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("io-edge"), std::string::npos) << r->body;
  r = HttpCall(c, "GET", logs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  r = HttpCall(c, "GET", logs + "?worker=io-edge&tailLines=x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  r = HttpCall(c, "GET", kApi + "workflows/other/logs?worker=io-edge");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404) << r->body;
  // jbctl logs prints the same bytes.
  auto cli = testing::Run(Jbctl(state, "logs workflow/vqa --worker io-edge --tail 1"));
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(testing::ReadFile(log_file).find(cli.output), std::string::npos) << cli.output;
  cli = testing::Run(Jbctl(state, "logs workflow/vqa --worker nope 2>&1"));
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.output.find("no worker \"nope\""), std::string::npos) << cli.output;
  EXPECT_EQ(d.Stop(), 0);
}

// #19: `jbctl logs -f` against a real daemon prints a line the worker writes after the follow
// started (the worker logs "reloaded" on SIGHUP), and ends by itself, with status 0, once the
// worker is gone (the workflow deleted).
TEST(DaemonLogs, FollowPrintsWhatTheWorkerWritesLaterAndEndsWhenTheWorkerIsGone) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  HttpClientOptions c;
  Daemon d(state);
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  ASSERT_EQ(testing::Run(Jbctl(state, "apply -f manifests/vqa/")).exit_code, 0);
  const auto log_file = state / "workers" / "vqa" / "io-edge.log";
  const auto pid_file = state / "workers" / "vqa" / "io-edge.pid";
  ASSERT_TRUE(testing::WaitFor([&] { return !testing::ReadFile(log_file).empty(); }, std::chrono::seconds(30)))
      << testing::ReadFile(dir.path() / "state.log");
  const auto out = dir.path() / "follow.out";
  pid_t follow = testing::SpawnLogged(
      {"/bin/sh", "-c", "exec env " + Jbctl(state, "logs workflow/vqa --worker io-edge -f")}, out.string());
  ASSERT_GT(follow, 0);
  int status = -1;
  auto exited = [&] { return ::waitpid(follow, &status, WNOHANG) == follow; };
  // The log so far first; then the worker writes a new line.
  const bool started = testing::WaitFor([&] { return !testing::ReadFile(out).empty(); }, std::chrono::seconds(20));
  auto reloads = [&] {
    const std::string text = testing::ReadFile(out);
    size_t n = 0;
    for (size_t at = text.find("jellybean-worker: reloaded"); at != std::string::npos;
         at = text.find("jellybean-worker: reloaded", at + 1))
      ++n;
    return n;
  };
  const size_t before = reloads();
  long worker = 0;
  std::istringstream(testing::ReadFile(pid_file)) >> worker;
  const bool hup = started && worker > 0 && ::kill(static_cast<pid_t>(worker), SIGHUP) == 0;
  const bool seen = hup && testing::WaitFor([&] { return reloads() > before; }, std::chrono::seconds(20));
  // The workflow deleted: the worker is gone, and the follow ends by itself.
  EXPECT_EQ(testing::Run(Jbctl(state, "delete workflow vqa")).exit_code, 0);
  const bool ended = testing::WaitFor(exited, std::chrono::seconds(30));
  if (!ended) {
    ::kill(follow, SIGKILL);
    ::waitpid(follow, nullptr, 0);
  }
  EXPECT_TRUE(started) << testing::ReadFile(out);
  EXPECT_TRUE(hup) << "worker pid " << worker;
  EXPECT_TRUE(seen) << testing::ReadFile(out);
  ASSERT_TRUE(ended) << "jbctl logs -f did not end after the worker was gone:\n" << testing::ReadFile(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << testing::ReadFile(out);
  EXPECT_EQ(d.Stop(), 0);
}

TEST(DaemonLogs, ADriverThatCannotFetchLogsIsNamedWith501) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  HttpClientOptions c;
  Daemon d(state, {}, {"--driver", "fake"});
  ASSERT_TRUE(d.WaitReady(&c));
  ASSERT_EQ(testing::Run(Jbctl(state, "apply -f manifests/vqa/")).exit_code, 0);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto wf = GetObject(c, "workflows/vqa");
        return wf && Planned(*wf);
      },
      std::chrono::seconds(20)));
  auto r = HttpCall(c, "GET", kApi + "workflows/vqa/logs?worker=io-edge");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 501) << r->body;
  EXPECT_NE(r->body.find("the fake driver cannot fetch worker logs yet"), std::string::npos) << r->body;
  EXPECT_EQ(d.Stop(), 0);
}

}  // namespace
}  // namespace jb
