// JoinBuffer: the parts of requests waiting at an operator with several inputs. A request's parts
// (one per input, matched by seq) become one item when the last arrives; the joined item's source
// is the sorted "+"-joined sources of its parts, its trace starts at the earliest part's. It takes
// the parts' request key (the first non-empty one: generated parts carry none) and the first
// non-empty label, in input order. Parts whose non-empty request keys differ do not join: the
// request is dropped (kMismatch, reason "join-key-mismatch"), as is any part of it that arrives later.
//
// Contract (worker.h, guarantees 3 and 4):
//  - Join drops: a request of which some parts never arrive is dropped at the join: Expire() hands
//    its parts back to be counted as "join-timeout" drops, and a part of it that arrives later is
//    handed back the same way (kLate), never taken for a duplicate. A request is given up once it
//    has waited the join timeout and no missing part can still be on its way: every sender of a
//    missing input that delivered anything within the timeout has delivered a later request (seq)
//    since. A branch that is only behind (a queue after a re-plan, a CPU-starved host) delivers in
//    seq order and has not reached the request yet, so its requests wait for it, up to kLaggingCap
//    timeouts; a part lost with a dead source is given up after one timeout, once the restarted
//    source's later requests arrive. Senders are told apart by Task::via.
//  - Duplicates counted, not dropped: a part is discarded as a duplicate (kRepeat) only when a part
//    of the same request from the same input is waiting, or the request was joined before (its
//    outputs pending or safe). A repeat is folded into the hold of what it repeats, so it is
//    acknowledged exactly when that is.
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "worker/hold_ledger.h"
#include "worker/task.h"

namespace jb {

class JoinBuffer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr size_t kRememberJoined = 65536;  // completed joins remembered for repeats

  // `inputs`: the producers feeding the operator, in order. `ledger` must outlive the buffer.
  JoinBuffer(std::vector<std::string> inputs, HoldLedger* ledger) : inputs_(std::move(inputs)), ledger_(ledger) {}

  enum class Offered {
    kWaiting,   // the part is kept until its request is complete or expires
    kJoined,    // the request is complete: *joined holds it (its task's reference); the buffer keeps
                // another reference on its hold until Completed(seq)
    kRepeat,    // a duplicate, counted by the caller; the part's reference was released
    kLate,      // a part of a request that timed out: `part` is untouched, for the caller to drop
    kMismatch,  // the request's parts carry different request keys: every part of it (this one
                // included) is handed over by TakeMismatched(), for the caller to drop
  };
  // Takes `part` (its producer is part.item.op()) unless kLate.
  Offered Offer(Task& part, Task* joined, TimePoint now);
  // The joined item of `seq` was processed (its outputs are on their way): release the buffer's
  // reference, and remember the request as joined. A seq not joined here is ignored.
  void Completed(uint64_t seq);
  // How many join timeouts a request may wait for an input that is behind (see the contract).
  static constexpr int kLaggingCap = 6;
  // Requests given up at `now` (see the contract): their parts, for the caller to drop as
  // "join-timeout".
  std::vector<Task> Expire(TimePoint now, std::chrono::steady_clock::duration timeout);
  // The parts of requests refused by kMismatch since the last call.
  std::vector<Task> TakeMismatched() { return std::move(mismatched_); }
  // Parts now waiting (shown as queue length).
  int64_t parts_waiting() const;

 private:
  struct Pending {
    std::map<std::string, Task> parts;  // producer -> part
    TimePoint first;
  };
  // The newest request and the last delivery of one sender of one input.
  struct Sender {
    uint64_t newest = 0;
    TimePoint last;
  };
  Task Join(Pending& p, TimePoint now);
  void Heard(const Task& part, TimePoint now);
  // Whether a missing part of request `seq` may still come from a sender active since `since`.
  bool Behind(uint64_t seq, const Pending& p, TimePoint since) const;
  std::vector<std::string> inputs_;
  std::map<std::pair<std::string, uint32_t>, Sender> senders_;  // (input, via) -> what it delivered
  HoldLedger* ledger_;
  std::map<uint64_t, Pending> pending_;  // seq -> parts
  std::map<uint64_t, HoldId> joined_;    // seq -> hold of the joined item, until Completed
  std::deque<uint64_t> order_;           // completed or expired seqs, oldest first
  enum class Done : uint8_t { kJoined, kExpired, kMismatched };
  std::unordered_map<uint64_t, Done> done_;  // completed, expired or mismatched requests
  std::vector<Task> mismatched_;
  void Remember(uint64_t seq, Done how);
};

}  // namespace jb
