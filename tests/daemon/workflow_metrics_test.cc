// The per-Workflow accuracy gauges on /metrics (daemon/workflow_metrics.h), as text and through the
// API server.
#include "daemon/workflow_metrics.h"

#include <gtest/gtest.h>

#include <sstream>

#include "daemon/api_server.h"
#include "reconciler/memory_store.h"

namespace jb {
namespace {

Workflow Labelled() {
  Workflow wf;
  wf.metadata.name = "docqa";
  wf.spec.slo.min_accuracy = 60;
  wf.status.plan = Plan{};
  wf.status.plan->accuracy = 63.9;
  wf.status.observed = ObservedStatus{};
  wf.status.observed->accuracy = ObservedAccuracy{63.2, 57.5, 68.6, 288, 1000, 63.9, 60};
  wf.status.accuracy_floor = 65.1;
  return wf;
}

Workflow Unlabelled() {
  Workflow wf;
  wf.metadata.name = "vqa";
  wf.spec.slo.min_accuracy = 56;
  wf.status.plan = Plan{};
  wf.status.plan->accuracy = 56.59;
  wf.status.observed = ObservedStatus{};
  return wf;
}

TEST(WorkflowAccuracyMetrics, OneSamplePerWorkflowWhereTheFigureExists) {
  std::ostringstream m;
  WriteWorkflowAccuracyMetrics({Object(Labelled()), Object(Unlabelled())}, m);
  const std::string t = m.str();
  for (const std::string line : {
           "# HELP jellybean_workflow_observed_accuracy_percent ",
           "# TYPE jellybean_workflow_observed_accuracy_percent gauge\n",
           "jellybean_workflow_observed_accuracy_percent{workflow=\"docqa\"} 63.2\n",
           "# TYPE jellybean_workflow_observed_accuracy_interval_percent gauge\n",
           "jellybean_workflow_observed_accuracy_interval_percent{workflow=\"docqa\",bound=\"low\"} 57.5\n",
           "jellybean_workflow_observed_accuracy_interval_percent{workflow=\"docqa\",bound=\"high\"} 68.6\n",
           "jellybean_workflow_observed_accuracy_scored{workflow=\"docqa\"} 288\n",
           "# TYPE jellybean_workflow_scored_answers_total counter\n",
           "jellybean_workflow_scored_answers_total{workflow=\"docqa\"} 1000\n",
           "jellybean_workflow_planned_accuracy_percent{workflow=\"docqa\"} 63.9\n",
           "jellybean_workflow_planned_accuracy_percent{workflow=\"vqa\"} 56.59\n",
           "jellybean_workflow_accuracy_floor_percent{workflow=\"docqa\"} 60\n",
           "jellybean_workflow_accuracy_floor_percent{workflow=\"vqa\"} 56\n",
           "jellybean_workflow_raised_accuracy_floor_percent{workflow=\"docqa\"} 65.1\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\nin:\n" << t;
  // No labels, no observed figures (and no raised floor) for vqa.
  EXPECT_EQ(t.find("observed_accuracy_percent{workflow=\"vqa\"}"), std::string::npos) << t;
  EXPECT_EQ(t.find("observed_accuracy_scored{workflow=\"vqa\"}"), std::string::npos) << t;
  EXPECT_EQ(t.find("raised_accuracy_floor_percent{workflow=\"vqa\"}"), std::string::npos) << t;
  // Each family's HELP and TYPE once.
  size_t types = 0;
  for (size_t at = t.find("# TYPE"); at != std::string::npos; at = t.find("# TYPE", at + 1)) ++types;
  EXPECT_EQ(types, 7u);
}

TEST(WorkflowAccuracyMetrics, ServedOnTheDaemonsMetricsEndpoint) {
  MemoryStore store;
  Workflow wf = Labelled();
  WorkflowStatus st = wf.status;
  wf.status = {};
  store.CheckReadBack(false);  // a skeleton workflow (no sources or operators) the API would not load back
  ASSERT_TRUE(store.Put(wf).ok());
  ASSERT_TRUE(store.PutStatus("docqa", st).ok());
  const std::string token = "0123456789abcdef0123456789abcdef";
  ApiServer api(&store, nullptr, token);
  HttpRequest r;
  r.method = "GET";
  r.path = "/metrics";
  r.authorization = "Bearer " + token;
  auto resp = api.Handle(r);
  ASSERT_EQ(resp.status, 200);
  EXPECT_NE(resp.body.find("jellybean_workflow_observed_accuracy_percent{workflow=\"docqa\"} 63.2\n"),
            std::string::npos)
      << resp.body;
  EXPECT_NE(resp.body.find("jellybean_plan_cost_dollars_per_hour{workflow=\"docqa\""), std::string::npos);
}

}  // namespace
}  // namespace jb
