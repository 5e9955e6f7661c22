// Runtime: what runs an operator's items — the emulated runtime (a profiled latency and output
// size, no model), the exec runtime (a persistent model process on pipes), and later an HTTP
// runtime or in-process model runtimes. Each operator instance gets one, chosen by
// `runtime.type` when the worker starts (MakeRuntime), and the worker's loop drives it:
//
//   Start() once; then Submit(ticket, input) whenever Ready() (and the operator's outputs are not
//   backed up); each submitted ticket ends in exactly one call of the runtime's Completion
//   (RuntimeEnv::done), from the loop's thread (from a handler or timer the runtime set on the
//   EventLoop, or from Submit itself); Stop() at the end. The input is valid only during Submit:
//   a runtime copies what it needs (no allocation per item is forced on the fast path).
//
// An item has a routing key, a request seq, the request key the ingress gave it (empty for
// generated items) and one or more named input parts (one per input of a joining operator, named
// after the producer, in input order; one part otherwise). A runtime gets the parts separately:
// the exec runtime sends them to its model process as named parts of one request under exec
// framing v2 (the default; key = the request key, else the decimal seq), or, under the legacy
// `runtime.framing: 1`, concatenated in input order as one payload (docs/exec-framing.md).
//
// Adding a runtime: implement this interface in worker/runtime_<name>.cc with a factory, and add
// one line to the registry in worker/runtime.cc.
//
// Thread-safety: none; everything is called on the worker's loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/worker_config.h"
#include "base/status.h"
#include "worker/event_loop.h"

namespace jb {

// A view of one input of an item, valid during Submit().
struct InputPart {
  std::string_view name;  // the producer it came from
  std::string_view payload;
};

struct RuntimeInput {
  double key = 0;
  uint64_t seq = 0;
  std::string_view request_key;                    // the item's request key; may be empty
  std::span<const InputPart> parts;                // at least one
  std::chrono::steady_clock::time_point enqueued;  // when it became ready to run
};

struct RuntimeResult {
  enum class Kind {
    kDone,    // `payload` is the output, `run_ms` the time it took
    kRetry,   // not run (the runtime restarts): submit it again, first
    kFailed,  // gave up: drop it with reason `error`
  };
  Kind kind = Kind::kDone;
  std::string payload;
  double run_ms = 0;
  std::string error;
};
// Called once per submitted ticket.
using Completion = std::function<void(uint64_t ticket, RuntimeResult result)>;

// The compute slots ("servers") of this worker's node, shared by the runtimes that model compute
// time (emulated), first come first served: a slot is busy from an item's start to its end.
class SlotPool {
 public:
  explicit SlotPool(int servers) : free_at_(static_cast<size_t>(servers)), busy_(static_cast<size_t>(servers), false) {}
  // The lowest free slot, or -1.
  int Free() const {
    for (size_t s = 0; s < busy_.size(); ++s)
      if (!busy_[s]) return static_cast<int>(s);
    return -1;
  }
  void Take(int s, std::chrono::steady_clock::time_point until) {
    busy_[static_cast<size_t>(s)] = true;
    free_at_[static_cast<size_t>(s)] = until;
  }
  void Release(int s) { busy_[static_cast<size_t>(s)] = false; }
  std::chrono::steady_clock::time_point free_at(int s) const { return free_at_[static_cast<size_t>(s)]; }

 private:
  std::vector<std::chrono::steady_clock::time_point> free_at_;
  std::vector<bool> busy_;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Acquires what the runtime needs (e.g. starts the model process). A failure stops the worker
  // from starting.
  virtual Status Start() = 0;
  // Whether Submit() may be called now.
  virtual bool Ready() const = 0;
  // Runs `in`; the Completion is called exactly once with `ticket` (see the top of this file).
  virtual void Submit(uint64_t ticket, const RuntimeInput& in) = 0;
  // Releases what Start() acquired; items in progress are not completed.
  virtual void Stop() = 0;
};

// What a runtime may use from the worker: its loop (fds, timers), the node's compute slots (both
// outlive the runtime), and where its results go.
struct RuntimeEnv {
  EventLoop* loop = nullptr;
  SlotPool* slots = nullptr;
  Completion done;
};

using RuntimeFactory = StatusOr<std::unique_ptr<Runtime>> (*)(const WorkerInstance& cfg, const RuntimeEnv& env);

// The runtime named by cfg.runtime.type (not started). InvalidArgument for an unknown type.
StatusOr<std::unique_ptr<Runtime>> MakeRuntime(const WorkerInstance& cfg, const RuntimeEnv& env);

// The factories (worker/runtime_<name>.cc).
StatusOr<std::unique_ptr<Runtime>> MakeEmulatedRuntime(const WorkerInstance& cfg, const RuntimeEnv& env);
StatusOr<std::unique_ptr<Runtime>> MakeExecRuntime(const WorkerInstance& cfg, const RuntimeEnv& env);

// The exec runtime's settings that are not in the WorkerInstance.
struct ExecRuntimeOptions {
  // Framing v2: how long a model process may take from its spawn to its hello (loading its model).
  // Start() waits for it and fails past it; a restarted process is killed and restarted again.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
};
// MakeExecRuntime with `options` (MakeExecRuntime uses the defaults).
StatusOr<std::unique_ptr<Runtime>> MakeExecRuntimeWith(const WorkerInstance& cfg, const RuntimeEnv& env,
                                                       const ExecRuntimeOptions& options);

}  // namespace jb
