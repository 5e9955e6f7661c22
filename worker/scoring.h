// What the sink does with each answer it delivers for the first time (worker/sink.h): scores it
// against its label (observed accuracy, ingress/accuracy.h) and appends it to the result log
// (ingress/result_log.h).
//
// SinkScoring: Add() is called by the worker's loop once per delivered request (never for a
// duplicate: the caller adds only what Sink::Deliver took as new), so no request is scored twice.
//  - exact / normalized scorers judge inline on the caller's thread (a string comparison).
//  - exec: the scorer command runs on SinkScoring's own thread, so a slow or hung scorer never
//    blocks the loop. At most `max_queue` answers (and `max_queue_bytes` of them) wait for it; an
//    answer over that bound is not scored and counts as a score error (never as wrong).
//  - The result log is written on that thread as well, never on the loop: a slow or failing disk
//    delays only the log. A failure is logged to stderr once per streak (the line is then lost; the
//    delivery record, not the result log, is what acknowledgements wait for). It is fsynced on its
//    period even while no answer arrives.
// Counts (scored, correct, window, errors) are updated as verdicts arrive and may be read at any
// time; exec verdicts arrive later than their Add().
//
// ProcessScorerRunner: ScorerRunner over fork/exec (posix_spawn) with stdin/stdout pipes and a
// deadline; the process is killed and reaped on timeout.
//
// Thread-safety: SinkScoring's Add, Counts and WaitIdle may be called from any thread (the worker
// calls them from its loop); the destructor stops the thread: the exec verdicts still waiting are
// given up (not counted), their log lines are written without a verdict. ProcessScorerRunner::Run is
// thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/worker_config.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "ingress/accuracy.h"
#include "ingress/result_log.h"

namespace jb {

class ProcessScorerRunner final : public ingress::ScorerRunner {
 public:
  // The command's stdout; kUnavailable when it cannot start or exits non-zero (naming its exit code
  // or signal), kDeadlineExceeded on the timeout, kInvalidArgument when it writes over 1 MiB.
  StatusOr<std::string> Run(const std::vector<std::string>& argv, const std::string& input,
                            std::chrono::milliseconds timeout) override;
};

struct SinkScoringOptions {
  std::string scorer = "exact";             // exact | normalized | exec
  std::vector<std::string> scorer_command;  // exec: argv
  std::chrono::milliseconds exec_timeout{5000};
  std::optional<std::string> result_log;  // path; none = no log
  int64_t accuracy_window = 1000;
  size_t max_queue = 1024;  // answers waiting for the thread (exec verdicts, log lines). Default 1024.
  size_t max_queue_bytes = size_t{64} << 20;     // and their answers' bytes. Default 64 MiB.
  std::string worker;                            // names the worker in log lines
  std::chrono::milliseconds fsync_period{1000};  // the result log's; default 1 s
};

class SinkScoring {
 public:
  // The options of a sink instance (scorer, scorerCommand, resultLog, accuracyWindow).
  static SinkScoringOptions OptionsOf(const WorkerInstance& sink, const std::string& worker);
  // kInvalidArgument for an unknown scorer or an exec scorer without a command; kUnavailable when
  // the result log cannot be opened (naming its path).
  static StatusOr<std::unique_ptr<SinkScoring>> Create(SinkScoringOptions options);
  ~SinkScoring();
  SinkScoring(const SinkScoring&) = delete;
  SinkScoring& operator=(const SinkScoring&) = delete;

  struct Answer {
    std::string key;  // the request key ("" for generated items)
    std::string source;
    uint64_t seq = 0;
    std::string answer;
    std::optional<std::string> label;  // scored only when present
    std::optional<double> latency_ms;
  };
  void Add(Answer a) EXCLUDES(mu_);

  struct Counts {
    int64_t scored = 0, correct = 0, window_scored = 0, window_correct = 0, score_errors = 0;
    int64_t log_errors = 0;  // answers the result log could not take
  };
  Counts counts() const;
  // Waits until nothing is queued or running on the thread, or `timeout` passes; true when idle.
  bool WaitIdle(std::chrono::milliseconds timeout) EXCLUDES(mu_);

 private:
  explicit SinkScoring(SinkScoringOptions o) : opt_(std::move(o)), window_(static_cast<size_t>(opt_.accuracy_window)) {}
  void Count(const StatusOr<bool>& verdict);
  void Thread() EXCLUDES(mu_);
  void Log(const Answer& a, std::optional<bool> correct);

  const SinkScoringOptions opt_;
  ProcessScorerRunner runner_;
  std::unique_ptr<ingress::Scorer> scorer_;
  bool exec_ = false;
  std::unique_ptr<ingress::ResultLog> log_;
  ingress::AccuracyWindow window_;
  std::atomic<int64_t> scored_{0}, correct_{0}, errors_{0}, log_errors_{0};
  bool log_failing_ = false;  // touched by the thread only

  struct Job {
    Answer a;
    std::optional<bool> correct;  // judged already (inline scorers)
    bool to_score = false;        // exec: judge on the thread
  };
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  bool busy_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace jb
