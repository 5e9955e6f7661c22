// Task: one item on its way through this worker, with the hold that keeps its upstream
// acknowledgement (worker/hold_ledger.h) until everything it produced is safe.
//
// Thread-safety: a value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "worker/hold_ledger.h"
#include "worker/proto/frames.pb.h"

namespace jb {

// One input of a joined item.
struct TaskPart {
  std::string name;  // the producer
  std::string payload;
};

struct Task {
  wire::Item item;
  HoldId hold = 0;
  std::chrono::steady_clock::time_point enqueued;
  // A joined item's inputs, one per producer in the operator's input order (the item's payload is
  // then empty); empty for a single-input item, whose input is item.payload().
  std::vector<TaskPart> parts;
  // Where the item came from: the inbound stream's index (InboundStreams), or kLocalHop for an
  // item of another instance of this worker. A join tells a lagging input from a lost part by it.
  static constexpr uint32_t kLocalHop = UINT32_MAX;
  uint32_t via = kLocalHop;
};

}  // namespace jb
