// The CRDs in crds/ must agree with the C++ types about which fields exist, their types, which are
// required, and enums. Regenerate with `jbctl crds -o crds` after changing a type.
#include "api/crd.h"

#include <gtest/gtest.h>

#include "api/manifest.h"
#include "tests/test_util.h"

namespace jb {
namespace {

const Value* OpenApiSchema(const Value& crd) {
  const Value* versions = crd.Find("spec") ? crd.Find("spec")->Find("versions") : nullptr;
  if (versions == nullptr || versions->items().empty()) return nullptr;
  const Value* schema = versions->items()[0].Find("schema");
  return schema ? schema->Find("openAPIV3Schema") : nullptr;
}

TEST(Crd, CheckedInCrdsMatchTheCppTypes) {
  for (const auto& kind : Kinds()) {
    SCOPED_TRACE(kind);
    std::string lower = kind;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto docs = ParseYamlStream(testing::ReadFile(std::string(JB_SOURCE_DIR) + "/crds/" + lower + ".yaml"));
    ASSERT_EQ(docs.size(), 1u);
    ASSERT_TRUE(docs[0].error.ok());
    const Value& crd = docs[0].root;
    EXPECT_EQ(crd.Find("apiVersion")->as_string(), "apiextensions.k8s.io/v1");
    EXPECT_EQ(crd.Find("kind")->as_string(), "CustomResourceDefinition");
    EXPECT_EQ(crd.Find("spec")->Find("names")->Find("kind")->as_string(), kind);
    const Value* schema = OpenApiSchema(crd);
    ASSERT_NE(schema, nullptr);
    auto cpp = SchemaForKind(kind);
    ASSERT_TRUE(cpp.ok());
    auto diffs = CompareSchema(*cpp, *schema, "");
    std::string all;
    for (const auto& d : diffs) all += d + "\n";
    EXPECT_TRUE(diffs.empty()) << "crds/ drifted from the C++ types (run `jbctl crds -o crds`):\n" << all;
  }
}

TEST(Crd, ComparisonDetectsDriftBothWays) {
  auto cpp = SchemaForKind("Workflow");
  ASSERT_TRUE(cpp.ok());
  Value crd = cpp->ToValue();
  // Remove a field from the CRD's spec.sources items, add an unknown one, change a type.
  Value* spec = nullptr;
  for (auto& e : crd.entries())
    if (e.key == "properties")
      for (auto& p : e.value.entries())
        if (p.key == "spec") spec = &p.value;
  ASSERT_NE(spec, nullptr);
  for (auto& e : spec->entries())
    if (e.key == "properties") {
      auto& props = e.value.entries();
      props.erase(std::remove_if(props.begin(), props.end(), [](const auto& p) { return p.key == "slo"; }),
                  props.end());
      Value extra = Value::Map();
      extra.Set("type", Value::String("string"));
      e.value.Set("priority", extra);
      for (auto& p : props)
        if (p.key == "infrastructure")
          for (auto& f : p.value.entries())
            if (f.key == "type") f.value = Value::String("integer");
    }
  auto diffs = CompareSchema(*cpp, crd, "");
  std::string all;
  for (const auto& d : diffs) all += d + "\n";
  EXPECT_NE(all.find("spec.slo: field exists in C++ but not in the CRD"), std::string::npos) << all;
  EXPECT_NE(all.find("spec.priority: field exists in the CRD but not in C++"), std::string::npos) << all;
  EXPECT_NE(all.find("spec.infrastructure: type string in C++, integer in CRD"), std::string::npos) << all;
}

// The bounds the decoder enforces are part of the CRD, and a CRD that states other bounds drifts.
TEST(Crd, LimitsAppearInTheSchemaAndTheirDriftIsDetected) {
  auto cpp = SchemaForKind("Infrastructure");
  ASSERT_TRUE(cpp.ok());
  Value crd = cpp->ToValue();
  Value* spec_props = nullptr;
  for (auto& e : crd.entries())
    if (e.key == "properties")
      for (auto& p : e.value.entries())
        if (p.key == "spec")
          for (auto& f : p.value.entries())
            if (f.key == "properties") spec_props = &f.value;
  ASSERT_NE(spec_props, nullptr);
  const Value* nodes = spec_props->Find("nodes");
  ASSERT_NE(nodes, nullptr);
  ASSERT_NE(nodes->Find("maxItems"), nullptr);
  EXPECT_EQ(nodes->Find("maxItems")->as_number(), 10000);
  const Value* price = nodes->Find("items")->Find("properties")->Find("pricePerHour");
  ASSERT_NE(price, nullptr);
  EXPECT_EQ(price->Find("maximum")->as_number(), 10000);
  for (auto& e : spec_props->entries())
    if (e.key == "nodes")
      for (auto& f : e.value.entries())
        if (f.key == "maxItems") f.value = Value::Integer(20000);
  auto diffs = CompareSchema(*cpp, crd, "");
  std::string all;
  for (const auto& d : diffs) all += d + "\n";
  EXPECT_NE(all.find("spec.nodes: maxItems 10000 in C++, 20000 in CRD"), std::string::npos) << all;
}

TEST(Crd, JbctlCrdsReproducesTheCheckedInFiles) {
  testing::TempDir dir;
  auto r = testing::Run(testing::Jbctl() + " crds -o " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0);
  for (const char* f : {"workflow.yaml", "modelprofile.yaml", "infrastructure.yaml"})
    EXPECT_EQ(testing::ReadFile(dir.path() / f), testing::ReadFile(std::string(JB_SOURCE_DIR) + "/crds/" + f)) << f;
}

}  // namespace
}  // namespace jb
