// FakeDriver: an in-memory driver for tests and for running the control plane without a data
// plane: Apply makes the desired workers "running" and ready at once. FaultInjectingDriver wraps
// any driver and fails calls on demand (leveldb's fault-injection pattern).
// Thread-safety: both are thread-safe.
#pragma once

#include <map>
#include <memory>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"

namespace jb {

class FakeDriver : public Driver {
 public:
  std::string name() const override { return "fake"; }
  bool Serves(const std::string&) const override { return true; }  // records any tier's workers
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(mu_);
  Status Remove(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<std::string> Workflows() override EXCLUDES(mu_);
  // What the last Apply asked for.
  std::vector<WorkerConfig> Desired(const std::string& workflow) override EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::map<std::string, std::vector<WorkerConfig>> running_ GUARDED_BY(mu_);
};

class FaultInjectingDriver : public Driver {
 public:
  explicit FaultInjectingDriver(std::unique_ptr<Driver> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  bool Serves(const std::string& type) const override { return inner_->Serves(type); }
  void UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) override {
    inner_->UseInfrastructure(workflow, infra);
  }
  StatusOr<std::string> Host(const std::string& workflow, const std::string& node) override {
    return inner_->Host(workflow, node);
  }
  // The next `n` Apply/Remove calls fail with `status`.
  void FailNext(int n, Status status) EXCLUDES(mu_);
  // Observe reports every worker as not ready while set.
  void SetUnready(bool unready) EXCLUDES(mu_);
  Status Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) override EXCLUDES(mu_);
  std::vector<WorkerState> Observe(const std::string& workflow) override EXCLUDES(mu_);
  Status Remove(const std::string& workflow) override EXCLUDES(mu_);
  std::vector<std::string> Workflows() override { return inner_->Workflows(); }
  std::vector<WorkerConfig> Desired(const std::string& workflow) override { return inner_->Desired(workflow); }

 private:
  Status MaybeFail() EXCLUDES(mu_);
  std::unique_ptr<Driver> inner_;
  Mutex mu_;
  int fail_next_ GUARDED_BY(mu_) = 0;
  Status fail_status_ GUARDED_BY(mu_);
  bool unready_ GUARDED_BY(mu_) = false;
};

}  // namespace jb
