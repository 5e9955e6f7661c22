// Sink: the end of a workflow on this worker. It counts each request once, keeps the latency and
// emission-time figures of what it delivered, and (with a state directory) writes its delivery
// record (worker/durable_state.h). What it delivers for the first time is then scored and logged
// by the instance's SinkScoring (worker/scoring.h); a duplicate never is.
//
// Contract (worker.h, guarantee 1: at most once): Deliver() returns true for a request identity
// (source, seq) at most once over the life of the record: the identity is appended to the record
// when it is first delivered, the record is read back when the sink is opened, and Flush() must
// succeed before anything delivered is acknowledged upstream. A repeat returns false (counted as a
// duplicate by the caller, never as a drop); a new identity is never taken for a repeat (DoneSet).
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "worker/done_set.h"
#include "worker/durable_state.h"

namespace jb {

class Sink {
 public:
  static constexpr int64_t kBucketNs = 100'000'000;
  static constexpr int64_t kRecordBytes = 16 << 20;  // the record rotates at 16 MiB (two files kept)

  // A sink without a record (in-process tests): at most once within this process.
  Sink() = default;
  // Opens (or creates) the record at `record_path` and restores what it holds. Fails when the
  // record cannot be opened; `skipped` receives the number of malformed lines passed over.
  static StatusOr<std::unique_ptr<Sink>> Open(const std::string& record_path, int64_t* skipped);

  // True when (source, seq) is new: it is then recorded (written by the next Flush()) and counted
  // by its emission time `emitted_ns` (0: unknown).
  bool Deliver(const std::string& source, uint64_t seq, int64_t emitted_ns);
  // Writes what was delivered since the last call. False when that failed: then no
  // acknowledgement may go out (the next call retries).
  Status Flush();
  bool has_record() const { return record_ != nullptr; }

  // Deliveries per second of requests emitted in the 5 s window that ended `delay` before
  // `now_ns`, delay = twice `p99_ms` (2..30 s); `complete` when the window lies after the first
  // emission seen (a full measurement). Forgets buckets a minute older than the window.
  void Rate(int64_t now_ns, double p99_ms, double* rate, bool* complete);

 private:
  std::map<std::string, DoneSet> delivered_;  // source -> seqs delivered
  std::map<int64_t, int64_t> by_emit_;        // deliveries per 100 ms bucket of emission time
  int64_t first_emit_ns_ = 0;
  std::unique_ptr<DeliveryRecord> record_;
};

}  // namespace jb
