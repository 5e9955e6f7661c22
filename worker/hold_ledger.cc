#include "worker/hold_ledger.h"

#include <cstdio>
#include <cstdlib>

namespace jb {

namespace {
// A reference to a hold that does not exist is a broken internal invariant (every reference is
// taken on a live hold and released once): continuing would acknowledge something unsafe.
[[noreturn]] void Broken(const char* what, HoldId h) {
  std::fprintf(stderr, "hold ledger: %s of unknown hold %llu\n", what, static_cast<unsigned long long>(h));
  std::abort();
}
}  // namespace

HoldLedger::Hold* HoldLedger::Find(HoldId id) {
  uint64_t index = (id & 0xffffffffu) - 1;
  if (index >= slots_.size()) return nullptr;
  Slot& slot = slots_[index];
  if (!slot.live || slot.gen != static_cast<uint32_t>(id >> 32)) return nullptr;
  return &slot.hold;
}

HoldId HoldLedger::New(uint64_t epoch, std::string source) {
  uint32_t index;
  if (free_.empty()) {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_.back();
    free_.pop_back();
  }
  Slot& slot = slots_[index];
  ++slot.gen;
  slot.live = true;
  slot.hold.refs = 1;
  slot.hold.epoch = epoch;
  slot.hold.source = std::move(source);
  slot.hold.origins.clear();
  ++live_;
  ++by_epoch_[epoch];
  return (static_cast<uint64_t>(slot.gen) << 32) | (static_cast<uint64_t>(index) + 1);
}

void HoldLedger::AddAck(HoldId h, const AckRef& a) {
  Hold* hold = Find(h);
  if (hold == nullptr) Broken("AddAck", h);
  hold->origins.push_back(Origin{0, a});
}

void HoldLedger::AddParent(HoldId child, HoldId parent) {
  Hold* hold = Find(child);
  if (hold == nullptr) Broken("AddParent", child);
  hold->origins.push_back(Origin{parent, AckRef{}});
}

void HoldLedger::Ref(HoldId h) {
  Hold* hold = Find(h);
  if (hold == nullptr) Broken("Ref", h);
  ++hold->refs;
}

int64_t HoldLedger::refs(HoldId h) const {
  uint64_t index = (h & 0xffffffffu) - 1;
  if (index >= slots_.size() || !slots_[index].live || slots_[index].gen != static_cast<uint32_t>(h >> 32)) return 0;
  return slots_[index].hold.refs;
}

void HoldLedger::MoveOrigins(HoldId from, HoldId to) {
  Hold* f = Find(from);
  Hold* t = Find(to);
  if (f == nullptr || t == nullptr) Broken("MoveOrigins", f == nullptr ? from : to);
  for (auto& o : f->origins) t->origins.push_back(o);
  f->origins.clear();
}

void HoldLedger::Unref(HoldId id) {
  Hold* h = Find(id);
  if (h == nullptr) Broken("Unref", id);
  if (--h->refs > 0) return;
  uint32_t index = static_cast<uint32_t>((id & 0xffffffffu) - 1);
  slots_[index].live = false;  // released: no reference may reach it from here on
  --live_;
  // The callbacks and the parents' release never create a hold, so slots_ does not move and this
  // slot is not reused while its origins are walked.
  for (const auto& o : h->origins) {
    if (o.parent != 0)
      Unref(o.parent);
    else
      ack_(o.ack);
  }
  if (!h->source.empty()) source_acked_(h->source);
  if (auto e = by_epoch_.find(h->epoch); e != by_epoch_.end() && --e->second <= 0) by_epoch_.erase(e);
  h->origins.clear();
  h->source.clear();
  free_.push_back(index);
}

}  // namespace jb
