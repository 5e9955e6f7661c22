// Controller: runs WorkflowReconciler over a WorkQueue with N worker threads. Store changes
// enqueue the affected Workflows (a ModelProfile or Infrastructure change enqueues every Workflow
// that references it). Failed reconciles are retried with per-key back-off; success forgets it.
// Thread-safety: Start/Stop from one thread; Metrics() from any.
#pragma once

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "reconciler/store.h"
#include "reconciler/workflow_reconciler.h"
#include "reconciler/workqueue.h"

namespace jb {

struct ControllerMetrics {
  uint64_t reconciles = 0;
  uint64_t errors = 0;
  double seconds_total = 0;
  double seconds_max = 0;
  size_t queue_depth = 0;
};

class Controller {
 public:
  Controller(Store* store, Driver* driver, ReconcilerOptions opts = {}, WorkQueueOptions qopts = {},
             EventRecorder* events = nullptr);
  ~Controller();
  void Start(int workers);
  // Stops the workers: queued keys are dropped, planning in progress is cancelled (its reconcile
  // returns without writing status), and in-flight reconciles are waited for. Returns within about
  // a second of the slowest non-planning step. Not restartable (the reconciler stays cancelled).
  void Stop();
  void Enqueue(const std::string& workflow) { queue_.Add(workflow); }
  void EnqueueAll();
  ControllerMetrics Metrics() const EXCLUDES(mu_);
  // The driver the reconciler deploys with (the daemon's logs endpoint reads worker logs from it).
  Driver* driver() const { return driver_; }
  // Liveness for the systemd watchdog (daemon/watchdog.h): Probe() queues a no-op item (the empty
  // key, never a Workflow name); Heartbeats() counts the items workers took, probes included.
  void Probe() { queue_.Add(""); }
  uint64_t Heartbeats() const { return heartbeats_.load(); }

 private:
  void Worker() EXCLUDES(mu_);
  void OnChange(const std::string& kind, const std::string& name);

  Store* store_;
  Driver* driver_;
  WorkflowReconciler reconciler_;
  WorkQueue queue_;
  std::vector<std::thread> threads_;
  mutable Mutex mu_;
  ControllerMetrics metrics_ GUARDED_BY(mu_);
  std::atomic<uint64_t> heartbeats_{0};
  Subscription subscription_;  // the store's change notifications; reset first by the destructor
};

}  // namespace jb
