// Plan inputs and their fingerprint (reconciler/inputs.h): same inputs give the same value, every
// input change gives a different one and names the input as the trigger, the value is stable
// across builds (a golden constant), and fingerprints older daemons persisted are recognised.
#include "reconciler/inputs.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "api/fields.h"
#include "api/value.h"

namespace jb {
namespace {

// A small hand-built input set, independent of the example manifests, for the golden value.
PlanInputs GoldenInputs() {
  PlanInputs in;
  in.wf.metadata.name = "golden";
  in.wf.spec.infrastructure = "lab";
  Source s;
  s.name = "camera";
  s.rate = 12.5;
  s.tier = "edge";
  s.item_size_kib = 64;
  in.wf.spec.sources.push_back(s);
  Operator op;
  op.name = "detect";
  op.profile = "yolo";
  in.wf.spec.operators.push_back(op);
  in.wf.spec.slo.min_accuracy = 50;
  in.infra.metadata.name = "lab";
  in.infra.metadata.resource_version = "17";
  ModelProfile mp;
  mp.metadata.name = "yolo";
  mp.metadata.resource_version = "18";
  in.profiles.push_back(mp);
  return in;
}

WorkflowStatus GoldenStatus() {
  WorkflowStatus st;
  st.unavailable_nodes.push_back(NodeOutage{"edge-1", "not ready", "2026-01-01T00:00:00.000Z"});
  st.load_scale = 1.25;
  return st;
}

TEST(Fingerprint, SameInputsGiveTheSameValue) {
  auto a = FingerprintOf(GoldenInputs(), GoldenStatus());
  auto b = FingerprintOf(GoldenInputs(), GoldenStatus());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Encode(), b.Encode());
  // What only the emulated load generator uses is not an input of the plan.
  PlanInputs gen = GoldenInputs();
  gen.wf.spec.sources[0].generator_rate = 30;
  gen.wf.spec.sources[0].count = 1000;
  EXPECT_EQ(FingerprintOf(gen, GoldenStatus()), a);
  // Observations and history in the status are not inputs either.
  WorkflowStatus st = GoldenStatus();
  st.history.emplace_back();
  st.plan_epoch = 4;
  EXPECT_EQ(FingerprintOf(GoldenInputs(), st), a);
}

TEST(Fingerprint, EveryInputChangeChangesTheValueAndNamesTheTrigger) {
  const PlanInputs base = GoldenInputs();
  const WorkflowStatus st = GoldenStatus();
  const Fingerprint before = FingerprintOf(base, st);
  struct Change {
    const char* what;
    std::function<void(PlanInputs*, WorkflowStatus*)> apply;
    std::string trigger;
  };
  const std::vector<Change> changes = {
      {"source rate", [](PlanInputs* in, WorkflowStatus*) { in->wf.spec.sources[0].rate = 13; }, "Workflow"},
      {"accuracy floor", [](PlanInputs* in, WorkflowStatus*) { in->wf.spec.slo.min_accuracy = 51; }, "Workflow"},
      {"workflow name", [](PlanInputs* in, WorkflowStatus*) { in->wf.metadata.name = "golden2"; }, "Workflow"},
      {"infrastructure version", [](PlanInputs* in, WorkflowStatus*) { in->infra.metadata.resource_version = "170"; },
       "Infrastructure"},
      {"infrastructure name", [](PlanInputs* in, WorkflowStatus*) { in->infra.metadata.name = "lab2"; },
       "Infrastructure"},
      {"profile version", [](PlanInputs* in, WorkflowStatus*) { in->profiles[0].metadata.resource_version = "19"; },
       "ModelProfile"},
      {"profile added",
       [](PlanInputs* in, WorkflowStatus*) {
         ModelProfile m;
         m.metadata.name = "vit";
         m.metadata.resource_version = "20";
         in->profiles.push_back(m);
       },
       "ModelProfile"},
      // Length-prefixed fields: moving a character between name and version is a change.
      {"profile name/version split",
       [](PlanInputs* in, WorkflowStatus*) {
         in->profiles[0].metadata.name = "yolo1";
         in->profiles[0].metadata.resource_version = "8";
       },
       "ModelProfile"},
      {"node back", [](PlanInputs*, WorkflowStatus* s) { s->unavailable_nodes.clear(); }, "node"},
      {"node down",
       [](PlanInputs*, WorkflowStatus* s) {
         s->unavailable_nodes.push_back(NodeOutage{"edge-2", "", ""});
       },
       "node"},
      {"load", [](PlanInputs*, WorkflowStatus* s) { s->load_scale = 1.2501; }, "load"},
      {"load gone", [](PlanInputs*, WorkflowStatus* s) { s->load_scale.reset(); }, "load"},
      {"load 1.0 set", [](PlanInputs*, WorkflowStatus* s) { s->load_scale = 1.0; }, "load"},
  };
  for (const auto& c : changes) {
    PlanInputs in = base;
    WorkflowStatus s = st;
    c.apply(&in, &s);
    const Fingerprint after = FingerprintOf(in, s);
    EXPECT_NE(after, before) << c.what;
    EXPECT_NE(after.Encode(), before.Encode()) << c.what;
    EXPECT_EQ(ChangedInput(before, after), c.trigger) << c.what;
    const InputsChange cmp = CompareInputs(before.Encode(), in, s);
    EXPECT_FALSE(cmp.same) << c.what;
    EXPECT_EQ(cmp.trigger, c.trigger) << c.what;
  }
  EXPECT_TRUE(CompareInputs(before.Encode(), base, st).same);
  EXPECT_FALSE(CompareInputs(std::nullopt, base, st).same);
  // A load change below the planner's resolution (four decimals) is not a change.
  WorkflowStatus tiny = st;
  tiny.load_scale = 1.25000001;
  EXPECT_EQ(FingerprintOf(base, tiny), before);
}

// The value persisted in status.plannedFrom must not change between builds, compilers or
// platforms: a different value re-plans every Workflow once on upgrade. If this fails after a
// change to the API's encoding of WorkflowSpec, that change re-plans every Workflow once: say so.
// i, p, n and l were checked against an independent FNV-1a (Python: 64-bit offset basis and prime
// over u64le(len) + bytes per string, u64le(count) before lists, u64le(round(scale * 1e4))).
TEST(Fingerprint, TheValueIsStableAcrossBuilds) {
  EXPECT_EQ(FingerprintOf(GoldenInputs(), GoldenStatus()).Encode(),
            "fp1 w=6935619b1c9dd408 i=0d8099122a6db3c7 p=de2c38a1aa723b86 n=5185fcd50369f209 l=435954c0328c6b20");
  EXPECT_EQ(FingerprintOf(GoldenInputs(), WorkflowStatus{}).Encode(),
            "fp1 w=6935619b1c9dd408 i=0d8099122a6db3c7 p=de2c38a1aa723b86 n=a8c7f832281a39c5 l=a8c7f832281a39c5");
}

TEST(Fingerprint, EncodeAndDecodeRoundTripAndDecodeRefusesAnythingElse) {
  const Fingerprint f = FingerprintOf(GoldenInputs(), GoldenStatus());
  auto back = Fingerprint::Decode(f.Encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, f);
  const std::string good = f.Encode();
  for (const std::string& bad : {std::string(""), std::string("fp1"), good + " ", good.substr(0, good.size() - 1),
                                 "fp2" + good.substr(3), good.substr(0, 10) + "X" + good.substr(11),
                                 std::string("Workflow/vqa@00000000deadbeef,Infrastructure/vqa-medium@3")}) {
    EXPECT_FALSE(Fingerprint::Decode(bad)) << bad;
  }
}

// Accuracy drift: a raised floor is an input (trigger "accuracy"), written as an optional " a=" part
// so fingerprints without one keep their form.
TEST(Fingerprint, ARaisedAccuracyFloorIsAnOptionalInput) {
  const Fingerprint before = FingerprintOf(GoldenInputs(), GoldenStatus());
  WorkflowStatus st = GoldenStatus();
  st.accuracy_floor = 57.2;
  const Fingerprint raised = FingerprintOf(GoldenInputs(), st);
  EXPECT_NE(raised, before);
  EXPECT_EQ(ChangedInput(before, raised), kTriggerAccuracy);
  EXPECT_EQ(raised.Encode().rfind(before.Encode() + " a=", 0), 0u) << raised.Encode();
  auto back = Fingerprint::Decode(raised.Encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, raised);
  st.accuracy_floor = 57.3;
  EXPECT_NE(FingerprintOf(GoldenInputs(), st), raised);
  EXPECT_FALSE(Fingerprint::Decode(before.Encode() + " a=0000000000000000")) << "never written";
  EXPECT_FALSE(Fingerprint::Decode(before.Encode() + " b=0123456789abcdef"));
  EXPECT_FALSE(Fingerprint::Decode(raised.Encode() + " a=0123456789abcdef"));
}

// Upgrade: a plannedFrom an older daemon wrote (comma-joined, std::hash of the spec).
TEST(Fingerprint, AnOlderDaemonsFingerprintOfTheSameInputsIsRecognised) {
  const PlanInputs in = GoldenInputs();
  const WorkflowStatus st = GoldenStatus();
  const std::string legacy = LegacyFingerprint(in, st);
  // The exact form the old reconciler built.
  char hash[32];
  std::snprintf(hash, sizeof(hash), "%016zx", std::hash<std::string>{}(ToJson(Encoder::Encode(in.wf.spec))));
  EXPECT_EQ(legacy, std::string("Workflow/golden@") + hash +
                        ",Infrastructure/lab@17,ModelProfile/yolo@18,down:edge-1,load:1.2500");
  EXPECT_TRUE(CompareInputs(legacy, in, st).same);
  // Changed since: the re-plan its change calls for, with the trigger the old daemon would name.
  PlanInputs newer = in;
  newer.infra.metadata.resource_version = "21";
  auto c = CompareInputs(legacy, newer, st);
  EXPECT_FALSE(c.same);
  EXPECT_EQ(c.trigger, "Infrastructure");
  WorkflowStatus loaded = st;
  loaded.load_scale = 1.5;
  c = CompareInputs(legacy, in, loaded);
  EXPECT_FALSE(c.same);
  EXPECT_EQ(c.trigger, "load");
  // A spec hash from another build's std::hash: one re-plan, named for the Workflow.
  std::string other = legacy;
  other.replace(other.find('@') + 1, 16, "0123456789abcdef");
  c = CompareInputs(other, in, st);
  EXPECT_FALSE(c.same);
  EXPECT_EQ(c.trigger, "Workflow");
}

}  // namespace
}  // namespace jb
