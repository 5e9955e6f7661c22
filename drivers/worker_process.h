// Helpers shared by the drivers that run jellybean-worker processes (local, ssh, cloud, and the
// device agent through its embedded LocalDriver): when a config change can be taken in place,
// where a worker listens, where the worker binary is, which of a worker's files outlive it, and how
// soon a worker that exited is started again.
// Thread-safety: the free functions are reentrant; a RestartBackoff is a plain value (the caller
// guards it like the rest of its per-worker state).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "api/worker_config.h"

namespace jb {

// Whether a running worker can go from `a` to `b` through SIGHUP (new routes, epoch, rates);
// otherwise it restarts.
bool ReloadsInPlace(const WorkerConfig& a, const WorkerConfig& b);

// The port of a "host:port" listen address (0 when none).
int ListenPort(const std::string& listen);

// Finds jellybean-worker: next to `self_exe`, in the build tree beside it, or on PATH.
std::string FindWorkerBinary(const std::string& self_exe);

// The suffixes of a worker's durable state beside its config "N.yaml": the source's sequence
// reservation (".seq") and the sink's delivery record (".delivered", worker/durable_state.h). A
// new process of the same name continues from them, so they outlive restarts and re-deployments
// of the worker and go only with the workflow (Driver::Remove): a source that forgot its
// reservation while the sink kept its record would have new requests discarded as duplicates.
const std::vector<std::string>& WorkflowStateSuffixes();

// The back-off between restarts of a worker that keeps exiting: 0.2 s, doubling to 10 s; reset to
// 0.2 s when the worker had stayed up for 30 s. The local driver and the ssh driver's remote
// supervisor (and its restarts of a supervisor found dead) follow it.
class RestartBackoff {
 public:
  static constexpr double kInitialS = 0.2;
  static constexpr double kMaxS = 10;
  static constexpr std::chrono::seconds kHealthyAfter{30};

  // The worker (or supervisor) started at `started` exited and was noticed at `now`: returns when
  // to start it again and doubles the next delay.
  std::chrono::steady_clock::time_point OnExit(std::chrono::steady_clock::time_point started,
                                               std::chrono::steady_clock::time_point now);
  // The delay the next OnExit applies (before any reset).
  double next_delay_s() const { return delay_s_; }

 private:
  double delay_s_ = kInitialS;
};

}  // namespace jb
