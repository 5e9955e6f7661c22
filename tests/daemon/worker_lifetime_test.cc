// Worker lifetime under systemd (packaging/systemd/jellybeand.service, KillMode=process): a stop
// or restart signals the daemon's main process only; each worker runs in its own session, so no
// signal aimed at the daemon or its process group reaches it; the next daemon adopts the workers.
// What needs systemd as PID 1 (the cgroup) is not tested here; the unit's setting is.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <map>

#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using testing::ConditionOf;
using testing::Daemon;
using testing::GetWorkflow;
using testing::Reports;
using testing::WaitFor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool IsWorker(int64_t pid) {
  return ::kill(static_cast<pid_t>(pid), 0) == 0 &&
         testing::ReadFile("/proc/" + std::to_string(pid) + "/cmdline").find("jellybean-worker") != std::string::npos;
}

TEST(WorkerLifetime, TheUnitsSignalOnlyTheMainProcess) {
  for (const char* unit : {"jellybeand.service", "jellybean-agent.service"}) {
    std::string text = testing::ReadFile(fs::path(JB_SOURCE_DIR) / "packaging/systemd" / unit);
    EXPECT_NE(text.find("\nKillMode=process\n"), std::string::npos) << unit;
  }
}

TEST(WorkerLifetime, WorkersAreInTheirOwnSessionsOutliveASigtermAndAreAdoptedByTheNextDaemon) {
  testing::TempDir dir;
  fs::path state = dir.path() / "state";
  fs::path manifests = testing::VqaWithCount(dir.path(), 40 * 600);
  std::map<std::string, int64_t> pids;
  {
    Daemon d(state, {}, {"--manifest-dir", manifests.string()});
    HttpClientOptions c;
    pids = WaitVqaReadyWorkerPids(d, state, &c);
    ASSERT_EQ(pids.size(), 6u);
    for (const auto& [w, pid] : pids) {
      const pid_t p = static_cast<pid_t>(pid);
      EXPECT_EQ(::getsid(p), p) << w << " is not a session leader";
      EXPECT_NE(::getsid(p), ::getsid(d.pid())) << w << " shares the daemon's session";
      EXPECT_NE(::getpgid(p), ::getpgid(d.pid())) << w << " is in the daemon's process group";
    }
    d.KeepWorkers();
    EXPECT_EQ(d.Stop(), 0) << "a SIGTERM (what systemd sends at stop/restart) is a clean stop";
  }
  for (const auto& [w, pid] : pids) EXPECT_TRUE(IsWorker(pid)) << w << " died with the daemon";
  Daemon d(state, {}, {"--manifest-dir", manifests.string()});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        return wf && ConditionOf(*wf, "Ready") == "True";
      },
      30s));
  for (const auto& [w, m] : Reports(state)) EXPECT_EQ(m.pid, pids[w]) << w << " was restarted instead of adopted";
}

}  // namespace
}  // namespace jb
