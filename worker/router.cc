#include "worker/router.h"

#include <algorithm>
#include <cmath>

namespace jb {

double KeyOf(uint64_t seq) {
  constexpr double kPhiInv = 0.6180339887498949;
  double k = std::fmod(static_cast<double>(seq) * kPhiInv, 1.0);
  return k < 0 ? 0 : k;
}

bool Passes(uint64_t seq, double ratio) {
  if (ratio >= 1) return true;
  return std::floor(static_cast<double>(seq) * ratio) > std::floor(static_cast<double>(seq - 1) * ratio);
}

Router::Router(std::string self, const std::vector<WorkerEdge>& edges) : self_(std::move(self)) {
  for (const auto& e : edges) {
    ratio_[{e.from, e.to}] = e.ratio;
    consumers_[e.from].push_back(e.to);
  }
}

void Router::SetTables(const WorkerConfig& cfg) {
  epoch_ = static_cast<uint64_t>(cfg.epoch);
  drain_epoch_ = cfg.drain_epoch > 0 ? static_cast<uint64_t>(cfg.drain_epoch) : 0;
  current_.clear();
  drain_.clear();
  named_.clear();
  for (const auto& r : cfg.routes) current_[r.op].push_back(r);
  for (const auto* rs : {&cfg.routes, &cfg.drain_routes})
    for (const auto& r : *rs) named_.insert(r.worker);
  if (drain_epoch_ > 0)
    for (const auto& r : cfg.drain_routes) drain_[r.op].push_back(r);
  for (auto* table : {&current_, &drain_})
    for (auto& [op, rs] : *table)
      std::sort(rs.begin(), rs.end(), [](const auto& a, const auto& b) { return a.lo < b.lo; });
}

const std::vector<std::string>& Router::Consumers(const std::string& producer) const {
  static const std::vector<std::string> kNone;
  auto it = consumers_.find(producer);
  return it == consumers_.end() ? kNone : it->second;
}

bool Router::PassesEdge(const std::string& producer, const std::string& consumer, uint64_t seq) const {
  auto it = ratio_.find({producer, consumer});
  return Passes(seq, it == ratio_.end() ? 0 : it->second);
}

uint64_t Router::EpochFor(uint64_t item_epoch) const {
  uint64_t epoch = item_epoch != 0 ? item_epoch : epoch_;
  if (&TableFor(epoch) == &current_) epoch = epoch_;
  return epoch;
}

uint64_t Router::SourceEpoch(uint64_t seq) const { return drain_epoch_ > 0 && seq < switch_seq_ ? drain_epoch_ : 0; }

const WorkerRoute* Router::Lookup(const std::string& consumer, double key, uint64_t epoch) const {
  const auto& table = TableFor(epoch);
  auto rs = table.find(consumer);
  if (rs == table.end()) return nullptr;
  const WorkerRoute* route = nullptr;
  for (const auto& r : rs->second)
    if (key >= r.lo && key < r.hi) route = &r;
  if (route == nullptr && !rs->second.empty()) route = &rs->second.back();  // key 1.0 edge
  return route;
}

std::map<std::string, std::set<std::string>> Router::RemoteWorkersByProducer() const {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [producer, cons] : consumers_)
    for (const auto& c : cons)
      for (const auto* table : {&current_, &drain_})
        if (auto rs = table->find(c); rs != table->end())
          for (const auto& r : rs->second)
            if (r.worker != self_) out[producer].insert(r.worker);
  return out;
}

std::set<std::string> Router::NamedWorkers() const { return named_; }

}  // namespace jb
