// jbctl describe and get -o wide (cli/get_commands.cc) against the API server over plain HTTP on
// loopback (port 0): the observed accuracy beside the planned one.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/remote.h"
#include "daemon/api_server.h"
#include "reconciler/memory_store.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb::cli {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

class GetCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto in = testing::LoadInstance("manifests/vqa");
    ASSERT_TRUE(store_.Put(in.wf).ok());
    auto s = StartHttpServer(HttpServerOptions{}, [this](const HttpRequest& r) { return api_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    remote_.http.server = "http://127.0.0.1:" + std::to_string(server_->port());
    remote_.http.token = kToken;
    remote_.http.timeout_s = 10;
  }
  void SetStatus(const WorkflowStatus& st) { ASSERT_TRUE(store_.PutStatus("vqa", st).ok()); }
  // jbctl VERB ARGS... against the in-process server (cli/jbctl.cc's parser, then the command).
  std::string Run(const std::string& verb, std::vector<std::string> args) {
    args.insert(args.begin(), verb);
    for (const auto& a : {"--server", remote_.http.server.c_str(), "--token", kToken.c_str()}) args.push_back(a);
    std::istringstream in;
    std::ostringstream out, err;
    EXPECT_EQ(RunJbctl(args, in, out, err), 0) << err.str();
    return out.str();
  }
  static WorkflowStatus Observed(std::optional<ObservedAccuracy> acc) {
    WorkflowStatus st;
    st.plan = Plan{};
    st.plan->accuracy = 56.59;
    st.observed = ObservedStatus{};
    st.observed->accuracy = acc;
    return st;
  }

  MemoryStore store_;
  ApiServer api_{&store_, nullptr, kToken};
  std::unique_ptr<HttpServer> server_;
  Remote remote_;
};

TEST_F(GetCommandsTest, DescribeShowsTheObservedAccuracyBesideThePlannedOne) {
  SetStatus(Observed(ObservedAccuracy{63.194, 57.485, 68.557, 288, 288, 63.9, 60}));
  const std::string out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(out.find("  Accuracy:    observed 63.2% (95% 57.5-68.6%, n=288), planned 63.9%, floor 60.0%\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("[below the floor]"), std::string::npos);
  EXPECT_EQ(out.find("raised to"), std::string::npos);
}

TEST_F(GetCommandsTest, DescribeMarksAnIntervalBelowTheFloorAndARaisedFloor) {
  WorkflowStatus st = Observed(ObservedAccuracy{52.0, 45.1, 58.8, 200, 200, 63.9, 60});
  st.accuracy_floor = 65.1;
  SetStatus(st);
  const std::string out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(out.find("observed 52.0% (95% 45.1-58.8%, n=200), planned 63.9%, floor 60.0% [below the floor]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Accuracy:  56.59 (planned at a floor raised to 65.1% after observed accuracy drift)\n"),
            std::string::npos)
      << out;
}

TEST_F(GetCommandsTest, DescribeWithoutLabelsHasNoAccuracyLine) {
  SetStatus(Observed(std::nullopt));
  const std::string out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(out.find("  Throughput:"), std::string::npos) << out;
  EXPECT_EQ(out.find("  Accuracy:"), std::string::npos) << out;
}

// The cells of the table's first row under its header, split at blanks.
std::vector<std::string> FirstRow(const std::string& table) {
  std::istringstream lines(table);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  std::istringstream cells(row);
  std::vector<std::string> c;
  for (std::string x; cells >> x;) c.push_back(x);
  return c;
}

TEST_F(GetCommandsTest, GetWideHasTheObservedAccuracyColumns) {
  SetStatus(Observed(ObservedAccuracy{63.194, 57.485, 68.557, 288, 288, 63.9, 60}));
  const std::string wide = Run("get", {"workflows", "-o", "wide"});
  EXPECT_NE(wide.find("OBS-ACCURACY"), std::string::npos) << wide;
  auto c = FirstRow(wide);
  ASSERT_GE(c.size(), 4u) << wide;
  EXPECT_EQ(c[c.size() - 4], "63.2") << wide;
  EXPECT_EQ(c[c.size() - 3], "57.5-68.6") << wide;
  EXPECT_EQ(c[c.size() - 2], "288") << wide;
  EXPECT_EQ(c[c.size() - 1], "-") << wide;  // INGRESS: no endpoint
  // The default table is unchanged.
  EXPECT_EQ(Run("get", {"workflows"}).find("OBS-ACCURACY"), std::string::npos);
  // No labels: dashes.
  SetStatus(Observed(std::nullopt));
  c = FirstRow(Run("get", {"workflows", "-o", "wide"}));
  ASSERT_GE(c.size(), 4u);
  EXPECT_EQ(c[c.size() - 4] + c[c.size() - 3] + c[c.size() - 2], "---");
}

// #22: figures whose reporter is cut off from the daemon read Unknown with the reason and the age
// of the last value (shown beside it), never a bare 0.0; a relayed throughput says where from.
TEST_F(GetCommandsTest, DescribeAndGetWideShowUnknownFiguresWithReasonAndAge) {
  WorkflowStatus st = Observed(ObservedAccuracy{63.194, 57.485, 68.557, 288, 288, 63.9, 60});
  st.observed->throughput = 19.8;
  st.observed->expected_throughput = 20;
  st.observed->throughput_complete = true;
  st.observed->latency_p50_ms = 40;
  st.observed->latency_p99_ms = 90;
  const std::string why = "control link to node dev-a lost (heartbeat missed: device dev-a silent for 3.1 s)";
  st.observed->unknown = {UnknownFigure{"latencyP99Ms", why, "2026-12-02T12:00:00Z", 7.3},
                          UnknownFigure{"accuracy", why, "2026-12-02T12:00:00Z", 7.3},
                          UnknownFigure{"delivered", why, "2026-12-02T12:00:00Z", 7.3}};
  st.observed->throughput_source = "items acknowledged by io-device per the reports of Aggregate-vm";
  SetStatus(st);
  std::string out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(out.find("  Throughput:  19.80 items/s at the sink (plan 20.00)\n               from items acknowledged "
                     "by io-device per the reports of Aggregate-vm\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  Latency:     Unknown (" + why + "; last observed 7.3 s ago: p50 40.0 ms, p99 90.0 ms)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  Accuracy:    Unknown (" + why + "; last observed 7.3 s ago: observed 63.2%"), std::string::npos)
      << out;
  EXPECT_NE(out.find("[as last reported: a reporter is cut off]"), std::string::npos) << out;
  auto c = FirstRow(Run("get", {"workflows", "-o", "wide"}));
  ASSERT_GE(c.size(), 4u);
  EXPECT_EQ(c[c.size() - 4], "Unknown(7s)");
  // The throughput itself unknown (no peer relays it), never observed: no value shown as current.
  st.observed->throughput_source.clear();
  st.observed->unknown = {UnknownFigure{"throughput", why, "", -1}};
  SetStatus(st);
  out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(out.find("  Throughput:  Unknown (" + why + "; never observed) (plan 20.00)\n"), std::string::npos) << out;
}

// #16: ingress sources on two tiers: describe and get -o wide show both endpoints, each with its tier.
TEST_F(GetCommandsTest, DescribeAndGetWideShowEveryIngressEndpoint) {
  WorkflowStatus st = Observed(std::nullopt);
  st.observed->ingress_urls = {{"edge", "https://127.0.0.1:8123/v2/models/vqa"},
                               {"cloud", "https://127.0.0.1:8124/v2/models/vqa"}};
  st.observed->ingress_url = st.observed->ingress_urls[0].url;
  SetStatus(st);
  const std::string out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(out.find("Ingress:   edge: https://127.0.0.1:8123/v2/models/vqa\n"
                     "           cloud: https://127.0.0.1:8124/v2/models/vqa\n"
                     "           CA: "),
            std::string::npos)
      << out;
  auto c = FirstRow(Run("get", {"workflows", "-o", "wide"}));
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.back(), "https://127.0.0.1:8123/v2/models/vqa,https://127.0.0.1:8124/v2/models/vqa");
  // One endpoint: no tier prefix, and the CA and token files on the same line, as before (the
  // README's curl example cuts the URL out of it).
  st.observed->ingress_urls.pop_back();
  SetStatus(st);
  EXPECT_NE(Run("describe", {"workflow", "vqa"}).find("Ingress:   https://127.0.0.1:8123/v2/models/vqa (CA: "),
            std::string::npos);
  EXPECT_EQ(FirstRow(Run("get", {"workflows", "-o", "wide"})).back(), "https://127.0.0.1:8123/v2/models/vqa");
}

}  // namespace
}  // namespace jb::cli

// ---- get's formats, selectors, get all / events, describe of every kind (JbctlFixture) ----
#include "tests/cli/jbctl_fixture.h"

namespace jb::cli {
namespace {

class GetFormatsTest : public JbctlFixture {
 protected:
  void SetUp() override {
    JbctlFixture::SetUp();
    ApplyVqa();
    auto wf = store_.Get("Workflow", "vqa");
    ASSERT_TRUE(wf.ok());
    Workflow w = std::get<Workflow>(*wf);
    w.metadata.labels["team"] = "vision";
    ASSERT_TRUE(store_.Put(w).ok());
  }
};

TEST_F(GetFormatsTest, NameJsonYaml) {
  EXPECT_EQ(Run({"get", "modelprofiles", "-o", "name"}).out,
            "modelprofile/extract-image-feature\nmodelprofile/speech-recognition\nmodelprofile/vqa\n");
  auto one = Run({"get", "workflow", "vqa", "-o", "json"});
  EXPECT_EQ(one.code, 0) << one.err;
  auto docs = ParseYamlStream(one.out);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].root.Find("kind")->as_string(), "Workflow");
  auto list = ParseYamlStream(Run({"get", "workflows", "-o", "yaml"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].root.Find("kind")->as_string(), "List");
  EXPECT_EQ(list[0].root.Find("items")->items().size(), 1u);
}

TEST_F(GetFormatsTest, JsonPathAndCustomColumns) {
  auto r = Run({"get", "mp", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "extract-image-feature\nspeech-recognition\nvqa\n");
  EXPECT_EQ(Run({"get", "wf/vqa", "-o", "jsonpath={.metadata.labels.team}"}).out, "vision");
  auto cols = Run({"get", "infrastructures", "-o", "custom-columns=NAME:.metadata.name,TIERS:.spec.tiers[*].name"});
  EXPECT_EQ(cols.code, 0) << cols.err;
  EXPECT_EQ(cols.out.rfind("NAME         TIERS\nvqa-medium   ", 0), 0u) << cols.out;
  auto missing = Run({"get", "wf", "-o", "custom-columns=NAME:.metadata.name,X:.nope", "--no-headers"});
  EXPECT_EQ(missing.out, "vqa   <none>\n");
  EXPECT_EQ(Run({"get", "wf", "-o", "jsonpath={.items[0"}).code, 1);
  EXPECT_EQ(Run({"get", "wf", "-o", "custom-columns=broken"}).code, 1);
}

TEST_F(GetFormatsTest, LabelSelectorsFilterAndGoToTheServer) {
  EXPECT_EQ(Run({"get", "wf", "-l", "team=vision", "-o", "name"}).out, "workflow/vqa\n");
  EXPECT_EQ(Run({"get", "wf", "-l", "team", "-o", "name"}).out, "workflow/vqa\n");
  EXPECT_EQ(Run({"get", "wf", "-l", "team!=vision", "-o", "name"}).out, "");
  EXPECT_EQ(Run({"get", "mp", "-l", "!team", "-o", "name"}).out,
            "modelprofile/extract-image-feature\nmodelprofile/speech-recognition\nmodelprofile/vqa\n");
  auto none = Run({"get", "wf", "-l", "team=audio"});
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "No resources found\n");
  bool sent = false;
  for (const auto& q : Requests()) sent = sent || q.find("?labelSelector=team%3Daudio") != std::string::npos;
  EXPECT_TRUE(sent);
  // Set-based: sent to the server for lists, applied by the client to named objects.
  EXPECT_EQ(Run({"get", "wf", "-l", "team in (audio,vision)", "-o", "name"}).out, "workflow/vqa\n");
  EXPECT_EQ(Run({"get", "wf", "-l", "team notin (vision)", "-o", "name"}).out, "");
  EXPECT_EQ(Run({"get", "wf", "vqa", "-l", "team notin (vision)", "-o", "name"}).out, "");
  EXPECT_EQ(Run({"get", "wf", "vqa", "-l", "team in (vision), !canary", "-o", "name"}).out, "workflow/vqa\n");
  EXPECT_EQ(Run({"get", "mp/vqa", "-l", "team in (vision)", "-o", "name"}).out, "");
  sent = false;
  for (const auto& q : Requests())
    sent = sent || q.find("labelSelector=team%20in%20%28audio%2Cvision%29") != std::string::npos;
  EXPECT_TRUE(sent);
  auto bad = Run({"get", "wf", "vqa", "-l", "team in (a"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("unbalanced '('"), std::string::npos) << bad.err;
  EXPECT_EQ(Run({"get", "wf", "-l", "team in ()"}).code, 1);
  EXPECT_EQ(Run({"get", "wf", "-l", "team in (a b)"}).code, 1) << "a value with a space";
}

// jbctl __complete KIND: the names the completion scripts offer, from the daemon.
TEST_F(GetFormatsTest, CompleteNamesAsksTheDaemon) {
  auto names = Run({"__complete", "mp"});
  EXPECT_EQ(names.code, 0) << names.err;
  EXPECT_EQ(names.out, "extract-image-feature\nspeech-recognition\nvqa\n");
  EXPECT_EQ(Run({"__complete", "workflow/"}).out, "workflow/vqa\n");
  EXPECT_EQ(Run({"__complete", "pipelines"}).code, 1);
  EXPECT_EQ(Run({"--help"}, "", false).out.find("__complete"), std::string::npos) << "hidden";
}

TEST_F(GetFormatsTest, NoHeadersAndGetAll) {
  auto plain = Run({"get", "workflows", "--no-headers"});
  EXPECT_EQ(plain.out.rfind("vqa ", 0), 0u) << plain.out;
  auto all = Run({"get", "all"});
  EXPECT_EQ(all.code, 0) << all.err;
  for (const char* want : {"infrastructure/vqa-medium", "modelprofile/speech-recognition", "workflow/vqa"})
    EXPECT_NE(all.out.find(want), std::string::npos) << want << "\n" << all.out;
  EXPECT_EQ(Run({"get", "all", "-o", "name"}).out.size(),
            std::string("infrastructure/vqa-medium\nmodelprofile/extract-image-feature\n"
                        "modelprofile/speech-recognition\nmodelprofile/vqa\nworkflow/vqa\n")
                .size());
  EXPECT_EQ(Run({"get", "pods"}).code, 1);
}

TEST_F(GetFormatsTest, Events) {
  events_.Record("Workflow", "vqa", "Normal", "Solved", "plan found");
  events_.Record("Infrastructure", "vqa-medium", "Warning", "NodeLost", "edge-1 gone");
  auto all = Run({"get", "events"});
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("LAST SEEN"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("Solved"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("NodeLost"), std::string::npos) << all.out;
  auto one = Run({"get", "events", "--for", "workflow/vqa", "--no-headers"});
  EXPECT_NE(one.out.find("Workflow/vqa"), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("NodeLost"), std::string::npos) << one.out;
  EXPECT_EQ(Run({"get", "events", "-o", "jsonpath={.items[*].reason}"}).out, "Solved NodeLost");
}

TEST_F(GetFormatsTest, DescribeEveryKind) {
  auto inf = Run({"describe", "infrastructure/vqa-medium"});
  EXPECT_EQ(inf.code, 0) << inf.err;
  EXPECT_NE(inf.out.find("Kind:           Infrastructure"), std::string::npos) << inf.out;
  EXPECT_NE(inf.out.find("Nodes:"), std::string::npos) << inf.out;
  auto mp = Run({"describe", "modelprofile", "extract-image-feature"});
  EXPECT_EQ(mp.code, 0) << mp.err;
  EXPECT_NE(mp.out.find("  resnet18"), std::string::npos) << mp.out;
  EXPECT_NE(mp.out.find("Events:"), std::string::npos) << mp.out;
  auto wf = Run({"describe", "wf/vqa"});
  EXPECT_NE(wf.out.find("Infrastructure: vqa-medium"), std::string::npos) << wf.out;
  EXPECT_EQ(Run({"describe", "workflow", "nope"}).code, 1);
}

}  // namespace
}  // namespace jb::cli

namespace jb::cli {
namespace {

// VQA joins an image and a question into one request: describe said "4970 emitted by the sources,
// 2485 delivered", which read as half the items lost.
TEST_F(GetCommandsTest, DescribeCountsAJoinsPartsAndRequests) {
  WorkflowStatus st = Observed(std::nullopt);
  st.observed->emitted = 4970;
  st.observed->delivered = 2485;
  SetStatus(st);
  const std::string out = Run("describe", {"workflow", "vqa"});
  EXPECT_NE(
      out.find("Items:       4970 parts emitted by 2 sources (2485 requests), 2485 requests delivered, 0 dropped"),
      std::string::npos)
      << out;
}

}  // namespace
}  // namespace jb::cli

namespace jb::cli {
namespace {

// Done-when of issue 19: every example manifest, applied through the API and read back with
// `jbctl get all -o yaml` (server fields included: uid, creationTimestamp, resourceVersion), is
// what PyYAML reads as the same data as `-o json`: nothing changes type or value on the way.
TEST_F(JbctlFixture, EveryExampleRoundTripsThroughGetOYamlAndPyYaml) {
  testing::TempDir dir;
  int dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(JB_SOURCE_DIR) + "/manifests")) {
    if (!e.is_directory()) continue;
    auto applied = Run({"apply", "-f", e.path().string()});
    ASSERT_EQ(applied.code, 0) << e.path() << ": " << applied.err;
    auto yaml = Run({"get", "all", "-o", "yaml"});
    auto json = Run({"get", "all", "-o", "json"});
    ASSERT_EQ(yaml.code, 0) << yaml.err;
    ASSERT_EQ(json.code, 0) << json.err;
    std::ofstream(dir.path() / "all.yaml") << yaml.out;
    std::ofstream(dir.path() / "all.json") << json.out;
    auto same = testing::Run(
        "/usr/bin/python3 -c 'import json, sys, yaml\n"
        "a = yaml.safe_load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))\n"
        "assert a[\"items\"] and a == b, \"differs\"\nprint(len(a[\"items\"]))' " +
        (dir.path() / "all.yaml").string() + " " + (dir.path() / "all.json").string() + " 2>&1");
    EXPECT_EQ(same.exit_code, 0) << e.path() << ": " << same.output;
    ASSERT_EQ(Run({"delete", "-f", e.path().string()}).code, 0);
    ++dirs;
  }
  EXPECT_GE(dirs, 4);
}

}  // namespace
}  // namespace jb::cli
