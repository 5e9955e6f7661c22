// End to end: the real jellybeand (local driver) deploys the VQA example with both sources as
// `type: ingress`; the io worker serves the OIP endpoint whose URL the status shows, and a request
// with one part per source comes back with the last operator's answer. By default over TLS (a
// certificate from the daemon's CA) with the workflow's bearer token; plain HTTP with
// --ingress-plain-http. With the sources on two tiers, each tier's io worker takes its own part
// and both callers get the answer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <map>
#include <regex>

#include "daemon/http.h"
#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"

namespace jb {
namespace {

using testing::Daemon;
using testing::GetWorkflow;
using testing::WaitFor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The VQA manifests with both sources as ingress, in `dir`/manifests; with `speech_tier`,
// ReadSpeech is on that tier.
fs::path IngressManifests(const testing::TempDir& dir, const std::string& speech_tier = "") {
  fs::path m = dir.path() / "manifests";
  fs::create_directories(m);
  for (const auto& e : fs::directory_iterator(fs::path(JB_SOURCE_DIR) / "manifests/vqa")) {
    std::string text = testing::ReadFile(e.path());
    if (e.path().filename() == "workflow.yaml") {
      text = std::regex_replace(text, std::regex("\n    rate: 40\n"), "\n    rate: 40\n    type: ingress\n");
      text = std::regex_replace(text, std::regex("\n  slo:\n"), "\n  ingress:\n    timeoutS: 20\n  slo:\n");
      if (!speech_tier.empty())
        text = std::regex_replace(text,
                                  std::regex("(- name: ReadSpeech\n    rate: 40\n    type: ingress\n    tier: )edge"),
                                  "$1" + speech_tier);
    }
    std::ofstream(m / e.path().filename()) << text;
  }
  return m;
}

const char kVqaRequest[] =
    R"({"id":"q-1","inputs":[{"name":"ReadImage","shape":[1],"datatype":"BYTES","data":["img"]},)"
    R"({"name":"ReadSpeech","shape":[1],"datatype":"BYTES","data":["what colour is the car"]}]})";

// The ingress URL the workflow's status shows, once it does.
std::string WaitIngressUrl(const HttpClientOptions& c) {
  std::string url;
  WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        if (wf && wf->status.observed) url = wf->status.observed->ingress_url;
        return !url.empty();
      },
      40s);
  return url;
}

int ModeOf(const fs::path& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST(IngressE2E, ByDefaultTheEndpointIsTlsFromTheDaemonsCaWithTheWorkflowsToken) {
  testing::TempDir dir;
  fs::path m = IngressManifests(dir);
  fs::path state = dir.path() / "state";
  Daemon d(state, {}, {"--manifest-dir", m.string(), "--stop-workers-on-exit", "--log-level", "debug"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  std::string url = WaitIngressUrl(c);
  std::smatch parts;
  ASSERT_TRUE(std::regex_match(url, parts, std::regex("(https://127\\.0\\.0\\.1:[0-9]+)(/v2/models/vqa)")))
      << url << "\n"
      << testing::ReadFile(dir.path() / "state.log");
  fs::path token_file = state / "ingress/vqa.token";
  EXPECT_EQ(ModeOf(token_file), 0600);
  EXPECT_EQ(ModeOf(state / "workers/vqa/io-edge.ingress.token"), 0600);
  EXPECT_EQ(ModeOf(state / "workers/vqa/io-edge.ingress.key"), 0600);
  std::string token = testing::ReadFile(token_file);
  while (!token.empty() && token.back() == '\n') token.pop_back();
  ASSERT_EQ(token.size(), 64u);

  HttpClientOptions ingress;
  ingress.server = parts[1];
  ingress.ca_file = (state / "tls/ca.crt").string();
  ingress.token = token;
  ingress.timeout_s = 20;
  const std::string infer = std::string(parts[2]) + "/infer";
  StatusOr<HttpResponse> r = Status::Unavailable("not sent");
  ASSERT_TRUE(WaitFor(
      [&] {
        r = HttpCall(ingress, "POST", infer, kVqaRequest);
        return r.ok() && r->status == 200;
      },
      40s))
      << (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message());
  EXPECT_NE(r->body.find(R"("model_name":"vqa","id":"q-1","outputs":[{"name":"VQA","datatype":"BYTES")"),
            std::string::npos)
      << r->body;

  HttpClientOptions no_token = ingress;  // the CA trusted, no bearer token: 401
  no_token.token.clear();
  auto unauth = HttpCall(no_token, "POST", infer, kVqaRequest);
  ASSERT_TRUE(unauth.ok()) << unauth.status().message();
  EXPECT_EQ(unauth->status, 401) << unauth->body;
  HttpClientOptions wrong_token = ingress;
  wrong_token.token = std::string(64, 'a');
  auto wrong = HttpCall(wrong_token, "POST", infer, kVqaRequest);
  ASSERT_TRUE(wrong.ok()) << wrong.status().message();
  EXPECT_EQ(wrong->status, 401);

  ASSERT_TRUE(testing::MakeCert(dir.path(), "otherca"));  // a client that trusts another CA only
  HttpClientOptions untrusting = ingress;
  untrusting.ca_file = (dir.path() / "otherca.crt").string();
  auto refused = HttpCall(untrusting, "POST", infer, kVqaRequest);
  EXPECT_FALSE(refused.ok()) << "the handshake must fail: " << refused->status;
  HttpClientOptions plain = ingress;  // and plain HTTP is not served
  plain.server = "http://" + std::string(parts[1]).substr(8);
  auto cleartext = HttpCall(plain, "POST", infer, kVqaRequest);
  EXPECT_TRUE(!cleartext.ok() || cleartext->status != 200);

  // jbctl describe shows the URL, the CA and where the token is, never the token.
  auto describe = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " describe workflow vqa");
  EXPECT_EQ(describe.exit_code, 0) << describe.output;
  EXPECT_NE(describe.output.find("Ingress:   " + url + " (CA: " + (state / "tls/ca.crt").string() +
                                 ", token: " + token_file.string() + ")"),
            std::string::npos)
      << describe.output;
  EXPECT_EQ(describe.output.find(token), std::string::npos);

  // The token is in no log: the daemon's (at debug level) nor the workers'.
  std::string logs = testing::ReadFile(dir.path() / "state.log");
  for (const auto& e : fs::directory_iterator(state / "workers/vqa"))
    if (e.path().extension() == ".log" || e.path().extension() == ".yaml") logs += testing::ReadFile(e.path());
  EXPECT_FALSE(logs.empty());
  EXPECT_EQ(logs.find(token), std::string::npos) << "the token was logged";
}

TEST(IngressE2E, TheDaemonDeploysTheEndpointAndARequestGetsTheWorkflowsAnswer) {
  testing::TempDir dir;
  fs::path m = IngressManifests(dir);
  Daemon d(dir.path() / "state", {}, {"--manifest-dir", m.string(), "--stop-workers-on-exit", "--ingress-plain-http"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  std::string url;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        if (wf && wf->status.observed) url = wf->status.observed->ingress_url;
        return !url.empty();
      },
      40s))
      << "status.observed.ingressUrl never appeared";
  std::smatch parts;
  ASSERT_TRUE(std::regex_match(url, parts, std::regex("(http://127\\.0\\.0\\.1:[0-9]+)(/v2/models/vqa)"))) << url;
  HttpClientOptions ingress;
  ingress.server = parts[1];
  ingress.timeout_s = 20;
  const std::string body =
      R"({"id":"q-1","inputs":[{"name":"ReadImage","shape":[1],"datatype":"BYTES","data":["img"]},)"
      R"({"name":"ReadSpeech","shape":[1],"datatype":"BYTES","data":["what colour is the car"]}]})";
  StatusOr<HttpResponse> r = Status::Unavailable("not sent");
  // Ready once every worker of the plan is up (503 until the io worker has its routes).
  ASSERT_TRUE(WaitFor(
      [&] {
        r = HttpCall(ingress, "POST", std::string(parts[2]) + "/infer", body);
        return r.ok() && r->status == 200;
      },
      40s))
      << (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message());
  EXPECT_NE(r->body.find(R"("model_name":"vqa","id":"q-1","outputs":[{"name":"VQA","datatype":"BYTES")"),
            std::string::npos)
      << r->body;
  auto meta = HttpCall(ingress, "GET", std::string(parts[2]));
  ASSERT_TRUE(meta.ok());
  EXPECT_NE(meta->body.find(R"("name":"ReadSpeech")"), std::string::npos) << meta->body;
}

// The ingress address (scheme://host:port) io worker `worker` reports in its metrics file.
std::string IngressAddressOf(const fs::path& state, const std::string& worker) {
  std::string text = testing::ReadFile(state / "workers/vqa" / (worker + ".metrics.json"));
  std::smatch m;
  return std::regex_search(text, m, std::regex("\"ingressAddress\": *\"([^\"]+)\"")) ? std::string(m[1]) : "";
}

TEST(IngressE2E, SourcesOnTwoTiersTakeTheirPartsByIdAndBothCallersGetTheAnswer) {
  testing::TempDir dir;
  fs::path m = IngressManifests(dir, "cloud");
  ASSERT_NE(testing::ReadFile(m / "workflow.yaml").find("type: ingress\n    tier: cloud"), std::string::npos);
  fs::path state = dir.path() / "state";
  Daemon d(state, {}, {"--manifest-dir", m.string(), "--stop-workers-on-exit", "--ingress-plain-http"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  std::string edge, cloud;
  ASSERT_TRUE(WaitFor(
      [&] {
        edge = IngressAddressOf(state, "io-edge");
        cloud = IngressAddressOf(state, "io-cloud");
        return !edge.empty() && !cloud.empty();
      },
      40s))
      << testing::ReadFile(dir.path() / "state.log");
  // #16: the status lists both endpoints, each with its tier (ingressUrl alone showed one).
  std::vector<TierIngressUrl> urls;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        if (wf && wf->status.observed) urls = wf->status.observed->ingress_urls;
        return urls.size() == 2;
      },
      40s))
      << urls.size() << " ingress URLs in the status";
  if (urls.size() == 2) {
    std::map<std::string, std::string> by_tier = {{urls[0].tier, urls[0].url}, {urls[1].tier, urls[1].url}};
    EXPECT_EQ(by_tier["edge"], edge + "/v2/models/vqa");
    EXPECT_EQ(by_tier["cloud"], cloud + "/v2/models/vqa");
  }
  HttpClientOptions to_edge, to_cloud;
  to_edge.server = edge;
  to_cloud.server = cloud;
  to_edge.timeout_s = to_cloud.timeout_s = 20;
  const std::string infer = "/v2/models/vqa/infer";
  auto meta = HttpCall(to_cloud, "GET", "/v2/models/vqa");
  ASSERT_TRUE(meta.ok()) << meta.status().message();
  EXPECT_NE(meta->body.find(R"("name":"ReadSpeech")"), std::string::npos) << meta->body;
  EXPECT_EQ(meta->body.find(R"("name":"ReadImage")"), std::string::npos) << meta->body;
  // Both parts with one id, each to its tier's endpoint, until the plan is up (503 before).
  StatusOr<HttpResponse> re = Status::Unavailable("not sent"), rc = Status::Unavailable("not sent");
  int round = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string id = "q-" + std::to_string(++round);
        auto image = std::async(std::launch::async, [&] {
          return HttpCall(to_edge, "POST", infer,
                          R"({"id":")" + id +
                              R"(","inputs":[{"name":"ReadImage","shape":[1],"datatype":"BYTES","data":["img"]}]})");
        });
        rc = HttpCall(
            to_cloud, "POST", infer,
            R"({"id":")" + id +
                R"(","inputs":[{"name":"ReadSpeech","shape":[1],"datatype":"BYTES","data":["what colour"]}]})");
        re = image.get();
        return re.ok() && re->status == 200 && rc.ok() && rc->status == 200;
      },
      60s))
      << (re.ok() ? std::to_string(re->status) + " " + re->body : re.status().message()) << " / "
      << (rc.ok() ? std::to_string(rc->status) + " " + rc->body : rc.status().message());
  for (const auto* r : {&re, &rc})
    EXPECT_NE((*r)->body.find(R"("model_name":"vqa","id":"q-)"), std::string::npos) << (*r)->body;
  // Without an id the parts could not meet: refused, naming it.
  auto no_id = HttpCall(to_edge, "POST", infer,
                        R"({"inputs":[{"name":"ReadImage","shape":[1],"datatype":"BYTES","data":["img"]}]})");
  ASSERT_TRUE(no_id.ok());
  EXPECT_EQ(no_id->status, 400);
  EXPECT_NE(no_id->body.find("request id ('id') is required"), std::string::npos) << no_id->body;
}

}  // namespace
}  // namespace jb
