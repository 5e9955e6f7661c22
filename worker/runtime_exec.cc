// The exec runtime: a persistent model process per operator instance (worker/model_process.h), on
// its stdin and stdout, in exec framing v2 or, with `runtime.framing: 1`, v1 (docs/exec-framing.md).
//
// v2: Start() spawns the process, writes the worker's hello and waits up to the start-up timeout
// (30 s) for the model's hello; a process that exits, sends anything else or nothing fails Start()
// with a message naming the command. Then one request frame per item: key = the item's request key,
// else its decimal request seq; one part per input, named after its producer. An answer frame with
// the request's key completes the item with its data. An error frame fails the item ("model-error";
// the message goes to stderr, at most one line per 10 s with a count of the rest) and keeps the
// process. A request that cannot be framed (over a limit of exec::Limits) fails with
// "exec-bad-request".
// v1: per item a 4-byte little-endian length and the parts concatenated in input order; the answer
// is a length and the output. Nothing is exchanged at start.
// Both: stderr goes to the worker's log; one item is in the process at a time. A process that
// exits, breaks the framing, answers another key or (restarted) sends no hello in time is killed
// and restarted after 100 ms x failures (at most 1 s), from a timer of the loop, with the hello
// awaited on the loop too (nothing blocks it once Start() has returned); its item is retried, and
// dropped ("exec-failed: why") at the third failure in a row.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "worker/exec_framing.h"
#include "worker/model_process.h"
#include "worker/runtime.h"

namespace jb {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kModelErrorLogPeriod = std::chrono::seconds(10);

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // names never hold control characters
    out += c;
  }
  return out + "\"";
}

// One line of at most 300 bytes, for the log.
std::string OneLine(std::string s) {
  if (s.size() > 300) s = s.substr(0, 300) + "...";
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

class ExecRuntime final : public Runtime {
 public:
  ExecRuntime(const WorkerInstance& cfg, const RuntimeEnv& env, const ExecRuntimeOptions& options)
      : cfg_(cfg), opts_(options), loop_(env.loop), done_(env.done) {}
  ~ExecRuntime() override { Stop(); }

  Status Start() override;
  bool Ready() const override { return state_ == State::kReady && !current_; }
  void Submit(uint64_t ticket, const RuntimeInput& in) override;
  void Stop() override {
    stopped_ = true;
    current_.reset();
    Teardown();
  }

 private:
  enum class State { kDown, kStarting, kReady };
  bool v2() const { return cfg_.runtime.framing != 1; }
  std::string Hello() const { return "{\"framing\":2,\"operator\":" + JsonString(cfg_.name) + "}"; }
  std::string Who() const { return "exec runtime of " + cfg_.name; }
  Status Spawn();
  void Respawn();
  void Teardown();
  void OnEvents(uint32_t events);
  void OnFrame(exec::RawFrame f);
  void Write();
  void Failed(const std::string& why);
  void Finish(RuntimeResult r);
  void ModelError(const std::string& message);

  WorkerInstance cfg_;
  ExecRuntimeOptions opts_;
  EventLoop* loop_;
  Completion done_;
  ModelProcess proc_;
  exec::ExecStreamDecoder dec_;
  State state_ = State::kDown;
  uint64_t gen_ = 0;  // the process's number: a timer or handler of an older one does nothing
  std::string wbuf_;
  std::optional<uint64_t> current_;  // the ticket in the process
  std::string current_key_;          // its request key (v2)
  SteadyClock::time_point started_;
  int failures_ = 0;
  bool restart_scheduled_ = false;
  bool stopped_ = false;
  SteadyClock::time_point last_error_log_{};
  int64_t unlogged_errors_ = 0;
  // Timers of the loop may outlive this runtime only if the loop does; the flag they hold does.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Starts the process and watches its pipes (non-blocking); the caller does the v2 hello.
Status ExecRuntime::Spawn() {
  if (auto s = proc_.Spawn(ModelCommand{cfg_.runtime.command, cfg_.runtime.env, -1}); !s.ok())
    return Status::Unavailable(Who() + ": " + s.message());
  ++gen_;
  dec_ = exec::ExecStreamDecoder(v2() ? exec::Framing::kV2 : exec::Framing::kV1);
  wbuf_.clear();
  return Status::Ok();
}

Status ExecRuntime::Start() {
  Teardown();
  stopped_ = false;
  if (auto s = Spawn(); !s.ok()) return s;
  if (v2()) {
    // Before the loop runs: the hello is awaited here, bounded, so that a model that cannot start
    // stops the worker from starting with a message that says why.
    auto hello = proc_.Handshake(Hello(), &dec_, SteadyClock::now() + opts_.start_timeout);
    if (!hello.ok()) {
      proc_.Kill();
      std::string why = hello.status().code() == Status::Code::kDeadlineExceeded
                            ? "sent no hello frame within " + std::to_string(opts_.start_timeout.count()) + " ms"
                            : hello.status().message();
      return Status::Unavailable(Who() + ": model process `" + CommandLine(cfg_.runtime.command) + "` " + why +
                                 " (exec framing v2: the model must answer the worker's hello, as one built on "
                                 "models/common/exec_model.h does; a v1-only model needs runtime.framing: 1)");
    }
  }
  proc_.SetNonBlocking();
  loop_->Watch(proc_.out_fd(), EPOLLIN | EPOLLRDHUP, [this](uint32_t ev) { OnEvents(ev); });
  loop_->Watch(proc_.in_fd(), EPOLLERR, [this](uint32_t ev) { OnEvents(ev | EPOLLOUT); });
  state_ = State::kReady;
  return Status::Ok();
}

// From the back-off timer: a new process, its hello awaited on the loop (v2).
void ExecRuntime::Respawn() {
  if (stopped_ || state_ != State::kDown) return;
  if (auto s = Spawn(); !s.ok()) {
    Failed(s.message());
    return;
  }
  proc_.SetNonBlocking();
  loop_->Watch(proc_.out_fd(), EPOLLIN | EPOLLRDHUP, [this](uint32_t ev) { OnEvents(ev); });
  loop_->Watch(proc_.in_fd(), EPOLLERR, [this](uint32_t ev) { OnEvents(ev | EPOLLOUT); });
  if (!v2()) {
    state_ = State::kReady;
    return;
  }
  state_ = State::kStarting;
  (void)exec::EncodeHello(Hello(), exec::Limits{}, &wbuf_);  // a short text: within every limit
  const uint64_t gen = gen_;
  std::weak_ptr<bool> alive = alive_;
  loop_->After(SteadyClock::now() + opts_.start_timeout, [this, alive, gen] {
    if (alive.expired() || gen != gen_ || state_ != State::kStarting) return;
    Failed("model process sent no hello frame within " + std::to_string(opts_.start_timeout.count()) + " ms");
  });
  Write();
}

void ExecRuntime::Teardown() {
  if (state_ != State::kDown) {
    loop_->Unwatch(proc_.in_fd());
    loop_->Unwatch(proc_.out_fd());
  }
  proc_.Kill();
  state_ = State::kDown;
  wbuf_.clear();
}

void ExecRuntime::Submit(uint64_t ticket, const RuntimeInput& in) {
  if (!v2()) {
    size_t total = 0;
    for (const auto& p : in.parts) total += p.payload.size();
    auto n = static_cast<uint32_t>(total);
    char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff), static_cast<char>((n >> 16) & 0xff),
                   static_cast<char>((n >> 24) & 0xff)};
    wbuf_.append(len, 4);
    for (const auto& p : in.parts) wbuf_ += p.payload;
  } else {
    exec::Request req;
    req.key = in.request_key.empty() ? std::to_string(in.seq) : std::string(in.request_key);
    req.parts.reserve(in.parts.size());
    for (const auto& p : in.parts) req.parts.push_back(exec::Part{std::string(p.name), std::string(p.payload)});
    if (auto s = exec::EncodeRequest(req, exec::Limits{}, &wbuf_); !s.ok()) {  // nothing appended
      std::fprintf(stderr, "%s: item %s cannot be sent: %s\n", Who().c_str(), OneLine(req.key).c_str(),
                   s.message().c_str());
      done_(ticket, RuntimeResult{RuntimeResult::Kind::kFailed, {}, 0, "exec-bad-request"});
      return;
    }
    current_key_ = std::move(req.key);
  }
  current_ = ticket;
  started_ = SteadyClock::now();
  Write();
}

void ExecRuntime::Write() {
  while (!wbuf_.empty()) {
    ssize_t n = write(proc_.in_fd(), wbuf_.data(), wbuf_.size());
    if (n > 0) {
      wbuf_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      loop_->SetEvents(proc_.in_fd(), EPOLLOUT | EPOLLERR);
      return;
    }
    Failed(std::string("write to model process: ") + std::strerror(errno));
    return;
  }
  loop_->SetEvents(proc_.in_fd(), EPOLLERR);
}

void ExecRuntime::Failed(const std::string& why) {
  Teardown();
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
  if (stopped_ || restart_scheduled_) return;
  restart_scheduled_ = true;
  auto delay = std::chrono::milliseconds(100 * std::clamp(failures_, 1, 10));
  std::fprintf(stderr, "%s: %s; restarting it in %lld ms\n", Who().c_str(), OneLine(why).c_str(),
               static_cast<long long>(delay.count()));
  std::weak_ptr<bool> alive = alive_;
  loop_->After(SteadyClock::now() + delay, [this, alive] {
    if (alive.expired()) return;
    restart_scheduled_ = false;
    Respawn();
  });
}

void ExecRuntime::Finish(RuntimeResult r) {
  r.run_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
  uint64_t ticket = *current_;
  current_.reset();
  done_(ticket, std::move(r));
}

void ExecRuntime::ModelError(const std::string& message) {
  auto now = SteadyClock::now();
  if (last_error_log_ != SteadyClock::time_point{} && now - last_error_log_ < kModelErrorLogPeriod) {
    ++unlogged_errors_;
  } else {
    std::string more = unlogged_errors_ > 0
                           ? " (and " + std::to_string(unlogged_errors_) + " more model errors since the last line)"
                           : "";
    std::fprintf(stderr, "%s: the model failed item %s: %s%s\n", Who().c_str(), OneLine(current_key_).c_str(),
                 OneLine(message).c_str(), more.c_str());
    last_error_log_ = now;
    unlogged_errors_ = 0;
  }
  Finish(RuntimeResult{RuntimeResult::Kind::kFailed, {}, 0, "model-error"});
}

void ExecRuntime::OnEvents(uint32_t events) {
  if (state_ == State::kDown) return;
  const uint64_t gen = gen_;
  auto same = [&] { return gen == gen_ && state_ != State::kDown; };
  if (events & EPOLLOUT) Write();
  if (!same() || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  char buf[65536];
  bool ended = false;
  for (;;) {
    ssize_t n = read(proc_.out_fd(), buf, sizeof(buf));
    if (n > 0) {
      dec_.Feed(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    ended = true;
    break;
  }
  // What the process wrote before it ended still counts (an answer, then an exit).
  while (same()) {
    if (!v2() && !current_) break;  // v1: an answer waits for its request, as it always did
    auto next = dec_.Next();
    if (!next.ok()) {
      Failed("model process broke the framing: " + next.status().message());
      return;
    }
    if (!next->has_value()) break;
    OnFrame(std::move(**next));
  }
  // How it ended when it is already reaped; the loop does not wait for that.
  if (ended && same()) Failed("model process " + proc_.Reap().value_or("exited"));
}

void ExecRuntime::OnFrame(exec::RawFrame f) {
  if (!v2()) {
    failures_ = 0;
    Finish(RuntimeResult{RuntimeResult::Kind::kDone, std::move(f.body), 0, {}});
    return;
  }
  const auto type = f.skipped.ok() ? exec::BodyType(f.body) : std::nullopt;
  if (state_ == State::kStarting) {
    auto hello = type == exec::Type::kHello ? exec::DecodeHelloBody(f.body, exec::Limits{})
                                            : StatusOr<std::string>(Status::InvalidArgument("not a hello frame"));
    if (!hello.ok()) {
      Failed("model process did not start with a hello frame: " + hello.status().message());
      return;
    }
    state_ = State::kReady;
    return;
  }
  if (type == exec::Type::kHello) return;  // a repeated hello needs no answer
  if (!f.skipped.ok() && current_) {       // an answer over the limits: the item fails
    failures_ = 0;
    ModelError(f.skipped.message());
    return;
  }
  auto resp = f.skipped.ok() ? exec::DecodeResponseBody(f.body, exec::Limits{}) : StatusOr<exec::Response>(f.skipped);
  if (!resp.ok()) {
    Failed("model process sent a bad frame: " + resp.status().message());
    return;
  }
  if (!current_) {
    Failed("model process answered key \"" + OneLine(resp->key) + "\" with no request in flight");
    return;
  }
  if (resp->key != current_key_) {
    Failed("model process answered key \"" + OneLine(resp->key) + "\" to request \"" + OneLine(current_key_) + "\"");
    return;
  }
  failures_ = 0;
  if (!resp->ok) {
    ModelError(resp->data);
    return;
  }
  Finish(RuntimeResult{RuntimeResult::Kind::kDone, std::move(resp->data), 0, {}});
}

}  // namespace

StatusOr<std::unique_ptr<Runtime>> MakeExecRuntimeWith(const WorkerInstance& cfg, const RuntimeEnv& env,
                                                       const ExecRuntimeOptions& options) {
  if (env.loop == nullptr || !env.done)
    return Status::InvalidArgument("exec runtime of " + cfg.name + ": no loop or completion");
  if (cfg.runtime.command.empty()) return Status::InvalidArgument("exec runtime of " + cfg.name + ": no command");
  if (cfg.runtime.framing != 1 && cfg.runtime.framing != 2)
    return Status::InvalidArgument("exec runtime of " + cfg.name + ": framing " + std::to_string(cfg.runtime.framing) +
                                   " (known: 1, 2)");
  return std::unique_ptr<Runtime>(new ExecRuntime(cfg, env, options));
}

StatusOr<std::unique_ptr<Runtime>> MakeExecRuntime(const WorkerInstance& cfg, const RuntimeEnv& env) {
  return MakeExecRuntimeWith(cfg, env, ExecRuntimeOptions{});
}

}  // namespace jb
