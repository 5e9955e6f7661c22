// The status-derived per-Workflow families and the re-plan tracker (daemon/metrics_workflow.h).
#include "daemon/metrics_workflow.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

PlanRevision Rev(int64_t epoch, const std::string& trigger, std::optional<double> serving_s) {
  PlanRevision r;
  r.epoch = epoch;
  r.trigger = trigger;
  r.serving_s = serving_s;
  return r;
}

Workflow Serving() {
  Workflow wf;
  wf.metadata.name = "vqa";
  wf.status.conditions = {Condition{"SLOMet", "False", "ThroughputBelowTarget", "", ""},
                          Condition{"Degraded", "True", "NoFeasiblePlan", "", ""}};
  wf.status.plan = Plan{};
  wf.status.plan->solve_ms = 250;
  wf.status.plan->gap = 0.01;
  wf.status.plan_epoch = 3;
  wf.status.observed = ObservedStatus{};
  wf.status.observed->throughput = 35.5;
  wf.status.observed->expected_throughput = 80;
  wf.status.observed->delivered = 1200;
  wf.status.observed->live_cost_per_hour = 1.25;
  wf.status.observed->cross_tier_kibps = 2;
  wf.status.rollout = RolloutStatus{2, 3, "Draining", "load", "", ""};
  wf.status.history = {Rev(1, "initial", 1.5), Rev(2, "Workflow", 0.4), Rev(3, "load", std::nullopt)};
  return wf;
}

TEST(WorkflowStatusMetrics, ConditionsPlanObservedAndRolloutFromTheStatus) {
  Exposition x;
  WriteWorkflowStatusMetrics({Serving()}, {{"vqa", 4096}}, x);
  const std::string t = x.Text();
  for (const std::string line : {
           "jellybean_workflow_condition{workflow=\"vqa\",type=\"SLOMet\",status=\"True\"} 0\n",
           "jellybean_workflow_condition{workflow=\"vqa\",type=\"SLOMet\",status=\"False\"} 1\n",
           "jellybean_workflow_condition{workflow=\"vqa\",type=\"Degraded\",status=\"True\"} 1\n",
           "jellybean_workflow_plan_epoch{workflow=\"vqa\"} 3\n",
           "jellybean_workflow_plan_solve_seconds{workflow=\"vqa\"} 0.25\n",
           "jellybean_workflow_plan_gap_ratio{workflow=\"vqa\"} 0.01\n",
           "jellybean_workflow_rollout_in_progress{workflow=\"vqa\",phase=\"Draining\"} 1\n",
           "jellybean_workflow_last_rollout_duration_seconds{workflow=\"vqa\"} 0.4\n",
           "jellybean_workflow_observed_throughput_items_per_second{workflow=\"vqa\"} 35.5\n",
           "jellybean_workflow_planned_throughput_items_per_second{workflow=\"vqa\"} 80\n",
           "jellybean_workflow_items_delivered_total{workflow=\"vqa\"} 1200\n",
           "jellybean_workflow_live_cost_dollars_per_hour{workflow=\"vqa\"} 1.25\n",
           "jellybean_workflow_observed_cross_tier_bytes_per_second{workflow=\"vqa\"} 2048\n",
           "jellybean_workflow_planned_cross_tier_bytes_per_second{workflow=\"vqa\"} 4096\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
}

// #22: figures whose reporter is cut off from the daemon are Unknown: their samples are left out
// (never a 0 or a stale value as if current) and their age is exported instead.
TEST(WorkflowStatusMetrics, UnknownFiguresHaveNoSampleButAnAge) {
  Workflow wf = Serving();
  wf.status.observed->unknown = {UnknownFigure{"throughput", "control link to node dev-a lost", "", 12.5},
                                 UnknownFigure{"delivered", "control link to node dev-a lost", "", 12.5},
                                 UnknownFigure{"crossTierKiBps", "never reported", "", -1}};
  Exposition x;
  WriteWorkflowStatusMetrics({wf}, {}, x);
  const std::string t = x.Text();
  for (const std::string gone :
       {"jellybean_workflow_observed_throughput_items_per_second{", "jellybean_workflow_items_delivered_total{",
        "jellybean_workflow_observed_cross_tier_bytes_per_second{"})
    EXPECT_EQ(t.find(gone), std::string::npos) << gone << "\n" << t;
  for (const std::string line : {
           "jellybean_workflow_observed_unknown_age_seconds{workflow=\"vqa\",figure=\"throughput\"} 12.5\n",
           "jellybean_workflow_observed_unknown_age_seconds{workflow=\"vqa\",figure=\"delivered\"} 12.5\n",
           "jellybean_workflow_planned_throughput_items_per_second{workflow=\"vqa\"} 80\n",
           "jellybean_workflow_live_cost_dollars_per_hour{workflow=\"vqa\"} 1.25\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
  EXPECT_EQ(t.find("figure=\"crossTierKiBps\""), std::string::npos) << "never observed: no age" << t;
}

TEST(WorkflowStatusMetrics, AWorkflowWithoutPlanOrObservationsHasNoSuchSamples) {
  Workflow wf;
  wf.metadata.name = "new";
  Exposition x;
  WriteWorkflowStatusMetrics({wf}, {}, x);
  const std::string t = x.Text();
  size_t samples = 0;
  for (size_t at = t.find("workflow=\"new\""); at != std::string::npos; at = t.find("workflow=\"new\"", at + 1))
    ++samples;
  EXPECT_EQ(samples, 1u) << t;  // only the unavailable-nodes gauge
  EXPECT_NE(t.find("jellybean_workflow_unavailable_nodes{workflow=\"new\"} 0\n"), std::string::npos) << t;
}

TEST(PlanHistoryTracker, CountsEachRevisionOnceByTriggerAndObservesRolloutDurations) {
  PlanHistoryTracker t;
  Workflow wf = Serving();
  t.Update({wf});
  t.Update({wf});  // a second scrape counts nothing again
  wf.status.history.push_back(Rev(4, "ModelProfile", 12));
  wf.status.history.erase(wf.status.history.begin());  // history keeps the last N: epoch 1 leaves
  t.Update({wf});
  Exposition x;
  t.Write(x);
  const std::string s = x.Text();
  for (const std::string line : {
           "jellybean_workflow_replans_total{workflow=\"vqa\",trigger=\"initial\"} 1\n",
           "jellybean_workflow_replans_total{workflow=\"vqa\",trigger=\"Workflow\"} 1\n",
           "jellybean_workflow_replans_total{workflow=\"vqa\",trigger=\"load\"} 1\n",
           "jellybean_workflow_replans_total{workflow=\"vqa\",trigger=\"ModelProfile\"} 1\n",
           "jellybean_workflow_rollout_duration_seconds_bucket{workflow=\"vqa\",le=\"0.5\"} 1\n",
           "jellybean_workflow_rollout_duration_seconds_bucket{workflow=\"vqa\",le=\"2.5\"} 2\n",
           "jellybean_workflow_rollout_duration_seconds_bucket{workflow=\"vqa\",le=\"30\"} 3\n",
           "jellybean_workflow_rollout_duration_seconds_count{workflow=\"vqa\"} 3\n",
       })
    EXPECT_NE(s.find(line), std::string::npos) << line << "\n" << s;
}

TEST(PlanHistoryTracker, ADeletedWorkflowVanishesAndARecreatedOneCountsAgain) {
  PlanHistoryTracker t;
  Workflow wf = Serving();
  t.Update({wf});
  t.Update({});
  Exposition gone;
  t.Write(gone);
  EXPECT_EQ(gone.Text().find("workflow=\"vqa\""), std::string::npos) << gone.Text();
  t.Update({wf});
  Workflow again = wf;
  again.status.history = {Rev(1, "initial", 2)};  // epochs start over
  t.Update({again});
  Exposition x;
  t.Write(x);
  EXPECT_NE(x.Text().find("jellybean_workflow_replans_total{workflow=\"vqa\",trigger=\"initial\"} 2\n"),
            std::string::npos)
      << x.Text();
}

}  // namespace
}  // namespace jb
