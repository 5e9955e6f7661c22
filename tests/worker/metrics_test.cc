// Samples and RateWindow (worker/metrics.h): the percentiles and means the worker reports.
#include "worker/metrics.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

TEST(Samples, QuantilesAreThoseOfQuantileAndEmptyIsZero) {
  Samples s;
  EXPECT_EQ(s.Quantiles({0.5, 0.9}), (std::vector<double>{0, 0}));
  EXPECT_EQ(s.Mean(), 0);
  for (int i = 100; i >= 1; --i) s.Add(i);  // 1..100 in reverse order
  auto q = s.Quantiles({0.5, 0.75, 0.9, 0.99});
  EXPECT_EQ(q, (std::vector<double>{51, 76, 91, 100}));
  for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i], s.Quantile(std::vector<double>{0.5, 0.75, 0.9, 0.99}[i]));
  EXPECT_DOUBLE_EQ(s.Mean(), 50.5);
  EXPECT_EQ(s.size(), 100u);
}

TEST(Samples, KeepsOnlyTheMostRecentSamples) {
  Samples s;
  for (size_t i = 0; i < Samples::kMax; ++i) s.Add(1000);
  for (size_t i = 0; i < Samples::kMax; ++i) s.Add(2);  // a variant that became fast
  EXPECT_EQ(s.size(), Samples::kMax);
  EXPECT_EQ(s.Quantiles({0.5, 0.9})[1], 2);
  EXPECT_DOUBLE_EQ(s.Mean(), 2);
}

// The histogram the worker reports (InstanceMetrics.latencyHistogram) counts every value ever added,
// also after the kept samples wrap, in the buckets of LatencyBucketsMs().
TEST(Samples, HistogramCountsEveryValueInItsBucket) {
  Samples s;
  EXPECT_FALSE(s.Histogram().has_value());
  const int n = static_cast<int>(Samples::kMax) + 100;
  for (int i = 0; i < n; ++i) s.Add(i % 2 == 0 ? 0.5 : 7);  // 0.5 ms: le 0.5 (inclusive); 7 ms: le 10
  s.Add(1e9);                                               // above every bound
  auto h = s.Histogram();
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->bounds, LatencyBucketsMs());
  ASSERT_EQ(h->counts.size(), h->bounds.size() + 1);
  int64_t total = 0;
  for (auto c : h->counts) total += c;
  EXPECT_EQ(total, n + 1);
  EXPECT_EQ(h->counts[0], n / 2);
  EXPECT_EQ(h->counts[4], n / 2);  // (5, 10]
  EXPECT_EQ(h->counts.back(), 1);
  EXPECT_DOUBLE_EQ(h->sum, 0.5 * (n / 2) + 7.0 * (n / 2) + 1e9);
  EXPECT_EQ(s.size(), Samples::kMax);
}

}  // namespace
}  // namespace jb
