#include "reconciler/controller.h"

#include "base/format.h"
#include "base/log.h"

namespace jb {

Controller::Controller(Store* store, Driver* driver, ReconcilerOptions opts, WorkQueueOptions qopts,
                       EventRecorder* events)
    : store_(store), driver_(driver), reconciler_(store, driver, opts, events), queue_(qopts) {
  subscription_ = store_->OnChange([this](const std::string& kind, const std::string& name) { OnChange(kind, name); });
}

Controller::~Controller() {
  subscription_.Reset();  // returns once no store notification is inside OnChange
  Stop();
}

void Controller::OnChange(const std::string& kind, const std::string& name) {
  if (kind == "Workflow") {
    queue_.Add(name);
    return;
  }
  for (const auto& obj : store_->List("Workflow")) {
    const auto& wf = std::get<Workflow>(obj);
    bool refers = kind == "Infrastructure" ? wf.spec.infrastructure == name : false;
    for (const auto& op : wf.spec.operators) refers = refers || (kind == "ModelProfile" && op.profile == name);
    if (refers) queue_.Add(wf.metadata.name);
  }
}

void Controller::EnqueueAll() {
  for (const auto& obj : store_->List("Workflow")) queue_.Add(MetaOf(obj).name);
}

void Controller::Start(int workers) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Worker(); });
}

void Controller::Stop() {
  queue_.ShutDown();
  // Planning in progress stops within about a second (the solver checks the flag as it iterates);
  // without this, Stop would wait for a large plan's whole budget.
  reconciler_.Cancel();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void Controller::Worker() {
  while (auto key = queue_.Get()) {
    ++heartbeats_;
    if (key->empty()) {  // the watchdog's probe: taking it was the point
      queue_.Done(*key);
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    ReconcileResult r = reconciler_.Reconcile(*key);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    {
      MutexLock lock(&mu_);
      ++metrics_.reconciles;
      if (!r.error.ok()) ++metrics_.errors;
      metrics_.seconds_total += secs;
      metrics_.seconds_max = std::max(metrics_.seconds_max, secs);
    }
    log::Fields f;
    f.workflow = *key;
    if (!r.error.ok()) {
      // A conflict (the object changed under the pass) or a shutdown is routine; the rest is an error.
      const auto code = r.error.code();
      const bool routine =
          code == Status::Code::kConflict ||
          (code == Status::Code::kUnavailable && r.error.message().find("shutting down") != std::string::npos);
      f.reason = routine ? "Retry" : "ReconcileError";
      log::Log(routine ? log::Level::kDebug : log::Level::kError, f,
               "reconcile failed (retried with back-off): " + r.error.message());
      queue_.AddRateLimited(*key);
    } else {
      queue_.Forget(*key);
      if (r.requeue_after.count() > 0) queue_.AddAfter(*key, r.requeue_after);
      if (log::Enabled(log::Level::kDebug))
        log::Debug(f, "reconciled in " + FormatFixed(secs * 1000, 1) + " ms; next look in " +
                          std::to_string(r.requeue_after.count()) + " ms");
    }
    queue_.Done(*key);
  }
}

ControllerMetrics Controller::Metrics() const {
  MutexLock lock(&mu_);
  ControllerMetrics m = metrics_;
  m.queue_depth = queue_.Len();
  return m;
}

}  // namespace jb
