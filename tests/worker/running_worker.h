// A Worker (worker/worker.h) running on its own thread for in-process tests: started by the
// constructor, stopped and joined by the destructor (or Kill()). Shared by the worker suites.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "api/worker_config.h"
#include "worker/worker.h"

namespace jb::testing {

class RunningWorker {
 public:
  // `must_start`: a failure to start fails the test (a caller that retries passes false).
  explicit RunningWorker(WorkerConfig c, bool must_start = true) {
    auto w = Worker::Create(std::move(c));
    if (must_start) {
      EXPECT_TRUE(w.ok()) << w.status().message();
    }
    if (!w.ok()) return;
    w_ = std::move(*w);
    t_ = std::thread([this] { (void)w_->Run(); });
  }
  ~RunningWorker() { Kill(); }
  RunningWorker(const RunningWorker&) = delete;
  RunningWorker& operator=(const RunningWorker&) = delete;
  void Kill() {
    if (!w_) return;
    w_->Stop();
    t_.join();
    w_.reset();
  }
  bool ok() const { return w_ != nullptr; }
  Worker& operator*() { return *w_; }
  Worker* operator->() { return w_.get(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(w_->port()); }

 private:
  std::unique_ptr<Worker> w_;
  std::thread t_;
};

}  // namespace jb::testing
