// The exec runtime: a persistent model process per operator instance. For each item the worker
// writes a 4-byte little-endian length and the payload (the input parts concatenated in input
// order) to its stdin; the process answers with a length and the output payload on stdout, one
// answer per request, in order. stderr goes to the worker's log. One item is in the process at a
// time. A process that exits or misbehaves is killed and restarted after 100 ms x failures (at
// most 1 s); its item is retried, and dropped ("exec-failed: why") at the third failure in a row.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "worker/framing.h"
#include "worker/runtime.h"

extern char** environ;

namespace jb {
namespace {

using SteadyClock = std::chrono::steady_clock;

class ExecRuntime final : public Runtime {
 public:
  ExecRuntime(const WorkerInstance& cfg, const RuntimeEnv& env) : cfg_(cfg), loop_(env.loop), done_(env.done) {}
  ~ExecRuntime() override { Stop(); }

  Status Start() override;
  bool Ready() const override { return pid_ > 0 && !current_; }
  void Submit(uint64_t ticket, const RuntimeInput& in) override;
  void Stop() override {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    loop_->Unwatch(in_);
    loop_->Unwatch(out_);
    close(in_);
    close(out_);
    pid_ = -1;
  }

 private:
  void OnEvents(uint32_t events);
  void Write();
  void Failed(const std::string& why);
  std::optional<std::string> TakeAnswer();

  WorkerInstance cfg_;
  EventLoop* loop_;
  Completion done_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string wbuf_, rbuf_;
  std::optional<uint64_t> current_;  // the ticket in the process
  SteadyClock::time_point started_;
  int failures_ = 0;
  bool restart_scheduled_ = false;
  // Timers of the loop may outlive this runtime only if the loop does; the flag they hold does.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

Status ExecRuntime::Start() {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> envs;
  for (char** p = environ; *p != nullptr; ++p) envs.emplace_back(*p);
  for (const auto& [k, v] : cfg_.runtime.env) envs.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const auto& a : cfg_.runtime.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    return Status::Unavailable("exec runtime of " + cfg_.name + ": cannot start " + cfg_.runtime.command[0] + ": " +
                               std::strerror(rc));
  }
  pid_ = pid;
  in_ = in[1];
  out_ = out[0];
  wbuf_.clear();
  rbuf_.clear();
  SetNonBlocking(in_);
  SetNonBlocking(out_);
  loop_->Watch(out_, EPOLLIN | EPOLLRDHUP, [this](uint32_t ev) { OnEvents(ev); });
  loop_->Watch(in_, EPOLLERR, [this](uint32_t ev) { OnEvents(ev | EPOLLOUT); });
  return Status::Ok();
}

void ExecRuntime::Submit(uint64_t ticket, const RuntimeInput& in) {
  current_ = ticket;
  started_ = SteadyClock::now();
  size_t total = 0;
  for (const auto& p : in.parts) total += p.payload.size();
  auto n = static_cast<uint32_t>(total);
  char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff), static_cast<char>((n >> 16) & 0xff),
                 static_cast<char>((n >> 24) & 0xff)};
  wbuf_.append(len, 4);
  for (const auto& p : in.parts) wbuf_ += p.payload;
  Write();
}

void ExecRuntime::Write() {
  while (!wbuf_.empty()) {
    ssize_t n = write(in_, wbuf_.data(), wbuf_.size());
    if (n > 0) {
      wbuf_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      loop_->SetEvents(in_, EPOLLOUT | EPOLLERR);
      return;
    }
    Failed(std::string("write to model process: ") + std::strerror(errno));
    return;
  }
  loop_->SetEvents(in_, EPOLLERR);
}

void ExecRuntime::Failed(const std::string& why) {
  Stop();
  ++failures_;
  if (current_) {
    uint64_t ticket = *current_;
    current_.reset();
    if (failures_ >= 3) {
      failures_ = 0;
      done_(ticket, RuntimeResult{RuntimeResult::Kind::kFailed, {}, 0, "exec-failed: " + why});
    } else {
      done_(ticket, RuntimeResult{RuntimeResult::Kind::kRetry, {}, 0, {}});  // retried on the restarted process
    }
  }
  if (!restart_scheduled_) {
    restart_scheduled_ = true;
    std::weak_ptr<bool> alive = alive_;
    loop_->After(SteadyClock::now() + std::chrono::milliseconds(100 * std::min(failures_, 10)), [this, alive] {
      if (alive.expired()) return;
      restart_scheduled_ = false;
      if (pid_ < 0) (void)Start();  // a failed start is retried at the next failure's back-off
    });
  }
}

void ExecRuntime::OnEvents(uint32_t events) {
  if (pid_ < 0) return;
  if (events & EPOLLOUT) Write();
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  char buf[65536];
  while (pid_ > 0) {
    ssize_t n = read(out_, buf, sizeof(buf));
    if (n > 0) {
      rbuf_.append(buf, static_cast<size_t>(n));
      if (rbuf_.size() > kMaxFrameBytes + 4) {
        Failed("answer exceeds the frame limit");
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Failed("model process exited");
    return;
  }
  while (current_) {
    auto answer = TakeAnswer();
    if (!answer) break;
    double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
    uint64_t ticket = *current_;
    current_.reset();
    failures_ = 0;
    done_(ticket, RuntimeResult{RuntimeResult::Kind::kDone, std::move(*answer), ms, {}});
  }
}

std::optional<std::string> ExecRuntime::TakeAnswer() {
  if (rbuf_.size() < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(rbuf_.data());
  uint32_t n = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
               (static_cast<uint32_t>(p[3]) << 24);
  if (rbuf_.size() - 4 < n) return std::nullopt;
  std::string out = rbuf_.substr(4, n);
  rbuf_.erase(0, 4 + static_cast<size_t>(n));
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<Runtime>> MakeExecRuntime(const WorkerInstance& cfg, const RuntimeEnv& env) {
  if (env.loop == nullptr || !env.done)
    return Status::InvalidArgument("exec runtime of " + cfg.name + ": no loop or completion");
  if (cfg.runtime.command.empty()) return Status::InvalidArgument("exec runtime of " + cfg.name + ": no command");
  return std::unique_ptr<Runtime>(new ExecRuntime(cfg, env));
}

}  // namespace jb
