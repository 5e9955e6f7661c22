// Status truth while a reporter is cut off from the daemon (#22): its figures are Unknown with the
// reason and the age of its last report, never 0; a cut-off sink's throughput comes from the items
// its worker acknowledged, per the reports of the peers that send to it.
#include "reconciler/observed_truth.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

using std::chrono::milliseconds;

// io-edge hosts the source and the sink (tier edge); w1 on node dev (tier cloud) sends the
// answers back to it.
class ObservedTruthTest : public ::testing::Test {
 protected:
  WorkerState Io(bool cut) const {
    WorkerState s{"io-edge", "edge", "edge", !cut, cut ? "heartbeat missed" : "", 0, 0, std::nullopt};
    s.control_link_lost = cut;
    if (cut) return s;
    WorkerMetrics m;
    m.worker = "io-edge";
    m.tier = "edge";
    InstanceMetrics src;
    src.kind = "source";
    src.items_out = emitted_;
    InstanceMetrics sink;
    sink.kind = "sink";
    sink.rate = 20;
    sink.p99_ms = 50;
    sink.items_out = emitted_;
    m.instances = {src, sink};
    m.links.push_back(LinkMetrics{"w1", "cloud", true, emitted_, 0, 0, 1, 0, 0, 0});
    s.metrics = m;
    return s;
  }
  WorkerState W1(bool cut) const {
    WorkerState s{"w1", "dev", "cloud", !cut, cut ? "heartbeat missed" : "", 0, 0, std::nullopt};
    s.control_link_lost = cut;
    if (cut) return s;
    WorkerMetrics m;
    m.worker = "w1";
    m.tier = "cloud";
    InstanceMetrics op;
    op.kind = "operator";
    m.instances = {op};
    // 20 items/s acknowledged by io-edge (5 still in flight).
    m.links.push_back(LinkMetrics{"io-edge", "edge", true, acked_ + 5, 0, 0, 1, 0, 5, 0});
    s.metrics = m;
    return s;
  }
  // One pass every 500 ms of fake time with 20 items/s moving.
  FilledReports Pass(bool io_cut, bool w1_cut) {
    clock_.Advance(milliseconds(500));
    emitted_ += 10;
    acked_ += 10;
    return cache_.Fill("wf", {Io(io_cut), W1(w1_cut)});
  }
  // What Summarize makes of the filled reports, in the fields MarkUnobservable looks at.
  static ObservedStatus Summary(const FilledReports& f) {
    ObservedStatus o;
    for (const auto& w : f.workers)
      if (w.metrics)
        for (const auto& in : w.metrics->instances)
          if (in.kind == "sink") {
            o.throughput += in.rate;
            o.latency_p99_ms = in.p99_ms;
          }
    return o;
  }
  FakeClock clock_;
  ReportCache cache_{&clock_};
  int64_t emitted_ = 0, acked_ = 0;
};

TEST_F(ObservedTruthTest, CutOffSinkIsRelayedByItsPeersAndItsLatencyIsUnknownWithAge) {
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Pass(false, false).stale.empty());
  FilledReports f;
  for (int i = 0; i < 6; ++i) f = Pass(true, false);  // 3 s cut
  ASSERT_EQ(f.stale.count("io-edge"), 1u);
  EXPECT_NEAR(f.stale.at("io-edge").age_s, 3.0, 1e-9);
  ASSERT_TRUE(f.workers[0].metrics) << "the cut-off worker counts with its last report";
  ObservedStatus o = Summary(f);
  MarkUnobservable(f, &o);
  EXPECT_NEAR(o.throughput, 20, 0.01) << "items io-edge acknowledged per w1's report";
  EXPECT_NE(o.throughput_source.find("acknowledged by io-edge per the reports of w1"), std::string::npos)
      << o.throughput_source;
  // The source names why the sink's worker does not report (here its control link; a killed worker
  // is "not running", not "cut off").
  EXPECT_NE(o.throughput_source.find("(io-edge does not report: " + f.stale.at("io-edge").reason + ")"),
            std::string::npos)
      << o.throughput_source;
  EXPECT_EQ(FindUnknownFigure(o, "throughput"), nullptr);
  const UnknownFigure* p99 = FindUnknownFigure(o, "latencyP99Ms");
  ASSERT_NE(p99, nullptr);
  EXPECT_NEAR(p99->age_s, 3.0, 1e-9);
  EXPECT_NE(p99->reason.find("control link to node edge lost (heartbeat missed)"), std::string::npos) << p99->reason;
  EXPECT_FALSE(p99->last_observed.empty());
  EXPECT_DOUBLE_EQ(o.latency_p99_ms, 50) << "the last observed value, not 0";
  EXPECT_NE(FindUnknownFigure(o, "emitted"), nullptr);
  EXPECT_NE(UnknownNote(o, "latencyP99Ms").find("last observed 3.0 s ago"), std::string::npos);
  EXPECT_EQ(UnknownNote(o, "throughput"), "");

  // Healed: every figure is observed again.
  f = Pass(false, false);
  o = Summary(f);
  MarkUnobservable(f, &o);
  EXPECT_TRUE(o.unknown.empty());
  EXPECT_TRUE(o.throughput_source.empty());
}

TEST_F(ObservedTruthTest, CutOffSinkWithoutReachablePeersIsUnknown) {
  for (int i = 0; i < 4; ++i) Pass(false, false);
  FilledReports f;
  for (int i = 0; i < 4; ++i) f = Pass(true, true);  // both cut: nobody reports the data path
  ObservedStatus o = Summary(f);
  MarkUnobservable(f, &o);
  const UnknownFigure* t = FindUnknownFigure(o, "throughput");
  ASSERT_NE(t, nullptr);
  EXPECT_NEAR(t->age_s, 2.0, 1e-9);
  EXPECT_DOUBLE_EQ(o.throughput, 20) << "the field keeps the last observed value";
  EXPECT_TRUE(o.throughput_source.empty());
  EXPECT_NE(FindUnknownFigure(o, "crossTierKiBps"), nullptr) << "w1's and io-edge's cross-tier links";
}

TEST_F(ObservedTruthTest, CutOffComputeWorkerLeavesTheSinksFiguresObserved) {
  for (int i = 0; i < 4; ++i) Pass(false, false);
  const FilledReports f = Pass(false, true);
  ObservedStatus o = Summary(f);
  MarkUnobservable(f, &o);
  EXPECT_EQ(FindUnknownFigure(o, "throughput"), nullptr);
  EXPECT_EQ(FindUnknownFigure(o, "latencyP99Ms"), nullptr);
  EXPECT_NE(FindUnknownFigure(o, "crossTierKiBps"), nullptr);
  EXPECT_NE(FindUnknownFigure(o, "duplicates"), nullptr) << "its operators' discarded repeats";
  EXPECT_DOUBLE_EQ(o.throughput, 20);
}

TEST_F(ObservedTruthTest, NeverReportedWorkersAreUnknownOnlyWhenCutOff) {
  // Starting up (no report yet, link up): nothing is Unknown, as before.
  WorkerState starting{"io-edge", "edge", "edge", false, "starting", 0, 0, std::nullopt};
  EXPECT_TRUE(cache_.Fill("wf", {starting}).stale.empty());
  // Cut off before its first report: its kind's figures are Unknown, never observed.
  starting.control_link_lost = true;
  const FilledReports f = cache_.Fill("wf", {starting});
  ObservedStatus o;
  MarkUnobservable(f, &o);
  const UnknownFigure* t = FindUnknownFigure(o, "throughput");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->age_s, -1);
  EXPECT_TRUE(t->last_observed.empty());
  EXPECT_NE(UnknownNote(o, "throughput").find("never observed"), std::string::npos);
}

TEST_F(ObservedTruthTest, WorkerThatStopsReportingIsStaleAndForgetClearsIt) {
  for (int i = 0; i < 2; ++i) Pass(false, false);
  WorkerState silent{"w1", "dev", "cloud", false, "no report for 9 s", 0, 0, std::nullopt};
  FilledReports f = cache_.Fill("wf", {Io(false), silent});
  ASSERT_EQ(f.stale.count("w1"), 1u);
  EXPECT_NE(f.stale.at("w1").reason.find("worker w1 stopped reporting (no report for 9 s)"), std::string::npos);
  cache_.Forget("wf");
  EXPECT_TRUE(cache_.Fill("wf", {Io(false), silent}).stale.empty());
}

}  // namespace
}  // namespace jb
