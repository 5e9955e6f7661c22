// The per-worker and per-operator families (daemon/metrics_workers.h) from driver observations,
// with the histograms carried in the workers' metrics reports (api/worker_config.h).
#include "daemon/metrics_workers.h"

#include <gtest/gtest.h>

#include "tests/daemon/promtool.h"

namespace jb {
namespace {

HistogramMetrics Hist(std::vector<int64_t> counts, double sum_ms) {
  HistogramMetrics h;
  h.bounds = {1, 10, 100};
  h.counts = std::move(counts);
  h.sum = sum_ms;
  return h;
}

WorkflowWorkers Vqa() {
  WorkflowWorkers wf;
  wf.workflow = "vqa";
  WorkerState io{"io-edge", "", "edge", true, "", 100, 0, WorkerMetrics{}};
  io.metrics->workflow = "vqa";
  io.metrics->worker = "io-edge";
  io.metrics->tier = "edge";
  io.metrics->held_items = 5;
  io.metrics->max_held_items = 64;
  io.metrics->tls_refused = 3;
  InstanceMetrics src;
  src.kind = "source";
  src.name = "camera";
  src.items_out = 400;
  InstanceMetrics sink;
  sink.kind = "sink";
  sink.name = "sink";
  sink.items_in = 395;
  sink.items_out = 390;
  sink.duplicates = 5;
  sink.latency_histogram = Hist({0, 300, 90, 0}, 9000);
  io.metrics->instances = {src, sink};
  LinkMetrics up;
  up.worker = "cloud-1";
  up.tier = "cloud";
  up.connected = true;
  up.items = 400;
  up.resent = 3;
  up.payload_bytes = 40960;
  up.payload_kibps = 4;
  up.inflight = 2;
  io.metrics->links = {up};
  WorkerState op{"cloud-1", "cloud-1", "cloud", false, "", 101, 2, WorkerMetrics{}};
  op.metrics->workflow = "vqa";
  op.metrics->worker = "cloud-1";
  InstanceMetrics det;
  det.kind = "operator";
  det.name = "detect";
  det.variant = "yolo-s";
  det.items_in = 400;
  det.items_out = 398;
  det.queue = 7;
  det.dropped = {{"model-failed", 2}};
  det.latency_histogram = Hist({10, 380, 10, 0}, 2400);
  op.metrics->instances = {det};
  WorkerState gone{"cloud-2", "cloud-2", "cloud", false, "not running", 0, 4, std::nullopt};
  wf.states = {io, op, gone};
  wf.window = {{"io-edge", 32}, {"cloud-1", 32}};
  wf.planned_boundary_bps = {{"up", {{"edge", 5000}}}};
  return wf;
}

TEST(WorkerMetricsFamilies, WorkersInstancesLinksAndHistograms) {
  Exposition x;
  WriteWorkerMetrics({Vqa()}, x);
  const std::string t = x.Text();
  for (const std::string line : {
           "jellybean_worker_up{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\"} 1\n",
           "jellybean_worker_up{workflow=\"vqa\",worker=\"cloud-2\",tier=\"cloud\"} 0\n",
           "jellybean_worker_ready{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\"} 0\n",
           "jellybean_worker_restarts_total{workflow=\"vqa\",worker=\"cloud-2\",tier=\"cloud\"} 4\n",
           "jellybean_worker_held_items{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\"} 5\n",
           "jellybean_worker_held_items_limit{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\"} 64\n",
           "jellybean_worker_credit_window{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\"} 32\n",
           "jellybean_worker_tls_refused_total{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\"} 3\n",
           "jellybean_items_out_total{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\",kind=\"source\",name="
           "\"camera\"} "
           "400\n",
           "jellybean_items_in_total{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\",kind=\"operator\",name="
           "\"detect\"} "
           "400\n",
           "jellybean_items_dropped_total{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\",kind=\"operator\",name="
           "\"detect\",reason=\"model-failed\"} 2\n",
           "jellybean_items_duplicates_total{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\",kind=\"sink\",name="
           "\"sink\"} 5\n",
           "jellybean_queue_depth{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\",kind=\"operator\",name=\"detect\"}"
           " "
           "7\n",
           "jellybean_operator_service_seconds_bucket{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\",kind="
           "\"operator\",name=\"detect\",variant=\"yolo-s\",le=\"0.01\"} 390\n",
           "jellybean_operator_service_seconds_sum{workflow=\"vqa\",worker=\"cloud-1\",tier=\"cloud\",kind="
           "\"operator\",name=\"detect\",variant=\"yolo-s\"} 2.4\n",
           "jellybean_workflow_latency_seconds_bucket{workflow=\"vqa\",le=\"0.1\"} 390\n",
           "jellybean_workflow_latency_seconds_bucket{workflow=\"vqa\",le=\"+Inf\"} 390\n",
           "jellybean_workflow_latency_seconds_sum{workflow=\"vqa\"} 9\n",
           "jellybean_link_resent_items_total{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\",to=\"cloud-1\",to_tier="
           "\"cloud\"} 3\n",
           "jellybean_link_inflight_items{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\",to=\"cloud-1\",to_tier="
           "\"cloud\"} 2\n",
           "jellybean_cross_tier_bytes_total{workflow=\"vqa\",from_tier=\"edge\",to_tier=\"cloud\"} 40960\n",
           "jellybean_cross_tier_bytes_per_second{workflow=\"vqa\",from_tier=\"edge\",to_tier=\"cloud\"} 4096\n",
           "jellybean_cross_tier_planned_bytes_per_second{workflow=\"vqa\",tier=\"edge\",direction=\"up\"} 5000\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
  EXPECT_TRUE(x.Ok());
  if (!testing::HavePromtool()) GTEST_SKIP() << testing::kNoPromtool;
  auto r = testing::PromtoolCheckMetrics(t);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << t;
}

TEST(WorkerMetricsFamilies, HistogramsTravelInTheWorkersJsonReport) {
  WorkerMetrics m;
  m.workflow = "vqa";
  m.worker = "cloud-1";
  InstanceMetrics det;
  det.kind = "operator";
  det.name = "detect";
  det.latency_histogram = Hist({1, 2, 3, 4}, 1234.5);
  m.instances = {det};
  auto back = ParseWorkerMetrics(WorkerMetricsToJson(m), "report");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
  // A report from a worker without histograms still parses (older workers, agents).
  auto old =
      ParseWorkerMetrics(R"({"workflow":"vqa","worker":"w","instances":[{"kind":"sink","name":"sink"}]})", "old");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_FALSE(old->instances[0].latency_histogram.has_value());
}

}  // namespace
}  // namespace jb
