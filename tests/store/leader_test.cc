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

// Forwards to a real client until `hang` is set; then every lease renewal hangs for 3 s (longer
// than the TTL's remainder) before failing, as over a partition that drops packets.
class HangingClient : public etcd::EtcdClient {
 public:
  explicit HangingClient(std::unique_ptr<etcd::EtcdClient> real)
      : EtcdClient(real->options()), real_(std::move(real)) {}
  std::atomic<bool> hang{false};

  StatusOr<etcd::TxnResult> Range(const std::string& k, const std::string& e, int64_t rev) override {
    return real_->Range(k, e, rev);
  }
  StatusOr<etcd::TxnResult> Txn(const std::vector<etcd::Compare>& c, const std::vector<etcd::Op>& s,
                                const std::vector<etcd::Op>& f) override {
    return real_->Txn(c, s, f);
  }
  Status Compact(int64_t r) override { return real_->Compact(r); }
  StatusOr<int64_t> LeaseGrant(int64_t t) override { return real_->LeaseGrant(t); }
  StatusOr<int64_t> LeaseKeepAlive(int64_t l) override {
    if (!hang) return real_->LeaseKeepAlive(l);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the partition: no answer
    return Status::Unavailable("etcd: deadline exceeded (test partition)");
  }
  Status LeaseRevoke(int64_t l) override { return hang ? Status::Unavailable("partitioned") : real_->LeaseRevoke(l); }
  Status Watch(const std::string& k, const std::string& e, int64_t from,
               const std::function<void(const std::vector<etcd::WatchEvent>&, int64_t)>& on,
               const std::atomic<bool>& stop, int64_t* compact) override {
    return real_->Watch(k, e, from, on, stop, compact);
  }

 private:
  std::unique_ptr<etcd::EtcdClient> real_;
};

// The daemon acts on the callback (it exits): it must come before the lease can expire even when
// the renewal in flight hangs past that instant.
TEST(LeaderElector, ALeaderWhoseRenewalHangsIsToldToStopBeforeItsLeaseCanExpire) {
  testing::EtcdCluster etcd({});
  ASSERT_TRUE(etcd.WaitHealthy());
  HangingClient client(Client(etcd));
  std::atomic<int64_t> stopped_ns{0};
  LeaderElector a(&client, Opts("replica-a"), [&](bool leading, int64_t) {
    if (!leading && stopped_ns == 0) stopped_ns = Steady::now().time_since_epoch().count();
  });
  a.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return a.leading(); }, std::chrono::seconds(10)));
  client.hang = true;
  ASSERT_TRUE(testing::WaitFor([&] { return stopped_ns != 0; }, std::chrono::seconds(5)));
  const Steady::time_point stopped_at{Steady::duration(stopped_ns.load())};
  const double before_expiry =
      std::chrono::duration<double>(a.renewed_at() + std::chrono::milliseconds(2000) - stopped_at).count();
  EXPECT_GT(before_expiry, 0.0) << "told to stop before the lease could expire";
  std::printf("renewal hanging: the leader was told to stop %.2f s before its lease could expire\n", before_expiry);
  a.Abandon();
}

}  // namespace
}  // namespace jb
