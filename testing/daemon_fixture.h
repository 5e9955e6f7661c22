// Test and benchmark fixture: a jellybeand child process on port 0 with a temp state dir, plus REST helpers.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/manifest.h"
#include "daemon/http.h"
#include "testing/util.h"

extern char** environ;

namespace jb::testing {

using Clock = std::chrono::steady_clock;

// A jellybeand child process; killed (SIGKILL) by the destructor if still running.
class Daemon {
 public:
  Daemon(const std::filesystem::path& state, std::vector<std::string> extra_env = {},
         std::vector<std::string> extra_args = {})
      : state_(state) {
    std::vector<std::string> args = {JB_JELLYBEAND, "--state-dir", state.string(), "--listen",
                                     "127.0.0.1:0", "--log-level", "warn"};
    for (auto& a : extra_args) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string s(*e);
      if (s.rfind("NOTIFY_SOCKET=", 0) == 0 || s.rfind("WATCHDOG_", 0) == 0) continue;
      env.push_back(s);
    }
    for (auto& e : extra_env) env.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::filesystem::remove(state / "endpoint");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = (state.parent_path() / (state.filename().string() + ".log")).string();
    // Neither output goes to the test's pipes: an orphaned daemon must not keep ctest waiting.
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!keep_workers_) KillWorkers(state_);
  }
  // The destructor leaves the workers running (a test that restarts the daemon over them).
  void KeepWorkers() { keep_workers_ = true; }
  // Workers outlive a killed daemon by design; tests must not leave them behind.
  static void KillWorkers(const std::filesystem::path& state) {
    std::error_code ec;
    if (!std::filesystem::exists(state / "workers", ec)) return;
    for (const auto& e : std::filesystem::recursive_directory_iterator(state / "workers", ec)) {
      if (e.path().extension() != ".pid") continue;
      long pid = std::atol(ReadFile(e.path()).c_str());
      std::string cmd = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
      if (pid > 0 && cmd.find("jellybean-worker") != std::string::npos) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
  }
  // Waits for the endpoint file and /readyz; returns the client options.
  bool WaitReady(HttpClientOptions* out, std::chrono::seconds limit = std::chrono::seconds(20)) {
    return WaitFor(
        [&] {
          std::string ep = ReadFile(state_ / "endpoint");
          while (!ep.empty() && ep.back() == '\n') ep.pop_back();
          if (ep.empty()) return false;
          out->server = ep;
          out->ca_file = (state_ / "tls/ca.crt").string();
          out->token = ReadFile(state_ / "token");
          while (!out->token.empty() && out->token.back() == '\n') out->token.pop_back();
          out->timeout_s = 5;
          auto r = HttpCall(*out, "GET", "/readyz");
          return r.ok() && r->status == 200;
        },
        limit);
  }
  // SIGTERM and wait; returns the exit status (-1 on timeout or signal).
  int Stop(std::chrono::seconds limit = std::chrono::seconds(20)) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    if (!WaitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit)) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void Signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path state_;
  pid_t pid_ = -1;
  bool keep_workers_ = false;
};

const std::string kApi = "/apis/jellybean.dev/v1alpha1/";

inline std::optional<Object> GetObject(const HttpClientOptions& c, const std::string& path) {
  auto r = HttpCall(c, "GET", kApi + path);
  if (!r.ok() || r->status != 200) return std::nullopt;
  std::vector<Diagnostic> d;
  auto o = ObjectFromText(r->body, "resp", &d);
  if (!o.ok()) return std::nullopt;
  return *o;
}

inline bool Planned(const Object& o) {
  for (const auto& c : std::get<Workflow>(o).status.conditions)
    if (c.type == "Planned" && c.status == "True") return true;
  return false;
}

}  // namespace jb::testing
