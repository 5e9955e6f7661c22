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
      : latency_ms_(cfg.runtime.latency_ms),
        output_bytes_(static_cast<size_t>(std::llround(cfg.runtime.output_kib * 1024))),
        env_(env) {}

  Status Start() override { return Status::Ok(); }
  bool Ready() const override { return env_.slots->Free() >= 0; }

  void Submit(uint64_t ticket, const RuntimeInput& in) override {
    if (latency_ms_ <= 0) {  // no time spent: the slot stays free
      env_.done(ticket, RuntimeResult{RuntimeResult::Kind::kDone, std::string(output_bytes_, 'e'), 0, {}});
      return;
    }
    int s = env_.slots->Free();
    // Virtual time: a backlogged slot starts the next item exactly when the previous one ended, so
    // timer lateness does not accumulate (up to 2 ms of slack).
    auto now = std::chrono::steady_clock::now();
    auto start = std::max({now - std::chrono::milliseconds(2), in.enqueued, env_.slots->free_at(s)});
    auto end = start + std::chrono::microseconds(static_cast<int64_t>(latency_ms_ * 1000));
    env_.slots->Take(s, end);
    // The loop (and so this timer) never outlives the worker that owns this runtime.
    env_.loop->After(end, [this, s, ticket] {
      env_.slots->Release(s);
      env_.done(ticket, RuntimeResult{RuntimeResult::Kind::kDone, std::string(output_bytes_, 'e'), latency_ms_, {}});
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
  if (env.loop == nullptr || env.slots == nullptr || !env.done)
    return Status::InvalidArgument("emulated runtime of " + cfg.name + ": no loop or slots");
  return std::unique_ptr<Runtime>(new EmulatedRuntime(cfg, env));
}

}  // namespace jb
