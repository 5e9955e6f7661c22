// The REST API's request counters and latency histogram (daemon/metrics_api.h).
#include "daemon/metrics_api.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

TEST(ApiRequestMetrics, CountsByMethodAndCodeAndTimesByMethod) {
  ApiRequestMetrics m;
  m.Observe("GET", 200, 0.002);
  m.Observe("GET", 200, 0.02);
  m.Observe("GET", 404, 0.0001);
  m.Observe("PUT", 201, 3);
  Exposition x;
  m.Write(x);
  const std::string t = x.Text();
  for (const std::string line : {
           "# TYPE jellybean_api_requests_total counter\n",
           "jellybean_api_requests_total{method=\"GET\",code=\"200\"} 2\n",
           "jellybean_api_requests_total{method=\"GET\",code=\"404\"} 1\n",
           "jellybean_api_requests_total{method=\"PUT\",code=\"201\"} 1\n",
           "# TYPE jellybean_api_request_duration_seconds histogram\n",
           "jellybean_api_request_duration_seconds_bucket{method=\"GET\",le=\"0.0005\"} 1\n",
           "jellybean_api_request_duration_seconds_bucket{method=\"GET\",le=\"0.0025\"} 2\n",
           "jellybean_api_request_duration_seconds_bucket{method=\"GET\",le=\"+Inf\"} 3\n",
           "jellybean_api_request_duration_seconds_count{method=\"GET\"} 3\n",
           "jellybean_api_request_duration_seconds_bucket{method=\"PUT\",le=\"2.5\"} 0\n",
           "jellybean_api_request_duration_seconds_bucket{method=\"PUT\",le=\"5\"} 1\n",
           "jellybean_api_request_duration_seconds_sum{method=\"PUT\"} 3\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
}

TEST(ApiRequestMetrics, UnknownMethodsShareOneLabel) {
  ApiRequestMetrics m;
  m.Observe("BREW", 405, 0.001);
  m.Observe("X-\"EVIL\"", 405, 0.001);
  Exposition x;
  m.Write(x);
  EXPECT_NE(x.Text().find("jellybean_api_requests_total{method=\"other\",code=\"405\"} 2\n"), std::string::npos)
      << x.Text();
  EXPECT_EQ(x.Text().find("BREW"), std::string::npos);
}

}  // namespace
}  // namespace jb
