// EtcdStore (store/etcd/etcd_store.h) against Debian's etcd 3.4 started by the test on free
// loopback ports (testing/etcd_cluster.h): the whole Store contract suite, then what only a
// shared, remote store has (other replicas' writes, watch resume and re-list, concurrent CAS
// writers, TLS credentials, failing at once without quorum).
#include "store/etcd/etcd_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "testing/etcd_cluster.h"
#include "tests/reconciler/store_contract.h"

namespace jb {
namespace {

using namespace store_contract;  // NOLINT: the shared contract suite and its helpers

// One single-member etcd for the contract suite; each store gets its own prefix.
testing::EtcdCluster& SharedEtcd() {
  static auto* cluster = [] {
    auto* c = new testing::EtcdCluster({});
    EXPECT_TRUE(c->WaitHealthy());
    return c;
  }();
  return *cluster;
}
// Kills the shared etcd when the test binary exits.
struct KillSharedEtcdAtExit {
  ~KillSharedEtcdAtExit() {
    for (int i = 0; i < SharedEtcd().members(); ++i) SharedEtcd().Kill(i);
  }
} kill_shared_etcd_at_exit;

std::string UniquePrefix() {
  static std::atomic<int> n{0};
  return "/jbtest-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "/";
}

std::unique_ptr<EtcdStore> OpenStore(const std::string& spec) {
  auto opts = etcd::ParseEtcdSpec(spec);
  EXPECT_TRUE(opts.ok()) << opts.status().message();
  auto s = EtcdStore::Open(*opts);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

struct EtcdStoreFactory {
  std::unique_ptr<Store> Make() { return OpenStore(SharedEtcd().StoreSpec(UniquePrefix())); }
};

struct EtcdName {
  template <typename T>
  static std::string GetName(int) {
    return "EtcdStore";
  }
};
INSTANTIATE_TYPED_TEST_SUITE_P(Etcd, StoreContract, ::testing::Types<EtcdStoreFactory>, EtcdName);

// Forwards to a real client; its watches wait while the gate is closed, and closing it ends the
// watch running (a disconnect the test controls).
class GatedClient : public etcd::EtcdClient {
 public:
  explicit GatedClient(std::unique_ptr<etcd::EtcdClient> real) : EtcdClient(real->options()), real_(std::move(real)) {}
  std::atomic<bool> open{true};
  std::atomic<int> watches{0}, ended{0};

  StatusOr<etcd::TxnResult> Range(const std::string& k, const std::string& e, int64_t rev) override {
    return real_->Range(k, e, rev);
  }
  StatusOr<etcd::TxnResult> Txn(const std::vector<etcd::Compare>& c, const std::vector<etcd::Op>& s,
                                const std::vector<etcd::Op>& f) override {
    return real_->Txn(c, s, f);
  }
  Status Compact(int64_t r) override { return real_->Compact(r); }
  StatusOr<int64_t> LeaseGrant(int64_t t) override { return real_->LeaseGrant(t); }
  StatusOr<int64_t> LeaseKeepAlive(int64_t l) override { return real_->LeaseKeepAlive(l); }
  Status LeaseRevoke(int64_t l) override { return real_->LeaseRevoke(l); }
  Status Watch(const std::string& k, const std::string& e, int64_t from,
               const std::function<void(const std::vector<etcd::WatchEvent>&, int64_t)>& on,
               const std::atomic<bool>& stop, int64_t* compact) override {
    while (!open && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (stop) return Status::Ok();
    ++watches;
    std::atomic<bool> cut{false};
    std::thread gate([&] {
      while (open && !stop && !cut) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      cut = true;
    });
    std::atomic<bool> both{false};
    std::thread merge([&] {
      while (!cut && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      both = true;
    });
    Status s = real_->Watch(k, e, from, on, both, compact);
    ++ended;
    cut = true;
    gate.join();
    merge.join();
    return stop ? Status::Ok() : (s.ok() ? Status::Unavailable("cut by the test") : s);
  }

 private:
  std::unique_ptr<etcd::EtcdClient> real_;
};

struct Recorded {
  std::mutex mu;
  std::set<std::string> names;
  Store::ChangeCallback Callback() {
    return [this](const std::string&, const std::string& name) {
      std::lock_guard<std::mutex> lock(mu);
      names.insert(name);
    };
  }
  bool Has(const std::string& n) {
    std::lock_guard<std::mutex> lock(mu);
    return names.count(n) > 0;
  }
};

TEST(EtcdStore, AnotherReplicasWritesNotifyThroughTheWatchButItsStatusWritesDoNot) {
  const std::string spec = SharedEtcd().StoreSpec(UniquePrefix());
  auto a = OpenStore(spec), b = OpenStore(spec);
  Recorded rec;
  Subscription sub = a->OnChange(rec.Callback());
  auto in = testing::LoadInstance("manifests/vqa");
  ASSERT_TRUE(b->Put(in.wf).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return rec.Has("vqa"); }, std::chrono::seconds(10)));
  EXPECT_EQ(MetaOf(*a->Get("Workflow", "vqa")).resource_version, MetaOf(*b->Get("Workflow", "vqa")).resource_version);
  {
    std::lock_guard<std::mutex> lock(rec.mu);
    rec.names.clear();
  }
  WorkflowStatus st;
  st.observed_generation = 1;
  ASSERT_TRUE(b->PutStatus("vqa", st).ok());
  ASSERT_TRUE(b->Put(Profile("after")).ok());  // a marker: once it is heard, the status write was too
  ASSERT_TRUE(testing::WaitFor([&] { return rec.Has("after"); }, std::chrono::seconds(10)));
  EXPECT_FALSE(rec.Has("vqa")) << "a status-only write must not notify";
}

TEST(EtcdStore, WatchResumesFromItsLastRevisionAfterADisconnect) {
  const std::string spec = SharedEtcd().StoreSpec(UniquePrefix());
  auto opts = *etcd::ParseEtcdSpec(spec);
  auto gated = std::make_unique<GatedClient>(std::move(*etcd::EtcdClient::Connect(opts)));
  GatedClient* gate = gated.get();
  auto a = std::move(*EtcdStore::Open(std::move(gated)));
  auto b = OpenStore(spec);
  Recorded rec;
  Subscription sub = a->OnChange(rec.Callback());
  ASSERT_TRUE(testing::WaitFor([&] { return gate->watches == 1; }, std::chrono::seconds(10)));
  gate->open = false;  // cut: written meanwhile, heard only by resuming from the last revision
  ASSERT_TRUE(testing::WaitFor([&] { return gate->ended == 1; }, std::chrono::seconds(10)));
  ASSERT_TRUE(b->Put(Profile("while-cut")).ok());
  ASSERT_TRUE(b->Put(Profile("also-while-cut")).ok());
  gate->open = true;
  ASSERT_TRUE(
      testing::WaitFor([&] { return rec.Has("while-cut") && rec.Has("also-while-cut"); }, std::chrono::seconds(10)));
  EXPECT_EQ(a->relists(), 0) << "a resume needs no re-list";
  EXPECT_GE(gate->watches, 2);
}

TEST(EtcdStore, WatchReListsAndNotifiesEveryObjectWhenItsRevisionWasCompacted) {
  const std::string spec = SharedEtcd().StoreSpec(UniquePrefix());
  auto b = OpenStore(spec);
  ASSERT_TRUE(b->Put(Profile("gone-later")).ok());
  auto opts = *etcd::ParseEtcdSpec(spec);
  auto gated = std::make_unique<GatedClient>(std::move(*etcd::EtcdClient::Connect(opts)));
  GatedClient* gate = gated.get();
  gate->open = false;  // the watch waits: everything below happens before it starts
  auto a = std::move(*EtcdStore::Open(std::move(gated)));
  Recorded rec;
  Subscription sub = a->OnChange(rec.Callback());
  ASSERT_TRUE(b->Put(Profile("new-1")).ok());
  ASSERT_TRUE(b->Delete("ModelProfile", "gone-later").ok());
  auto last = b->Put(Profile("new-2"));
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(b->client()->Compact(std::stoll(*MetaOf(*last).resource_version)).ok());
  gate->open = true;
  ASSERT_TRUE(testing::WaitFor([&] { return a->relists() == 1; }, std::chrono::seconds(10)));
  EXPECT_TRUE(rec.Has("new-1"));
  EXPECT_TRUE(rec.Has("new-2"));
  EXPECT_TRUE(rec.Has("gone-later")) << "an object deleted during the gap is notified too";
  // And the watch goes on after the re-list.
  ASSERT_TRUE(b->Put(Profile("after-relist")).ok());
  EXPECT_TRUE(testing::WaitFor([&] { return rec.Has("after-relist"); }, std::chrono::seconds(10)));
}

TEST(EtcdStore, WatchResumesAfterEtcdRestarts) {
  testing::EtcdCluster etcd({});
  ASSERT_TRUE(etcd.WaitHealthy());
  const std::string spec = etcd.StoreSpec("/jb/");
  auto a = OpenStore(spec), b = OpenStore(spec);
  Recorded rec;
  Subscription sub = a->OnChange(rec.Callback());
  ASSERT_TRUE(b->Put(Profile("before")).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return rec.Has("before"); }, std::chrono::seconds(10)));
  etcd.Kill(0);
  auto down = b->Put(Profile("while-down"));
  EXPECT_EQ(down.status().code(), Status::Code::kUnavailable) << down.status().message();
  etcd.Restart(0);
  ASSERT_TRUE(etcd.WaitHealthy());
  ASSERT_TRUE(testing::WaitFor([&] { return b->Put(Profile("after-restart")).ok(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(testing::WaitFor([&] { return rec.Has("after-restart"); }, std::chrono::seconds(10)));
  EXPECT_TRUE(a->Get("ModelProfile", "before").ok());
}

// What a follower's REST watch cache hears of the leader's status writes (daemon/store_backend.h).
// Regression: the watch covered objects/ only, so a ModelProfile's status key (beside it under the
// prefix) was never heard and this test timed out.
TEST(EtcdStore, AnotherReplicasStatusWritesReachItsStatusSubscribersButOwnOnesDoNot) {
  const std::string spec = SharedEtcd().StoreSpec(UniquePrefix());
  auto a = OpenStore(spec), b = OpenStore(spec);
  Recorded changes, others, own;
  Subscription s1 = a->OnChange(changes.Callback()), s2 = a->OnOthersStatusWrite(others.Callback()),
               s3 = b->OnOthersStatusWrite(own.Callback());
  auto in = testing::LoadInstance("manifests/vqa");
  ASSERT_TRUE(b->Put(in.wf).ok());
  ASSERT_TRUE(b->Put(Profile("p")).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return changes.Has("vqa") && changes.Has("p"); }, std::chrono::seconds(10)));
  EXPECT_FALSE(others.Has("vqa")) << "a spec write is not a status write";
  WorkflowStatus st;
  st.observed_generation = 1;
  ASSERT_TRUE(b->PutStatus("vqa", st).ok());
  ModelProfileStatus ps;
  ps.observed.emplace_back();
  ASSERT_TRUE(b->PutProfileStatus("p", ps, "").ok());
  ASSERT_TRUE(testing::WaitFor([&] { return others.Has("vqa") && others.Has("p"); }, std::chrono::seconds(10)));
  ASSERT_TRUE(b->Put(Profile("after")).ok());  // a marker: once a hears it, b's watch has passed them too
  ASSERT_TRUE(testing::WaitFor([&] { return changes.Has("after"); }, std::chrono::seconds(10)));
  ASSERT_TRUE(
      testing::WaitFor([&] { return b->watched_revision() >= a->watched_revision(); }, std::chrono::seconds(10)));
  EXPECT_FALSE(own.Has("vqa") || own.Has("p")) << "a replica's own status writes reach its cache directly";
}

// 20 writers on 4 replicas append to one object with compare-and-swap; every acknowledged
// append is there exactly once.
TEST(EtcdStore, TwentyConcurrentCasWritersLoseNoAcknowledgedWrite) {
  const std::string spec = SharedEtcd().StoreSpec(UniquePrefix());
  std::vector<std::unique_ptr<EtcdStore>> replicas;
  for (int i = 0; i < 4; ++i) replicas.push_back(OpenStore(spec));
  ASSERT_TRUE(replicas[0]->Put(Profile("shared")).ok());
  constexpr int kWriters = 20, kEach = 2;  // the object grows: its decoding costs grow with it
  std::atomic<int> conflicts{0};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      Store& s = *replicas[static_cast<size_t>(w % 4)];
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        for (int attempt = 0; attempt < 2000; ++attempt) {
          auto cur = s.Get("ModelProfile", "shared");
          if (!cur.ok()) continue;
          ModelProfile mp = std::get<ModelProfile>(*cur);
          Variant v = mp.spec.variants.front();
          v.name = id;
          mp.spec.variants.push_back(v);
          auto put = s.Put(mp);  // carries the resourceVersion read: compare-and-swap
          if (put.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.push_back(id);
            break;
          }
          if (put.status().code() == Status::Code::kConflict) ++conflicts;
        }
      }
    });
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto final_obj = replicas[3]->Get("ModelProfile", "shared");
  ASSERT_TRUE(final_obj.ok());
  std::map<std::string, int> count;
  for (const auto& v : std::get<ModelProfile>(*final_obj).spec.variants) ++count[v.name];
  EXPECT_EQ(acknowledged.size(), static_cast<size_t>(kWriters * kEach));
  for (const auto& id : acknowledged) EXPECT_EQ(count[id], 1) << id;
  EXPECT_EQ(count.size(), acknowledged.size() + 1) << "nothing but the acknowledged writes and the first variant";
  std::printf(
      "CAS: %d writers x %d appends on 4 replicas: %zu acknowledged, each present once; %d conflicts "
      "retried; %.2f s\n",
      kWriters, kEach, acknowledged.size(), conflicts.load(), secs);
}

TEST(EtcdStore, TlsWithClientCertificatesAndCredentialFilesMustBePrivate) {
  testing::EtcdCluster etcd({.members = 1, .tls = true});
  ASSERT_TRUE(etcd.WaitHealthy());
  auto s = OpenStore(etcd.StoreSpec("/jb/"));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Put(Profile("over-tls")).ok());
  EXPECT_TRUE(s->Get("ModelProfile", "over-tls").ok());
  ::chmod(etcd.File("client.key").c_str(), 0644);
  auto refused = EtcdStore::Open(*etcd::ParseEtcdSpec(etcd.StoreSpec("/jb/")));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(etcd.File("client.key")), std::string::npos) << refused.status().message();
  // Without a client certificate etcd refuses the connection.
  auto no_cert = etcd::ParseEtcdSpec("etcd:" + etcd.Endpoint(0) + "?cacert=" + etcd.File("ca.crt"));
  auto anonymous = EtcdStore::Open(*no_cert);
  EXPECT_FALSE(anonymous.ok());
}

TEST(EtcdStore, WithoutQuorumRequestsFailAtOnceAndRecover) {
  testing::EtcdCluster etcd({.members = 3});
  ASSERT_TRUE(etcd.WaitHealthy());
  auto s = OpenStore(etcd.StoreSpec("/jb/"));
  ASSERT_TRUE(s->Put(Profile("before")).ok());
  etcd.Kill(2);  // one member of three: nothing changes
  ASSERT_TRUE(testing::WaitFor([&] { return s->Put(Profile("one-down")).ok(); }, std::chrono::seconds(10)));
  etcd.Kill(1);
  // Wait until the survivor knows it has no leader, then time one write.
  ASSERT_TRUE(testing::WaitFor([&] { return s->Put(Profile("probe")).status().code() == Status::Code::kUnavailable; },
                               std::chrono::seconds(15)));
  const auto t0 = std::chrono::steady_clock::now();
  auto w = s->Put(Profile("no-quorum"));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(w.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(w.status().message().find("no leader"), std::string::npos) << w.status().message();
  EXPECT_LT(ms, 1000) << "a lost quorum must fail at once, not after etcd's 7 s";
  std::printf("quorum lost: write failed in %.1f ms: %s\n", ms, w.status().message().c_str());
  etcd.Restart(1);
  EXPECT_TRUE(testing::WaitFor([&] { return s->Put(Profile("recovered")).ok(); }, std::chrono::seconds(15)));
  EXPECT_TRUE(s->Get("ModelProfile", "one-down").ok());
}

}  // namespace
}  // namespace jb
