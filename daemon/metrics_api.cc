#include "daemon/metrics_api.h"

#include <array>
#include <string_view>

namespace jb {

namespace {

std::string MethodLabel(const std::string& method) {
  static constexpr std::array<std::string_view, 6> kKnown{"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"};
  for (auto k : kKnown)
    if (method == k) return method;
  return "other";
}

}  // namespace

const std::vector<double>& ApiRequestMetrics::Buckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

void ApiRequestMetrics::Observe(const std::string& method, int code, double seconds) {
  std::string m = MethodLabel(method);
  MutexLock l(&mu_);
  ++requests_[{m, code}];
  auto& h = latency_[m];
  if (h.bounds.empty()) h.bounds = Buckets();
  h.Observe(seconds);
}

void ApiRequestMetrics::Write(Exposition& x) const {
  MutexLock l(&mu_);
  auto requests =
      x.Family("jellybean_api_requests_total", "counter", "REST requests answered, by method and HTTP status code.");
  for (const auto& [key, n] : requests_)
    requests.Sample({{"method", key.first}, {"code", std::to_string(key.second)}}, static_cast<double>(n));
  auto latency = x.Family("jellybean_api_request_duration_seconds", "histogram",
                          "Time to answer a REST request (routing and handling, not the network), by method.");
  for (const auto& [method, h] : latency_) latency.Histogram({{"method", method}}, h);
}

}  // namespace jb
