// The REST API's logic, without sockets.
#include "daemon/api_server.h"

#include <gtest/gtest.h>

#include "api/manifest.h"
#include "reconciler/memory_store.h"
#include "tests/planner/planner_fixtures.h"
#include "tests/test_util.h"

namespace jb {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

class ApiTest : public ::testing::Test {
 protected:
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& token = kToken) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    if (!token.empty()) r.authorization = "Bearer " + token;
    return api_.Handle(r);
  }
  MemoryStore store_;
  ApiServer api_{&store_, nullptr, kToken};
};

const std::string kWf = "/apis/jellybean.dev/v1alpha1/workflows";
const std::string kMp = "/apis/jellybean.dev/v1alpha1/modelprofiles";

TEST_F(ApiTest, TokenIsRequiredExceptForHealthz) {
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(Call("GET", kWf, "", "").status, 401);
  EXPECT_EQ(Call("GET", kWf, "", "wrong-token-wrong-token-wrong-tok").status, 401);
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 401);
  EXPECT_EQ(Call("GET", kWf).status, 200);
}

TEST_F(ApiTest, ReadyzFollowsReadiness) {
  EXPECT_EQ(Call("GET", "/readyz").status, 503);
  api_.SetReady(true);
  EXPECT_EQ(Call("GET", "/readyz").status, 200);
}

TEST_F(ApiTest, CreateGetUpdateDeleteAndConflicts) {
  auto in = testing::LoadInstance("manifests/vqa");
  std::string body = ObjectToYaml(in.profiles[0]);
  std::string path = kMp + "/" + in.profiles[0].metadata.name;
  auto created = Call("PUT", path, body);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Call("PUT", path, body).status, 200);
  auto got = Call("GET", path);
  ASSERT_EQ(got.status, 200);
  std::vector<Diagnostic> d;
  auto obj = ObjectFromText(got.body, "resp", &d);
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(MetaOf(*obj).generation, 1);
  // Stale resourceVersion -> 409 (a no-op PUT above kept version 1: change it for real first).
  ModelProfile changed = std::get<ModelProfile>(*obj);
  changed.metadata.resource_version.reset();
  changed.spec.variants[0].output_size_kib += 2;
  EXPECT_EQ(Call("PUT", path, ObjectToJson(changed)).status, 200);
  ModelProfile stale = std::get<ModelProfile>(*obj);
  stale.metadata.resource_version = "1";
  stale.spec.variants[0].output_size_kib += 1;
  EXPECT_EQ(Call("PUT", path, ObjectToJson(stale)).status, 409);
  // Name mismatch -> 400.
  EXPECT_EQ(Call("PUT", kMp + "/other", body).status, 400);
  auto list = Call("GET", kMp);
  EXPECT_NE(list.body.find("ModelProfileList"), std::string::npos);
  EXPECT_EQ(Call("DELETE", path).status, 200);
  EXPECT_EQ(Call("GET", path).status, 404);
}

TEST_F(ApiTest, MalformedBodiesGet400WithEveryDiagnostic) {
  std::string bad =
      "apiVersion: jellybean.dev/v1alpha1\nkind: ModelProfile\nmetadata:\n  name: m\nspec:\n  variants:\n"
      "  - name: v\n    outputSizeKiB: -1\n    latencyMs: {}\n    colour: red\n";
  auto r = Call("PUT", kMp + "/m", bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("request body:8:20: spec.variants[0].outputSizeKiB"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("request body:10:5: spec.variants[0].colour: unknown field"), std::string::npos) << r.body;
  EXPECT_EQ(Call("PUT", kMp + "/m", "{not yaml: [").status, 400);
  EXPECT_EQ(Call("PUT", kMp + "/m", "").status, 400);
}

TEST_F(ApiTest, UnknownKindsAndEndpointsAre404And413ForHugeBodies) {
  EXPECT_EQ(Call("GET", "/apis/jellybean.dev/v1alpha1/pipelines").status, 404);
  EXPECT_EQ(Call("GET", "/nope").status, 404);
  EXPECT_EQ(Call("GET", kMp + "/x/status").status, 404);
  EXPECT_EQ(Call("POST", kWf).status, 400);  // POST creates (#19): an empty body is invalid
  HttpRequest r;
  r.method = "PUT";
  r.path = kMp + "/m";
  r.authorization = "Bearer " + kToken;
  r.body_too_large = true;
  EXPECT_EQ(api_.Handle(r).status, 413);
}

TEST_F(ApiTest, BearerSchemeIsCaseInsensitive) {
  HttpRequest r;
  r.method = "GET";
  r.path = kWf;
  for (const std::string scheme : {"Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer   "}) {
    r.authorization = scheme + kToken;
    EXPECT_EQ(api_.Handle(r).status, 200) << scheme;
  }
  for (const std::string& bad : {"Bearer" + kToken, "Basic " + kToken, "Bearerx " + kToken, "Bearer " + kToken + "0",
                                 std::string("Bearer "), std::string()}) {
    r.authorization = bad;
    EXPECT_EQ(api_.Handle(r).status, 401) << bad;
  }
}

TEST_F(ApiTest, RequestsWithABodyAreJudgedOnTheirHeadersFirst) {
  HttpRequest r;
  r.method = "PUT";
  r.path = kMp + "/m";
  r.body_pending = true;
  EXPECT_EQ(api_.Handle(r).status, 401);  // no token: refused before the body is read
  r.authorization = "Bearer " + kToken;
  EXPECT_EQ(api_.Handle(r).status, kHttpContinue);
  r.body_too_large = true;
  EXPECT_EQ(api_.Handle(r).status, 413);
  HttpRequest health;
  health.method = "GET";
  health.path = "/healthz";
  health.body_pending = true;
  EXPECT_EQ(api_.Handle(health).status, 200);  // answered without reading the body
  uint64_t before = api_.requests();
  r.body_too_large = false;
  api_.Handle(r);
  EXPECT_EQ(api_.requests(), before) << "an admitted body is counted once, when it is answered";
}

TEST_F(ApiTest, MetricsArePrometheusText) {
  auto m = Call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("# TYPE jellybean_objects gauge"), std::string::npos);
  EXPECT_NE(m.body.find("jellybean_api_requests_total"), std::string::npos);
}

}  // namespace
}  // namespace jb
