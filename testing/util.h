// Helpers shared by the tests (tests/) and the benchmarks (bench/): run a command and capture its
// output, read files, temp dirs, spawn a logged child, and the one wait-for-a-condition helper.
// Header-only and free of GoogleTest, so a benchmark can use it. Needs JB_SOURCE_DIR defined.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" char** environ;

namespace jb::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout (stderr too when merged by the command line)
};

// Runs `cmd` through /bin/sh from the source tree root; returns its stdout and exit status.
inline CommandResult Run(const std::string& cmd) {
  CommandResult r;
  std::string full = "cd '" JB_SOURCE_DIR "' && " + cmd;
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/lab/netlab.sh, the multi-host lab script.
// A golden file's name as a GoogleTest parameter name (only [A-Za-z0-9_] allowed).
inline std::string TestNameOf(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

inline std::string LabScript() { return std::string(JB_SOURCE_DIR) + "/tests/lab/netlab.sh"; }

// Starts `args` (args[0] a path) with stdout and stderr appended to `log`; its pid, or -1.
inline pid_t SpawnLogged(std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Polls `pred` until it holds or `limit` passes; whether it held. `pred` is tried at once, then
// after 1 ms, the interval doubling up to every 50 ms: a quick condition is seen at once, a slow
// one (an HTTP GET, a metrics file read) is not polled in a tight loop. When time is up, `pred` is
// tried once more, so a condition that became true during the last interval still counts. The one
// wait helper of the tests and benchmarks: wait on a condition with a deadline, never a fixed sleep.
inline bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::chrono::milliseconds every(1);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
    every = std::min(every * 2, std::chrono::milliseconds(50));
  }
  return pred();
}

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "jbtest-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace jb::testing
