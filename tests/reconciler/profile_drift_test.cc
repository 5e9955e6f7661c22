// Closed-loop profiles (reconciler/profile_drift.h, reconciler/workflow_profiles.cc): observed
// service times into the ModelProfile status, and the drift re-plan.
#include "reconciler/profile_drift.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/clock.h"
#include "base/format.h"
#include "drivers/fake/fake_driver.h"
#include "reconciler/file_store.h"
#include "reconciler/memory_store.h"
#include "reconciler/workflow_reconciler.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

InstanceMetrics OpMetrics(const std::string& name, const std::string& variant, double p50, double p75, double p90,
                          double out_bytes, int64_t items) {
  InstanceMetrics m;
  m.kind = "operator";
  m.name = name;
  m.variant = variant;
  m.p50_ms = p50;
  m.p75_ms = p75;
  m.p90_ms = p90;
  m.output_bytes = out_bytes;
  m.items_out = items;
  return m;
}

WorkerState Reporting(const std::string& node, std::vector<InstanceMetrics> ins) {
  WorkerState w;
  w.name = node;
  w.node = node;
  w.ready = true;
  w.metrics = WorkerMetrics{};
  w.metrics->instances = std::move(ins);
  return w;
}

Workflow TwoOps() {
  Workflow wf;
  wf.metadata.name = "w";
  wf.spec.operators.push_back(Operator{"A", "pa", {}});
  wf.spec.operators.push_back(Operator{"B", "pb", {}});
  return wf;
}

Infrastructure TwoNodes() {
  Infrastructure inf;
  inf.spec.nodes.push_back(Node{"n1", "edge", 1, "cpu", 1, {}, {}});
  inf.spec.nodes.push_back(Node{"n2", "edge", 1, "cpu", 1, {}, {}});
  inf.spec.nodes.push_back(Node{"g1", "cloud", 2, "gpu", 1, {}, {}});
  return inf;
}

ModelProfile Profile(const std::string& name, double p75_cpu) {
  ModelProfile mp;
  mp.metadata.name = name;
  Variant v;
  v.name = "small";
  v.output_size_kib = 1;
  v.latency_ms["cpu"] = Latency{p75_cpu * 0.8, p75_cpu, p75_cpu * 1.2};
  v.latency_ms["gpu"] = Latency{1, 1.5, 2};
  mp.spec.variants.push_back(v);
  return mp;
}

TEST(ObserveVariants, PerProfileVariantAndHardwareWeightedByItems) {
  const auto obs = ObserveVariants(
      TwoOps(), TwoNodes(),
      {Reporting("n1", {OpMetrics("A", "small", 10, 20, 30, 2048, 100)}),
       Reporting("n2", {OpMetrics("A", "small", 20, 40, 60, 1024, 300), OpMetrics("B", "", 1, 1, 1, 1, 5)}),
       Reporting("g1", {OpMetrics("A", "small", 1, 2, 3, 512, 50), OpMetrics("B", "big", 4, 5, 6, 0, 0)}),
       Reporting("elsewhere", {OpMetrics("A", "small", 99, 99, 99, 1, 99)})});
  // B's reports are left out: no variant, no items; the node the Infrastructure does not list too.
  ASSERT_EQ(obs.size(), 2u);
  EXPECT_EQ(obs[0].hardware, "cpu");
  EXPECT_EQ(obs[0].items, 400);
  EXPECT_DOUBLE_EQ(obs[0].p50_ms, (10 * 100 + 20 * 300) / 400.0);
  EXPECT_DOUBLE_EQ(obs[0].p75_ms, (20 * 100 + 40 * 300) / 400.0);
  EXPECT_DOUBLE_EQ(obs[0].p90_ms, (30 * 100 + 60 * 300) / 400.0);
  EXPECT_DOUBLE_EQ(obs[0].output_kib, (2 * 100 + 1 * 300) / 400.0);
  EXPECT_EQ(obs[1].hardware, "gpu");
  EXPECT_EQ(obs[1].items, 50);
  EXPECT_EQ(obs[1].profile, "pa");
  EXPECT_EQ(obs[1].workflows, std::vector<std::string>{"w"});
}

TEST(ProfileObservations, EveryWorkflowsObservationsMergeAndAWorkflowThatStopsLeaves) {
  ProfileObservations po;
  po.Set("w1", {VariantObservation{"pa", "small", "cpu", 10, 20, 30, 1, 100, {"w1"}}});
  po.Set("w2", {VariantObservation{"pa", "small", "cpu", 30, 40, 50, 3, 300, {"w2"}},
                VariantObservation{"pb", "small", "cpu", 1, 1, 1, 1, 10, {"w2"}}});
  auto m = po.Merged("pa");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].items, 400);
  EXPECT_DOUBLE_EQ(m[0].p75_ms, 35);
  EXPECT_DOUBLE_EQ(m[0].output_kib, 2.5);
  EXPECT_EQ(m[0].workflows, (std::vector<std::string>{"w1", "w2"}));
  po.Set("w2", {});
  m = po.Merged("pa");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].items, 100);
  EXPECT_TRUE(po.Merged("pb").empty());
}

TEST(MergeProfileStatus, ObservedBesideProfiledWithTheRatioAndANewSpecDropsWhatADriftAdopted) {
  ModelProfile mp = Profile("pa", 10);
  auto st = MergeProfileStatus(mp, {VariantObservation{"pa", "small", "cpu", 12, 15, 18, 0.5, 80, {"w"}}},
                               "2026-01-01T00:00:00Z");
  ASSERT_EQ(st.observed.size(), 1u);
  const ObservedVariant& e = st.observed[0];
  EXPECT_EQ(e.variant, "small");
  EXPECT_EQ(e.hardware, "cpu");
  EXPECT_EQ(e.items, 80);
  EXPECT_EQ(e.output_size_kib, 0.5);
  EXPECT_EQ(e.time, "2026-01-01T00:00:00Z");
  ASSERT_TRUE(e.profiled);
  EXPECT_EQ(*e.profiled, mp.spec.variants[0].latency_ms["cpu"]);
  EXPECT_DOUBLE_EQ(e.drift.at("p50"), 1.5);
  EXPECT_DOUBLE_EQ(e.drift.at("p75"), 1.5);
  EXPECT_DOUBLE_EQ(e.drift.at("p90"), 1.5);
  // Adopted, then observed again with nobody reporting: the figures, time and planned stay.
  mp.status = st;
  ProfileDrift d;
  d.variant = "small";
  d.hardware = "cpu";
  d.observed = Latency{12, 15, 18};
  AdoptDrift(d, "w", "2026-01-01T00:01:00Z", &mp.status);
  auto again = MergeProfileStatus(mp, {}, "2026-01-01T00:02:00Z");
  ASSERT_EQ(again.observed.size(), 1u);
  EXPECT_EQ(again.observed[0].time, "2026-01-01T00:00:00Z");
  EXPECT_TRUE(again.observed[0].workflows.empty());
  ASSERT_TRUE(again.observed[0].planned);
  EXPECT_EQ(again.observed[0].planned_by, "w");
  EXPECT_EQ(PlanningProfiles({mp})[0].spec.variants[0].latency_ms["cpu"], (Latency{12, 15, 18}));
  EXPECT_EQ(PlanningProfiles({mp})[0].spec.variants[0].latency_ms["gpu"], (Latency{1, 1.5, 2}));
  // A new profile for cpu replaces what the drift adopted.
  mp.spec.variants[0].latency_ms["cpu"].p75 = 16;
  auto fresh = MergeProfileStatus(mp, {}, "2026-01-01T00:03:00Z");
  EXPECT_FALSE(fresh.observed[0].planned);
  EXPECT_TRUE(fresh.observed[0].planned_by.empty());
}

// The status entry of `mp` as the reconciler would write it for workflow "w".
ModelProfile Observed(ModelProfile mp, double p75, int64_t items) {
  mp.status = MergeProfileStatus(
      mp, {VariantObservation{mp.metadata.name, "small", "cpu", p75 * 0.8, p75, p75 * 1.2, 1, items, {"w"}}}, "t");
  return mp;
}

TEST(ProfileDriftTrigger, FiresAfterTheSustainedWindowNotBeforeAndRestartsInsideTheMargin) {
  ProfileDriftTrigger t(ProfileDriftOptions{0.25, 60, 50});
  const ModelProfile slow = Observed(Profile("pa", 10), 13, 200);    // +30%
  const ModelProfile inside = Observed(Profile("pa", 10), 12, 200);  // +20%: inside the margin
  const ModelProfile few = Observed(Profile("pa", 10), 20, 49);      // too few items
  EXPECT_TRUE(t.Observe(0, "w", "p75", {slow}).empty());
  EXPECT_TRUE(t.Observe(59, "w", "p75", {slow}).empty());
  auto fired = t.Observe(60, "w", "p75", {slow});
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].variant, "small");
  EXPECT_EQ(fired[0].hardware, "cpu");
  EXPECT_DOUBLE_EQ(fired[0].observed_ms, 13);
  EXPECT_DOUBLE_EQ(fired[0].reference_ms, 10);
  EXPECT_DOUBLE_EQ(*fired[0].observed.p90, 13 * 1.2);
  EXPECT_NE(DriftMessage(fired[0], t.options()).find("observed p75 13.00 ms against 10.00 ms profiled (+30%"),
            std::string::npos)
      << DriftMessage(fired[0], t.options());
  // The window restarted; a look inside the margin restarts it again.
  EXPECT_TRUE(t.Observe(100, "w", "p75", {slow}).empty());
  EXPECT_TRUE(t.Observe(110, "w", "p75", {inside}).empty());
  EXPECT_TRUE(t.Observe(120, "w", "p75", {slow}).empty());
  EXPECT_TRUE(t.Observe(179, "w", "p75", {slow}).empty());
  EXPECT_EQ(t.Observe(180, "w", "p75", {slow}).size(), 1u);
  // Too few items, another workflow, or the p50 (its own figure +30% too) judged at p50.
  EXPECT_TRUE(t.Observe(0, "w", "p75", {few}).empty());
  EXPECT_TRUE(t.Observe(100, "w", "p75", {few}).empty());
  EXPECT_TRUE(t.Observe(0, "other", "p75", {slow}).empty());
  EXPECT_TRUE(t.Observe(100, "other", "p75", {slow}).empty());
  // Once adopted, the observed figures are the reference: no further drift.
  ModelProfile adopted = slow;
  AdoptDrift(fired[0], "w", "t", &adopted.status);
  EXPECT_TRUE(t.Observe(200, "w", "p75", {adopted}).empty());
  EXPECT_TRUE(t.Observe(400, "w", "p75", {adopted}).empty());
}

// A driver whose workers report operator service times: the profiled figure for their node's
// hardware class, times a factor per variant.
class ReportingDriver : public FakeDriver {
 public:
  ReportingDriver(const std::vector<ModelProfile>* profiles, const Infrastructure* inf)
      : profiles_(profiles), inf_(inf) {}
  std::vector<WorkerState> Observe(const std::string& workflow) override {
    auto states = FakeDriver::Observe(workflow);
    const auto desired = Desired(workflow);
    for (auto& w : states) {
      w.metrics = WorkerMetrics{};
      for (const auto& c : desired) {
        if (c.name != w.name) continue;
        for (const auto& in : c.instances) {
          if (in.kind != "operator") continue;
          Latency l = Profiled(in.variant, w.node);
          const std::string key = in.variant + "@" + Hardware(w.node);
          double f = factor.count(key) ? factor.at(key) : 1.0;
          w.metrics->instances.push_back(OpMetrics(in.name, in.variant, l.p50 * f, l.p75.value_or(l.p50) * f,
                                                   l.p90.value_or(l.p50) * f, 2048, items));
        }
      }
    }
    return states;
  }
  std::map<std::string, double> factor;  // "variant@hardware" -> how much slower it really runs there
  int64_t items = 200;

 private:
  std::string Hardware(const std::string& node) const {
    for (const auto& n : inf_->spec.nodes)
      if (n.name == node) return n.hardware;
    return "";
  }
  Latency Profiled(const std::string& variant, const std::string& node) const {
    const std::string hw = Hardware(node);
    for (const auto& mp : *profiles_)
      for (const auto& v : mp.spec.variants)
        if (v.name == variant && v.latency_ms.count(hw)) return v.latency_ms.at(hw);
    return Latency{1, 1, 1};
  }
  const std::vector<ModelProfile>* profiles_;
  const Infrastructure* inf_;
};

// A placement's latency as the plan priced it (utilisation = rate x latency / instances).
double PricedLatency(const Placement& p) { return p.utilisation * 1000 * static_cast<double>(p.instances) / p.rate; }

TEST(ProfileDriftReplan, AVariantThatRunsSlowerThanItsProfileReplansOnceOnTheObservedFiguresAfterTheWindow) {
  testing::Instance in = testing::LoadInstance("manifests/vqa");
  MemoryStore store;
  ASSERT_TRUE(store.Put(in.inf).ok());
  for (const auto& p : in.profiles) ASSERT_TRUE(store.Put(p).ok());
  ASSERT_TRUE(store.Put(in.wf).ok());
  ReportingDriver driver(&in.profiles, &in.inf);
  FakeClock clock;
  EventRecorder events;
  ReconcilerOptions opts;
  opts.clock = &clock;
  opts.damping.min_interval_s = 0;  // the window is the damping under test
  opts.profile_drift = ProfileDriftOptions{0.25, 60, 50};
  WorkflowReconciler r(&store, &driver, opts, &events);
  const std::string name = in.wf.metadata.name;
  auto wf = [&] { return std::get<Workflow>(*store.Get("Workflow", name)); };
  auto reconcile_until_settled = [&] {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(r.Reconcile(name).error.ok());
      if (!wf().status.rollout) return;
    }
    FAIL() << "the rollout did not complete";
  };
  reconcile_until_settled();
  ASSERT_TRUE(wf().status.plan);
  ASSERT_EQ(wf().status.history.size(), 1u);
  // The busiest placement's variant really runs 1.6x slower than profiled on its hardware class.
  const Plan first = *wf().status.plan;
  const Placement* slow = &first.placements[0];
  for (const auto& p : first.placements)
    if (p.utilisation > slow->utilisation) slow = &p;
  const std::string variant = slow->variant;
  std::string hardware, profile;
  for (const auto& n : in.inf.spec.nodes)
    if (n.name == slow->node) hardware = n.hardware;
  for (const auto& op : in.wf.spec.operators)
    if (op.name == slow->op) profile = op.profile;
  double profiled_p75 = 0;
  for (const auto& mp : in.profiles)
    if (mp.metadata.name == profile)
      for (const auto& v : mp.spec.variants)
        if (v.name == variant) profiled_p75 = *v.latency_ms.at(hardware).p75;
  ASSERT_GT(profiled_p75, 0);
  EXPECT_NEAR(PricedLatency(*slow), profiled_p75, 1e-6 * profiled_p75);  // priced at the profiled p75
  driver.factor[variant + "@" + hardware] = 1.6;

  // Observed beside profiled in the ModelProfile status, without re-planning or a new generation.
  const auto generation = std::get<ModelProfile>(*store.Get("ModelProfile", profile)).metadata.generation;
  ASSERT_TRUE(r.Reconcile(name).error.ok());
  auto mp = std::get<ModelProfile>(*store.Get("ModelProfile", profile));
  EXPECT_EQ(mp.metadata.generation, generation);
  const ObservedVariant* e = nullptr;
  for (const auto& o : mp.status.observed)
    if (o.variant == variant && o.hardware == hardware) e = &o;
  ASSERT_NE(e, nullptr);
  EXPECT_NEAR(e->p75_ms, 1.6 * profiled_p75, 1e-9 * profiled_p75);
  ASSERT_TRUE(e->profiled);
  EXPECT_DOUBLE_EQ(*e->profiled->p75, profiled_p75);
  EXPECT_NEAR(e->drift.at("p75"), 1.6, 1e-4);
  EXPECT_EQ(e->output_size_kib, 2);
  EXPECT_GE(e->items, 200);
  EXPECT_EQ(e->time, "2026-01-01T00:00:00Z");
  EXPECT_FALSE(e->planned);

  // Not before the window.
  for (int s = 0; s < 5; ++s) {
    clock.Advance(10s);
    ASSERT_TRUE(r.Reconcile(name).error.ok());
  }
  EXPECT_EQ(wf().status.history.size(), 1u) << "re-planned before the sustained window";
  // After it: one re-plan, trigger "profile", on the observed figures, with the event.
  clock.Advance(11s);
  ASSERT_TRUE(r.Reconcile(name).error.ok());
  auto st = wf().status;
  ASSERT_EQ(st.history.size(), 2u);
  EXPECT_EQ(st.history.back().trigger, "profile");
  mp = std::get<ModelProfile>(*store.Get("ModelProfile", profile));
  EXPECT_EQ(mp.metadata.generation, generation);
  for (const auto& o : mp.status.observed)
    if (o.variant == variant && o.hardware == hardware) {
      ASSERT_TRUE(o.planned);
      EXPECT_NEAR(*o.planned->p75, 1.6 * profiled_p75, 1e-9 * profiled_p75);
      EXPECT_EQ(o.planned_by, name);
    }
  bool priced_observed = false;
  for (const auto& p : st.history.back().plan.placements)
    if (p.variant == variant && p.node == slow->node && p.op == slow->op) {
      EXPECT_NEAR(PricedLatency(p), 1.6 * profiled_p75, 1e-6 * profiled_p75);
      priced_observed = true;
    }
  bool event = false;
  for (const auto& ev : events.List("Workflow", name))
    if (ev.reason == "ProfileDrift") {
      event = true;
      EXPECT_NE(ev.message.find("variant " + variant + " on hardware " + hardware), std::string::npos) << ev.message;
      EXPECT_NE(ev.message.find(FormatFixed(1.6 * profiled_p75, 2) + " ms against " + FormatFixed(profiled_p75, 2) +
                                " ms profiled"),
                std::string::npos)
          << ev.message;
    }
  EXPECT_TRUE(event);
  // The new plan either keeps the variant there, priced at the observed figure, or moved off it.
  // The new plan keeps the variant there, priced at the observed figure, or moves off it: the
  // plan of the unchanged profiled inputs was `first`, so a different plan comes from the observed one.
  EXPECT_TRUE(priced_observed || st.history.back().plan.placements != first.placements);
  // Once: the variant keeps running as slowly, and nothing re-plans again.
  reconcile_until_settled();
  for (int s = 0; s < 20; ++s) {
    clock.Advance(10s);
    ASSERT_TRUE(r.Reconcile(name).error.ok());
  }
  EXPECT_EQ(wf().status.history.size(), 2u);
}

TEST(Fingerprint, AdoptedObservedFiguresChangeItWithTriggerProfileAndWithoutThemItReadsAsBefore) {
  PlanInputs in;
  in.wf = TwoOps();
  in.profiles = {Observed(Profile("pa", 10), 13, 200)};
  const Fingerprint before = FingerprintOf(in, WorkflowStatus{});
  EXPECT_EQ(before.observed, 0u);
  EXPECT_EQ(before.Encode().find(" o="), std::string::npos);
  ProfileDrift d;
  d.variant = "small";
  d.hardware = "cpu";
  d.observed = Latency{10.4, 13, 15.6};
  AdoptDrift(d, "w", "t", &in.profiles[0].status);
  const Fingerprint after = FingerprintOf(in, WorkflowStatus{});
  EXPECT_NE(after, before);
  EXPECT_EQ(ChangedInput(before, after), "profile");
  const InputsChange c = CompareInputs(before.Encode(), in, WorkflowStatus{});
  EXPECT_FALSE(c.same);
  EXPECT_EQ(c.trigger, "profile");
  EXPECT_TRUE(CompareInputs(after.Encode(), in, WorkflowStatus{}).same);
  auto back = Fingerprint::Decode(after.Encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, after);
  EXPECT_FALSE(Fingerprint::Decode(before.Encode() + " o=0000000000000000"));
  // The status's observed figures alone (no adoption) are not an input.
  in.profiles[0].status.observed[0].planned.reset();
  in.profiles[0].status.observed[0].p75_ms = 99;
  EXPECT_EQ(FingerprintOf(in, WorkflowStatus{}), before);
}

TEST(ProfileStatusStore, APutKeepsTheStatusAndAStatusWriteKeepsVersionAndGeneration) {
  MemoryStore store;
  ModelProfile mp = Profile("pa", 10);
  auto put = store.Put(mp);
  ASSERT_TRUE(put.ok());
  const auto rv = MetaOf(*put).resource_version;
  const ModelProfileStatus st = Observed(mp, 13, 200).status;
  ASSERT_TRUE(store.PutProfileStatus("pa", st, "").ok());
  auto got = std::get<ModelProfile>(*store.Get("ModelProfile", "pa"));
  EXPECT_EQ(got.status, st);
  EXPECT_EQ(got.metadata.resource_version, rv);
  EXPECT_EQ(got.metadata.generation, 1);
  EXPECT_EQ(store.PutProfileStatus("nope", st, "").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store.PutProfileStatus("pa", st, "999").status().code(), Status::Code::kConflict);
  // A user's apply of the spec keeps the controller's status.
  mp.spec.variants[0].accuracy = 50;
  ASSERT_TRUE(store.Put(mp).ok());
  got = std::get<ModelProfile>(*store.Get("ModelProfile", "pa"));
  EXPECT_EQ(got.status, st);
  EXPECT_EQ(got.metadata.generation, 2);
}

TEST(ProfileStatusStore, TheStatusSurvivesARestartOfTheFileStore) {
  testing::TempDir dir;
  const ModelProfileStatus st = Observed(Profile("pa", 10), 13, 200).status;
  {
    FileStore store(dir.path().string());
    EXPECT_TRUE(store.Load().empty());
    ASSERT_TRUE(store.Put(Profile("pa", 10)).ok());
    ASSERT_TRUE(store.PutProfileStatus("pa", st, "").ok());
  }
  FileStore again(dir.path().string());
  EXPECT_TRUE(again.Load().empty());
  auto got = again.Get("ModelProfile", "pa");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::get<ModelProfile>(*got).status, st);
}

}  // namespace
}  // namespace jb
