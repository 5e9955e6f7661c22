// The inference endpoint with TLS and a bearer token (worker/ingress_endpoint.h): the default for
// an ingress that is not plainHttp.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/http.h"
#include "tests/test_util.h"
#include "tests/tls_test_util.h"
#include "worker/worker.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

WorkerConfig TlsWorker(const std::filesystem::path& dir, int port) {
  WorkerConfig c;
  c.workflow = "echo";
  c.name = "io";
  c.listen = "127.0.0.1:" + std::to_string(port);
  c.metrics_interval_s = 0.02;
  WorkerInstance src;
  src.kind = "source";
  src.type = "ingress";
  src.name = "text";
  src.rate = 10;
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  c.instances = {src, sink};
  c.edges = {{"text", kSinkName, 1}};
  c.routes = {{kSinkName, 0, 1, "io", c.listen, ""}};
  WorkerIngress in;
  in.cert_file = (dir / "io.crt").string();
  in.key_file = (dir / "io.key").string();
  in.token_file = (dir / "token").string();
  c.ingress = in;
  return c;
}

TEST(IngressTls, HttpsWithTheBearerTokenIsAnsweredAndWithoutItIs401) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::MakeCert(dir.path(), "ca"));
  ASSERT_TRUE(testing::MakeCert(dir.path(), "io", "ca"));
  std::ofstream(dir.path() / "token") << "s3cret-token\n";
  ASSERT_EQ(chmod((dir.path() / "token").c_str(), 0600), 0);
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  auto w = Worker::Create(TlsWorker(dir.path(), *port));
  ASSERT_TRUE(w.ok()) << w.status().message();
  std::thread t([&] { (void)(*w)->Run(); });
  int ip = 0;
  ASSERT_TRUE(testing::WaitFor([&] { return (ip = (*w)->Metrics().ingress_port) > 0; }, 5s));
  HttpClientOptions c;
  c.server = "https://127.0.0.1:" + std::to_string(ip);
  c.ca_file = (dir.path() / "ca.crt").string();
  c.timeout_s = 10;
  const std::string body = R"({"id":"t1","inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["hi"]}]})";
  auto anon = HttpCall(c, "POST", "/v2/models/echo/infer", body);
  ASSERT_TRUE(anon.ok()) << anon.status().message();
  EXPECT_EQ(anon->status, 401);
  EXPECT_NE(anon->body.find("bearer token"), std::string::npos) << anon->body;
  auto live = HttpCall(c, "GET", "/v2/health/live");  // probes need no token
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->status, 200);
  c.token = "s3cret-token";
  StatusOr<HttpResponse> r = Status::Unavailable("not sent");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        r = HttpCall(c, "POST", "/v2/models/echo/infer", body);
        return r.ok() && r->status == 200;
      },
      5s));
  // No operator: the answer is the source's own part, delivered at the sink.
  EXPECT_EQ(r->body, R"({"model_name":"echo","id":"t1","outputs":[{"name":"text","datatype":"BYTES","shape":[1],)"
                     R"("data":["hi"]}]})");
  (*w)->Stop();
  t.join();
}

TEST(IngressTls, ATokenFileOthersCanReadOrMissingTlsMaterialsAreRefused) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::MakeCert(dir.path(), "ca"));
  ASSERT_TRUE(testing::MakeCert(dir.path(), "io", "ca"));
  std::ofstream(dir.path() / "token") << "t\n";
  ASSERT_EQ(chmod((dir.path() / "token").c_str(), 0644), 0);
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  auto w = Worker::Create(TlsWorker(dir.path(), *port));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("chmod 600"), std::string::npos) << w.status().message();
  WorkerConfig c = TlsWorker(dir.path(), *port);
  c.ingress->cert_file.clear();
  auto v = Worker::Create(c);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("certFile"), std::string::npos) << v.status().message();
}

}  // namespace
}  // namespace jb
