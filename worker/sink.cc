#include "worker/sink.h"

#include <algorithm>

namespace jb {

StatusOr<std::unique_ptr<Sink>> Sink::Open(const std::string& record_path, int64_t* skipped) {
  auto sink = std::make_unique<Sink>();
  Sink* s = sink.get();
  auto r = DeliveryRecord::Open(
      record_path, kRecordBytes, [s](const DeliveryRecord::Entry& e) { s->delivered_[e.source].Add(e.seq); }, skipped);
  if (!r.ok()) return r.status();
  sink->record_ = std::move(*r);
  return sink;
}

bool Sink::Deliver(const std::string& source, uint64_t seq, int64_t emitted_ns) {
  auto& seen = delivered_[source];
  if (seen.Contains(seq)) return false;
  seen.Add(seq);
  if (record_) record_->Add(source, seq, emitted_ns);
  if (emitted_ns != 0) {
    ++by_emit_[emitted_ns / kBucketNs];
    if (first_emit_ns_ == 0 || emitted_ns < first_emit_ns_) first_emit_ns_ = emitted_ns;
  }
  return true;
}

Status Sink::Flush() {
  if (!record_ || record_->empty()) return Status::Ok();
  return record_->Flush();
}

// Counting deliveries by when their request was emitted: sources emit on an exact schedule, so a
// pipeline that keeps up shows the offered rate; one that falls behind delivers late or never and
// shows less. Deliveries counted by arrival time would mix in latency jitter.
void Sink::Rate(int64_t now_ns, double p99_ms, double* rate, bool* complete) {
  constexpr int64_t kWindowNs = 5'000'000'000;
  int64_t delay = std::clamp<int64_t>(static_cast<int64_t>(2e6 * p99_ms), 2'000'000'000, 30'000'000'000);
  int64_t hi = (now_ns - delay) / kBucketNs, lo = hi - kWindowNs / kBucketNs;
  int64_t n = 0;
  for (auto it = by_emit_.lower_bound(lo); it != by_emit_.end() && it->first < hi; ++it) n += it->second;
  *rate = static_cast<double>(n) / (static_cast<double>(kWindowNs) / 1e9);
  *complete = first_emit_ns_ != 0 && first_emit_ns_ / kBucketNs <= lo;
  while (!by_emit_.empty() && by_emit_.begin()->first < lo - 600) by_emit_.erase(by_emit_.begin());
}

}  // namespace jb
