#include "worker/join_buffer.h"

#include <algorithm>

namespace jb {

JoinBuffer::Offered JoinBuffer::Offer(Task& part, Task* joined, TimePoint now) {
  uint64_t seq = part.item.seq();
  if (auto j = joined_.find(seq); j != joined_.end()) {  // completed, outputs not yet safe
    ledger_->MoveOrigins(part.hold, j->second);          // acknowledged with the joined item
    ledger_->Unref(part.hold);
    return Offered::kRepeat;
  }
  if (auto done = done_.find(seq); done != done_.end()) {
    if (done->second) return Offered::kLate;  // dropped like its other parts
    ledger_->Unref(part.hold);                // completed and safe: acknowledge directly
    return Offered::kRepeat;
  }
  auto& p = pending_[seq];
  if (p.parts.empty()) p.first = now;
  const std::string producer = part.item.op();
  if (auto have = p.parts.find(producer); have != p.parts.end()) {
    ledger_->MoveOrigins(part.hold, have->second.hold);
    ledger_->Unref(part.hold);
    return Offered::kRepeat;
  }
  p.parts.emplace(producer, std::move(part));
  if (p.parts.size() < inputs_.size()) return Offered::kWaiting;
  *joined = Join(p, now);
  pending_.erase(seq);
  joined_[seq] = joined->hold;
  order_.push_back(seq);
  ledger_->Ref(joined->hold);  // the buffer's reference, released by Completed()
  return Offered::kJoined;
}

// One item whose hold releases every part's hold (each part's reference passes to it).
Task JoinBuffer::Join(Pending& p, TimePoint now) {
  Task joined;
  joined.enqueued = now;
  joined.hold = ledger_->New(p.parts.begin()->second.item.epoch());
  std::vector<std::string> sources;
  for (const auto& in : inputs_) {
    auto part = p.parts.find(in);
    if (part == p.parts.end()) continue;
    Task& pt = part->second;
    if (joined.item.trace_ns_size() == 0) {  // key, seq, first trace
      joined.item = pt.item;
      joined.item.clear_payload();
      joined.parts.clear();
    } else if (pt.item.trace_ns_size() > 0 && pt.item.trace_ns(0) < joined.item.trace_ns(0)) {
      joined.item.set_trace_ns(0, pt.item.trace_ns(0));
    }
    joined.parts.push_back(TaskPart{in, std::move(*pt.item.mutable_payload())});
    sources.push_back(pt.item.source());
    ledger_->AddParent(joined.hold, pt.hold);
  }
  std::sort(sources.begin(), sources.end());
  std::string src;
  for (const auto& s : sources) src += (src.empty() ? "" : "+") + s;
  joined.item.set_source(src);
  return joined;
}

void JoinBuffer::Completed(uint64_t seq) {
  auto j = joined_.find(seq);
  if (j == joined_.end()) return;
  HoldId h = j->second;
  joined_.erase(j);
  ledger_->Unref(h);
  done_[seq] = false;
  while (order_.size() > kRememberJoined) {
    done_.erase(order_.front());
    order_.pop_front();
  }
}

std::vector<Task> JoinBuffer::Expire(TimePoint cutoff) {
  std::vector<Task> dropped;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.first > cutoff) {
      ++it;
      continue;
    }
    for (auto& [producer, part] : it->second.parts) dropped.push_back(std::move(part));
    done_[it->first] = true;
    order_.push_back(it->first);
    it = pending_.erase(it);
  }
  return dropped;
}

int64_t JoinBuffer::parts_waiting() const {
  int64_t n = 0;
  for (const auto& [seq, p] : pending_) n += static_cast<int64_t>(p.parts.size());
  return n;
}

}  // namespace jb
