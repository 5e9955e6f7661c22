// Worker: the data plane of one jellybean-worker process (DESIGN.md §5). It hosts the operator
// instances, sources and sink its WorkerConfig names, accepts items over TCP, runs them through
// their runtime and routes the outputs by the plan's key ranges.
//
// Delivery: an item received from a stream is acknowledged only when its effects are safe — every
// output it produced was acknowledged downstream (or it was counted as dropped, or the sink
// recorded it). A sender keeps each item until then and re-sends it on a new connection, so a
// killed worker loses nothing; the sink de-duplicates on (source, seq) and joins fold repeated
// parts into the pending or completed request.
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
#include <mutex>
#include <string>

#include "api/status.h"
#include "port/thread_annotations.h"
#include "worker/config.h"

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
