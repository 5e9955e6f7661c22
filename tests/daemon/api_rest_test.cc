// The REST API's Kubernetes surface: discovery, /status, POST, merge patch, dry run, label
// selectors, the default namespace, watch (in process, and across a real daemon restart).
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "api/manifest.h"
#include "cli/commands.h"
#include "cli/remote.h"
#include "daemon/api_server.h"
#include "daemon/api_support.h"
#include "reconciler/memory_store.h"
#include "testing/daemon_fixture.h"
#include "tests/planner/planner_fixtures.h"
#include "tests/test_util.h"

namespace jb {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";
const std::string kMp = "/apis/jellybean.dev/v1alpha1/modelprofiles";

class RestTest : public ::testing::Test {
 protected:
  RestTest() { api_.SetWatchCache(&cache_, 0.2); }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& query = "", const std::string& content_type = "application/json") {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.query = query;
    r.body = body;
    r.content_type = content_type;
    r.authorization = "Bearer " + kToken;
    return api_.Handle(r);
  }
  ModelProfile Profile() { return testing::LoadInstance("manifests/vqa").profiles[0]; }
  MemoryStore store_;
  WatchCache cache_{&store_};
  ApiServer api_{&store_, nullptr, kToken};
};

TEST_F(RestTest, DiscoveryDocuments) {
  auto apis = Call("GET", "/apis");
  ASSERT_EQ(apis.status, 200);
  EXPECT_NE(apis.body.find("\"APIGroupList\""), std::string::npos);
  EXPECT_NE(apis.body.find("\"jellybean.dev/v1alpha1\""), std::string::npos);
  EXPECT_NE(Call("GET", "/apis/jellybean.dev").body.find("\"APIGroup\""), std::string::npos);
  auto res = Call("GET", "/apis/jellybean.dev/v1alpha1");
  ASSERT_EQ(res.status, 200);
  auto docs = ParseYamlStream(res.body);
  ASSERT_EQ(docs.size(), 1u);
  const Value* list = docs[0].root.Find("resources");
  ASSERT_NE(list, nullptr);
  bool wf = false;
  for (const auto& r : list->items())
    if (r.Find("name")->as_string() == "workflows") {
      wf = true;
      EXPECT_TRUE(r.Find("namespaced")->as_bool());
      EXPECT_EQ(r.Find("shortNames")->items()[0].as_string(), "wf");
      EXPECT_EQ(r.Find("verbs")->items().size(), 7u);
    }
  EXPECT_TRUE(wf);
}

TEST_F(RestTest, PostCreatesOnceThenAlreadyExists) {
  std::string body = ObjectToYaml(Profile());
  auto created = Call("POST", kMp, body);
  EXPECT_EQ(created.status, 201) << created.body;
  auto again = Call("POST", kMp, body);
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("AlreadyExists"), std::string::npos);
}

TEST_F(RestTest, MergePatchUpdatesAndNeedsItsContentType) {
  ModelProfile p = Profile();
  const std::string path = kMp + "/" + p.metadata.name;
  ASSERT_EQ(Call("PUT", path, ObjectToYaml(p)).status, 201);
  EXPECT_EQ(Call("PATCH", path, "{\"metadata\":{\"labels\":{\"team\":\"x\"}}}").status, 415);
  auto patched =
      Call("PATCH", path, "{\"metadata\":{\"labels\":{\"team\":\"x\"}}}", "", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto got = store_.Get("ModelProfile", p.metadata.name);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(MetaOf(*got).labels.at("team"), "x");
  // null removes (RFC 7386).
  ASSERT_EQ(
      Call("PATCH", path, "{\"metadata\":{\"labels\":{\"team\":null}}}", "", "application/merge-patch+json").status,
      200);
  EXPECT_EQ(MetaOf(*store_.Get("ModelProfile", p.metadata.name)).labels.count("team"), 0u);
  EXPECT_EQ(Call("PATCH", path, "{\"metadata\":{\"name\":\"other\"}}", "", "application/merge-patch+json").status, 400);
}

TEST_F(RestTest, DryRunValidatesWithoutWriting) {
  ModelProfile p = Profile();
  const std::string path = kMp + "/" + p.metadata.name;
  EXPECT_EQ(Call("PUT", path, ObjectToYaml(p), "dryRun=All").status, 201);
  EXPECT_EQ(Call("POST", kMp, ObjectToYaml(p), "dryRun=All").status, 201);
  EXPECT_FALSE(store_.Get("ModelProfile", p.metadata.name).ok());
  EXPECT_EQ(Call("PUT", path, "kind: ModelProfile\n", "dryRun=All").status, 400);
  ASSERT_EQ(Call("PUT", path, ObjectToYaml(p)).status, 201);
  EXPECT_EQ(Call("DELETE", path, "", "dryRun=All").status, 200);
  EXPECT_TRUE(store_.Get("ModelProfile", p.metadata.name).ok());
  EXPECT_EQ(
      Call("PATCH", path, "{\"metadata\":{\"labels\":{\"t\":\"1\"}}}", "dryRun=All", "application/merge-patch+json")
          .status,
      200);
  EXPECT_TRUE(MetaOf(*store_.Get("ModelProfile", p.metadata.name)).labels.empty());
  EXPECT_EQ(Call("PUT", path, ObjectToYaml(p), "dryRun=Some").status, 400);
}

TEST_F(RestTest, LabelSelectorsFilterLists) {
  ModelProfile a = Profile(), b = Profile();
  a.metadata.labels = {{"tier", "edge"}};
  b.metadata.name = "other";
  b.metadata.labels = {{"tier", "cloud"}};
  ASSERT_TRUE(store_.Put(a).ok());
  ASSERT_TRUE(store_.Put(b).ok());
  auto edge = Call("GET", kMp, "", "labelSelector=tier%3Dedge");
  ASSERT_EQ(edge.status, 200);
  EXPECT_NE(edge.body.find(a.metadata.name), std::string::npos);
  EXPECT_EQ(edge.body.find("\"other\""), std::string::npos);
  auto notin = Call("GET", kMp, "", "labelSelector=tier+notin+(edge)");
  EXPECT_NE(notin.body.find("\"other\""), std::string::npos);
  EXPECT_EQ(Call("GET", kMp, "", "labelSelector=tier+in+(x").status, 400);
}

TEST_F(RestTest, StatusAnswersTheWholeObjectAndNamespacesAreDefaultOnly) {
  ModelProfile p = Profile();
  ASSERT_TRUE(store_.Put(p).ok());
  auto ns = Call("GET", "/apis/jellybean.dev/v1alpha1/namespaces/default/modelprofiles/" + p.metadata.name);
  EXPECT_EQ(ns.status, 200);
  EXPECT_EQ(Call("GET", "/apis/jellybean.dev/v1alpha1/namespaces/prod/modelprofiles").status, 404);
}

TEST_F(RestTest, WatchStreamsEventsThenBookmarks) {
  auto resp = Call("GET", kMp, "", "watch=true&resourceVersion=" + std::to_string(cache_.version()));
  ASSERT_EQ(resp.status, 200);
  ASSERT_TRUE(resp.stream);
  ASSERT_TRUE(store_.Put(Profile()).ok());
  std::string out, chunk;
  const auto bookmark_after_event = [&] {
    size_t added = out.find("ADDED");
    return added != std::string::npos && out.find("BOOKMARK", added) != std::string::npos;
  };
  for (int i = 0; i < 100 && !bookmark_after_event(); ++i) {
    chunk.clear();
    ASSERT_TRUE(resp.stream(&chunk, false));
    out += chunk;
  }
  EXPECT_NE(out.find("{\"type\":\"ADDED\""), std::string::npos) << out;
  // Version 0 (an empty store) starts with the (empty) initial state's BOOKMARK; another follows
  // the event once nothing happens for the bookmark interval.
  EXPECT_NE(out.find("BOOKMARK", out.find("ADDED")), std::string::npos) << out;
  EXPECT_FALSE(resp.stream(&chunk, true));
  EXPECT_EQ(Call("GET", kMp, "", "watch=true&resourceVersion=x").status, 400);
}

// jbctl get -w (cli/watch_command.cc) is tested in tests/cli/watch_command_test.cc.

TEST(MergePatch, Rfc7386Examples) {
  auto v = [](const std::string& s) { return ParseYamlStream(s)[0].root; };
  EXPECT_EQ(ToJson(MergePatch(v("{\"a\":\"b\"}"), v("{\"a\":\"c\"}"))), "{\"a\":\"c\"}");
  EXPECT_EQ(ToJson(MergePatch(v("{\"a\":\"b\"}"), v("{\"b\":\"c\"}"))), "{\"a\":\"b\",\"b\":\"c\"}");
  EXPECT_EQ(ToJson(MergePatch(v("{\"a\":\"b\",\"b\":\"c\"}"), v("{\"a\":null}"))), "{\"b\":\"c\"}");
  EXPECT_EQ(ToJson(MergePatch(v("{\"a\":[\"b\"]}"), v("{\"a\":\"c\"}"))), "{\"a\":\"c\"}");
  EXPECT_EQ(ToJson(MergePatch(v("{\"a\":{\"b\":\"c\"}}"), v("{\"a\":{\"b\":\"d\",\"c\":null}}"))),
            "{\"a\":{\"b\":\"d\"}}");
  EXPECT_EQ(ToJson(MergePatch(v("{\"a\":\"foo\"}"), v("[\"c\"]"))), "[\"c\"]");
  EXPECT_EQ(ParseQuery("a=1&b=x%20y+z&c").at("b"), "x y z");
}

// A client watching a real daemon sees every change in resourceVersion order, across a restart:
// it resumes with the last resourceVersion it saw (file store versions persist).
TEST(RestWatch, EveryChangeInOrderAcrossADaemonRestart) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  auto watch = [](const HttpClientOptions& c, const std::string& rv) {
    auto r = HttpCall(c, "GET", testing::kApi + "infrastructures?watch=true&timeoutSeconds=1&resourceVersion=" + rv);
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().message());
    std::vector<std::pair<std::string, uint64_t>> ev;  // (type name, rv)
    if (!r.ok()) return ev;
    std::stringstream ss(r->body);
    std::string line;
    while (std::getline(ss, line)) {
      auto doc = ParseYamlStream(line)[0].root;
      const Value* meta = doc.Find("object")->Find("metadata");
      std::string name = meta->Find("name") ? meta->Find("name")->as_string() : "";
      ev.emplace_back(doc.Find("type")->as_string() + " " + name,
                      std::stoull(meta->Find("resourceVersion")->as_string()));
    }
    return ev;
  };
  auto infra = [](const std::string& name, double price) {
    Infrastructure in = testing::LoadInstance("manifests/vqa").inf;
    in.metadata.name = name;
    in.spec.nodes[0].price_per_hour = price;
    return ObjectToYaml(in);
  };
  std::vector<std::pair<std::string, uint64_t>> seen;
  uint64_t last = 0;
  auto take = [&](const std::vector<std::pair<std::string, uint64_t>>& ev) {
    for (const auto& e : ev) {
      last = std::max(last, e.second);
      if (e.first.rfind("BOOKMARK", 0) != 0) seen.push_back(e);
    }
  };
  {
    testing::Daemon d(state);
    HttpClientOptions c;
    ASSERT_TRUE(d.WaitReady(&c));
    ASSERT_EQ(HttpCall(c, "PUT", testing::kApi + "infrastructures/a", infra("a", 1))->status, 201);
    auto list = HttpCall(c, "GET", testing::kApi + "infrastructures");
    ASSERT_TRUE(list.ok() && list->status == 200);
    last = std::stoull(ParseYamlStream(list->body)[0].root.Find("metadata")->Find("resourceVersion")->as_string());
    ASSERT_GT(last, 0u);
    ASSERT_EQ(HttpCall(c, "PUT", testing::kApi + "infrastructures/b", infra("b", 1))->status, 201);
    ASSERT_EQ(HttpCall(c, "PUT", testing::kApi + "infrastructures/a", infra("a", 2))->status, 200);
    take(watch(c, std::to_string(last)));
    ASSERT_EQ(d.Stop(), 0);
  }
  {
    testing::Daemon d(state);
    HttpClientOptions c;
    ASSERT_TRUE(d.WaitReady(&c));
    ASSERT_EQ(HttpCall(c, "DELETE", testing::kApi + "infrastructures/b")->status, 200);
    ASSERT_EQ(HttpCall(c, "PUT", testing::kApi + "infrastructures/c", infra("c", 1))->status, 201);
    take(watch(c, std::to_string(last)));
    // Too old: before the restarted daemon's history.
    auto gone = HttpCall(c, "GET", testing::kApi + "infrastructures?watch=true&resourceVersion=1");
    ASSERT_TRUE(gone.ok());
    EXPECT_EQ(gone->status, 410);
    EXPECT_NE(gone->body.find("Expired"), std::string::npos);
  }
  std::vector<std::string> types;
  for (const auto& e : seen) types.push_back(e.first);
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED b", "MODIFIED a", "DELETED b", "ADDED c"}));
  for (size_t i = 1; i < seen.size(); ++i) {
    if (seen[i].first == "DELETED b") continue;
    EXPECT_GT(seen[i].second, seen[i - 1].second) << seen[i].first;
  }
}

}  // namespace
}  // namespace jb
