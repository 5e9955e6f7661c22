// End to end: the real jellybeand (local driver, --ingress-plain-http) deploys the VQA example with
// both sources as `type: ingress`; the io worker serves the OIP endpoint whose URL the status shows,
// and a request with one part per source comes back with the last operator's answer.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "daemon/http.h"
#include "testing/daemon_fixture.h"
#include "testing/vqa_run.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using testing::Daemon;
using testing::GetWorkflow;
using testing::WaitFor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(IngressE2E, TheDaemonDeploysTheEndpointAndARequestGetsTheWorkflowsAnswer) {
  testing::TempDir dir;
  fs::path m = dir.path() / "manifests";
  fs::create_directories(m);
  for (const auto& e : fs::directory_iterator(fs::path(JB_SOURCE_DIR) / "manifests/vqa")) {
    std::string text = testing::ReadFile(e.path());
    if (e.path().filename() == "workflow.yaml") {
      text = std::regex_replace(text, std::regex("\n    rate: 40\n"), "\n    rate: 40\n    type: ingress\n");
      text = std::regex_replace(text, std::regex("\n  slo:\n"), "\n  ingress:\n    timeoutS: 20\n  slo:\n");
    }
    std::ofstream(m / e.path().filename()) << text;
  }
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

}  // namespace
}  // namespace jb
