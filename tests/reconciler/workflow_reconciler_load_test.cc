// The load trigger of WorkflowReconciler (reconciler/workflow_reconciler_health.cc) against an
// inference endpoint: its sources' rate is whatever clients send, so an idle endpoint must not
// re-plan the workflow for no load (it did: epoch 2, 0.6720 -> 0.0000 $/h, and the deployment
// then failed with "no route"). Generator sources keep the trigger. A fake driver reports sources
// that emit nothing over a complete window.
#include <gtest/gtest.h>

#include "drivers/fake/fake_driver.h"
#include "reconciler/memory_store.h"
#include "reconciler/workflow_reconciler.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

// Every worker hosting sources reports them at 0 items/s after 100 s of uptime.
class IdleSourcesDriver : public FakeDriver {
 public:
  std::vector<WorkerState> Observe(const std::string& workflow) override {
    auto states = FakeDriver::Observe(workflow);
    const auto desired = Desired(workflow);
    for (auto& w : states) {
      w.metrics = WorkerMetrics{};
      w.metrics->uptime_s = 100;
      for (const auto& c : desired)
        for (const auto& in : c.instances)
          if (c.name == w.name && in.kind == "source") {
            InstanceMetrics m;
            m.kind = "source";
            m.name = in.name;
            w.metrics->instances.push_back(m);
          }
    }
    return states;
  }
};

// Plans, deploys and observes `wf` for a few reconciles with a load trigger that fires at once;
// returns the stored status.
WorkflowStatus RunIdle(Workflow wf) {
  auto in = testing::LoadInstance("manifests/vqa");
  MemoryStore store;
  IdleSourcesDriver driver;
  EXPECT_TRUE(store.Put(in.inf).ok());
  for (const auto& p : in.profiles) EXPECT_TRUE(store.Put(p).ok());
  EXPECT_TRUE(store.Put(wf).ok());
  ReconcilerOptions opts;
  opts.load.sustain_s = 0;
  opts.damping.min_interval_s = 0;
  WorkflowReconciler r(&store, &driver, opts, nullptr);
  for (int i = 0; i < 6; ++i) {
    auto res = r.Reconcile(wf.metadata.name);
    EXPECT_TRUE(res.error.ok()) << res.error.message();
  }
  return std::get<Workflow>(*store.Get("Workflow", wf.metadata.name)).status;
}

TEST(LoadTriggerOnEndpoints, IdleGeneratorsReplanButAnIdleInferenceEndpointKeepsItsPlannedCapacity) {
  Workflow wf = testing::LoadInstance("manifests/vqa").wf;
  WorkflowStatus generators = RunIdle(wf);
  ASSERT_TRUE(generators.load_scale.has_value()) << "the control case: idle generators are a load change";
  EXPECT_LT(*generators.load_scale, 1.0);

  for (auto& s : wf.spec.sources) s.type = "ingress";
  WorkflowStatus endpoint = RunIdle(wf);
  EXPECT_FALSE(endpoint.load_scale.has_value()) << *endpoint.load_scale;
  ASSERT_TRUE(endpoint.plan.has_value());
  EXPECT_GT(endpoint.plan->cost.total_per_hour, 0);
  EXPECT_EQ(endpoint.plan_epoch.value_or(0), 1);
}

}  // namespace
}  // namespace jb
