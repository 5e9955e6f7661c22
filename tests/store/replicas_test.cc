// Two jellybeand replicas (fake driver) on a 3-member etcd (Debian's, started by the test): one
// leads, the other follows and takes over within the lease TTL after a kill -9 (printed); the old
// leader restarted follows; one etcd member lost changes nothing; quorum lost → writes get 503
// with the reason and /readyz says why; recovery after.
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "testing/daemon_fixture.h"
#include "testing/etcd_cluster.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using Steady = std::chrono::steady_clock;

std::string Readyz(const HttpClientOptions& c, int* code = nullptr) {
  auto r = HttpCall(c, "GET", "/readyz");
  if (code) *code = r.ok() ? r->status : -1;
  return r.ok() ? r->body : "";
}

// A watch of the workflows from the start (timeoutSeconds=1): its ADDED vqa is planned.
bool WatchShowsPlanned(const HttpClientOptions& c) {
  auto r = HttpCall(c, "GET", testing::kApi + "workflows?watch=true&timeoutSeconds=1");
  if (!r.ok() || r->status != 200) return false;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    // {"type":"ADDED","object":{...}}
    const auto at = line.find("\"object\":");
    if (line.rfind("{\"type\":\"ADDED\"", 0) != 0 || at == std::string::npos || line.back() != '}') continue;
    std::vector<Diagnostic> d;
    auto o = ObjectFromText(line.substr(at + 9, line.size() - at - 10), "watch", &d);
    if (o.ok() && MetaOf(*o).name == "vqa" && testing::Planned(*o)) return true;
  }
  return false;
}

TEST(Replicas, FollowerTakesOverAfterKill9AndEverythingRecoversFromQuorumLoss) {
  testing::EtcdCluster etcd({.members = 3});
  ASSERT_TRUE(etcd.WaitHealthy());
  testing::TempDir tmp;
  auto args = [&](const std::string& id) {
    return std::vector<std::string>{"--store",       etcd.StoreSpec("/jb/") + "&timeout-ms=1000",
                                    "--driver",      "fake",
                                    "--replica-id",  id,
                                    "--lease-ttl",   "2",
                                    "--lease-renew", "0.2"};
  };
  const auto sa = tmp.path() / "a", sb = tmp.path() / "b";
  std::filesystem::create_directories(sa);
  std::filesystem::create_directories(sb);
  auto a = std::make_unique<testing::Daemon>(sa, std::vector<std::string>{}, args("replica-a"));
  HttpClientOptions ca, cb;
  ASSERT_TRUE(a->WaitReady(&ca));
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(ca).find("leader: replica-a") != std::string::npos; },
                               std::chrono::seconds(10)));
  testing::Daemon b(sb, {}, args("replica-b"));
  ASSERT_TRUE(b.WaitReady(&cb));
  EXPECT_NE(Readyz(cb).find("leader: replica-a"), std::string::npos) << Readyz(cb);
  // The follower accepts writes; the leader reconciles them.
  auto apply = testing::Run("JB_STATE_DIR=" + sb.string() + " " + testing::Jbctl() + " apply -f manifests/vqa/ 2>&1");
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  auto planned = [&](const HttpClientOptions& c) {
    auto wf = testing::GetObject(c, "workflows/vqa");
    return wf && testing::Planned(*wf);
  };
  ASSERT_TRUE(testing::WaitFor([&] { return planned(cb); }, std::chrono::seconds(60)));
  // The follower's REST watch (its watch cache) shows the leader's status writes too.
  ASSERT_TRUE(testing::WaitFor([&] { return WatchShowsPlanned(cb); }, std::chrono::seconds(10)));

  // kill -9 the leader: the follower leads within the TTL (+ renew + etcd's expiry tick).
  const auto t0 = Steady::now();
  a->Signal(SIGKILL);
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(cb).find("leader: replica-b") != std::string::npos; },
                               std::chrono::seconds(15)));
  const double takeover = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("takeover after kill -9 of the leader: %.2f s (lease TTL 2 s, renew 0.2 s)\n", takeover);
  EXPECT_LT(takeover, 4.0);
  a.reset();
  // The old leader restarted follows.
  a = std::make_unique<testing::Daemon>(sa, std::vector<std::string>{}, args("replica-a"));
  ASSERT_TRUE(a->WaitReady(&ca));
  EXPECT_NE(Readyz(ca).find("leader: replica-b"), std::string::npos) << Readyz(ca);
  EXPECT_TRUE(planned(ca));

  // One etcd member killed: nothing changes.
  etcd.Kill(2);
  apply = testing::Run("JB_STATE_DIR=" + sa.string() + " " + testing::Jbctl() + " apply -f manifests/vqa/ 2>&1");
  EXPECT_EQ(apply.exit_code, 0) << apply.output;
  EXPECT_NE(Readyz(ca).find("leader: replica-b"), std::string::npos) << Readyz(ca);

  // Quorum lost: the leader steps down (it exits); the follower answers writes with 503 and the
  // reason, and /readyz says why.
  etcd.Kill(1);
  int code = 0;
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(ca, &code).find("no leader") != std::string::npos && code == 503; },
                               std::chrono::seconds(15)))
      << Readyz(ca);
  auto put = HttpCall(ca, "DELETE", testing::kApi + "workflows/vqa");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 503) << put->body;
  EXPECT_NE(put->body.find("no leader"), std::string::npos) << put->body;
  std::printf("quorum lost: /readyz -> %d %s", code, Readyz(ca).c_str());

  // Quorum back: a replica leads again, the workflow is still there.
  etcd.Restart(1);
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(ca, &code).find("leader: replica-") != std::string::npos; },
                               std::chrono::seconds(20)))
      << Readyz(ca);
  EXPECT_TRUE(planned(ca));
}

}  // namespace
}  // namespace jb
