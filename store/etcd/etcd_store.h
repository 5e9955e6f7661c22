// EtcdStore: the Store (reconciler/store.h) kept in etcd 3.4, shared by every jellybeand replica
// that points at the same etcd and prefix. Every contract point of store.h holds; how:
//  - keys: PREFIX objects/<Kind>/<name> holds the object as JSON (resourceVersion left out);
//    PREFIX profile-status/<name> a ModelProfile's status (see PutProfileStatus below).
//  - resourceVersion = the object key's mod revision, in decimal: etcd revisions grow with every
//    write of the cluster and are never reused, not even after a delete.
//  - every write is a txn comparing the key's mod revision with the one just read (create:
//    create revision 0), so concurrent replicas never lose an update: a write that carried a
//    resourceVersion gets kConflict, one without it is re-read and re-applied (bounded retries).
//  - generation, finalizers, deletionTimestamp, status kept on Put: PrepareSpecWrite
//    (reconciler/store_core.h), the same code as the file store.
//  - PutProfileStatus writes the separate status key in a txn that checks the object's mod
//    revision, so the profile's resourceVersion stays, as the contract asks.
//  - reads are linearizable (served through the raft leader); every request requires a leader, so
//    with quorum lost a call fails at once with kUnavailable "etcd: etcdserver: no leader".
//  - notifications: this process's own writes notify on the writer's thread, as the file store
//    does; a watch thread (on the whole prefix: objects and profile status keys) notifies for other
//    replicas' writes (status-only writes excepted: a Workflow write that changes only the status
//    and a ModelProfile status key go to OnOthersStatusWrite's subscribers). The watch resumes
//    after a disconnect from the last revision it saw (no event missed); when that revision was
//    compacted it re-lists and notifies every object it lists and every object it knew that is gone.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "reconciler/change_notifier.h"
#include "reconciler/store.h"
#include "store/etcd/etcd_client.h"

namespace jb {

class EtcdStore : public Store {
 public:
  // Connects, reads the prefix once (to learn the revision the watch starts after) and starts
  // the watch thread. kUnavailable when etcd cannot be reached or has no leader.
  static StatusOr<std::unique_ptr<EtcdStore>> Open(const etcd::EtcdOptions& options);
  static StatusOr<std::unique_ptr<EtcdStore>> Open(std::unique_ptr<etcd::EtcdClient> client);
  ~EtcdStore() override;

  StatusOr<Object> Get(const std::string& kind, const std::string& name) const override;
  std::vector<Object> List(const std::string& kind) const override;
  size_t size() const override;
  StatusOr<Object> Put(Object obj) override;
  using Store::PutStatus;
  StatusOr<Object> PutStatus(const std::string& name, const WorkflowStatus& status,
                             const std::string& resource_version) override;
  StatusOr<Object> PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                    const std::string& resource_version) override;
  StatusOr<Object> Delete(const std::string& kind, const std::string& name) override;
  Status RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) override;
  [[nodiscard]] Subscription OnChange(ChangeCallback fn) override;
  // Status writes of other replicas (which OnChange leaves out, as the contract allows), from the
  // watch thread: a follower's REST watch cache (daemon/watch_cache.h) observes them with this.
  [[nodiscard]] Subscription OnOthersStatusWrite(ChangeCallback fn);

  // List and size report no error (the interface has none): a failed read gives an empty list.
  // This one does, for the daemon's start-up check and migrate.
  StatusOr<std::vector<Object>> ListChecked(const std::string& kind) const;
  // Writes `obj` as it is, status included (migrate: an import keeps generation, finalizers,
  // deletionTimestamp and status); the resourceVersion becomes etcd's. Refuses an existing object
  // (kAlreadyExists). Notifies.
  StatusOr<Object> Import(Object obj);

  etcd::EtcdClient* client() const { return client_.get(); }
  // Watch progress, for tests: the revision the watch has seen up to, and how often it re-listed.
  int64_t watched_revision() const EXCLUDES(mu_);
  int relists() const EXCLUDES(mu_);

 private:
  struct Stored {
    Object obj;
    int64_t mod = 0;  // the object key's mod revision (= resourceVersion)
  };
  explicit EtcdStore(std::unique_ptr<etcd::EtcdClient> client);

  std::string ObjectKey(const std::string& kind, const std::string& name) const;
  std::string StatusKey(const std::string& name) const;
  StatusOr<std::optional<Stored>> Read(const std::string& kind, const std::string& name) const;
  // Writes with `ops` if the object key still has mod revision `mod` (0 = absent); the new
  // revision, or nullopt when the compare failed. `notify`: a change subscribers must hear of.
  StatusOr<std::optional<int64_t>> Write(const std::string& kind, const std::string& name, int64_t mod,
                                         std::vector<etcd::Op> ops, bool notify);
  // A txn of this process: its revision, once applied, is known as an own write (IsOwnWrite).
  StatusOr<etcd::TxnResult> OwnTxn(const etcd::Compare& compare, std::vector<etcd::Op> ops) EXCLUDES(mu_);
  StatusOr<etcd::Op> EncodePut(const std::string& key, const Object& obj) const;
  // Decode (JSON → Object) through decoded_: a value is parsed once per mod revision. A List
  // re-reads every object of a kind (the REST watch cache lists after each write), and parsing,
  // not etcd, dominated its cost.
  StatusOr<Object> DecodeCached(const etcd::KeyValue& kv) const EXCLUDES(cache_mu_);
  // Forgets the decoded values under `prefix` whose key is not in `present` (deleted objects).
  void PruneDecoded(const std::string& prefix, const std::set<std::string>& present) const EXCLUDES(cache_mu_);

  void WatchLoop();
  void OnEvents(const std::vector<etcd::WatchEvent>& events, int64_t revision);
  // Re-lists the prefix after a compaction: notifies every object listed and every known one gone.
  Status Relist();
  bool IsOwnWrite(int64_t revision) EXCLUDES(mu_);

  const std::unique_ptr<etcd::EtcdClient> client_;
  const std::string objects_prefix_, status_prefix_;
  ChangeNotifier notifier_, status_notifier_;
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  CondVar changed_;                                  // signalled when a write of this process ends, or on stop
  int inflight_ GUARDED_BY(mu_) = 0;                 // writes of this process awaiting their txn
  std::set<int64_t> own_revisions_ GUARDED_BY(mu_);  // revisions of this process's writes not yet watched
  int64_t revision_ GUARDED_BY(mu_) = 0;             // the watch has seen everything up to here
  int relists_ GUARDED_BY(mu_) = 0;
  std::set<std::string> known_keys_;  // object keys the watch knows exist; watch thread only
  mutable Mutex cache_mu_;
  mutable std::map<std::string, std::pair<int64_t, Object>> decoded_ GUARDED_BY(cache_mu_);  // key -> (mod, value)
  std::thread watcher_;
};

}  // namespace jb
