// What a worker keeps on disk so that request identity and exactly-once delivery survive the
// restart of its process:
//
// - SeqReservation: the sequence numbers the sources of a worker may use. A request is identified
//   by (source, seq); a restarted source worker must never hand out a seq its predecessor may have
//   used, or operators and joins downstream that still remember the old requests discard the new
//   ones as repeats. The worker reserves a block of numbers on disk (fsync'ed) before emitting from
//   it and resumes after the last reserved block, so numbers only grow, across restarts too. Up to
//   one block of numbers is skipped at each restart.
// - DeliveryRecord: the sink's record of the requests it delivered, one line per request
//   ("<source> <seq> <emitted-ns> <pid>"), appended before the request is acknowledged upstream and
//   read back at start, so a restarted sink recognises a re-sent request it had already delivered.
//   The record rotates at `max_bytes` (one older file, "<path>.1", is kept and read back too).
//
// Both write with plain write(2): what was written survives a SIGKILL of the process (the page
// cache belongs to the kernel); the reservation is also fsync'ed, so it survives a power loss.
// Thread-safety: not thread-safe; each belongs to one worker loop.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace jb {

class SeqReservation {
 public:
  // Reads the reservation file at `path` (absent: a first start, numbers begin at 1). Fails when
  // the file exists but cannot be read or parsed: numbering again from 1 could reuse identities,
  // so the caller must not emit (the error names the file and what to do).
  static StatusOr<SeqReservation> Open(const std::string& path);
  // No file: numbers begin at 1 at every start (a worker without a state location, e.g. in tests).
  static SeqReservation Volatile();

  uint64_t first() const { return first_; }  // the first number this process may use
  // Whether `seq` may be used now (it lies below the reserved limit).
  bool Covers(uint64_t seq) const { return seq < limit_; }
  uint64_t limit() const { return limit_; }
  // Reserves every number below `limit` (written, fsync'ed, renamed into place). On failure
  // nothing changes and numbers >= the old limit must not be used yet.
  Status Reserve(uint64_t limit) {
    if (limit <= limit_) return Status::Ok();  // never backwards
    Status s = Write(path_, limit);
    if (s.ok()) Adopt(limit);
    return s;
  }
  // The same in two steps, so the write (an fsync: up to ~0.2 s on a busy disk) can run on another
  // thread while numbers below the current limit are used: Write() touches no member and may run
  // anywhere (the caller writes only limits above limit(), one at a time); Adopt() the limit it
  // wrote once it returned OK.
  static Status Write(const std::string& path, uint64_t limit);
  void Adopt(uint64_t limit) { limit_ = std::max(limit_, limit); }
  const std::string& path() const { return path_; }

 private:
  SeqReservation(std::string path, uint64_t first, uint64_t limit)
      : path_(std::move(path)), first_(first), limit_(limit) {}
  std::string path_;  // "" = volatile
  uint64_t first_ = 1;
  uint64_t limit_ = 1;
};

class DeliveryRecord {
 public:
  struct Entry {
    std::string source;
    uint64_t seq = 0;
    int64_t emitted_ns = 0;
    int64_t pid = 0;
  };
  // Opens (creating) the record at `path` and calls `each` for every entry already recorded in
  // "<path>.1" and `path`, oldest first. Malformed lines (a line cut by a full disk) are skipped
  // and counted in `skipped` (may be null). Fails when the files cannot be read or opened.
  static StatusOr<std::unique_ptr<DeliveryRecord>> Open(const std::string& path, int64_t max_bytes,
                                                        const std::function<void(const Entry&)>& each,
                                                        int64_t* skipped);
  ~DeliveryRecord();
  DeliveryRecord(const DeliveryRecord&) = delete;
  DeliveryRecord& operator=(const DeliveryRecord&) = delete;

  // Buffers one entry (`source` must not contain white space: workflow names do not).
  void Add(const std::string& source, uint64_t seq, int64_t emitted_ns);
  // Writes what was buffered. Call before acknowledging the requests added since the last Flush.
  Status Flush();
  bool empty() const { return buf_.empty(); }

  // Parses one record line; false when malformed.
  static bool ParseLine(const std::string& line, Entry* e);

 private:
  DeliveryRecord(std::string path, int fd, int64_t size, int64_t max_bytes)
      : path_(std::move(path)), fd_(fd), size_(size), max_bytes_(max_bytes) {}
  Status Rotate();
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
  int64_t max_bytes_ = 0;
  std::string buf_;
};

// The state files of a worker sit next to its metrics file: "<dir>/<name>.metrics.json" gives
// "<dir>/<name>" + suffix (".seq", ".delivered"). "" when the worker has no metrics file.
std::string StatePath(const std::string& metrics_file, const std::string& suffix);

}  // namespace jb
