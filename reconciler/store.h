// Store: the interface to the daemon's object store (Workflows, ModelProfiles, Infrastructures).
// Implementations: FileStore (reconciler/file_store.h, one file per object in a state directory,
// the default) and MemoryStore (reconciler/memory_store.h, for tests); both share their semantics
// through StoreCore (reconciler/store_core.h). A replicated backend (etcd) implements this
// interface directly; the contract below is what the reconciler, the controller and the REST API
// rely on, so a backend that keeps it needs no change to them.
//
// Contract (Kubernetes-like):
//  - names: metadata.name must be a DNS-1123 subdomain (api/names.h); Put refuses others with
//    kInvalidArgument. Objects stored under earlier, looser rules may be read and deleted.
//  - resourceVersion: opaque to clients, who compare it for equality only. Every write (Put,
//    PutStatus that changes the status, Delete that marks, RemoveFinalizer that keeps the object;
//    not PutProfileStatus, see there)
//    gives the object a new one that was never issued before by this store, not even for an object
//    deleted since (so a client holding an old version can never overwrite a newer object).
//    (FileStore/MemoryStore: a store-wide decimal counter; etcd: the key's mod revision.)
//  - compare-and-swap: a write that carries a resourceVersion succeeds only if it is the stored
//    one (else kConflict; kNotFound when the object is absent); one without it is unconditional.
//  - generation: 1 on create, +1 on every Put whose spec differs; status writes never change it.
//  - spec and status are written separately: Put keeps the stored status (a new object's is
//    empty); PutStatus changes only the status (Workflows), PutProfileStatus (ModelProfiles).
//  - finalizers: a new Workflow gets kWorkersFinalizer. Delete of an object with finalizers only
//    marks it (metadata.deletionTimestamp, a new resourceVersion) and further Puts are refused
//    with kConflict; the object disappears when RemoveFinalizer removes the last one.
//  - change notifications: after every Put, Delete and RemoveFinalizer that succeeded, each
//    subscribed callback is called with (kind, name), outside any store lock, on the writer's
//    thread (or, for a remote backend, its watch thread). Status writes need not notify (the file
//    store does not: the reconciler wrote them). Subscribers are level-triggered: they re-read the
//    object (which may be gone or changed again) and tolerate extra calls; a backend that may have
//    missed changes (a watch that was cut or compacted) calls for every object it relisted.
// Thread-safety: implementations are thread-safe. A callback may call the store (reads and writes)
// but must not destroy its own Subscription's store.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/types.h"
// Time and durable-file helpers used by the store's users; reached through this header by the
// files that used them from here before the store was an interface.
#include "base/file.h"
#include "base/rfc3339.h"

namespace jb {

inline constexpr const char* kWorkersFinalizer = "jellybean.dev/workers";

// A change subscription: destroying it (or Reset) unsubscribes. Move-only.
// After Reset returns, the callback is never called again, and no call of it is still running on
// another thread (a call on the resetting thread itself, i.e. a callback resetting its own
// subscription, finishes after Reset returns). A Subscription may outlive its store: Reset is then
// a no-op.
class Subscription {
 public:
  Subscription() = default;
  // `cancel` is called once, by Reset or the destructor; it must satisfy the guarantee above.
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { Reset(); }

  void Reset();
  bool active() const { return static_cast<bool>(cancel_); }

 private:
  std::function<void()> cancel_;
};

class Store {
 public:
  using ChangeCallback = std::function<void(const std::string& kind, const std::string& name)>;

  virtual ~Store() = default;

  // The stored object; kNotFound when absent.
  virtual StatusOr<Object> Get(const std::string& kind, const std::string& name) const = 0;
  // Every stored object of `kind` (those marked for deletion too), in name order.
  virtual std::vector<Object> List(const std::string& kind) const = 0;
  // Number of stored objects of every kind.
  virtual size_t size() const = 0;

  // Creates or updates the spec and metadata (labels) of an object; the status is kept from the
  // stored one. Returns the stored object with its new resourceVersion and generation; when the spec
  // and labels equal the stored ones, the stored object as it is (same resourceVersion, nothing
  // written, no notification). kInvalidArgument: metadata.name is not a DNS-1123 subdomain. kConflict: stale
  // resourceVersion, or the object is being deleted. kNotFound: a resourceVersion was given for an
  // absent object. kUnavailable: the write could not be made durable (nothing changed).
  virtual StatusOr<Object> Put(Object obj) = 0;
  // Replaces a Workflow's status; `resource_version` empty = unconditional. Returns the stored
  // object (unchanged, same resourceVersion, when the status is equal). kNotFound, kConflict,
  // kUnavailable as for Put.
  virtual StatusOr<Object> PutStatus(const std::string& name, const WorkflowStatus& status,
                                     const std::string& resource_version) = 0;
  // Replaces a ModelProfile's status (the controller's record of what workers observed), as
  // PutStatus does a Workflow's (same errors; an equal status is not written; no notification),
  // except that the resourceVersion stays: plans are fingerprinted by the profiles' resourceVersion,
  // and observations must not re-plan every Workflow using the profile (nor make a client's
  // compare-and-swap of the spec fail).
  virtual StatusOr<Object> PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                            const std::string& resource_version) = 0;
  // Deletes the object, or marks it for deletion when finalizers remain; returns it as it was
  // deleted or as marked. kNotFound when absent.
  virtual StatusOr<Object> Delete(const std::string& kind, const std::string& name) = 0;
  // Removes one finalizer; deletes the object when it was marked and none remain. Ok when the
  // object is absent.
  virtual Status RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) = 0;

  // Subscribes `fn` to change notifications (see the contract above) until the returned
  // Subscription is destroyed or Reset.
  [[nodiscard]] virtual Subscription OnChange(ChangeCallback fn) = 0;

  // PutStatus without a resourceVersion (unconditional).
  StatusOr<Object> PutStatus(const std::string& name, const WorkflowStatus& status) {
    return PutStatus(name, status, "");
  }
};

}  // namespace jb
