#include "worker/scoring.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/no_sigpipe.h"

extern char** environ;

namespace jb {
namespace {

constexpr size_t kMaxScorerOutput = 1 << 20;

struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with status " + std::to_string(status);
}

}  // namespace

StatusOr<std::string> ProcessScorerRunner::Run(const std::vector<std::string>& argv, const std::string& input,
                                               std::chrono::milliseconds timeout) {
  if (argv.empty()) return Status::InvalidArgument("no command");
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  Fd in_r{in_pipe[0]}, in_w{in_pipe[1]};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  Fd out_r{out_pipe[0]}, out_w{out_pipe[1]};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Status::Unavailable("cannot start \"" + argv[0] + "\": " + std::strerror(rc));
  in_r.Close();
  out_w.Close();
  ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  size_t written = 0;
  bool timed_out = false, too_much = false;
  if (input.empty()) in_w.Close();
  {
    ScopedNoSigpipe no_sigpipe;  // a scorer that exits without reading its stdin is an EPIPE, not a signal
    while (out_r.fd >= 0) {
      pollfd p[2] = {{out_r.fd, POLLIN, 0}, {in_w.fd, POLLOUT, 0}};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      const int n = ::poll(p, in_w.fd >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)) + 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      if (in_w.fd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t w = ::write(in_w.fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) in_w.Close();  // the scorer stopped reading
        if (written == input.size()) in_w.Close();
      }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[4096];
        const ssize_t r = ::read(out_r.fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          out_r.Close();
        } else if (out.size() + static_cast<size_t>(r) > kMaxScorerOutput) {
          too_much = true;
          break;
        } else {
          out.append(buf, static_cast<size_t>(r));
        }
      }
    }
  }
  in_w.Close();
  out_r.Close();
  if (timed_out || too_much) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Status::DeadlineExceeded("timed out after " + std::to_string(timeout.count()) + " ms");
  if (too_much) return Status::InvalidArgument("wrote over " + std::to_string(kMaxScorerOutput) + " bytes");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Status::Unavailable(ExitText(status));
  return out;
}

SinkScoringOptions SinkScoring::OptionsOf(const WorkerInstance& sink, const std::string& worker) {
  SinkScoringOptions o;
  o.scorer = sink.scorer;
  o.scorer_command = sink.scorer_command;
  o.result_log = sink.result_log;
  o.accuracy_window = sink.accuracy_window;
  o.worker = worker;
  return o;
}

StatusOr<std::unique_ptr<SinkScoring>> SinkScoring::Create(SinkScoringOptions options) {
  std::unique_ptr<SinkScoring> s(new SinkScoring(std::move(options)));
  const SinkScoringOptions& o = s->opt_;
  auto scorer = ingress::MakeScorer(o.scorer, {o.scorer_command, o.exec_timeout, 4096}, &s->runner_);
  if (!scorer.ok()) return Status::InvalidArgument("sink: " + scorer.status().message());
  s->scorer_ = std::move(*scorer);
  s->exec_ = o.scorer == "exec";
  if (o.result_log) {
    ingress::ResultLogOptions lo;
    lo.path = *o.result_log;
    lo.fsync_period = o.fsync_period;
    auto log = ingress::ResultLog::Open(std::move(lo));
    if (!log.ok()) return log.status();
    s->log_ = std::move(*log);
  }
  if (s->exec_ || s->log_) s->thread_ = std::thread([p = s.get()] { p->Thread(); });
  return s;
}

SinkScoring::~SinkScoring() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void SinkScoring::Count(const StatusOr<bool>& verdict) {
  if (!verdict.ok()) {
    ++errors_;
    return;
  }
  window_.Add(*verdict);
  if (*verdict) ++correct_;
  ++scored_;  // last: a reader that sees `scored` sees its `correct` too
}

void SinkScoring::Add(Answer a) {
  Job j;
  if (a.label && !exec_) {
    auto v = scorer_->Score(a.key, a.answer, *a.label);
    Count(v);
    if (v.ok()) j.correct = *v;
  }
  if (!thread_.joinable()) return;
  j.to_score = a.label.has_value() && exec_;
  if (!j.to_score && !log_) return;
  j.a = std::move(a);
  {
    MutexLock l(&mu_);
    const size_t bytes = j.a.answer.size() + j.a.label.value_or("").size();
    if (queue_.size() < opt_.max_queue && queued_bytes_ + bytes <= opt_.max_queue_bytes) {
      queued_bytes_ += bytes;
      queue_.push_back(std::move(j));
      cv_.SignalAll();  // the thread (WaitIdle callers wait on the same variable)
      return;
    }
  }
  // Over the bound: not scored (an error, never a wrong answer) and not logged.
  if (j.to_score) ++errors_;
  if (log_) ++log_errors_;
}

void SinkScoring::Log(const Answer& a, std::optional<bool> correct) {
  if (!log_) return;
  ingress::ResultRecord r;
  r.key = a.key;
  r.answer = a.answer;
  r.label = a.label;
  r.correct = correct;
  ingress::ResultOrigin origin{a.source, a.seq, a.latency_ms};
  Status s = log_->Append(r, &origin);
  if (s.ok()) {
    if (log_failing_)
      std::fprintf(stderr, "worker %s: result log %s is written again\n", opt_.worker.c_str(),
                   opt_.result_log->c_str());
    log_failing_ = false;
    return;
  }
  ++log_errors_;
  if (!log_failing_)
    std::fprintf(stderr, "worker %s: answers are not reaching the result log (acknowledgements go on): %s\n",
                 opt_.worker.c_str(), s.message().c_str());
  log_failing_ = true;
}

void SinkScoring::Thread() {
  MutexLock l(&mu_);
  while (true) {
    if (queue_.empty()) {
      if (stop_) return;
      cv_.WaitFor(&mu_, std::chrono::milliseconds(200));
      if (queue_.empty() && log_) {
        l.Unlock();
        log_->Tick().IgnoreError();  // a sync failure shows again at the next Append
        l.Lock();
      }
      continue;
    }
    Job j = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= j.a.answer.size() + j.a.label.value_or("").size();
    busy_ = true;
    const bool stopping = stop_;
    l.Unlock();
    if (j.to_score && !stopping) {
      auto v = scorer_->Score(j.a.key, j.a.answer, *j.a.label);
      Count(v);
      if (v.ok()) j.correct = *v;
    }
    Log(j.a, j.correct);
    l.Lock();
    busy_ = false;
    cv_.SignalAll();
  }
}

bool SinkScoring::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
  while (!queue_.empty() || busy_)
    if (!cv_.WaitUntil(&mu_, deadline)) return queue_.empty() && !busy_;
  return true;
}

SinkScoring::Counts SinkScoring::counts() const {
  Counts c;
  c.scored = scored_.load();
  c.correct = correct_.load();
  auto w = window_.Snapshot();
  c.window_scored = static_cast<int64_t>(w.count);
  c.window_correct = static_cast<int64_t>(w.correct);
  c.score_errors = errors_.load();
  c.log_errors = log_errors_.load();
  return c;
}

}  // namespace jb
