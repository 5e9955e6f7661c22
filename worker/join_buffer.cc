#include "worker/join_buffer.h"

#include <algorithm>

namespace jb {

void JoinBuffer::Heard(const Task& part, TimePoint now) {
  Sender& s = senders_[{part.item.op(), part.via}];
  s.newest = std::max(s.newest, part.item.seq());
  s.last = now;
}

JoinBuffer::Offered JoinBuffer::Offer(Task& part, Task* joined, TimePoint now) {
  uint64_t seq = part.item.seq();
  Heard(part, now);
  if (auto j = joined_.find(seq); j != joined_.end()) {  // completed, outputs not yet safe
    ledger_->MoveOrigins(part.hold, j->second);          // acknowledged with the joined item
    ledger_->Unref(part.hold);
    return Offered::kRepeat;
  }
  if (auto done = done_.find(seq); done != done_.end()) {
    if (done->second == Done::kExpired) return Offered::kLate;  // dropped like its other parts
    if (done->second == Done::kMismatched) {
      mismatched_.push_back(std::move(part));
      return Offered::kMismatch;
    }
    ledger_->Unref(part.hold);  // completed and safe: acknowledge directly
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
  std::string key;
  bool differ = false;
  for (const auto& [name, pt] : p.parts) {
    const std::string& k = pt.item.request_key();
    if (k.empty()) continue;
    if (!key.empty() && k != key) differ = true;
    key = k;
  }
  if (differ) {
    for (auto& [name, pt] : p.parts) mismatched_.push_back(std::move(pt));
    pending_.erase(seq);
    Remember(seq, Done::kMismatched);
    return Offered::kMismatch;
  }
  *joined = Join(p, now);
  pending_.erase(seq);
  joined_[seq] = joined->hold;
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
    if (joined.item.request_key().empty()) joined.item.set_request_key(pt.item.request_key());
    if (joined.item.label().empty()) joined.item.set_label(pt.item.label());
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
  Remember(seq, Done::kJoined);
}

void JoinBuffer::Remember(uint64_t seq, Done how) {
  done_[seq] = how;
  order_.push_back(seq);
  while (order_.size() > kRememberJoined) {
    done_.erase(order_.front());
    order_.pop_front();
  }
}

bool JoinBuffer::Behind(uint64_t seq, const Pending& p, TimePoint since) const {
  for (const auto& [from, s] : senders_) {
    const auto& [input, via] = from;
    if (s.last >= since && s.newest < seq && !p.parts.count(input)) return true;
  }
  return false;
}

std::vector<Task> JoinBuffer::Expire(TimePoint now, std::chrono::steady_clock::duration timeout) {
  const TimePoint since = now - timeout;
  // A sender silent for the longest wait can no longer hold a waiting request back.
  std::erase_if(senders_, [&](const auto& s) { return s.second.last < now - kLaggingCap * timeout; });
  std::vector<Task> dropped;
  for (auto it = pending_.begin(); it != pending_.end();) {
    const auto waited = now - it->second.first;
    if (waited < timeout || (waited < kLaggingCap * timeout && Behind(it->first, it->second, since))) {
      ++it;
      continue;
    }
    for (auto& [producer, part] : it->second.parts) dropped.push_back(std::move(part));
    Remember(it->first, Done::kExpired);
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
