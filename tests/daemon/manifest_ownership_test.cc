// The ownership rule between the manifest directory and the REST API (daemon/manifest_ownership.h),
// as pure functions and through ApiServer::Handle (no sockets).
#include "daemon/manifest_ownership.h"

#include <gtest/gtest.h>

#include "api/manifest.h"
#include "daemon/api_server.h"
#include "reconciler/memory_store.h"
#include "tests/planner/planner_fixtures.h"
#include "tests/test_util.h"

namespace jb {
namespace {

const std::string kFile = "/etc/jellybean/manifests/vqa.yaml";

Object Profile() { return testing::LoadInstance("manifests/vqa").profiles[0]; }

TEST(ManifestOwnership, TheHashCoversWhatAUserWritesAndNothingTheServerSets) {
  Object a = Profile(), b = Profile();
  MetaOf(b).resource_version = "42";
  MetaOf(b).generation = 7;
  MetaOf(b).annotations[kManifestFileAnnotation] = kFile;
  MetaOf(b).annotations[kManifestHashAnnotation] = "whatever";
  EXPECT_EQ(ManifestHash(a), ManifestHash(b));
  EXPECT_EQ(ManifestHash(a).size(), 16u);
  MetaOf(b).labels["team"] = "vision";
  EXPECT_NE(ManifestHash(a), ManifestHash(b));
  MetaOf(b).labels.clear();
  MetaOf(b).annotations["note"] = "by hand";
  EXPECT_NE(ManifestHash(a), ManifestHash(b));
}

TEST(ManifestOwnership, AnApiWriteToAFileOwnedObjectIsRefusedNamingTheFile) {
  Object stored = Profile();
  Object desired = Profile();
  ASSERT_TRUE(DecideFileWrite(nullptr, &stored, kFile).write);
  Object in = Profile();
  std::string note;
  Status s = ClaimForApiWrite(&stored, &in, /*force=*/false, &note);
  ASSERT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("owned by the manifest file " + kFile), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--force"), std::string::npos) << s.message();
  EXPECT_EQ(note, "");
}

TEST(ManifestOwnership, ForceTakesTheObjectOverKeepingTheHashAndSaysSo) {
  Object stored = Profile();
  ASSERT_TRUE(DecideFileWrite(nullptr, &stored, kFile).write);
  Object in = Profile();
  MetaOf(in).annotations[kManifestFileAnnotation] = "/tmp/forged.yaml";  // clients cannot set it
  std::string note;
  ASSERT_TRUE(ClaimForApiWrite(&stored, &in, /*force=*/true, &note).ok());
  EXPECT_EQ(ManifestOwner(in), "");
  EXPECT_EQ(MetaOf(in).annotations.at(kManifestHashAnnotation), MetaOf(stored).annotations.at(kManifestHashAnnotation));
  EXPECT_NE(note.find("took ModelProfile/" + MetaOf(in).name + " over from the manifest file " + kFile),
            std::string::npos)
      << note;
  // A later plain write to the API's object is accepted and keeps the server's annotations.
  Object again = Profile();
  ASSERT_TRUE(ClaimForApiWrite(&in, &again, /*force=*/false, &note).ok());
  EXPECT_EQ(note, "");
  EXPECT_EQ(MetaOf(again).annotations, MetaOf(in).annotations);
}

TEST(ManifestOwnership, ANewApiObjectCannotClaimAFile) {
  Object in = Profile();
  MetaOf(in).annotations[kManifestFileAnnotation] = kFile;
  MetaOf(in).annotations["note"] = "kept";
  std::string note;
  ASSERT_TRUE(ClaimForApiWrite(nullptr, &in, false, &note).ok());
  EXPECT_EQ(ManifestOwner(in), "");
  EXPECT_EQ(MetaOf(in).annotations.at("note"), "kept");
}

TEST(ManifestOwnership, TheFileWritesOnlyWhatChangedAndTakesBackOnlyAChangedDocument) {
  Object stored = Profile();
  ASSERT_TRUE(DecideFileWrite(nullptr, &stored, kFile).write);
  EXPECT_EQ(ManifestOwner(stored), kFile);
  // Same document again (a re-scan, a restart): nothing to write.
  Object same = Profile();
  EXPECT_FALSE(DecideFileWrite(&stored, &same, kFile).write);
  // Taken over by the API with a different spec: the unchanged document leaves it alone.
  Object api = Profile();
  std::get<ModelProfile>(api).spec.variants[0].output_size_kib += 1;
  std::string note;
  ASSERT_TRUE(ClaimForApiWrite(&stored, &api, true, &note).ok());
  Object doc = Profile();
  FileWrite w = DecideFileWrite(&api, &doc, kFile);
  EXPECT_FALSE(w.write);
  // The document edited in the file: the file takes the object back, and says from whom.
  Object edited = Profile();
  std::get<ModelProfile>(edited).spec.variants[0].output_size_kib += 2;
  w = DecideFileWrite(&api, &edited, kFile);
  EXPECT_TRUE(w.write);
  EXPECT_EQ(w.reclaim, "jbctl");
  EXPECT_EQ(ManifestOwner(edited), kFile);
  // An object `jbctl apply` created (no hash) is taken by a file that declares it.
  Object created = Profile();
  ASSERT_TRUE(ClaimForApiWrite(nullptr, &created, false, &note).ok());
  Object declared = Profile();
  w = DecideFileWrite(&created, &declared, kFile);
  EXPECT_TRUE(w.write);
  EXPECT_EQ(w.reclaim, "jbctl");
}

TEST(ManifestOwnership, ForceIsReadFromTheQuery) {
  EXPECT_TRUE(ForceRequested("force=true"));
  EXPECT_TRUE(ForceRequested("dryRun=All&force=1"));
  EXPECT_FALSE(ForceRequested(""));
  EXPECT_FALSE(ForceRequested("force=false"));
  EXPECT_FALSE(ForceRequested("forceful=true"));
}

// Through the REST handler: 409 naming the file, then ?force=true with a Warning header saying so.
TEST(ManifestOwnership, RestPutIsRefusedWith409UnlessForced) {
  const std::string kToken = "0123456789abcdef0123456789abcdef";
  MemoryStore store;
  EventRecorder events;
  ApiServer api(&store, nullptr, kToken, &events);
  Object owned = Profile();
  ASSERT_TRUE(DecideFileWrite(nullptr, &owned, kFile).write);
  ASSERT_TRUE(store.Put(owned).ok());
  Object changed = Profile();
  std::get<ModelProfile>(changed).spec.variants[0].output_size_kib += 1;
  auto put = [&](const std::string& query) {
    HttpRequest r;
    r.method = "PUT";
    r.path = "/apis/jellybean.dev/v1alpha1/modelprofiles/" + MetaOf(changed).name;
    r.query = query;
    r.body = ObjectToJson(changed);
    r.authorization = "Bearer " + kToken;
    return api.Handle(r);
  };
  auto refused = put("");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find(kFile), std::string::npos) << refused.body;
  auto forced = put("force=true");
  ASSERT_EQ(forced.status, 200) << forced.body;
  ASSERT_EQ(forced.headers.size(), 1u);
  EXPECT_EQ(forced.headers[0].first, "Warning");
  EXPECT_NE(forced.headers[0].second.find("over from the manifest file " + kFile), std::string::npos);
  auto now = store.Get("ModelProfile", MetaOf(changed).name);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(ManifestOwner(*now), "");
  EXPECT_EQ(std::get<ModelProfile>(*now).spec, std::get<ModelProfile>(changed).spec);
  // Now the API's: a plain PUT is accepted.
  std::get<ModelProfile>(changed).spec.variants[0].output_size_kib += 1;
  EXPECT_EQ(put("").status, 200);
}

}  // namespace
}  // namespace jb
