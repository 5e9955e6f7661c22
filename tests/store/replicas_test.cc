// Two jellybeand replicas (fake driver) on a 3-member etcd (Debian's, started by the test): one
// leads, the other follows and takes over within the lease TTL after a kill -9 (printed); the old
// leader restarted follows; one etcd member lost changes nothing; quorum lost → writes get 503
// with the reason and /readyz says why; recovery after.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <sstream>
#include <thread>

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

// A follower's REST reads go to etcd, so GET shows the leader's current status at once; its watch
// (its watch cache) hears the leader's status writes through EtcdStore::OnOthersStatusWrite.
TEST(Replicas, AFollowersGetAndWatchShowTheLeadersCurrentStatus) {
  testing::EtcdCluster etcd({});
  ASSERT_TRUE(etcd.WaitHealthy());
  testing::TempDir tmp;
  auto args = [&](const std::string& id) {
    return std::vector<std::string>{"--store", etcd.StoreSpec("/jb/"), "--driver", "fake",          "--replica-id",
                                    id,        "--lease-ttl",          "2",        "--lease-renew", "0.2"};
  };
  const auto sa = tmp.path() / "a", sb = tmp.path() / "b";
  std::filesystem::create_directories(sa);
  std::filesystem::create_directories(sb);
  testing::Daemon a(sa, {}, args("replica-a"));
  HttpClientOptions ca, cb;
  ASSERT_TRUE(a.WaitReady(&ca));
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(ca).find("leader: replica-a") != std::string::npos; },
                               std::chrono::seconds(10)));
  testing::Daemon b(sb, {}, args("replica-b"));
  ASSERT_TRUE(b.WaitReady(&cb));
  auto apply = testing::Run("JB_STATE_DIR=" + sa.string() + " " + testing::Jbctl() + " apply -f manifests/vqa/ 2>&1");
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto wf = testing::GetObject(ca, "workflows/vqa");
        return wf && testing::Planned(*wf);
      },
      std::chrono::seconds(60)));
  // GET on the follower: the same object, status and all, as on the leader.
  std::optional<Object> seen;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto x = testing::GetObject(ca, "workflows/vqa");
        seen = testing::GetObject(cb, "workflows/vqa");
        return x && seen && ObjectToJson(*x) == ObjectToJson(*seen);
      },
      std::chrono::seconds(5)));
  EXPECT_TRUE(testing::Planned(*seen));

  // A spec change through the leader: the follower's watch, from the version it saw, shows the
  // status the leader writes for the new generation.
  HttpClientOptions cw = cb;
  cw.timeout_s = 30;
  StatusOr<HttpResponse> watched = Status::Unavailable("not yet");
  std::thread watch([&] {
    watched = HttpCall(cw, "GET",
                       testing::kApi + "workflows?watch=true&timeoutSeconds=8&resourceVersion=" +
                           MetaOf(*seen).resource_version.value_or(""));
  });
  auto patched = HttpCall(ca, "PATCH", testing::kApi + "workflows/vqa", R"({"spec":{"slo":{"minAccuracy":55}}})",
                          "application/merge-patch+json");
  ASSERT_TRUE(patched.ok() && patched->status == 200) << (patched.ok() ? patched->body : patched.status().message());
  std::vector<Diagnostic> d;
  const int64_t generation = MetaOf(*ObjectFromText(patched->body, "patch", &d)).generation.value_or(0);
  watch.join();
  ASSERT_TRUE(watched.ok() && watched->status == 200) << (watched.ok() ? watched->body : watched.status().message());
  bool status_seen = false;
  std::istringstream lines(watched->body);
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("\"object\":");
    if (line.rfind("{\"type\":\"MODIFIED\"", 0) != 0 || at == std::string::npos || line.back() != '}') continue;
    auto o = ObjectFromText(line.substr(at + 9, line.size() - at - 10), "watch", &d);
    if (!o.ok() || MetaOf(*o).name != "vqa") continue;
    const auto& st = std::get<Workflow>(*o).status;
    status_seen |= st.observed_generation.value_or(0) == generation && testing::Planned(*o);
  }
  EXPECT_TRUE(status_seen) << "the follower's watch did not show the leader's status for generation " << generation
                           << ":\n"
                           << watched->body;
  auto now = testing::GetObject(cb, "workflows/vqa");
  ASSERT_TRUE(now);
  EXPECT_EQ(std::get<Workflow>(*now).status.observed_generation.value_or(0), generation);
}

// Whether `pid` (a child not yet reaped) has exited.
bool Exited(pid_t pid) {
  const std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  return stat.empty() || stat.find(") Z ") != std::string::npos;
}

// The leader partitioned from etcd: its etcd traffic goes through a TCP proxy that the test stops
// (SIGSTOP: requests are neither answered nor refused, as when a partition drops packets), while
// the follower still reaches etcd. The leader stops acting (it exits, status 3) before its lease
// expires, so before the follower can lead; the follower then leads within the lease.
TEST(Replicas, ALeaderPartitionedFromEtcdStopsBeforeItsLeaseExpiresAndTheFollowerLeads) {
  testing::EtcdCluster etcd({});
  ASSERT_TRUE(etcd.WaitHealthy());
  testing::TempDir tmp;
  const std::string port_file = (tmp.path() / "proxy.port").string();
  const std::string etcd_addr = etcd.Endpoint(0).substr(std::string("http://").size());
  const pid_t proxy = testing::SpawnLogged(
      {JB_DELAY_PROXY, "--listen", "127.0.0.1:0", "--to", etcd_addr, "--delay-ms", "0", "--port-file", port_file},
      (tmp.path() / "proxy.log").string());
  ASSERT_GT(proxy, 0);
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{proxy};
  ASSERT_TRUE(testing::WaitFor([&] { return !testing::ReadFile(port_file).empty(); }, std::chrono::seconds(10)));
  const std::string proxied =
      "etcd:http://127.0.0.1:" + std::to_string(std::atoi(testing::ReadFile(port_file).c_str())) +
      "?prefix=/jb/&timeout-ms=1000";
  auto args = [&](const std::string& id, const std::string& store) {
    return std::vector<std::string>{"--store", store,         "--driver", "fake",          "--replica-id",
                                    id,        "--lease-ttl", "2",        "--lease-renew", "0.2"};
  };
  const auto sa = tmp.path() / "a", sb = tmp.path() / "b";
  std::filesystem::create_directories(sa);
  std::filesystem::create_directories(sb);
  testing::Daemon a(sa, {}, args("replica-a", proxied));
  HttpClientOptions ca, cb;
  ASSERT_TRUE(a.WaitReady(&ca)) << testing::ReadFile(tmp.path() / "a.log");
  ASSERT_TRUE(testing::WaitFor([&] { return Readyz(ca).find("leader: replica-a") != std::string::npos; },
                               std::chrono::seconds(10)));
  testing::Daemon b(sb, {}, args("replica-b", etcd.StoreSpec("/jb/") + "&timeout-ms=1000"));
  ASSERT_TRUE(b.WaitReady(&cb));
  ASSERT_NE(Readyz(cb).find("leader: replica-a"), std::string::npos) << Readyz(cb);

  const auto t0 = Steady::now();
  ::kill(proxy, SIGSTOP);
  double exited_s = -1, led_s = -1;
  testing::WaitFor(
      [&] {
        const double now = std::chrono::duration<double>(Steady::now() - t0).count();
        if (exited_s < 0 && Exited(a.pid())) exited_s = now;
        if (led_s < 0 && Readyz(cb).find("leader: replica-b") != std::string::npos) led_s = now;
        return exited_s >= 0 && led_s >= 0;
      },
      std::chrono::seconds(15));
  ASSERT_GE(exited_s, 0) << "the partitioned leader did not stop\n" << testing::ReadFile(tmp.path() / "a.log");
  ASSERT_GE(led_s, 0) << "the follower did not lead\n" << testing::ReadFile(tmp.path() / "b.log");
  EXPECT_LT(exited_s, led_s) << "the partitioned leader acted while the follower led";
  EXPECT_LT(led_s, 2.0 + 0.2 + 1.5) << "the follower leads within ttl + renew + etcd's expiry tick";
  EXPECT_EQ(a.Stop(), 3) << "a leader that lost its lease exits with status 3";
  EXPECT_NE(testing::ReadFile(tmp.path() / "a.log").find("lost the leadership"), std::string::npos);
  std::printf("partition: the leader stopped %.2f s after etcd became unreachable for it; the follower led at %.2f s\n",
              exited_s, led_s);
}

}  // namespace
}  // namespace jb
