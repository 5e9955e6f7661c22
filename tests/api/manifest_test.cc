#include "api/manifest.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/test_util.h"

namespace jb {
namespace {

std::vector<Document> LoadVqa() {
  auto docs = LoadPath(std::string(JB_SOURCE_DIR) + "/manifests/vqa");
  ValidateSet(&docs);
  return docs;
}

TEST(Manifest, VqaExampleDecodesAndValidates) {
  auto docs = LoadVqa();
  ASSERT_EQ(docs.size(), 5u);
  for (const auto& d : docs) EXPECT_TRUE(d.ok()) << d.Describe();
}

TEST(Manifest, YamlAndJsonRoundTripExactly) {
  for (const auto& d : LoadVqa()) {
    ASSERT_TRUE(d.object);
    for (const std::string& text : {ObjectToYaml(*d.object), ObjectToJson(*d.object), ObjectToJson(*d.object, true)}) {
      std::vector<Diagnostic> diags;
      auto back = ObjectFromText(text, "roundtrip", &diags);
      ASSERT_TRUE(back.ok()) << back.status().message();
      EXPECT_TRUE(*back == *d.object) << d.Describe();
      EXPECT_EQ(ObjectToYaml(*back), ObjectToYaml(*d.object));
    }
  }
}

TEST(Manifest, StatusWithPlanRoundTrips) {
  Workflow wf;
  wf.metadata.name = "w";
  wf.metadata.generation = 3;
  wf.metadata.resource_version = "17";
  wf.spec.infrastructure = "i";
  wf.spec.sources.push_back(Source{"s", 1.5, "edge", std::nullopt, 10, std::nullopt, std::nullopt, std::nullopt});
  wf.spec.operators.push_back(Operator{"o", "p", {Input{"s", 1.0}}});
  wf.spec.slo.min_accuracy = 50;
  wf.status.observed_generation = 3;
  wf.status.conditions.push_back(Condition{"Planned", "True", "Solved", "ok", "2026-11-24T00:00:00Z"});
  Plan plan;
  plan.variants["o"] = "v";
  plan.placements.push_back(Placement{"o", "v", "n", "edge", 1, 1.5, 0.3, KeyRange{0, 1}});
  plan.cost = PlanCost{1, 0.5, 1.5};
  plan.accuracy = 51.5;
  plan.solver = "exact";
  wf.status.plan = plan;
  std::vector<Diagnostic> diags;
  auto back = ObjectFromText(ObjectToJson(Object(wf)), "x.json", &diags);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(std::get<Workflow>(*back) == wf);
}

TEST(Manifest, AllErrorsAreReportedNotJustTheFirst) {
  std::vector<Diagnostic> diags;
  auto r = ObjectFromText(R"(apiVersion: jellybean.dev/v1alpha1
kind: ModelProfile
metadata:
  name: m
  colour: red
spec:
  variants:
  - name: v
    outputSizeKiB: -1
    latencyMs: {cpu: {p50: 0}}
    extra: 1
)", "m.yaml", &diags);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(diags.size(), 4u);
  std::vector<std::string> lines;
  for (const auto& d : diags) lines.push_back(d.ToString());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines[0], "m.yaml:10:28: spec.variants[0].latencyMs.cpu.p50: 0 is out of range; expected a number > 0");
  EXPECT_EQ(lines[1], "m.yaml:11:5: spec.variants[0].extra: unknown field; expected one of: name, accuracy, outputSizeKiB, latencyMs, runtime");
  EXPECT_EQ(lines[2], "m.yaml:5:3: metadata.colour: unknown field; expected one of: name, labels, generation, resourceVersion, deletionTimestamp, finalizers");
  EXPECT_EQ(lines[3], "m.yaml:9:20: spec.variants[0].outputSizeKiB: -1 is out of range; expected a number >= 0");
}

// Random byte-level mutations of a valid manifest: decoding must never crash or throw, and every
// failure must carry diagnostics.
TEST(Manifest, MutatedInputNeverCrashes) {
  std::string base = testing::ReadFile(std::string(JB_SOURCE_DIR) + "/manifests/vqa/workflow.yaml");
  std::mt19937 rng(42);
  const std::string alphabet = "[]{}:,-#&*!|>'\"%@` \n\tab01.";
  for (int i = 0; i < 400; ++i) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1 + rng() % 20); break;
        default: text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    std::vector<Document> docs;
    ASSERT_NO_THROW(docs = DecodeText(text, "fuzz.yaml"));
    ASSERT_NO_THROW(ValidateSet(&docs));
    for (const auto& d : docs) {
      if (!d.object) {
        EXPECT_FALSE(d.diagnostics.empty());
      }
    }
  }
}

TEST(Manifest, UnreadablePathIsReported) {
  auto docs = LoadPath("/nonexistent/file.yaml");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_FALSE(docs[0].ok());
  EXPECT_NE(docs[0].diagnostics[0].message.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace jb
