// Worker: the data plane of one jellybean-worker process (DESIGN.md §5). It hosts the operator
// instances, sources and sink its WorkerConfig names, accepts items over TCP, runs them through
// their runtime and routes the outputs by the plan's key ranges.
//
// Delivery: an item received from a stream is acknowledged only when its effects are safe — every
// output it produced was acknowledged downstream (or it was counted as dropped, or the sink
// recorded it). A sender keeps each item until then and re-sends it on a new connection, so a
// killed worker loses nothing it had received; repeats are recognised by request identity.
//
// Request identity: (source, seq); after a join, (the sorted "+"-joined sources, seq). A source
// worker with a metricsFile reserves its sequence numbers on disk before using them
// ("<name>.seq" next to "<name>.metrics.json", worker/durable_state.h) and a new process continues
// above the last reservation, so no seq is ever used twice by a source, across restarts too (the
// worker does not start when the file cannot be read, and its sources pause while the next block
// cannot be written; the sink's worker does not start when its record cannot be opened, and holds
// its acknowledgements while the record cannot be written). All sources of one worker share one
// numbering, so the parts of a request still meet at its join; sources on different workers meet
// only while both keep running (a restart of one skips numbers the other does not skip).
//
// The guarantee, precisely (what tests/worker and tests/daemon/dataplane_test check):
//  1. At most once: the sink's delivery record ("<name>.delivered") holds each request identity at
//     most once. The sink appends a request to it before acknowledging it and reads it back when
//     its process starts, so a request re-sent to a restarted sink is discarded, not recorded
//     again. (Its de-dup memory keeps, per source, a watermark plus the last 65,536 delivered seqs
//     above it; a repeat older than that would be taken as new — never a new request as a repeat.)
//  2. Exactly once while the source lives: every request emitted by a source process that is still
//     running is recorded once, whichever other workers (operator workers or the sink's) die and
//     restart meanwhile, unless it is counted as dropped (join timeout, model failure, no route).
//  3. A source process that dies takes with it the requests it had emitted but not yet handed to
//     another worker; those are never recorded nor counted as delivered (a generator source just
//     goes on generating). A request of which only some parts left it is dropped at its join
//     ("join-timeout", once the other inputs have delivered later requests: join_buffer.h).
//     Everything the dead process had handed on is recorded once, as in 2.
//  4. Nothing is discarded as a duplicate unless an equal identity was delivered (sink) or joined
//     (join) before; discards are counted as `duplicates` (worker metrics, workflow status), never
//     as drops.
// Each guarantee is the contract of one part, stated in its header and checked by its unit test
// (tests/worker/<part>_test.cc): 1 Sink (worker/sink.h); 2 HoldLedger (hold_ledger.h), with the
// re-send rules of InboundStreams (inbound.h) and OutboundLinks (links.h); 3 and 4 JoinBuffer
// (join_buffer.h) and, for the sink's part of 4, Sink; the sequence reservation SeqReserver
// (source.h); flow control below, OutboundLinks. Operators run behind the Runtime interface
// (runtime.h: emulated, exec), chosen by name when the worker starts.
// Without a metricsFile (in-process tests) there is no reservation or record: seqs start at 1 in
// every process and only 2 and 4 within one process lifetime hold.
// Flow control: a receiver grants each stream a window of unacknowledged items; an operator starts
// an item only while none of its outgoing links has a full backlog, so a slow operator stalls its
// senders and, transitively, the sources. Memory per worker is bounded by the windows:
// held items <= window x (inbound streams + outbound links) + one item's outputs.
//
// Threading: Run() is a single-threaded epoll loop that owns all state. Stop(), Reconfigure() and
// Metrics() may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/worker_config.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace jb {

class Worker {
 public:
  // Binds the listening socket (port() is valid afterwards) and starts exec model processes.
  static StatusOr<std::unique_ptr<Worker>> Create(WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the loop until Stop(). Returns the first fatal error, if any.
  Status Run();
  void Stop();
  // Installs a new configuration: routes and epoch change at once for items produced from now on;
  // items already handed to a link stay with it until acknowledged. Instances must be unchanged.
  Status Reconfigure(WorkerConfig config);
  int port() const { return port_; }
  // The latest snapshot (refreshed every metricsIntervalS by the loop).
  WorkerMetrics Metrics() const;

  class Impl;

 private:
  explicit Worker(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace jb
