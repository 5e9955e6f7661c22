// The REST API's own figures for /metrics: requests by method and status code, and their latency
// as a histogram (seconds), recorded by ApiServer::Handle for every answered request.
//   jellybean_api_requests_total{method,code}            counter
//   jellybean_api_request_duration_seconds{method}       histogram
// Methods other than GET, PUT, POST, DELETE, PATCH and HEAD are counted as method="other" (a client
// cannot grow the label set).
// Thread-safety: Observe and Write are thread-safe.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "base/mutex.h"
#include "daemon/metrics_exposition.h"

namespace jb {

class ApiRequestMetrics {
 public:
  // Upper bounds (seconds) of the latency histogram.
  static const std::vector<double>& Buckets();
  void Observe(const std::string& method, int code, double seconds) EXCLUDES(mu_);
  void Write(Exposition& x) const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_ GUARDED_BY(mu_);
  std::map<std::string, HistogramData> latency_ GUARDED_BY(mu_);
};

}  // namespace jb
