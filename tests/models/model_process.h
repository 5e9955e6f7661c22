// Test helper: a model process for the exec runtime, started with pipes on its stdin/stdout, and
// the frames it answers (exec framing, worker/exec_framing.h), each read with a deadline.
// The destructor kills and reaps a process still running. One thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "worker/exec_framing.h"

extern char** environ;

namespace jb::modeltest {

class ModelProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts argv[0] (a path) with the environment minus the names in `unset`, plus `add`.
  ModelProcess(const std::vector<std::string>& argv, const std::vector<std::string>& unset = {},
               const std::vector<std::string>& add = {}, exec::Framing framing = exec::Framing::kV2)
      : dec_(framing) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<std::string> env;
    for (char** p = environ; *p != nullptr; ++p) {
      std::string e = *p;
      bool drop = false;
      for (const auto& u : unset) drop = drop || e.rfind(u + "=", 0) == 0;
      if (!drop) env.push_back(e);
    }
    env.insert(env.end(), add.begin(), add.end());
    std::vector<char*> a, e;
    std::vector<std::string> args = argv;
    for (auto& s : args) a.push_back(s.data());
    a.push_back(nullptr);
    for (auto& s : env) e.push_back(s.data());
    e.push_back(nullptr);
    if (posix_spawn(&pid_, a[0], &fa, nullptr, a.data(), e.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~ModelProcess() {
    if (in_ >= 0) close(in_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  ModelProcess(const ModelProcess&) = delete;
  ModelProcess& operator=(const ModelProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  bool Send(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = write(in_, bytes.data() + at, bytes.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }
  void CloseInput() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }

  // The next frame, or nullopt at the deadline, at end of output or on a framing error.
  std::optional<exec::RawFrame> Read(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto next = dec_.Next();
      if (!next.ok()) return std::nullopt;
      if (next->has_value()) return std::move(**next);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[65536];
      ssize_t n = read(out_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      dec_.Feed(buf, static_cast<size_t>(n));
    }
  }

  // Sends the worker's hello and returns the model's hello text ("" when none came).
  std::string Hello() {
    std::string h;
    if (!exec::EncodeHello("{\"framing\":2}", {}, &h).ok() || !Send(h)) return "";
    auto f = Read(std::chrono::seconds(60));
    if (!f) return "";
    auto text = exec::DecodeHelloBody(f->body, {});
    return text.ok() ? *text : "";
  }

  // One request, one response (nullopt when none came or it does not decode).
  std::optional<exec::Response> Call(const exec::Request& req) {
    std::string bytes;
    if (!exec::EncodeRequest(req, {}, &bytes).ok() || !Send(bytes)) return std::nullopt;
    auto f = Read();
    if (!f) return std::nullopt;
    auto r = exec::DecodeResponseBody(f->body, {});
    if (!r.ok()) return std::nullopt;
    return std::move(*r);
  }

  // The exit code once the process has exited (within the timeout), else -1.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + timeout;
    while (pid_ > 0) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (Clock::now() >= deadline) return -1;
      pollfd p{out_, POLLIN, 0};  // wakes on the output's end too
      if (poll(&p, 1, 10) > 0) {
        char buf[4096];
        if (read(out_, buf, sizeof(buf)) < 0 && errno != EINTR && errno != EAGAIN) continue;
      }
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  exec::ExecStreamDecoder dec_;
};

}  // namespace jb::modeltest
