// The emulated runtime: each item takes the profiled latency on one of the node's compute slots
// and produces an output of the profiled size. No model runs.
#include <algorithm>
#include <cmath>

#include "worker/runtime.h"

namespace jb {
namespace {

class EmulatedRuntime final : public Runtime {
 public:
  EmulatedRuntime(const WorkerInstance& cfg, const RuntimeEnv& env)
      : latency_ms_(cfg.runtime.latency_ms), output_bytes_(static_cast<size_t>(std::llround(cfg.runtime.output_kib * 1024))), env_(env) {}

  Status Start() override { return Status::Ok(); }
  bool Ready() const override { return env_.slots->Free() >= 0; }

  void Submit(RuntimeInput in, Completion done) override {
    if (latency_ms_ <= 0) {  // no time spent: the slot stays free
      done(RuntimeResult{RuntimeResult::Kind::kDone, std::string(output_bytes_, 'e'), 0, {}});
      return;
    }
    int s = env_.slots->Free();
    // Virtual time: a backlogged slot starts the next item exactly when the previous one ended, so
    // timer lateness does not accumulate (up to 2 ms of slack).
    auto now = std::chrono::steady_clock::now();
    auto start = std::max({now - std::chrono::milliseconds(2), in.enqueued, env_.slots->free_at(s)});
    auto end = start + std::chrono::microseconds(static_cast<int64_t>(latency_ms_ * 1000));
    env_.slots->Take(s, end);
    SlotPool* slots = env_.slots;
    double ms = latency_ms_;
    size_t bytes = output_bytes_;
    env_.loop->After(end, [slots, s, ms, bytes, done = std::move(done)] {
      slots->Release(s);
      done(RuntimeResult{RuntimeResult::Kind::kDone, std::string(bytes, 'e'), ms, {}});
    });
  }

  void Stop() override {}

 private:
  double latency_ms_;
  size_t output_bytes_;
  RuntimeEnv env_;
};

}  // namespace

StatusOr<std::unique_ptr<Runtime>> MakeEmulatedRuntime(const WorkerInstance& cfg, const RuntimeEnv& env) {
  if (env.loop == nullptr || env.slots == nullptr) return Status::InvalidArgument("emulated runtime of " + cfg.name + ": no loop or slots");
  return std::unique_ptr<Runtime>(new EmulatedRuntime(cfg, env));
}

}  // namespace jb
