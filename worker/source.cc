#include "worker/source.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
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
  } else if (cfg.type == "dataset") {
    if (!cfg.dataset || cfg.dataset->empty())
      return Status::InvalidArgument("source " + cfg.name + ": type dataset needs the path of its index (dataset)");
    auto ds = ingress::Dataset::Open(*cfg.dataset);
    if (!ds.ok()) {
      std::string m = "source " + cfg.name + ": " + ds.status().message();
      return ds.status().code() == Status::Code::kNotFound ? Status::NotFound(m) : Status::InvalidArgument(m);
    }
    s->dataset_ = std::move(*ds);
    for (const auto& e : s->dataset_->entries()) s->order_.push_back(&e);
    std::sort(s->order_.begin(), s->order_.end(), [](const auto* a, const auto* b) { return a->key < b->key; });
    s->cache_.resize(s->order_.size());
    size_t cached = 0;
    for (size_t i = 0; i < s->order_.size(); ++i) {
      const auto& e = *s->order_[i];
      if (!e.file) continue;  // inline data: the data set holds it already
      std::error_code ec;
      auto size = std::filesystem::file_size(*e.file, ec);
      if (ec || cached + size > kDatasetCacheBytes) continue;  // read per item (and fail there, with its line)
      auto data = s->dataset_->ReadData(e);
      if (!data.ok()) continue;
      cached += data->size();
      s->cache_[i] = std::move(*data);
    }
  } else {
    s->synthetic_.assign(static_cast<size_t>(std::llround(cfg.item_kib * 1024)), 's');
  }
  return s;
}

int64_t Source::Limit() const {
  if (!dataset_ || cfg_.loop) return cfg_.limit;
  auto n = static_cast<int64_t>(order_.size());
  return cfg_.limit > 0 ? std::min(cfg_.limit, n) : n;
}

std::vector<std::string> Source::keys() const {
  std::vector<std::string> k;
  for (const auto* e : order_) k.push_back(e->key);
  return k;
}

Status Source::CheckSameKeys(const std::vector<const Source*>& sources, const std::string& worker) {
  const Source* first = nullptr;
  for (const Source* s : sources) {
    if (!s->is_dataset()) continue;
    if (first == nullptr) {
      first = s;
      continue;
    }
    std::vector<std::string> a = first->keys(), b = s->keys();
    if (a == b) continue;
    std::vector<std::string> only_a, only_b;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
    const bool in_first = !only_a.empty();
    const Source* has = in_first ? first : s;
    const Source* lacks = in_first ? s : first;
    const std::string& key = in_first ? only_a.front() : only_b.front();
    return Status::InvalidArgument("worker " + worker + ": dataset sources " + first->cfg_.name + " and " +
                                   s->cfg_.name + " replay different keys (" + std::to_string(a.size()) + " and " +
                                   std::to_string(b.size()) + "): key '" + key + "' is in " + has->cfg_.name +
                                   "'s index " + *has->cfg_.dataset + " but not in " + lacks->cfg_.name + "'s " +
                                   *lacks->cfg_.dataset +
                                   "; the sources of one worker share its seq numbering, so their parts join only "
                                   "when every index lists the same keys");
  }
  return Status::Ok();
}

std::optional<Source::TimePoint> Source::NextDue() const {
  uint64_t emitted = next_seq_ - first_seq_;
  const int64_t limit = Limit();
  if (limit > 0 && emitted >= static_cast<uint64_t>(limit)) return std::nullopt;
  return start_ + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(emitted) * 1e9 / cfg_.rate));
}

wire::Item Source::Next(uint64_t epoch, int64_t now_ns, Status* error) {
  uint64_t seq = next_seq_++;
  wire::Item item;
  if (epoch != 0) item.set_epoch(epoch);
  item.set_key(KeyOf(seq));
  item.set_source(cfg_.name);
  item.set_seq(seq);
  item.set_op(cfg_.name);
  if (dataset_) {
    const size_t i = (seq - first_seq_) % order_.size();
    const ingress::DatasetEntry& e = *order_[i];
    item.set_request_key(e.key);
    if (e.label) item.set_label(*e.label);
    if (cache_[i]) {
      item.set_payload(*cache_[i]);
    } else if (auto data = dataset_->ReadData(e); data.ok()) {
      item.set_payload(std::move(*data));
      read_failing_ = false;
    } else {
      Status err = Status::InvalidArgument("source " + cfg_.name + ": " + data.status().message());
      if (!read_failing_) std::fprintf(stderr, "%s (items skipped, counted as dropped)\n", err.message().c_str());
      read_failing_ = true;
      if (error != nullptr) *error = std::move(err);
    }
  } else if (!files_.empty()) {
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
