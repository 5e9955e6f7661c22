#include "worker/source.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "worker/router.h"

namespace jb {

StatusOr<std::unique_ptr<Source>> Source::Create(const WorkerInstance& cfg, TimePoint now) {
  std::unique_ptr<Source> s(new Source(cfg, now));
  if (cfg.files) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(*cfg.files, ec))
      if (e.is_regular_file()) s->files_.push_back(e.path().string());
    std::sort(s->files_.begin(), s->files_.end());
    if (s->files_.empty()) return Status::InvalidArgument("source " + cfg.name + ": no files in " + *cfg.files);
  } else {
    s->synthetic_.assign(static_cast<size_t>(std::llround(cfg.item_kib * 1024)), 's');
  }
  return s;
}

std::optional<Source::TimePoint> Source::NextDue() const {
  uint64_t emitted = next_seq_ - first_seq_;
  if (cfg_.limit > 0 && emitted >= static_cast<uint64_t>(cfg_.limit)) return std::nullopt;
  return start_ + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(emitted) * 1e9 / cfg_.rate));
}

wire::Item Source::Next(uint64_t epoch, int64_t now_ns) {
  uint64_t seq = next_seq_++;
  wire::Item item;
  if (epoch != 0) item.set_epoch(epoch);
  item.set_key(KeyOf(seq));
  item.set_source(cfg_.name);
  item.set_seq(seq);
  item.set_op(cfg_.name);
  if (!files_.empty()) {
    std::ifstream f(files_[(seq - 1) % files_.size()], std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    item.set_payload(ss.str());
  } else {
    item.set_payload(synthetic_);
  }
  item.add_trace_ns(now_ns);
  return item;
}

void Source::SetRate(double rate, int64_t limit, TimePoint now) {
  start_ =
      now - std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(next_seq_ - first_seq_) * 1e9 / rate));
  cfg_.rate = rate;
  cfg_.limit = limit;
}

SeqReserver::~SeqReserver() {
  if (next_.valid()) next_.wait();
}

void SeqReserver::Failing(const Status& s) {
  if (!failing_) std::fprintf(stderr, "worker %s: sources paused: %s\n", worker_.c_str(), s.message().c_str());
  failing_ = true;
}

void SeqReserver::Settle(bool wait) {
  if (!next_.valid()) return;
  if (!wait && next_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  Status s = next_.get();
  if (s.ok()) {
    seqs_.Adopt(next_limit_);
    failing_ = false;
  } else {
    Failing(s);
  }
}

bool SeqReserver::Reserve(uint64_t seq) {
  auto block = static_cast<uint64_t>(std::clamp(10 * rate_, 256.0, 1e7));
  Settle(!seqs_.Covers(seq));
  if (!seqs_.Covers(seq)) {  // the first block, or the background write failed: write it here
    if (auto s = seqs_.Reserve(seq + block); !s.ok()) {
      Failing(s);
      return false;
    }
    failing_ = false;
    return true;
  }
  if (!next_.valid() && seq + block / 2 >= seqs_.limit()) {
    next_limit_ = seqs_.limit() + block;
    next_ = std::async(std::launch::async,
                       [path = seqs_.path(), limit = next_limit_] { return SeqReservation::Write(path, limit); });
  }
  return true;
}

}  // namespace jb
