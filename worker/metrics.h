// Helpers for the worker's metrics: latency samples of the most recent items (p50/p75/p90/p99),
// the mean of the most recent values (an operator's output size) and a rate over the last 5 s of a
// growing counter. Samples also keeps a histogram of every value added (kLatencyBucketsMs), which
// the worker reports as InstanceMetrics.latencyHistogram.
//
// Thread-safety: none (owned by the worker's loop).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/worker_config.h"
#include "base/status.h"

namespace jb {

// Upper bounds (ms) of the latency histograms the worker reports: 0.5 ms to 60 s.
inline const std::vector<double>& LatencyBucketsMs() {
  static const std::vector<double> b{0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};
  return b;
}

class Samples {
 public:
  static constexpr size_t kMax = 4096;
  void Add(double ms) {
    if (hist_.counts.empty()) {
      hist_.bounds = LatencyBucketsMs();
      hist_.counts.assign(hist_.bounds.size() + 1, 0);
    }
    ++hist_.counts[static_cast<size_t>(std::lower_bound(hist_.bounds.begin(), hist_.bounds.end(), ms) -
                                       hist_.bounds.begin())];
    hist_.sum += ms;
    if (v_.size() < kMax)
      v_.push_back(ms);
    else
      v_[next_++ % kMax] = ms;
  }
  // The q-quantile (0..1) of the kept samples; 0 when there are none.
  double Quantile(double q) const {
    if (v_.empty()) return 0;
    std::vector<double> s = v_;
    auto k = static_cast<size_t>(
        std::min<double>(static_cast<double>(s.size() - 1), std::floor(q * static_cast<double>(s.size()))));
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    return s[k];
  }
  // Several quantiles at once (one copy and sort of the samples); each as Quantile() gives it.
  std::vector<double> Quantiles(const std::vector<double>& qs) const {
    std::vector<double> out(qs.size(), 0.0);
    if (v_.empty()) return out;
    std::vector<double> s = v_;
    std::sort(s.begin(), s.end());
    for (size_t i = 0; i < qs.size(); ++i)
      out[i] = s[static_cast<size_t>(
          std::min<double>(static_cast<double>(s.size() - 1), std::floor(qs[i] * static_cast<double>(s.size()))))];
    return out;
  }
  // The mean of the kept samples; 0 when there are none.
  double Mean() const {
    if (v_.empty()) return 0;
    double sum = 0;
    for (double x : v_) sum += x;
    return sum / static_cast<double>(v_.size());
  }
  size_t size() const { return v_.size(); }
  // Every value ever added, in the buckets of LatencyBucketsMs(); nullopt before the first.
  std::optional<HistogramMetrics> Histogram() const {
    if (hist_.counts.empty()) return std::nullopt;
    return hist_;
  }

 private:
  HistogramMetrics hist_;
  std::vector<double> v_;
  size_t next_ = 0;
};

// Per-second rate of a counter over (about) the last 5 s: Observe() each metrics interval.
class RateWindow {
 public:
  double Observe(std::chrono::steady_clock::time_point now, int64_t count) {
    history_.emplace_back(now, count);
    while (history_.size() > 2 && now - history_.front().first > std::chrono::seconds(5)) history_.pop_front();
    double dt = std::chrono::duration<double>(now - history_.front().first).count();
    return dt > 0 ? static_cast<double>(count - history_.front().second) / dt : 0;
  }

 private:
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> history_;
};

// Wall-clock nanoseconds (trace stamps).
int64_t RealtimeNs();
// Writes `m` as JSON to `path` (through a temporary file and a rename, so readers never see half).
void WriteMetricsFile(const std::string& path, const WorkerMetrics& m);

}  // namespace jb
