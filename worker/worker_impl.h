// Worker::Impl: the worker's loop state and how its parts fit together (internal to worker/; the
// public interface is worker.h). worker.cc holds setup, configuration and the loop; worker_items.cc
// the path of an item (receive, join, run, emit, route). The parts are the event loop
// (worker/event_loop.h), inbound streams (inbound.h), outbound links (links.h), the hold ledger
// (hold_ledger.h), the router (router.h), join buffers (join_buffer.h), sources and sinks (source.h,
// sink.h), the runtimes of the operators (runtime.h) and the metrics helpers (metrics.h). Each part
// states its share of the guarantees of worker.h in its header.
//
// Thread-safety: as Worker (worker.h): the loop owns everything; RequestStop, PostConfig and
// Snapshot may be called from any thread (next_cfg_ and snapshot_ are guarded by mu_).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "worker/dialout.h"
#include "worker/event_loop.h"
#include "worker/hold_ledger.h"
#include "worker/inbound.h"
#include "worker/ingress_endpoint.h"
#include "worker/join_buffer.h"
#include "worker/links.h"
#include "worker/metrics.h"
#include "worker/router.h"
#include "worker/runtime.h"
#include "worker/scoring.h"
#include "worker/sink.h"
#include "worker/source.h"
#include "worker/task.h"
#include "worker/worker.h"

namespace jb {

class Worker::Impl {
 public:
  using SteadyClock = std::chrono::steady_clock;
  explicit Impl(WorkerConfig c) : cfg_(std::move(c)), router_(cfg_.name, cfg_.edges) {}
  ~Impl();

  Status Init();
  Status Loop();

  // Any-thread entry points.
  void RequestStop() {
    stop_ = true;
    loop_->Wake();
  }
  void PostConfig(WorkerConfig c) EXCLUDES(mu_) {
    {
      MutexLock l(&mu_);
      next_cfg_ = std::move(c);
    }
    loop_->Wake();
  }
  WorkerMetrics Snapshot() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return snapshot_;
  }
  int port() const { return inbound_->port(); }

 private:
  // One hosted instance: a source, an operator (with its runtime and, with several inputs, its
  // join buffer) or a sink.
  struct Instance {
    WorkerInstance cfg;
    std::vector<std::string> inputs;  // producers feeding it (edges)
    std::unique_ptr<Runtime> runtime;
    std::unique_ptr<JoinBuffer> joins;
    std::unique_ptr<Source> source;
    std::unique_ptr<Sink> sink;
    // sink: scores labelled answers and writes the result log (worker/scoring.h)
    std::unique_ptr<SinkScoring> scoring;
    int64_t queued = 0;  // tasks in ready_
    // Tasks in the runtime, by ticket (an index into `running`; freed tickets are reused, so the
    // steady state allocates nothing per item).
    std::vector<Task> running;
    std::vector<uint64_t> free_tickets;
    InstanceMetrics m;
    Samples lat;
    Samples out_bytes;  // operator: sizes of its most recent outputs (bytes)
    RateWindow rate;
  };

  Status InitInstances();
  void ApplyRoutes();
  void ApplyConfig(WorkerConfig next);
  void OnStreamItem(const AckRef& ack, wire::Item& item);
  // Sends `item` to consumer `c` along the table of `epoch`; `hold` gains a reference for it.
  // Returns "" when sent, else the drop reason for the caller to count ("no-route:C", "oversize").
  std::string RouteOne(const std::string& c, wire::Item item, HoldId hold, uint64_t epoch);
  // Counts a drop that belongs to no instance in particular (stale routes, retired links).
  void CountWorkerDrop(const std::string& reason) {
    if (!instances_.empty()) ++instances_.begin()->second->m.dropped[reason];
  }
  // Links to workers that no route names any more: their unacknowledged items go out again along
  // the current routes (the worker was removed, e.g. its node failed), so nothing waits forever.
  void RerouteRetiredLinks();
  void Deliver(Instance& inst, Task t);  // an item for `inst` (local or from the network)
  void DeliverToSink(Instance& inst, Task t);
  void Join(Instance& inst, Task t);
  void Enqueue(Instance& inst, Task t, bool first = false);
  void StartWork();
  // Keeps `t` in the instance's slot for a runtime ticket; returns the ticket.
  uint64_t Park(Instance& inst, Task&& t);
  void Submit(Instance& inst, uint64_t ticket);
  void OnResult(Instance& inst, uint64_t ticket, RuntimeResult r);
  void Complete(Instance& inst, const Task& t, std::string payload, double run_ms);
  void Emit(const std::string& producer, const wire::Item& base, HoldId hold);
  void Drop(Instance& inst, Task& t, const std::string& reason);
  void ExpireJoins();
  void SourceTick(Instance& inst, uint64_t gen);  // gen: stale timer chains (older than the source's) stop
  void ScheduleTick(Instance& inst, SteadyClock::time_point at, uint64_t gen) {
    Instance* p = &inst;
    loop_->After(at, [this, p, gen] { SourceTick(*p, gen); });
  }
  // Opens the sequence reservation and the sink's delivery record (state files next to the
  // metrics file) and restores the sink's memory of what it delivered.
  Status OpenDurableState();
  // The inference endpoint (worker/ingress_worker.cc): started when ingress sources are hosted.
  Status StartIngress();
  void TakeIngressCalls();
  // A first delivery at the sink, or an answer sent back to an ingress source of this worker.
  void AnswerIngress(const wire::Item& item);
  void FailIngress(const wire::Item& item, const std::string& reason);
  void SweepIngress(WorkerMetrics& m);
  // Writes the delivery record; false when it failed (then no acknowledgement may go out).
  bool FlushRecord();
  void WriteMetrics();
  double SourceRate() const;

  WorkerConfig cfg_;
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  std::optional<WorkerConfig> next_cfg_ GUARDED_BY(mu_);
  WorkerMetrics snapshot_ GUARDED_BY(mu_);

  // Declared in destruction order: the loop outlives everything that watches fds or sets timers.
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<SlotPool> slots_;
  std::unique_ptr<HoldLedger> ledger_;
  std::unique_ptr<InboundStreams> inbound_;
  std::unique_ptr<OutboundLinks> links_;
  std::unique_ptr<DialOut> dialout_;
  Router router_;
  std::map<std::string, std::unique_ptr<Instance>> instances_;
  // Tasks ready to start, FIFO over all operators (each starts when its runtime is ready and its
  // outputs are not backed up).
  std::deque<std::pair<Instance*, Task>> ready_;
  uint64_t incarnation_ = 0;
  SteadyClock::time_point started_ = SteadyClock::now();
  SteadyClock::time_point next_metrics_{};
  std::unique_ptr<SeqReserver> seqs_;
  Sink* recording_sink_ = nullptr;  // the sink whose record acknowledgements wait for
  bool record_failing_ = false;     // log a failure once per streak
  // The inference endpoint (after loop_: its HTTP threads wake the loop until it stops).
  std::unique_ptr<IngressEndpoint> ingress_;
  std::deque<std::shared_ptr<IngressCall>> ingress_unnumbered_;     // accepted, waiting for a seq
  std::map<uint64_t, std::shared_ptr<IngressCall>> ingress_calls_;  // by seq, until answered
  uint64_t ingress_next_seq_ = 1;
};

}  // namespace jb
