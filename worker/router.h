// Router: where an operator's outputs go. It holds the workflow's edges (producer -> consumers,
// with a thinning ratio each) and the routing tables of the current plan epoch and, while one is
// draining, of the previous epoch (consumer -> key ranges -> worker).
//
// Contract (epochs): an item keeps the epoch it was first routed with while that epoch drains, so
// every part of one request (and every hop of a join) follows one table; items of any other epoch
// take the current table. A source decides an item's epoch by its seq, not by the moment
// (SourceEpoch), so the parts of one request, emitted by several sources with one seq, agree.
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/worker_config.h"

namespace jb {

// Routing key of request `seq`: the golden-ratio (Weyl) sequence, so every key interval receives
// its share of the requests with the lowest possible discrepancy, and every source of a request
// computes the same key (its parts meet at one join node).
double KeyOf(uint64_t seq);
// Deterministic thinning: request `seq` passes an edge of ratio r when it crosses a multiple of 1/r.
bool Passes(uint64_t seq, double ratio);

class Router {
 public:
  // `self`: this worker's name (routes to it are local).
  Router(std::string self, const std::vector<WorkerEdge>& edges);

  // Installs the tables of a configuration (routes sorted by key range here). A changed epoch
  // starts at `switch_seq`: source items with a lower seq still belong to the draining epoch.
  void SetTables(const WorkerConfig& cfg);
  void SwitchEpochAt(uint64_t seq) { switch_seq_ = seq; }

  // The consumers fed by `producer` (empty when none).
  const std::vector<std::string>& Consumers(const std::string& producer) const;
  // Whether request `seq` passes the edge producer -> consumer (ratio 1 when not an edge).
  bool PassesEdge(const std::string& producer, const std::string& consumer, uint64_t seq) const;
  // The epoch an output of an item of `item_epoch` (0: none yet) is routed with.
  uint64_t EpochFor(uint64_t item_epoch) const;
  // The epoch a source item `seq` starts with (0: the current one).
  uint64_t SourceEpoch(uint64_t seq) const;
  // The route of `key` for `consumer` in the table of `epoch`: nullptr when the table has no route
  // for it (the consumer is then local or unroutable). Key 1.0 takes the last range.
  const WorkerRoute* Lookup(const std::string& consumer, double key, uint64_t epoch) const;
  // Other workers `producer`'s outputs may go to (either table), for back-pressure.
  std::map<std::string, std::set<std::string>> RemoteWorkersByProducer() const;
  // Every worker the configuration's routes name (the draining ones too, also when no epoch drains).
  std::set<std::string> NamedWorkers() const;
  uint64_t epoch() const { return epoch_; }

 private:
  using Table = std::map<std::string, std::vector<WorkerRoute>>;
  const Table& TableFor(uint64_t epoch) const { return drain_epoch_ > 0 && epoch == drain_epoch_ ? drain_ : current_; }
  std::string self_;
  std::map<std::string, std::vector<std::string>> consumers_;
  std::map<std::pair<std::string, std::string>, double> ratio_;
  Table current_, drain_;
  std::set<std::string> named_;
  uint64_t epoch_ = 0, drain_epoch_ = 0, switch_seq_ = 0;
};

}  // namespace jb
