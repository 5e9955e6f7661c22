#include "cli/profile_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/no_sigpipe.h"

extern char** environ;

namespace jb::profile {
namespace {

using SteadyClock = std::chrono::steady_clock;

int RemainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// How a model process that stopped talking ended: "exited with code N" / "was killed by signal
// N" once it is reaped within `wait_s` (then *pid = -1), else `otherwise`.
std::string HowItEnded(pid_t* pid, double wait_s, const std::string& otherwise) {
  const auto deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(wait_s));
  while (*pid > 0) {
    int status = 0;
    pid_t r = waitpid(*pid, &status, WNOHANG);
    if (r == *pid) {
      *pid = -1;
      return WIFEXITED(status) ? "exited with code " + std::to_string(WEXITSTATUS(status))
                               : "was killed by signal " + std::to_string(WTERMSIG(status));
    }
    if (r < 0 || RemainingMs(deadline) == 0) break;
    usleep(5000);
  }
  return otherwise;
}

}  // namespace

ExecProcess::~ExecProcess() {
  if (in_ >= 0) close(in_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0) close(out_);
  if (!err_path_.empty()) unlink(err_path_.c_str());
}

std::string ExecProcess::Describe() const { return "model process \"" + name_ + "\""; }

std::string ExecProcess::StderrTail() const {
  std::ifstream f(err_path_, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  std::string t = s.str();
  if (t.size() > 400) t = "..." + t.substr(t.size() - 400);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

Status ExecProcess::Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          double timeout_s) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  name_.clear();
  for (const auto& a : argv) name_ += (name_.empty() ? "" : " ") + a;
  char tmpl[] = "/tmp/jbctl-profile-stderr-XXXXXX";
  int err_fd = mkstemp(tmpl);
  if (err_fd < 0) return Status::Internal("cannot create a temporary file for the model's stderr");
  err_path_ = tmpl;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(err_fd);
    return Status::Internal("pipe failed");
  }
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    close(err_fd);
    return Status::Internal("pipe failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  std::vector<std::string> envs;
  for (char** p = environ; *p != nullptr; ++p) {
    std::string e = *p;
    auto eq = e.find('=');
    if (eq != std::string::npos && env.count(e.substr(0, eq))) continue;
    envs.push_back(e);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<std::string> args = argv;
  std::vector<char*> a, e;
  for (auto& s : args) a.push_back(s.data());
  a.push_back(nullptr);
  for (auto& s : envs) e.push_back(s.data());
  e.push_back(nullptr);
  int rc = posix_spawnp(&pid_, a[0], &fa, nullptr, a.data(), e.data());
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  close(err_fd);
  in_ = in[1];
  out_ = out[0];
  if (rc != 0) {
    pid_ = -1;
    return Status::NotFound("cannot start " + Describe() + ": " + std::strerror(rc));
  }
  // The worker speaks first (docs/exec-framing.md): its hello, then the model's.
  std::string hello;
  if (auto s = exec::EncodeHello("{\"framing\":2,\"client\":\"jbctl profile\"}", exec::Limits{}, &hello); !s.ok())
    return s;
  if (auto s = Send(hello); !s.ok()) return s;
  auto body = NextBody(timeout_s);
  if (!body.ok()) return Status::Unavailable(body.status().message());
  if (exec::BodyType(*body) != exec::Type::kHello)
    return Status::Unavailable(Describe() + " did not start with a hello frame (exec framing v2)");
  return Status::Ok();
}

StatusOr<std::string> ExecProcess::NextBody(double timeout_s) {
  const auto deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
  char buf[65536];
  for (;;) {
    auto next = dec_.Next();
    if (!next.ok()) return Status::Unavailable(Describe() + " broke the framing: " + next.status().message());
    if (next->has_value()) {
      if (!(*next)->skipped.ok()) return Status::Unavailable(Describe() + ": " + (*next)->skipped.message());
      return std::move((*next)->body);
    }
    pollfd p{out_, POLLIN, 0};
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0)
      return Status::DeadlineExceeded(Describe() + " did not answer within " + std::to_string(timeout_s) + " s");
    ssize_t r = read(out_, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string how = HowItEnded(&pid_, 5.0, "closed its stdout");
      std::string tail = StderrTail();
      return Status::Unavailable(Describe() + " " + how + (tail.empty() ? "" : "; its stderr: " + tail));
    }
    dec_.Feed(buf, static_cast<size_t>(r));
  }
}

StatusOr<exec::Response> ExecProcess::Call(const exec::Request& req, double timeout_s) {
  std::string frame;
  if (auto s = exec::EncodeRequest(req, exec::Limits{}, &frame); !s.ok()) return s;
  if (auto s = Send(frame); !s.ok()) return s;
  auto body = NextBody(timeout_s);
  if (!body.ok()) return body.status();
  auto resp = exec::DecodeResponseBody(*body, exec::Limits{});
  if (!resp.ok()) return Status::Unavailable(Describe() + " sent a bad answer: " + resp.status().message());
  if (resp->key != req.key)
    return Status::Unavailable(Describe() + " answered key \"" + resp->key + "\" to request \"" + req.key + "\"");
  if (!resp->ok) return Status::Unavailable(Describe() + " failed item \"" + req.key + "\": " + resp->data);
  return resp;
}

Status ExecProcess::Send(const std::string& frame) {
  ScopedNoSigpipe no_sigpipe;  // a model process that exited is an EPIPE here, not the end of jbctl
  size_t at = 0;
  while (at < frame.size()) {
    ssize_t n = write(in_, frame.data() + at, frame.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string how = HowItEnded(&pid_, 5.0, "stopped reading its stdin");
      auto tail = StderrTail();
      return Status::Unavailable(Describe() + " " + how + (tail.empty() ? "" : "; its stderr: " + tail));
    }
    at += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status ExecProcess::Finish(double timeout_s) {
  if (in_ >= 0) close(in_);
  in_ = -1;
  const auto deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
  while (pid_ > 0) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
      return Status::Unavailable(Describe() + " did not exit cleanly at the end of its input");
    }
    if (RemainingMs(deadline) == 0)
      return Status::DeadlineExceeded(Describe() + " did not exit at the end of its input");
    usleep(10000);
  }
  return Status::Ok();
}

}  // namespace jb::profile
