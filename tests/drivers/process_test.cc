// RunCommand (drivers/process.h): exit status as a result, signals as 128 + signal, both outputs
// captured in full (more than a pipe holds), the deadline kills the whole process group, exactly
// the given environment, stdin from a file, and no descriptor leaked either way.
#include "drivers/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/test_util.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

StatusOr<CommandResult> Sh(const std::string& script, CommandOptions opts = {}) {
  return RunCommand({"/bin/sh", "-c", script}, opts);
}

size_t OpenFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Whether `pid` is gone or a zombie nobody reaped yet (it no longer runs).
bool Gone(pid_t pid) {
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto rp = stat.rfind(')');
  return stat.empty() || (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z');
}

TEST(RunCommand, ANonZeroExitIsAResultNotAnError) {
  auto r = Sh("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  auto ok = Sh("true");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->exit_status, 0);
}

TEST(RunCommand, ASignalledProgramExitsWith128PlusTheSignal) {
  auto r = Sh("kill -TERM $$");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_status, 128 + SIGTERM);
  auto k = Sh("kill -KILL $$");
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->exit_status, 128 + SIGKILL);
}

TEST(RunCommand, TheProgramStartsWithNoIgnoredOrBlockedSignals) {
  // The daemon ignores SIGPIPE and blocks signals in some threads; its helpers must not inherit that.
  struct sigaction ign {
  }, old_pipe{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ign, &old_pipe), 0);
  sigset_t hup, old_mask;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &hup, &old_mask), 0);
  auto r = RunCommand({"cat", "/proc/self/status"}, {});
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // The masks in /proc/<pid>/status are hex, bit n-1 for signal n. (Other ignored signals may come
  // from whatever started the test; only the daemon's own must not reach its helpers.)
  auto mask = [&](const std::string& field) -> unsigned long long {
    auto at = r->out.find(field + ":\t");
    return at == std::string::npos ? ~0ULL : std::stoull(r->out.substr(at + field.size() + 2, 16), nullptr, 16);
  };
  EXPECT_EQ(mask("SigBlk") & (1ULL << (SIGHUP - 1)), 0u) << r->out;
  EXPECT_EQ(mask("SigIgn") & (1ULL << (SIGPIPE - 1)), 0u) << r->out;
}

TEST(RunCommand, CapturesMoreOutputThanAPipeHoldsOnBothStreams) {
  // 1 MiB on stdout and 256 KiB on stderr, interleaved: reading one stream only would deadlock.
  auto r = Sh("i=0; while [ $i -lt 4 ]; do head -c 262144 /dev/zero; head -c 65536 /dev/zero >&2; i=$((i+1)); done");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(r->out.size(), 1048576u);
  EXPECT_EQ(r->err.size(), 262144u);
}

TEST(RunCommand, TheDeadlineKillsTheWholeProcessGroup) {
  testing::TempDir dir;
  fs::path pidfile = dir.path() / "child.pid";
  CommandOptions opts;
  opts.timeout_s = 1.5;  // long enough for a loaded machine to start the shell and its child
  auto t0 = std::chrono::steady_clock::now();
  // The shell's child keeps the pipes open; only a kill of the group ends both.
  auto r = Sh("sleep 30 & echo $! > " + pidfile.string() + "; echo partial >&2; wait", opts);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded) << r.status().message();
  EXPECT_NE(r.status().message().find("1.5 s timeout"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("partial"), std::string::npos)
      << "stderr so far is quoted: " << r.status().message();
  EXPECT_GE(took, 1.5);
  EXPECT_LT(took, 6.5);
  pid_t child = static_cast<pid_t>(std::atol(testing::ReadFile(pidfile).c_str()));
  ASSERT_GT(child, 0);
  EXPECT_TRUE(testing::WaitFor([&] { return Gone(child); }, 5s)) << "the background child survived the deadline";
}

TEST(RunCommand, TheProgramGetsExactlyTheGivenEnvironmentPlusAFixedPath) {
  ::setenv("JB_PROCESS_TEST_SECRET", "must-not-leak", 1);
  CommandOptions opts;
  opts.env = {{"A", "1"}, {"B", "two words"}};
  auto r = RunCommand({"env"}, opts);  // found through the fixed PATH
  ::unsetenv("JB_PROCESS_TEST_SECRET");
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::set<std::string> lines;
  std::istringstream in(r->out);
  for (std::string l; std::getline(in, l);) lines.insert(l);
  EXPECT_EQ(lines, (std::set<std::string>{"A=1", "B=two words", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}));
}

TEST(RunCommand, StdinComesFromTheGivenFileOrDevNull) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "in.txt") << "hello\nworld\n";
  CommandOptions opts;
  opts.stdin_path = (dir.path() / "in.txt").string();
  auto r = RunCommand({"cat"}, opts);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->out, "hello\nworld\n");
  auto empty = RunCommand({"cat"}, {});
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty->out, "");
}

TEST(RunCommand, TheProgramInheritsNoDescriptorOfTheCaller) {
  testing::TempDir dir;
  std::string marker = (dir.path() / "marker").string();
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT, 0600);  // no O_CLOEXEC on purpose
  ASSERT_GE(fd, 0);
  // The shell tests each descriptor number of its own with a builtin (nothing opened meanwhile).
  auto r =
      Sh("i=0; while [ $i -lt 1024 ]; do [ -e /proc/$$/fd/$i ] && echo $i; i=$((i+1)); done; readlink /proc/$$/fd/" +
         std::to_string(fd) + " || true");
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->out.find(marker), std::string::npos) << r->out;
  EXPECT_EQ(r->out, "0\n1\n2\n") << "descriptors of the shell";
}

TEST(RunCommand, LeaksNoDescriptorInTheCallerOnSuccessFailureOrTimeout) {
  size_t before = OpenFds();
  CommandOptions quick;
  quick.timeout_s = 0.05;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Sh("echo x; exit 1").ok());
    ASSERT_FALSE(RunCommand({"/nonexistent/program"}, {}).ok());
    ASSERT_FALSE(Sh("sleep 5", quick).ok());
  }
  EXPECT_EQ(OpenFds(), before);
}

TEST(RunCommand, AProgramThatCannotRunIsAnErrorThatNamesIt) {
  auto r = RunCommand({"/nonexistent/program", "--flag"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/program"), std::string::npos) << r.status().message();
  auto none = RunCommand({}, {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace jb
