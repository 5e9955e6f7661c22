// Sources: the generators of a workflow's requests on this worker, and the on-disk reservation of
// the sequence numbers they use.
//
// Source: emits request seq = first, first+1, ... on an absolute schedule (item i is due at
// start + i / rate, so the rate does not drift), up to `limit` items (0: no limit). An item's
// payload is the next file of its directory (round robin) or a synthetic payload of item_kib.
// A dataset source (type "dataset") replays a labelled data set (ingress/dataset.h) instead: item
// seq takes the data set's entry (seq - first) mod N in key order (sorted by key, so two dataset
// sources over the same keys emit the same key at the same seq and their parts meet at joins by
// seq), with request_key = the entry's key and label = its label. With loop false it stops after N
// items (or `limit`, whichever comes first). File contents are cached up to kDatasetCacheBytes in
// total (read once at Create); the rest is read per item. An item whose file cannot be read is
// skipped (its seq is used; Next reports the error for the caller to count as a drop and logs it
// once per streak).
//
// SeqReserver: contract (worker.h, request identity): Reserve(seq) is true only when `seq` is
// covered by a reservation written to disk, so no seq is used twice by a source worker, across
// restarts too. It reserves about 10 s of requests at a time (at least 256) and writes the next
// block on another thread once half of the current one is used, so the fsync does not stall the
// loop; the loop waits for it only if it reaches the limit first, and never uses an unwritten seq.
//
// Thread-safety: none (owned by the worker's loop; SeqReserver's background write touches only its
// own future).
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/worker_config.h"
#include "base/status.h"
#include "ingress/dataset.h"
#include "worker/durable_state.h"
#include "worker/proto/frames.pb.h"

namespace jb {

class Source {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr size_t kDatasetCacheBytes = 64u << 20;
  // InvalidArgument when `cfg.files` names a directory without files; for a dataset source, the
  // index's error (ingress::Dataset::Open: NotFound, or "PATH:LINE: ...") prefixed with the source.
  static StatusOr<std::unique_ptr<Source>> Create(const WorkerInstance& cfg, TimePoint now);
  // Dataset sources of one worker share its seq numbering, so they must replay the same keys:
  // InvalidArgument naming both sources and a key one has and the other lacks. Others are ignored.
  static Status CheckSameKeys(const std::vector<const Source*>& sources, const std::string& worker);

  const WorkerInstance& cfg() const { return cfg_; }
  // Starts numbering at `first` (the reservation's start).
  void SetFirstSeq(uint64_t first) { first_seq_ = next_seq_ = first; }
  uint64_t first_seq() const { return first_seq_; }
  uint64_t next_seq() const { return next_seq_; }
  // When the next item is due; nullopt once the limit is reached.
  std::optional<TimePoint> NextDue() const;
  // The next item (seq next_seq(), which then advances), stamped with `now_ns` and `epoch` (0: none).
  // A dataset item whose file cannot be read sets *error (when given) and must not be emitted.
  wire::Item Next(uint64_t epoch, int64_t now_ns, Status* error = nullptr);
  bool is_dataset() const { return dataset_ != nullptr; }
  // Dataset: the keys it replays, in replay order (sorted).
  std::vector<std::string> keys() const;
  // New rate and limit; the schedule is re-anchored so the next item is due at `now`.
  void SetRate(double rate, int64_t limit, TimePoint now);
  // Timer chains started for an older generation stop (SetRate starts a new one).
  uint64_t generation() const { return gen_; }
  uint64_t NewGeneration() { return ++gen_; }

 private:
  explicit Source(const WorkerInstance& cfg, TimePoint now) : cfg_(cfg), start_(now) {}
  WorkerInstance cfg_;
  TimePoint start_;
  uint64_t first_seq_ = 1, next_seq_ = 1, gen_ = 0;
  std::vector<std::string> files_;
  std::string synthetic_;
  std::shared_ptr<const ingress::Dataset> dataset_;
  std::vector<const ingress::DatasetEntry*> order_;  // entries sorted by key
  std::vector<std::optional<std::string>> cache_;    // by position in order_
  bool read_failing_ = false;                        // a read error is logged once per streak
  // Items to emit in all: `limit`, capped at the data set's size when it does not loop (0: no limit).
  int64_t Limit() const;
};

class SeqReserver {
 public:
  // `rate`: the worker's total source rate (items/s), which sizes the blocks. `worker` names the
  // worker in its log lines.
  SeqReserver(SeqReservation seqs, double rate, std::string worker)
      : seqs_(std::move(seqs)), rate_(rate), worker_(std::move(worker)) {}
  ~SeqReserver();  // waits for a background write
  uint64_t first() const { return seqs_.first(); }
  void set_rate(double rate) { rate_ = rate; }
  // True when `seq` may be used (see the contract above); a failure is logged once per streak.
  bool Reserve(uint64_t seq);

 private:
  void Settle(bool wait);
  void Failing(const Status& s);
  SeqReservation seqs_;
  double rate_;
  std::string worker_;
  std::future<Status> next_;  // the next block being written
  uint64_t next_limit_ = 0;
  bool failing_ = false;
};

}  // namespace jb
