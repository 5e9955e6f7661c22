#include "api/manifest.h"

#include <gtest/gtest.h>

#include <chrono>
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
  wf.spec.sources.push_back(
      Source{"s", 1.5, "edge", std::nullopt, 10, std::nullopt, std::nullopt, std::nullopt, {}, {}});
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
)",
                          "m.yaml", &diags);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(diags.size(), 4u);
  std::vector<std::string> lines;
  for (const auto& d : diags) lines.push_back(d.ToString());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines[0],
            "m.yaml:10:28: spec.variants[0].latencyMs.cpu.p50: 0 is out of range; expected a number >= 0.001 and <= "
            "3600000 (ms)");
  EXPECT_EQ(lines[1],
            "m.yaml:11:5: spec.variants[0].extra: unknown field; expected one of: name, accuracy, outputSizeKiB, "
            "latencyMs, runtime");
  EXPECT_EQ(lines[2],
            "m.yaml:5:3: metadata.colour: unknown field; expected one of: name, namespace, labels, annotations, "
            "generation, resourceVersion, deletionTimestamp, uid, creationTimestamp, finalizers");
  EXPECT_EQ(
      lines[3],
      "m.yaml:9:20: spec.variants[0].outputSizeKiB: -1 is out of range; expected a number >= 0 and <= 10000000 (KiB)");
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
        case 0:
          text[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.erase(pos, 1 + rng() % 20);
          break;
        default:
          text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
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

// ---- limits ------------------------------------------------------------------------------------

const char* kInfraHead = R"(apiVersion: jellybean.dev/v1alpha1
kind: Infrastructure
metadata:
  name: lab
spec:
  tiers:
  - {name: edge, driver: {type: local}}
)";

// CLP aborted the daemon on a price of 1e25; the decoder now names the field, value and range.
TEST(ManifestLimits, AbsurdNumbersAreRejectedWithFieldValueAndRange) {
  std::vector<Diagnostic> diags;
  auto r = ObjectFromText(
      std::string(kInfraHead) + "  nodes:\n  - {name: n, tier: edge, pricePerHour: 1e25, hardware: cpu}\n", "i.yaml",
      &diags);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(
      diags[0].ToString(),
      "i.yaml:9:41: spec.nodes[0].pricePerHour: 1e+25 is out of range; expected a number >= 0 and <= 10000 (USD/h)");
  diags.clear();
  r = ObjectFromText(
      std::string(kInfraHead) + "  nodes:\n  - {name: n, tier: edge, pricePerHour: .nan, hardware: cpu}\n", "i.yaml",
      &diags);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].message, ".nan is not a finite number; expected a number >= 0 and <= 10000 (USD/h)");
}

// A 4 MB body of mistakes became a 126 MB error response: at most 50 problems, then a count.
TEST(ManifestLimits, ErrorsAreCappedWithACountOfTheRest) {
  std::string text = std::string(kInfraHead) + "  nodes:\n  - {name: n, tier: edge, pricePerHour: 1, hardware: cpu}\n";
  for (int i = 0; i < 100000; ++i) text += "  unknown" + std::to_string(i) + ": 1\n";
  std::vector<Diagnostic> diags;
  auto r = ObjectFromText(text, "body", &diags);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(diags.size(), kMaxDiagnostics + 1);
  EXPECT_EQ(diags.back().ToString(), "body: ... and 99950 more errors");
  EXPECT_LT(r.status().message().size(), 16u * 1024) << "the error text must not grow with the body";
}

// Long user text (unknown keys, enum values, kinds) is quoted in excerpts, so 50 errors stay small.
TEST(ManifestLimits, LongUserTextIsQuotedInExcerpts) {
  std::string text = std::string(kInfraHead) + "  nodes:\n  - {name: n, tier: edge, pricePerHour: 1, hardware: cpu}\n";
  // Keys of 401-402 characters: the parser refuses keys over 500 (our JSON must carry them back).
  for (int i = 0; i < 60; ++i) text += "  " + std::string(400, 'k') + std::to_string(i) + ": 1\n";
  std::vector<Diagnostic> diags;
  auto r = ObjectFromText(text, "body", &diags);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(diags.size(), kMaxDiagnostics + 1);
  EXPECT_LT(r.status().message().size(), 32u * 1024);
  EXPECT_NE(diags[0].path.find("... (401 characters)"), std::string::npos) << diags[0].path.substr(0, 300);
}

TEST(ManifestLimits, FormatDiagnosticsCapsAcrossDocuments) {
  std::string text;
  for (int i = 0; i < 120; ++i) text += "---\nkind: Nothing\n";
  auto docs = DecodeText(text, "many.yaml");
  ASSERT_EQ(docs.size(), 120u);
  auto lines = FormatDiagnostics(docs);
  ASSERT_EQ(lines.size(), kMaxDiagnostics + 1);
  EXPECT_EQ(lines.back(), "... and 190 more errors");  // 2 problems per document, 50 shown
}

// 1,000 operators held a reconcile thread for ~95 s; the list is refused before its items are decoded.
TEST(ManifestLimits, TooManyOperatorsIsOneErrorAndFast) {
  std::string text = R"(apiVersion: jellybean.dev/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  infrastructure: lab
  sources: [{name: s, rate: 1, tier: edge, itemSizeKiB: 1}]
  slo: {minAccuracy: 0}
  operators:
)";
  for (int i = 0; i < 10000; ++i) text += "  - {name: o" + std::to_string(i) + ", profile: p, inputs: [{from: s}]}\n";
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Diagnostic> diags;
  auto r = ObjectFromText(text, "w.yaml", &diags);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].ToString(), "w.yaml:9:3: spec.operators: has 10000 items; expected at most 200");
  EXPECT_LT(s, 5.0);
}

// The planner benchmark's largest generated instance (bench/planner: 1000 nodes x 50 operators x
// 5 tiers, 3 variants over 8 hardware classes) must stay valid through the decoder.
TEST(ManifestLimits, BenchScaleInstancesStayValid) {
  Infrastructure inf;
  inf.metadata.name = "gen";
  for (int t = 0; t < 5; ++t) inf.spec.tiers.push_back(Tier{"t" + std::to_string(t), DriverSpec{}});
  for (int t = 0; t + 1 < 5; ++t) {
    inf.spec.links.push_back(Link{"t" + std::to_string(t), "t" + std::to_string(t + 1), 0.02, 1000.0, 5.0});
    inf.spec.links.push_back(Link{"t" + std::to_string(t + 1), "t" + std::to_string(t), 0.09, 1000.0, 5.0});
  }
  for (int n = 0; n < 1000; ++n)
    inf.spec.nodes.push_back(Node{"n" + std::to_string(n),
                                  "t" + std::to_string(n % 5),
                                  0.05 + 0.1 * (n % 8),
                                  "hw" + std::to_string(n % 8),
                                  1,
                                  {},
                                  {}});
  Workflow wf;
  wf.metadata.name = "gen";
  wf.spec.infrastructure = "gen";
  wf.spec.sources.push_back(Source{"src", 40, "t0", {}, 794, {}, {}, {}, {}, {}});
  std::vector<Object> objects{inf};
  for (int o = 0; o < 50; ++o) {
    ModelProfile mp;
    mp.metadata.name = "p" + std::to_string(o);
    for (int v = 0; v < 3; ++v) {
      Variant var{"v" + std::to_string(v), 97.0 + v, 28, {}, {}};
      for (int hw = 0; hw < 8; ++hw)
        var.latency_ms["hw" + std::to_string(hw)] = Latency{10.0 + hw, 11.0 + hw, 12.0 + hw};
      mp.spec.variants.push_back(var);
    }
    objects.push_back(mp);
    wf.spec.operators.push_back(Operator{
        "op" + std::to_string(o), mp.metadata.name, {Input{o == 0 ? "src" : "op" + std::to_string(o - 1), 1.0}}});
  }
  wf.spec.slo.min_accuracy = 50;
  objects.push_back(wf);
  std::string text;
  for (const auto& obj : objects) text += "---\n" + ObjectToYaml(obj);
  auto docs = DecodeText(text, "gen.yaml");
  ValidateSet(&docs);
  auto lines = FormatDiagnostics(docs);
  EXPECT_TRUE(lines.empty()) << lines.front();
  EXPECT_EQ(docs.size(), 52u);
}

TEST(Manifest, UnreadablePathIsReported) {
  auto docs = LoadPath("/nonexistent/file.yaml");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_FALSE(docs[0].ok());
  EXPECT_NE(docs[0].diagnostics[0].message.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace jb
