// jbctl profile --from-observed (cli/profile_observed.h): observed figures written back as
// ModelProfile documents that parse and validate, merged with other hardware classes.
#include "cli/profile_observed.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/manifest.h"
#include "cli/profile.h"
#include "daemon/api_server.h"
#include "daemon/http.h"
#include "reconciler/memory_store.h"
#include "testing/planner_instances.h"
#include "testing/util.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

// A profile as applied: variant "small" profiled on "cpu-a" and "gpu-b".
ModelProfile Applied() {
  ModelProfile mp;
  mp.metadata.name = "ocr";
  Variant v;
  v.name = "small";
  v.accuracy = 80;
  v.output_size_kib = 1;
  v.latency_ms["cpu-a"] = Latency{10, 12, 15};
  v.latency_ms["gpu-b"] = Latency{2, 3, 4};
  mp.spec.variants.push_back(v);
  Variant big = v;
  big.name = "big";
  mp.spec.variants.push_back(big);
  return mp;
}

// Its status as the reconciler writes it: "small" observed slower on cpu-a, and on a new class.
ModelProfileStatus StatusWithObservations() {
  ModelProfileStatus st;
  ObservedVariant a;
  a.variant = "small";
  a.hardware = "cpu-a";
  a.p50_ms = 20.25;
  a.p75_ms = 24.5;
  a.p90_ms = 30.125;
  a.output_size_kib = 0.75;
  a.items = 640;
  a.time = "2026-01-01T00:10:00Z";
  a.profiled = Latency{10, 12, 15};
  st.observed.push_back(a);
  ObservedVariant c = a;
  c.hardware = "cpu-c";
  c.items = 3;  // too few with --min-items 10
  c.profiled.reset();
  st.observed.push_back(c);
  return st;
}

const Variant& Find(const ModelProfile& mp, const std::string& name) {
  for (const auto& v : mp.spec.variants)
    if (v.name == name) return v;
  ADD_FAILURE() << "no variant " << name;
  return mp.spec.variants.front();
}

// Parses `dir`'s documents back with the API's parser and validator.
std::vector<ModelProfile> ParseBack(const fs::path& dir) {
  std::vector<ModelProfile> out;
  auto docs = LoadPath(dir.string());
  for (const auto& line : FormatDiagnostics(docs)) ADD_FAILURE() << line;
  for (const auto& d : docs)
    if (d.object)
      if (auto* m = std::get_if<ModelProfile>(&*d.object)) out.push_back(*m);
  return out;
}

TEST(FromObserved, ObservedClassesReplaceTheirLatencyOthersStayAndTheStatusIsNotWritten) {
  ModelProfile stored = Applied();
  stored.metadata.resource_version = "42";
  stored.metadata.generation = 3;
  stored.status = StatusWithObservations();
  auto res = profile::FromObserved({stored}, {}, 1);
  ASSERT_EQ(res.profiles.size(), 1u);
  const ModelProfile& mp = res.profiles[0];
  EXPECT_EQ(mp.status, ModelProfileStatus{});
  EXPECT_FALSE(mp.metadata.resource_version);
  const Variant& small = Find(mp, "small");
  EXPECT_EQ(small.latency_ms.at("cpu-a"), (Latency{20.25, 24.5, 30.125}));
  EXPECT_EQ(small.latency_ms.at("cpu-c"), (Latency{20.25, 24.5, 30.125}));
  EXPECT_EQ(small.latency_ms.at("gpu-b"), (Latency{2, 3, 4}));
  EXPECT_EQ(small.output_size_kib, 0.75);
  EXPECT_EQ(small.accuracy, 80);
  EXPECT_EQ(Find(mp, "big").latency_ms.at("cpu-a"), (Latency{10, 12, 15}));  // not observed: as profiled
  EXPECT_NE(res.header.find("ocr/small on cpu-a: 640 items, observed 2026-01-01T00:10:00Z"), std::string::npos)
      << res.header;
  EXPECT_NE(res.header.find("Observed"), std::string::npos);
  // --min-items leaves out the figures resting on too few items.
  auto few = profile::FromObserved({stored}, {}, 10);
  ASSERT_EQ(few.profiles.size(), 1u);
  EXPECT_EQ(Find(few.profiles[0], "small").latency_ms.count("cpu-c"), 0u);
  EXPECT_TRUE(profile::FromObserved({Applied()}, {}, 1).profiles.empty());  // nothing observed
}

// Profiles of other machines merge in: a file in DIR from another machine's `jbctl profile`
// (class "arm-z") keeps its class when the observed one is written into the same file.
TEST(FromObserved, AnEarlierFileOfAnotherHardwareClassMergesIn) {
  ModelProfile earlier = Applied();
  for (auto& v : earlier.spec.variants) v.latency_ms = {{"arm-z", Latency{40, 45, 50}}};
  ModelProfile stored = Applied();
  stored.status = StatusWithObservations();
  auto res = profile::FromObserved({stored}, {earlier}, 1);
  ASSERT_EQ(res.profiles.size(), 1u);
  const Variant& small = Find(res.profiles[0], "small");
  EXPECT_EQ(small.latency_ms.at("arm-z"), (Latency{40, 45, 50}));
  EXPECT_EQ(small.latency_ms.at("cpu-a"), (Latency{20.25, 24.5, 30.125}));
  EXPECT_EQ(small.latency_ms.count("gpu-b"), 0u);  // the file's classes, not the stored spec's
}

// The command against an API server: WORKFLOW resolves to its profiles; the files parse and
// validate; a second run with a file of another class in DIR keeps that class.
TEST(ProfileFromObservedCommand, WritesValidModelProfilesFromTheServersStatus) {
  MemoryStore store;
  ASSERT_TRUE(store.Put(Applied()).ok());
  ASSERT_TRUE(store.PutProfileStatus("ocr", StatusWithObservations(), "").ok());
  testing::Instance vqa = testing::LoadInstance("manifests/vqa");
  Workflow wf = vqa.wf;
  wf.metadata.name = "docs";
  for (auto& op : wf.spec.operators) op.profile = "ocr";
  ASSERT_TRUE(store.Put(wf).ok());
  ApiServer api(&store, nullptr, "t0ken");
  auto server = StartHttpServer(HttpServerOptions{}, [&](const HttpRequest& r) { return api.Handle(r); });
  ASSERT_TRUE(server.ok()) << server.status().message();
  testing::TempDir tmp;
  const fs::path token = tmp.path() / "token", dir = tmp.path() / "out";
  std::ofstream(token) << "t0ken\n";
  const std::vector<std::string> conn = {"--server", "http://127.0.0.1:" + std::to_string((*server)->port()),
                                         "--token-file", token.string()};
  auto run = [&](std::vector<std::string> args, std::string* output) {
    args.insert(args.end(), conn.begin(), conn.end());
    std::ostringstream out, err;
    int rc = ProfileFromObservedCommand(args, out, err);
    *output = out.str() + err.str();
    return rc;
  };
  std::string output;
  ASSERT_EQ(run({"--from-observed", "docs", "-o", dir.string()}, &output), 0) << output;
  EXPECT_NE(output.find("wrote 1 ModelProfile file(s)"), std::string::npos) << output;
  auto back = ParseBack(dir);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].metadata.name, "ocr");
  EXPECT_EQ(Find(back[0], "small").latency_ms.at("cpu-a"), (Latency{20.25, 24.5, 30.125}));
  std::ifstream f(dir / "modelprofile-ocr.yaml");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.rfind("# Observed by jellybean's workers", 0), 0u) << text;
  EXPECT_EQ(text.find("\nstatus:"), std::string::npos) << text;  // the spec only
  // Another machine's file for the same profile in DIR: its class merges in.
  ModelProfile other = Applied();
  for (auto& v : other.spec.variants) v.latency_ms = {{"arm-z", Latency{40, 45, 50}}};
  std::ofstream(dir / "modelprofile-ocr.yaml", std::ios::trunc) << profile::ProfilesYaml({other}, "# arm-z\n");
  ASSERT_EQ(run({"--from-observed", "ocr", "-o", dir.string(), "--min-items", "10"}, &output), 0) << output;
  back = ParseBack(dir);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(Find(back[0], "small").latency_ms.at("arm-z"), (Latency{40, 45, 50}));
  EXPECT_EQ(Find(back[0], "small").latency_ms.at("cpu-a"), (Latency{20.25, 24.5, 30.125}));
  EXPECT_EQ(Find(back[0], "small").latency_ms.count("cpu-c"), 0u);
  // Errors name what is wrong.
  EXPECT_EQ(run({"--from-observed", "nothing", "-o", dir.string()}, &output), 1);
  EXPECT_NE(output.find("no ModelProfile or Workflow \"nothing\""), std::string::npos) << output;
  EXPECT_EQ(run({"--from-observed", "docs"}, &output), 1);
  EXPECT_NE(output.find("-o DIR"), std::string::npos) << output;
  (*server)->Stop();
}

}  // namespace
}  // namespace jb
