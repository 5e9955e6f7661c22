// ModelProcess (worker/model_process.h): spawning with environment overrides and a chosen stderr,
// reaping and killing, and the bounded blocking I/O the exec runtime's Start() and jbctl profile use.
#include "worker/model_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace jb {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Everything the child writes on stdout until it closes it (bounded by 10 s).
std::string ReadAll(ModelProcess& p) {
  std::string out;
  const auto deadline = SteadyClock::now() + 10s;
  char buf[4096];
  while (SteadyClock::now() < deadline) {
    ssize_t n = read(p.out_fd(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(ModelProcess, TheEnvironmentOverridesReplaceTheParentsValues) {
  setenv("JB_MODEL_PROCESS_TEST", "parent", 1);
  ModelProcess p;
  ASSERT_TRUE(p.Spawn({{"/bin/sh", "-c", "echo \"$JB_MODEL_PROCESS_TEST $JB_ADDED\""},
                       {{"JB_MODEL_PROCESS_TEST", "child"}, {"JB_ADDED", "yes"}},
                       -1})
                  .ok());
  EXPECT_EQ(ReadAll(p), "child yes\n");
  EXPECT_EQ(p.WaitExit(10), "exited with code 0");
  EXPECT_FALSE(p.running());
  unsetenv("JB_MODEL_PROCESS_TEST");
}

TEST(ModelProcess, StderrGoesWhereTheCallerSays) {
  auto path = std::filesystem::temp_directory_path() / ("jb-model-stderr-" + std::to_string(getpid()));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ModelProcess p;
  ASSERT_TRUE(p.Spawn({{"/bin/sh", "-c", "echo oops >&2; exit 4"}, {}, fd}).ok());
  close(fd);
  EXPECT_EQ(p.WaitExit(10), "exited with code 4");
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  EXPECT_EQ(s.str(), "oops\n");
  std::filesystem::remove(path);
}

TEST(ModelProcess, ACommandThatCannotStartIsAnErrorNamingIt) {
  ModelProcess p;
  auto s = p.Spawn({{"/nonexistent/model"}, {}, -1});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "cannot start /nonexistent/model: No such file or directory");
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.in_fd(), -1);
  EXPECT_FALSE(p.Spawn({{}, {}, -1}).ok());
}

TEST(ModelProcess, KillEndsAChildThatIgnoresItsInput) {
  ModelProcess p;
  ASSERT_TRUE(p.Spawn({{"/bin/sleep", "30"}, {}, -1}).ok());
  EXPECT_FALSE(p.Reap()) << "still running";
  auto t0 = SteadyClock::now();
  p.Kill();
  EXPECT_LT(SteadyClock::now() - t0, 5s);
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.out_fd(), -1);
}

TEST(ModelProcess, HandshakeReturnsTheModelsHello) {
  ModelProcess p;
  ASSERT_TRUE(p.Spawn({{JB_EXAMPLE_MODEL}, {}, -1}).ok());
  exec::ExecStreamDecoder dec(exec::Framing::kV2);
  auto hello = p.Handshake("{\"framing\":2}", &dec, SteadyClock::now() + 10s);
  ASSERT_TRUE(hello.ok()) << hello.status().message();
  EXPECT_NE(hello->find("\"model\":\"wordcount\""), std::string::npos) << *hello;
  p.CloseInput();
  EXPECT_EQ(p.WaitExit(10), "exited with code 0") << "end of input ends the model";
}

TEST(ModelProcess, ReadFrameGivesUpAtItsDeadline) {
  ModelProcess p;
  ASSERT_TRUE(p.Spawn({{"/bin/sleep", "30"}, {}, -1}).ok());  // keeps its stdout open, writes nothing
  exec::ExecStreamDecoder dec(exec::Framing::kV2);
  auto t0 = SteadyClock::now();
  auto f = p.ReadFrame(&dec, t0 + 200ms);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_GE(SteadyClock::now() - t0, 190ms);
  EXPECT_LT(SteadyClock::now() - t0, 5s);
}

TEST(ModelProcess, ReadFrameAndWriteAllSayHowAChildEnded) {
  ModelProcess p;
  ASSERT_TRUE(p.Spawn({{"/bin/sh", "-c", "exit 9"}, {}, -1}).ok());
  exec::ExecStreamDecoder dec(exec::Framing::kV2);
  auto f = p.ReadFrame(&dec, SteadyClock::now() + 10s);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "exited with code 9");
  ModelProcess q;
  ASSERT_TRUE(q.Spawn({{"/bin/sh", "-c", "exec 0<&-; exit 5"}, {}, -1}).ok());
  q.SetNonBlocking();
  auto w = q.WriteAll(std::string(1 << 20, 'x'), SteadyClock::now() + 10s);  // more than a pipe holds
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.message(), "exited with code 5");
}

}  // namespace
}  // namespace jb
