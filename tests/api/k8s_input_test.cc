// Kubernetes-shaped input (api/manifest.cc, api/common_types.h): what kubectl-style YAML carries
// in metadata is accepted (namespace default, annotations, creationTimestamp: null, uid,
// resourceVersion, generation, managedFields), other namespaces are refused with a clear message.
#include <gtest/gtest.h>

#include "api/manifest.h"
#include "reconciler/memory_store.h"
#include "tests/planner/planner_fixtures.h"

namespace jb {
namespace {

std::string ProfileWithMetadata(const std::string& metadata) {
  std::string y = ObjectToYaml(testing::LoadInstance("manifests/vqa").profiles[0]);
  size_t at = y.find("metadata:\n");
  size_t end = y.find("spec:");
  return y.substr(0, at) + "metadata:\n" + metadata + y.substr(end);
}

TEST(K8sInput, KubectlStyleMetadataIsAccepted) {
  std::vector<Diagnostic> d;
  auto o =
      ObjectFromText(ProfileWithMetadata("  name: m\n  namespace: default\n  creationTimestamp: null\n"
                                         "  uid: 0f8fad5b-d9cb-469f-a165-70867728950e\n  resourceVersion: \"7\"\n"
                                         "  generation: 3\n  annotations:\n    kubectl.kubernetes.io/"
                                         "last-applied-configuration: '{}'\n  managedFields:\n  - manager: kubectl\n"
                                         "    operation: Update\n"),
                     "in", &d);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(MetaOf(*o).annotations.size(), 1u);
  EXPECT_FALSE(MetaOf(*o).creation_timestamp.has_value());
}

TEST(K8sInput, OtherNamespacesAreRefused) {
  std::vector<Diagnostic> d;
  auto o = ObjectFromText(ProfileWithMetadata("  name: m\n  namespace: prod\n"), "in", &d);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("metadata.namespace"), std::string::npos) << o.status().message();
  EXPECT_NE(o.status().message().find("default"), std::string::npos) << o.status().message();
}

TEST(K8sInput, NamesMustBeDns1123) {
  std::vector<Diagnostic> d;
  EXPECT_FALSE(ObjectFromText(ProfileWithMetadata("  name: My_Model\n"), "in", &d).ok());
}

// The store gives a created object a UUID v4 uid and a creationTimestamp, and keeps both, whatever
// the client sends.
TEST(K8sInput, StoreSetsUidAndCreationTimestampOnCreateAndKeepsThem) {
  MemoryStore store;
  ModelProfile p = testing::LoadInstance("manifests/vqa").profiles[0];
  p.metadata.uid = "client-made";
  auto created = store.Put(p);
  ASSERT_TRUE(created.ok());
  const ObjectMeta m = MetaOf(*created);
  ASSERT_TRUE(m.uid && m.creation_timestamp);
  EXPECT_NE(*m.uid, "client-made");
  EXPECT_EQ(m.uid->size(), 36u);
  EXPECT_EQ((*m.uid)[14], '4');
  EXPECT_NE(std::string("89ab").find((*m.uid)[19]), std::string::npos);
  EXPECT_TRUE(ParseRfc3339(*m.creation_timestamp).has_value());
  p.metadata.labels["x"] = "y";
  p.metadata.uid.reset();
  auto updated = store.Put(p);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(MetaOf(*updated).uid, m.uid);
  EXPECT_EQ(MetaOf(*updated).creation_timestamp, m.creation_timestamp);
  ModelProfile other = p;
  other.metadata.name = "other";
  EXPECT_NE(MetaOf(*store.Put(other)).uid, m.uid);
  // Annotations alone are a change worth a write.
  p.metadata.annotations["note"] = "n";
  auto annotated = store.Put(p);
  ASSERT_TRUE(annotated.ok());
  EXPECT_NE(MetaOf(*annotated).resource_version, MetaOf(*updated).resource_version);
}

}  // namespace
}  // namespace jb
