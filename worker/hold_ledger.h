// HoldLedger: the worker's record of which upstream acknowledgements wait on which work. A hold is
// created for each item the worker takes on (from a stream, a local hop, a join or a source) and
// owned by the ledger (nothing else allocates or frees one), keyed by HoldId; everything that still needs the item safe
// (a task, an unacknowledged output on a link, a join entry) keeps one reference to it.
//
// Contract (worker.h, guarantee 2: exactly once while the source lives): an item is acknowledged
// upstream exactly once, and only when its last reference is released, i.e. after every output it
// produced was acknowledged downstream, recorded by the sink or counted as dropped. Releasing a
// hold releases the reference it has on each parent hold (a local hop, a join's parts) and reports
// each stream item it stood for to `ack` (once: a hold is erased when released), and its source
// (if any) to `source_acked`. Nothing is acknowledged while any reference remains.
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace jb {

using HoldId = uint64_t;  // 0 is never a hold

// A stream item to acknowledge: the stream's index (InboundStreams), the sender incarnation it was
// received from, and its id on the stream.
struct AckRef {
  uint32_t stream = 0;
  uint64_t incarnation = 0;
  uint64_t id = 0;
};

class HoldLedger {
 public:
  HoldLedger(std::function<void(const AckRef&)> ack, std::function<void(const std::string& source)> source_acked)
      : ack_(std::move(ack)), source_acked_(std::move(source_acked)) {}
  HoldLedger(const HoldLedger&) = delete;
  HoldLedger& operator=(const HoldLedger&) = delete;

  // A new hold with one reference (the caller's), counted under `epoch`. `source`: the source
  // instance whose own item this is ("" otherwise), reported to `source_acked` on release.
  HoldId New(uint64_t epoch, std::string source = {});
  // The hold stands for stream item `a` (acknowledged on release).
  void AddAck(HoldId h, const AckRef& a);
  // `child` takes over one reference the caller has on `parent` (released with `child`).
  void AddParent(HoldId child, HoldId parent);
  void Ref(HoldId h);
  // Drops one reference; the last one releases the hold (see the contract above).
  void Unref(HoldId h);
  // Moves what `from` stands for (acks, parent references) to `to`: a repeat of an item in progress
  // is acknowledged with it. `from` keeps its references and is released as usual.
  void MoveOrigins(HoldId from, HoldId to);

  int64_t size() const { return live_; }
  int64_t refs(HoldId h) const;  // 0 when released
  const std::map<uint64_t, int64_t>& by_epoch() const { return by_epoch_; }

 private:
  struct Origin {
    HoldId parent = 0;  // 0: `ack` is a stream item
    AckRef ack;
  };
  struct Hold {
    std::vector<Origin> origins;
    int refs = 1;
    std::string source;
    uint64_t epoch = 0;
  };
  std::function<void(const AckRef&)> ack_;
  std::function<void(const std::string&)> source_acked_;
  // Holds live in slots reused through a free list (no allocation per item in the steady state).
  // A HoldId is (generation << 32) | (slot index + 1), so an id of a released hold never finds the
  // slot's next occupant.
  struct Slot {
    Hold hold;
    uint32_t gen = 0;
    bool live = false;
  };
  Hold* Find(HoldId id);
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  int64_t live_ = 0;
  std::map<uint64_t, int64_t> by_epoch_;
};

}  // namespace jb
