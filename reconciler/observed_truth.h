// Status truth while reporters are cut off from the daemon (#22). A worker whose control link is
// lost (WorkerState::control_link_lost), or that has stopped reporting after it reported once,
// has no current report: the figures that rest on it (the sink's throughput and latency on its io
// worker, a compute worker's cross-tier traffic, ...) cannot be observed. They are not summed as
// 0: ReportCache fills in the worker's last report, and MarkUnobservable lists the figures as
// Unknown (ObservedStatus::unknown) with the reason and the age of that report, so the fields keep
// the last observed value.
// When the data path's own reports show the figure anyway, it is used: a cut-off sink's
// throughput is the rate of items its worker acknowledged, as the reachable workers that send to it
// report (LinkMetrics items - inflight), over the last ~5 s.
// Thread-safety: ReportCache is thread-safe; MarkUnobservable is a pure function.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"

namespace jb {

// A worker without a current report.
struct StaleReporter {
  std::string reason;                 // why it does not report ("control link to node N lost: ...")
  std::optional<WorkerMetrics> last;  // its last report, when it made one
  std::string last_observed;          // RFC 3339 ("" never)
  double age_s = -1;                  // seconds since (-1 never)
};

// What the cache knows of one pass's workers.
struct FilledReports {
  std::vector<WorkerState> workers;             // observed, with stale workers' last reports filled in
  std::map<std::string, StaleReporter> stale;   // worker -> why it has no current report
  std::map<std::string, double> acked_rate;     // worker -> items/s it acknowledged, per reachable peers
  std::map<std::string, std::string> acked_by;  // worker -> the peers that report sending to it
};

class ReportCache {
 public:
  explicit ReportCache(const Clock* clock = Clock::Real()) : clock_(clock) {}
  // Remembers each reporting worker's latest report, fills in the reports of the workers that
  // lost theirs (their last one, with its age) and measures the items acknowledged by every
  // worker that reachable peers send to.
  FilledReports Fill(const std::string& workflow, const std::vector<WorkerState>& observed) EXCLUDES(mu_);
  void Forget(const std::string& workflow) EXCLUDES(mu_);

  static constexpr double kRateWindowS = 5;  // the acknowledged-items rate spans this much (at least 2 s)

 private:
  struct Last {
    WorkerMetrics metrics;
    std::chrono::steady_clock::time_point at;
    std::string wall;  // RFC 3339
  };
  struct Sample {
    std::chrono::steady_clock::time_point at;
    int64_t acked = 0;
  };
  struct WorkflowReports {
    std::map<std::string, Last> last;                 // worker -> its last report
    std::map<std::string, std::deque<Sample>> links;  // "from->to" -> acknowledged items over time
  };
  const Clock* clock_;
  Mutex mu_;
  std::map<std::string, WorkflowReports> state_ GUARDED_BY(mu_);
};

// Lists in o->unknown the figures resting on stale reporters (filled.stale), and replaces a
// cut-off sink's throughput by the rate its worker acknowledged items at, when peers report it.
void MarkUnobservable(const FilledReports& filled, ObservedStatus* o);

// "Unknown (REASON; last observed 12.3 s ago)" for a figure listed in o.unknown, "" otherwise.
std::string UnknownNote(const ObservedStatus& o, const std::string& figure);

}  // namespace jb
