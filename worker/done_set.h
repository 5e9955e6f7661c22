// DoneSet: the ids (stream item ids, request seqs) already done, as a watermark plus the done ids
// above it. Ids that never come (thinned edges, requests lost with a dead source worker) keep the
// watermark from passing them, so at most kMaxAbove ids are kept above it: beyond that the lowest
// is forgotten. Contract: Contains(id) is true only for an id that was Add()ed (a repeat of a
// forgotten id is taken as new: memory stays bounded and a new id is never taken for a repeat).
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>

namespace jb {

class DoneSet {
 public:
  static constexpr size_t kMaxAbove = 1 << 16;
  bool Contains(uint64_t id) const { return id < below_ || above_.count(id) != 0; }
  void Add(uint64_t id) {
    if (id < below_) return;
    above_.insert(id);
    while (!above_.empty() && *above_.begin() == below_) {
      above_.erase(above_.begin());
      ++below_;
    }
    if (above_.size() > kMaxAbove) above_.erase(above_.begin());
  }
  void Reset() {
    below_ = 1;
    above_.clear();
  }

 private:
  uint64_t below_ = 1;
  std::set<uint64_t> above_;
};

}  // namespace jb
