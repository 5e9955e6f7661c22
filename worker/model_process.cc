#include "worker/model_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/no_sigpipe.h"

extern char** environ;

namespace jb {
namespace {

using SteadyClock = std::chrono::steady_clock;

int RemainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left);  // poll again after a minute at most
}

void AddFlags(int fd, int flags) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | flags); }

// Waits until `fd` is ready for `events` or the deadline passes: false at the deadline.
bool WaitFd(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;  // let the read or write report the error
    if (SteadyClock::now() >= deadline) return false;
  }
}

std::string TypeName(std::string_view body) {
  if (body.empty()) return "an empty frame";
  switch (static_cast<unsigned char>(body[0])) {
    case 'A':
      return "an answer frame";
    case 'E':
      return "an error frame";
    case 'Q':
      return "a request frame";
    default:
      return "a frame of type " + std::to_string(static_cast<unsigned char>(body[0]));
  }
}

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

Status ModelProcess::Spawn(const ModelCommand& cmd) {
  Kill();
  if (cmd.argv.empty()) return Status::InvalidArgument("empty command");
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return Status::Unavailable("cannot start " + cmd.argv[0] + ": pipe: " + std::strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    close(in[0]);
    close(in[1]);
    return Status::Unavailable("cannot start " + cmd.argv[0] + ": pipe: " + std::strerror(e));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (cmd.stderr_fd >= 0) posix_spawn_file_actions_adddup2(&fa, cmd.stderr_fd, 2);
  std::vector<std::string> envs;
  for (char** p = environ; *p != nullptr; ++p) {
    std::string_view e = *p;
    auto eq = e.find('=');
    if (eq != std::string_view::npos && cmd.env.count(std::string(e.substr(0, eq)))) continue;
    envs.emplace_back(e);
  }
  for (const auto& [k, v] : cmd.env) envs.push_back(k + "=" + v);
  std::vector<std::string> args = cmd.argv;
  std::vector<char*> a, e;
  for (auto& s : args) a.push_back(s.data());
  a.push_back(nullptr);
  for (auto& s : envs) e.push_back(s.data());
  e.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), e.data());
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    return Status::Unavailable("cannot start " + cmd.argv[0] + ": " + std::strerror(rc));
  }
  pid_ = pid;
  in_ = in[1];
  out_ = out[0];
  return Status::Ok();
}

void ModelProcess::SetNonBlocking() {
  if (in_ >= 0) AddFlags(in_, O_NONBLOCK);
  if (out_ >= 0) AddFlags(out_, O_NONBLOCK);
}

void ModelProcess::CloseInput() {
  if (in_ >= 0) close(in_);
  in_ = -1;
}

std::optional<std::string> ModelProcess::Reap() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return std::nullopt;
  pid_ = -1;
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "was killed by signal " + std::to_string(WTERMSIG(status));
}

std::optional<std::string> ModelProcess::WaitExit(double wait_s) {
  const auto deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(wait_s));
  while (pid_ > 0) {
    if (auto how = Reap()) return how;
    if (SteadyClock::now() >= deadline) break;
    usleep(5000);
  }
  return std::nullopt;
}

void ModelProcess::CloseFds() {
  if (in_ >= 0) close(in_);
  if (out_ >= 0) close(out_);
  in_ = out_ = -1;
}

void ModelProcess::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);  // SIGKILL cannot be caught: this returns at once
    pid_ = -1;
  }
  CloseFds();
}

Status ModelProcess::WriteAll(std::string_view bytes, TimePoint deadline) {
  ScopedNoSigpipe no_sigpipe;  // a child that exited is an EPIPE here, not the end of the caller
  size_t at = 0;
  while (at < bytes.size()) {
    if (in_ < 0) return Status::Unavailable("stopped reading its stdin");
    ssize_t n = write(in_, bytes.data() + at, bytes.size() - at);
    if (n > 0) {
      at += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFd(in_, POLLOUT, deadline)) return Status::DeadlineExceeded("did not read its stdin in time");
      continue;
    }
    return Status::Unavailable(WaitExit(5.0).value_or("stopped reading its stdin"));
  }
  return Status::Ok();
}

StatusOr<exec::RawFrame> ModelProcess::ReadFrame(exec::ExecStreamDecoder* dec, TimePoint deadline) {
  char buf[65536];
  for (;;) {
    auto next = dec->Next();
    if (!next.ok()) return Status::Unavailable("broke the framing: " + next.status().message());
    if (next->has_value()) return std::move(**next);
    if (out_ < 0) return Status::Unavailable("closed its stdout");
    if (!WaitFd(out_, POLLIN, deadline)) return Status::DeadlineExceeded("no frame in time");
    ssize_t r = read(out_, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (r <= 0) return Status::Unavailable(WaitExit(5.0).value_or("closed its stdout"));
    dec->Feed(buf, static_cast<size_t>(r));
  }
}

StatusOr<std::string> ModelProcess::Handshake(std::string_view hello_text, exec::ExecStreamDecoder* dec,
                                              TimePoint deadline) {
  // The worker speaks first (docs/exec-framing.md): its hello, then the model's.
  std::string hello;
  if (auto s = exec::EncodeHello(hello_text, exec::Limits{}, &hello); !s.ok()) return s;
  if (auto s = WriteAll(hello, deadline); !s.ok()) return s;
  auto frame = ReadFrame(dec, deadline);
  if (!frame.ok()) return frame.status();
  if (!frame->skipped.ok()) return Status::Unavailable("sent an unusable first frame: " + frame->skipped.message());
  if (exec::BodyType(frame->body) != exec::Type::kHello)
    return Status::Unavailable("sent " + TypeName(frame->body) + " instead of a hello frame");
  auto text = exec::DecodeHelloBody(frame->body, exec::Limits{});
  if (!text.ok()) return Status::Unavailable("sent a malformed hello frame: " + text.status().message());
  return std::move(*text);
}

}  // namespace jb
