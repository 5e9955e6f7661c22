#include "drivers/fake/fake_driver.h"

namespace jb {

Status FakeDriver::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  MutexLock lock(&mu_);
  running_[workflow] = workers;
  return Status::Ok();
}

std::vector<WorkerState> FakeDriver::Observe(const std::string& workflow) {
  MutexLock lock(&mu_);
  std::vector<WorkerState> out;
  auto it = running_.find(workflow);
  if (it == running_.end()) return out;
  for (const auto& w : it->second) {
    WorkerState st;
    st.name = w.name;
    st.node = w.node;
    st.tier = w.tier;
    st.ready = true;
    out.push_back(st);
  }
  return out;
}

std::vector<std::string> FakeDriver::Workflows() {
  MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [wf, w] : running_) out.push_back(wf);
  return out;
}

std::vector<WorkerConfig> FakeDriver::Desired(const std::string& workflow) {
  MutexLock lock(&mu_);
  auto it = running_.find(workflow);
  return it == running_.end() ? std::vector<WorkerConfig>{} : it->second;
}

Status FakeDriver::Remove(const std::string& workflow) {
  MutexLock lock(&mu_);
  running_.erase(workflow);
  return Status::Ok();
}

void FaultInjectingDriver::FailNext(int n, Status status) {
  MutexLock lock(&mu_);
  fail_next_ = n;
  fail_status_ = std::move(status);
}

void FaultInjectingDriver::SetUnready(bool unready) {
  MutexLock lock(&mu_);
  unready_ = unready;
}

Status FaultInjectingDriver::MaybeFail() {
  MutexLock lock(&mu_);
  if (fail_next_ <= 0) return Status::Ok();
  --fail_next_;
  return fail_status_;
}

Status FaultInjectingDriver::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  if (auto s = MaybeFail(); !s.ok()) return s;
  return inner_->Apply(workflow, workers);
}

std::vector<WorkerState> FaultInjectingDriver::Observe(const std::string& workflow) {
  auto states = inner_->Observe(workflow);
  MutexLock lock(&mu_);
  if (unready_)
    for (auto& s : states) {
      s.ready = false;
      s.message = "injected fault: worker not ready";
    }
  return states;
}

Status FaultInjectingDriver::Remove(const std::string& workflow) {
  if (auto s = MaybeFail(); !s.ok()) return s;
  return inner_->Remove(workflow);
}

}  // namespace jb
