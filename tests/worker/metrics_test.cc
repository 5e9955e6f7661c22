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

}  // namespace
}  // namespace jb
