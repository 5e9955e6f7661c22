// Result sink to a JSON-lines file: one line per answer,
//
//   {"key":"q-17","answer":"4","label":"4","correct":true,"ts":"2026-01-01T00:00:00.123Z"}
//
// With a ResultOrigin (the worker's sink gives one), the line also says where the answer came from:
//   {"key":...,"source":"A+B","seq":17,"answer":...,"label":...,"correct":...,"latency_ms":12.5,"ts":...}
// `label` and `correct` only when known; an answer that is not valid UTF-8 is written as
// "answer_base64" instead of "answer" (JSON strings cannot carry arbitrary bytes). `ts` is the
// wall-clock time of Append (UTC, milliseconds).
// Rotation: when a line would take the file over `max_file_bytes`, the file is closed (fsynced) and
// renamed PATH.1 (PATH.1 becomes PATH.2, ... up to PATH.<max_files>; the oldest is dropped), and a
// new PATH is started. A line is never split between files; a single line longer than the limit
// gets a file of its own.
// Durability: the file is fsynced when `fsync_period` has passed since the last fsync, checked on
// every Append and Tick (call Tick from a timer so a quiet log is synced too), on rotation, on
// Sync and on destruction. A crash loses at most the lines of the last period.
// Thread-safety: all methods may be called from any thread (one internal mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace jb::ingress {

struct ResultRecord {
  std::string key;
  std::string answer;
  std::optional<std::string> label;
  std::optional<bool> correct;
};

// Where an answer came from: its request's source and sequence number, and its end-to-end latency.
struct ResultOrigin {
  std::string source;
  uint64_t seq = 0;
  std::optional<double> latency_ms;  // from the source's emission; written to the microsecond
};

struct ResultLogOptions {
  std::string path;                              // required
  uint64_t max_file_bytes = 64u << 20;           // Default 64 MiB.
  int max_files = 4;                             // rotated files kept besides PATH. Default 4.
  std::chrono::milliseconds fsync_period{1000};  // Default 1 s; 0 = fsync every line.
  Clock* clock = nullptr;                        // Default Clock::Real(); not owned.
};

// The JSON line of `r` (with its trailing '\n') stamped `ts`, with `origin`'s fields when given.
std::string ResultLine(const ResultRecord& r, std::chrono::system_clock::time_point ts,
                       const ResultOrigin* origin = nullptr);

class ResultLog {
 public:
  // Opens (appending to) options.path, creating it with mode 0644. kUnavailable naming the path and
  // the error when it cannot be opened; kInvalidArgument for bad options.
  static StatusOr<std::unique_ptr<ResultLog>> Open(ResultLogOptions options);
  ~ResultLog();
  ResultLog(const ResultLog&) = delete;
  ResultLog& operator=(const ResultLog&) = delete;

  // Writes one line (rotating first if needed). kUnavailable on a write, fsync or rename error;
  // the line is then not (fully) in the log.
  Status Append(const ResultRecord& r, const ResultOrigin* origin = nullptr) EXCLUDES(mu_);
  // Fsyncs if the period has passed and lines were written since the last fsync.
  Status Tick() EXCLUDES(mu_);
  // Fsyncs now if lines were written since the last fsync.
  Status Sync() EXCLUDES(mu_);

  uint64_t syncs() const EXCLUDES(mu_);      // fsyncs done
  uint64_t rotations() const EXCLUDES(mu_);  // files rotated away

 private:
  explicit ResultLog(ResultLogOptions o) : opt_(std::move(o)) {}
  Status OpenFile() REQUIRES(mu_);
  Status Rotate() REQUIRES(mu_);
  Status SyncLocked() REQUIRES(mu_);
  Status MaybeSync() REQUIRES(mu_);

  const ResultLogOptions opt_;
  mutable Mutex mu_;
  int fd_ GUARDED_BY(mu_) = -1;
  uint64_t size_ GUARDED_BY(mu_) = 0;
  bool dirty_ GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point last_sync_ GUARDED_BY(mu_);
  uint64_t syncs_ GUARDED_BY(mu_) = 0;
  uint64_t rotations_ GUARDED_BY(mu_) = 0;
};

}  // namespace jb::ingress
