// LeaderElector (daemon/leader.h) against Debian's etcd started by the test: one leader, takeover
// after a leader vanishes (printed), and a leader cut off from etcd stops acting before its lease
// can expire.
#include "daemon/leader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/etcd_cluster.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using Steady = std::chrono::steady_clock;

std::unique_ptr<etcd::EtcdClient> Client(const testing::EtcdCluster& etcd) {
  auto opts = etcd::ParseEtcdSpec(etcd.StoreSpec("/jb/") + "&timeout-ms=500");
  auto c = etcd::EtcdClient::Connect(*opts);
  EXPECT_TRUE(c.ok());
  return std::move(*c);
}

LeaderOptions Opts(const std::string& id) {
  LeaderOptions o;
  o.id = id;
  o.ttl = std::chrono::milliseconds(2000);
  o.renew = std::chrono::milliseconds(200);
  o.margin = std::chrono::milliseconds(300);
  return o;
}

TEST(LeaderElector, OneLeadsTheOtherTakesOverWithinTheTtlWhenTheLeaderVanishes) {
  testing::EtcdCluster etcd({.members = 3});
  ASSERT_TRUE(etcd.WaitHealthy());
  auto ca = Client(etcd), cb = Client(etcd);
  LeaderElector a(ca.get(), Opts("replica-a"), nullptr);
  a.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return a.leading(); }, std::chrono::seconds(10)));
  LeaderElector b(cb.get(), Opts("replica-b"), nullptr);
  b.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return b.leader() == "replica-a"; }, std::chrono::seconds(10)));
  EXPECT_FALSE(b.leading());
  const int64_t first_term = a.term();
  // One etcd member killed: nothing changes.
  etcd.Kill(2);
  EXPECT_FALSE(testing::WaitFor([&] { return !a.leading() || b.leading(); }, std::chrono::seconds(3)));
  // The leader vanishes without resigning (as kill -9 would).
  const auto t0 = Steady::now();
  a.Abandon();
  ASSERT_TRUE(testing::WaitFor([&] { return b.leading(); }, std::chrono::seconds(10)));
  const double takeover = std::chrono::duration<double>(Steady::now() - t0).count();
  EXPECT_LT(takeover, 2.0 + 0.2 + 1.0) << "ttl + renew + etcd's expiry tick";
  EXPECT_GT(b.term(), first_term) << "terms grow with every leader (fencing token)";
  std::printf("takeover after the leader vanished: %.2f s (ttl 2 s, renew 0.2 s)\n", takeover);
}

TEST(LeaderElector, ALeaderThatCannotRenewStopsActingBeforeItsLeaseCanExpire) {
  testing::EtcdCluster etcd({.members = 3});
  ASSERT_TRUE(etcd.WaitHealthy());
  auto ca = Client(etcd);
  std::atomic<int> stopped{0};
  LeaderElector a(ca.get(), Opts("replica-a"), [&](bool leading, int64_t) {
    if (!leading) ++stopped;
  });
  a.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return a.leading(); }, std::chrono::seconds(10)));
  // Quorum lost: renewals fail. etcd counts the TTL from when it received the last renewal it
  // confirmed, so the lease cannot expire before (that renewal's send time) + ttl: the leader must
  // have stopped acting by then.
  std::atomic<int64_t> stopped_ns{0};
  std::thread watch([&] {
    if (testing::WaitFor([&] { return !a.leading(); }, std::chrono::seconds(10)))
      stopped_ns = Steady::now().time_since_epoch().count();
  });
  const auto t0 = Steady::now();
  etcd.Kill(1);
  etcd.Kill(2);
  watch.join();
  ASSERT_NE(stopped_ns.load(), 0);
  const Steady::time_point stopped_at{Steady::duration(stopped_ns.load())};
  const double before_expiry =
      std::chrono::duration<double>(a.renewed_at() + std::chrono::milliseconds(2000) - stopped_at).count();
  EXPECT_GT(before_expiry, 0.0) << "stopped acting before the lease could expire";
  EXPECT_TRUE(testing::WaitFor([&] { return stopped == 1; }, std::chrono::seconds(2)));
  EXPECT_NE(a.problem(), "");
  std::printf(
      "quorum lost: the leader stopped acting %.2f s after the kill, %.2f s before its lease could expire; "
      "why: %s\n",
      std::chrono::duration<double>(stopped_at - t0).count(), before_expiry, a.problem().c_str());
  etcd.Restart(1);
  EXPECT_TRUE(testing::WaitFor([&] { return a.leading(); }, std::chrono::seconds(15))) << "leads again after recovery";
}

}  // namespace
}  // namespace jb
