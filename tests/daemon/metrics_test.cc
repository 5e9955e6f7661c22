// The daemon's /metrics page (daemon/metrics.h) through the API server: the VQA example planned by
// a Controller with the fake driver, then checked family by family and with promtool.
#include "daemon/metrics.h"

#include <gtest/gtest.h>

#include "api/manifest.h"
#include "daemon/api_server.h"
#include "drivers/fake/fake_driver.h"
#include "reconciler/memory_store.h"
#include "tests/daemon/promtool.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

const std::string kToken = "0123456789abcdef0123456789abcdef";

HttpResponse Call(ApiServer& api, const std::string& method, const std::string& path) {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.authorization = "Bearer " + kToken;
  return api.Handle(r);
}

TEST(DaemonMetrics, PlannedWorkflowPageHasEveryFamilyAndPassesPromtool) {
  MemoryStore store;
  for (const auto& doc : LoadPath(JB_SOURCE_DIR "/manifests/vqa")) {
    ASSERT_TRUE(doc.ok()) << doc.Describe();
    ASSERT_TRUE(store.Put(*doc.object).ok());
  }
  FakeDriver driver;
  Controller controller(&store, &driver);
  controller.Start(1);
  controller.EnqueueAll();  // the objects were stored before the controller subscribed
  ApiServer api(&store, &controller, kToken);
  api.metrics()->SetDriver(&driver);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto got = store.Get("Workflow", "vqa");
        return got.ok() && std::get<Workflow>(*got).status.plan_epoch.has_value() && !driver.Observe("vqa").empty();
      },
      30s));
  EXPECT_EQ(Call(api, "GET", "/apis/jellybean.dev/v1alpha1/workflows/nope").status, 404);
  auto m = Call(api, "GET", "/metrics");
  controller.Stop();
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4");
  const std::string& t = m.body;
  for (const std::string line : {
           "jellybean_objects{kind=\"Workflow\"} 1\n",
           "jellybean_api_requests_total{method=\"GET\",code=\"404\"} 1\n",
           "jellybean_api_request_duration_seconds_count{method=\"GET\"} 1\n",
           "jellybean_workflow_condition{workflow=\"vqa\",type=\"Planned\",status=\"True\"} 1\n",
           "jellybean_workflow_plan_epoch{workflow=\"vqa\"} 1\n",
           "jellybean_workflow_replans_total{workflow=\"vqa\",trigger=\"initial\"} 1\n",
           "jellybean_worker_ready{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\"} 1\n",
           "jellybean_worker_credit_window{workflow=\"vqa\",worker=\"io-edge\",tier=\"edge\"} ",
           "jellybean_cross_tier_planned_bytes_per_second{workflow=\"vqa\",tier=\"edge\",direction=\"up\"} ",
           "jellybean_workflow_accuracy_floor_percent{workflow=\"vqa\"} ",
           "jellybean_build_info{version=\"",
           "# TYPE jellybean_reconcile_duration_seconds summary\n",
           "# TYPE jellybean_workflow_latency_seconds histogram\n",
           "# TYPE jellybean_operator_service_seconds histogram\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
  EXPECT_EQ(t.find("jellybean_build_info{version=\"unknown\""), std::string::npos)
      << "the version comes from debian/changelog";
  if (!testing::HavePromtool()) GTEST_SKIP() << testing::kNoPromtool;
  auto r = testing::PromtoolCheckMetrics(t);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << t;
  EXPECT_EQ(r.output, "");
}

TEST(DaemonMetrics, WithoutDriverOrControllerTheWorkerFamiliesAreEmptyButValid) {
  MemoryStore store;
  DaemonMetrics metrics(&store, nullptr);
  std::string t = metrics.Render();
  EXPECT_NE(t.find("# TYPE jellybean_worker_up gauge\n"), std::string::npos) << t;
  EXPECT_EQ(t.find("jellybean_worker_up{"), std::string::npos) << t;
  EXPECT_EQ(t.find("jellybean_reconcile_total"), std::string::npos) << t;
  if (!testing::HavePromtool()) GTEST_SKIP() << testing::kNoPromtool;
  auto r = testing::PromtoolCheckMetrics(t);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace jb
