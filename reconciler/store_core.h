// StoreCore: the Store semantics shared by the stores that hold every object in this process
// (FileStore, MemoryStore): names, resourceVersion counter, compare-and-swap, generation, status
// kept apart from spec, finalizers, change notifications. They differ only in persistence, which
// comes in through StorePersistence (none for MemoryStore, which still checks that every object it
// acknowledges reads back: CheckReadsBack).
//
// metadata.uid (NewUid) and metadata.creationTimestamp are set on create and kept by later Puts,
// whatever the client sent.
// resourceVersions: a store-wide counter. With persistence, versions are reserved in blocks of
// kVersionBlock (StorePersistence::ReserveVersions) before any version of a block is handed out,
// so they never go back, not even across restarts after deletions.
// Thread-safety: all methods are thread-safe. Persistence hooks run under the core's lock, one at
// a time; change callbacks run outside it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "reconciler/change_notifier.h"
#include "reconciler/store.h"

namespace jb {

// resourceVersions reserved per ReserveVersions call: a restart skips at most this many.
inline constexpr uint64_t kVersionBlock = 1000;

// Where a StoreCore makes its writes durable. Each hook is called before the in-memory table
// changes; a failure (kUnavailable with the reason) leaves the table, and the caller's write, as
// they were.
class StorePersistence {
 public:
  virtual ~StorePersistence() = default;
  // Stores `obj` (its kind and metadata.name identify it), replacing any earlier version.
  virtual Status Write(const Object& obj) = 0;
  // Removes the stored object; Ok when it is not stored.
  virtual Status Erase(const std::string& kind, const std::string& name) = 0;
  // Records durably that versions up to `upto` may have been issued.
  virtual Status ReserveVersions(uint64_t upto) = 0;
};

// Put's semantics over the stored version `stored` (null = absent), for every Store backend:
// refuses a name that is not a DNS-1123 subdomain (kInvalidArgument), checks obj's resourceVersion against it
// (kConflict, kNotFound) and refuses an object being deleted (kConflict); sets generation and finalizers, keeps the
// stored status, clears deletionTimestamp. false = the spec and labels equal the stored ones: nothing to write.
StatusOr<bool> PrepareSpecWrite(Object* obj, const Object* stored);
// Every store refuses to acknowledge an object whose stored form `text` (its JSON) would not load
// back through the API's decoder and validation, e.g. a status field the reconciler set to a value
// the schema does not allow: kInvalidArgument "the object could not be read back once stored: …"
// naming `where` and the first diagnostic. The memory store checks it too (on ObjectToJson(obj)),
// so that unit tests on it fail where the file and etcd stores would.
Status CheckReadsBack(const std::string& text, const std::string& where);
// A random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"): metadata.uid of a created object.
// Thread-safe.
std::string NewUid();

class StoreCore : public Store {
 public:
  using Key = std::pair<std::string, std::string>;  // (kind, name)

  // `persistence` null = memory only.
  explicit StoreCore(std::unique_ptr<StorePersistence> persistence);

  StatusOr<Object> Get(const std::string& kind, const std::string& name) const override EXCLUDES(mu_);
  std::vector<Object> List(const std::string& kind) const override EXCLUDES(mu_);
  size_t size() const override EXCLUDES(mu_);
  StatusOr<Object> Put(Object obj) override EXCLUDES(mu_);
  using Store::PutStatus;
  StatusOr<Object> PutStatus(const std::string& name, const WorkflowStatus& status,
                             const std::string& resource_version) override;
  StatusOr<Object> PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                    const std::string& resource_version) override EXCLUDES(mu_);
  StatusOr<Object> Delete(const std::string& kind, const std::string& name) override EXCLUDES(mu_);
  Status RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) override
      EXCLUDES(mu_);
  [[nodiscard]] Subscription OnChange(ChangeCallback fn) override;
  // Stores `obj` as it is (generation, finalizers, deletionTimestamp, status: `jellybeand
  // migrate` keeps them) under a new resourceVersion; kAlreadyExists when it is stored. Notifies.
  StatusOr<Object> Import(Object obj) EXCLUDES(mu_);

 protected:
  // MemoryStore::PutUnchecked: the next writes skip CheckReadsBack (memory only).
  std::atomic<bool> skip_read_back_{false};
  // Replaces the table with objects loaded from persistence. `version`: the highest version that
  // may have been issued (the next write reserves a block above it). `refusal` non-empty: every
  // write that would hand out a version fails with kUnavailable and this message (the store
  // cannot know which versions were issued). No notifications.
  void Restore(std::map<Key, Object> objects, uint64_t version, std::string refusal) EXCLUDES(mu_);

 private:
  // The next resourceVersion; reserves a new block first when needed.
  StatusOr<std::string> NextVersion() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status Write(const Object& obj) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status Erase(const std::string& kind, const std::string& name) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<StorePersistence> persistence_;
  ChangeNotifier notifier_;
  mutable Mutex mu_;
  std::map<Key, Object> objects_ GUARDED_BY(mu_);
  uint64_t version_ GUARDED_BY(mu_) = 0;   // the last version handed out (or loaded)
  uint64_t reserved_ GUARDED_BY(mu_) = 0;  // versions up to this one are reserved in persistence
  std::string refusal_ GUARDED_BY(mu_);    // non-empty: writes are refused (see Restore)
};

}  // namespace jb
