// The hand-written Prometheus text exposition (daemon/metrics_exposition.h).
#include "daemon/metrics_exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/daemon/promtool.h"

namespace jb {
namespace {

TEST(MetricsExposition, FamilyHasHelpTypeAndSamplesTogether) {
  Exposition x;
  x.Family("jb_things_total", "counter", "Things.\nTwo lines \\ here.")
      .Sample({{"workflow", "a"}}, 3)
      .Sample({{"workflow", "b"}, {"kind", "x"}}, 0.5);
  x.Family("jb_up", "gauge", "Up.").Sample({}, 1);
  EXPECT_EQ(x.Text(),
            "# HELP jb_things_total Things.\\nTwo lines \\\\ here.\n# TYPE jb_things_total counter\n"
            "jb_things_total{workflow=\"a\"} 3\njb_things_total{workflow=\"b\",kind=\"x\"} 0.5\n"
            "# HELP jb_up Up.\n# TYPE jb_up gauge\njb_up 1\n");
  EXPECT_TRUE(x.Ok());
}

TEST(MetricsExposition, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Exposition x;
  x.Family("jb_g", "gauge", "G.").Sample({{"name", "we\"ird\\\n"}}, 1);
  EXPECT_NE(x.Text().find("jb_g{name=\"we\\\"ird\\\\\\n\"} 1\n"), std::string::npos) << x.Text();
}

TEST(MetricsExposition, ValuesReadBackExactlyAndSpecialsAreSpelledAsPrometheusDoes) {
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(12345678901234.0), "12345678901234");
  EXPECT_EQ(FormatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(FormatMetricValue(-2.5), "-2.5");
  EXPECT_EQ(std::stod(FormatMetricValue(1e-9)), 1e-9);
  EXPECT_EQ(std::stod(FormatMetricValue(6.02e23)), 6.02e23);
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(FormatMetricValue(1.0 / 3)), 1.0 / 3);
}

TEST(MetricsExposition, HistogramBucketsAreCumulativeEndInInfThenSumAndCount) {
  HistogramData h;
  h.bounds = {0.1, 1};
  for (double v : {0.05, 0.1, 0.5, 2.0, 3.0}) h.Observe(v);  // 0.1 falls in le="0.1" (upper bound inclusive)
  EXPECT_EQ(h.counts, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(h.Count(), 5);
  Exposition x;
  x.Family("jb_latency_seconds", "histogram", "Latency.").Histogram({{"op", "a"}}, h);
  EXPECT_EQ(x.Text(),
            "# HELP jb_latency_seconds Latency.\n# TYPE jb_latency_seconds histogram\n"
            "jb_latency_seconds_bucket{op=\"a\",le=\"0.1\"} 2\n"
            "jb_latency_seconds_bucket{op=\"a\",le=\"1\"} 3\n"
            "jb_latency_seconds_bucket{op=\"a\",le=\"+Inf\"} 5\n"
            "jb_latency_seconds_sum{op=\"a\"} 5.65\n"
            "jb_latency_seconds_count{op=\"a\"} 5\n");
}

TEST(MetricsExposition, HistogramWithBadShapeWritesNothingAndMergeNeedsEqualBounds) {
  HistogramData bad;
  bad.bounds = {1, 2};
  bad.counts = {1, 2};  // one short
  Exposition x;
  x.Family("jb_h_seconds", "histogram", "H.").Histogram({}, bad);
  EXPECT_EQ(x.Text().find("jb_h_seconds_bucket"), std::string::npos);
  HistogramData a;
  a.bounds = {1};
  a.Observe(0.5);
  HistogramData b = a;
  b.Observe(5);
  EXPECT_TRUE(a.Merge(b));
  EXPECT_EQ(a.counts, (std::vector<int64_t>{2, 1}));
  EXPECT_DOUBLE_EQ(a.sum, 6);
  HistogramData other;
  other.bounds = {2};
  other.Observe(1);
  EXPECT_FALSE(a.Merge(other));
  EXPECT_EQ(a.Count(), 3);
}

TEST(MetricsExposition, AFamilyStartedTwiceIsReported) {
  Exposition x;
  x.Family("jb_a", "gauge", "A.");
  x.Family("jb_a", "gauge", "A.");
  EXPECT_FALSE(x.Ok());
}

TEST(MetricsExposition, PromtoolAcceptsWhatItWrites) {
  if (!testing::HavePromtool()) GTEST_SKIP() << testing::kNoPromtool;
  Exposition x;
  HistogramData h;
  h.bounds = {0.005, 0.05, 0.5};
  for (double v : {0.001, 0.01, 0.2, 0.9}) h.Observe(v);
  x.Family("jb_requests_total", "counter", "Requests \"quoted\" help.").Sample({{"code", "200"}}, 7);
  x.Family("jb_latency_seconds", "histogram", "Latency.").Histogram({{"name", "a\"b\\c\nd"}}, h).Histogram({}, h);
  x.Family("jb_depth", "gauge", "Depth.").Sample({}, std::numeric_limits<double>::infinity());
  auto r = testing::PromtoolCheckMetrics(x.Text());
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << x.Text();
  EXPECT_EQ(r.output, "");
}

}  // namespace
}  // namespace jb
