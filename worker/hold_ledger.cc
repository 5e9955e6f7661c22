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

HoldId HoldLedger::New(uint64_t epoch, std::string source) {
  HoldId id = next_++;
  Hold& h = holds_[id];
  h.epoch = epoch;
  h.source = std::move(source);
  ++by_epoch_[epoch];
  return id;
}

void HoldLedger::AddAck(HoldId h, const AckRef& a) {
  auto it = holds_.find(h);
  if (it == holds_.end()) Broken("AddAck", h);
  it->second.origins.push_back(Origin{0, a});
}

void HoldLedger::AddParent(HoldId child, HoldId parent) {
  auto it = holds_.find(child);
  if (it == holds_.end()) Broken("AddParent", child);
  it->second.origins.push_back(Origin{parent, AckRef{}});
}

void HoldLedger::Ref(HoldId h) {
  auto it = holds_.find(h);
  if (it == holds_.end()) Broken("Ref", h);
  ++it->second.refs;
}

int64_t HoldLedger::refs(HoldId h) const {
  auto it = holds_.find(h);
  return it == holds_.end() ? 0 : it->second.refs;
}

void HoldLedger::MoveOrigins(HoldId from, HoldId to) {
  auto f = holds_.find(from);
  auto t = holds_.find(to);
  if (f == holds_.end() || t == holds_.end()) Broken("MoveOrigins", f == holds_.end() ? from : to);
  for (auto& o : f->second.origins) t->second.origins.push_back(o);
  f->second.origins.clear();
}

void HoldLedger::Unref(HoldId id) {
  auto it = holds_.find(id);
  if (it == holds_.end()) Broken("Unref", id);
  if (--it->second.refs > 0) return;
  Hold h = std::move(it->second);
  holds_.erase(it);
  for (const auto& o : h.origins) {
    if (o.parent != 0) Unref(o.parent);
    else ack_(o.ack);
  }
  if (!h.source.empty()) source_acked_(h.source);
  if (auto e = by_epoch_.find(h.epoch); e != by_epoch_.end() && --e->second <= 0) by_epoch_.erase(e);
}

}  // namespace jb
