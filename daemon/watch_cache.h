// WatchCache: the REST API's watch (?watch=true) for any Store backend. It observes the store
// (Store::OnChange, plus the status writes that WatchedStore reports, since status writes need not
// notify) and turns what changed into ADDED / MODIFIED / DELETED events kept in a bounded history
// ring, in resourceVersion order; a Watcher reads events after a resourceVersion.
//
// How events are made: every observation re-lists the three kinds and compares each object with
// the last one seen (resourceVersion, and for ModelProfiles the status too, whose writes keep the
// resourceVersion); the changes found in one pass are appended sorted by resourceVersion, so events
// of concurrent writers come out in order. A DELETED event carries the object as last seen.
// Every event has a position `rv` = the highest resourceVersion seen when it was made (for an
// ADDED/MODIFIED with a new version, that version).
// Resuming from N (the last resourceVersion a client saw, event or BOOKMARK): the events with
// rv > N, plus those at rv == N that did not introduce N (a deletion or a profile status seen at
// N; such an event may come twice to a client resuming exactly there). N older than the history
// (the cache starts with no history at the store's current highest version: after a daemon
// restart a client holding that version or a newer one resumes without loss; file store versions
// persist) is kGone: the client must list again. N absent or "0": one ADDED per current object
// first and a BOOKMARK at the version they reflect, then the changes.
// Thread-safety: all methods are thread-safe; Observe may be called from any thread (it takes the
// cache lock, then reads the store).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/types.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "daemon/label_selector.h"
#include "reconciler/store.h"

namespace jb {

struct WatchCacheOptions {
  size_t history = 1000;  // events kept for resuming
  int max_watchers = 8;   // concurrent watches; more get kResourceExhausted
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED
  uint64_t rv = 0;   // position (see the header comment)
  bool introduces = false;
  std::string kind, name;
  std::map<std::string, std::string> labels;
  std::string line;  // {"type":...,"object":{...}}\n
};

// What a watch selects: a kind, optionally one name, optionally labels.
struct WatchFilter {
  std::string kind;
  std::string name;  // "" = every object of the kind
  LabelSelector labels;
  bool Matches(const WatchEvent& e) const;
};

class WatchCache;

// {"type":"BOOKMARK","object":{"apiVersion":...,"kind":KIND,"metadata":{"resourceVersion":"HW"}}}\n
std::string BookmarkLine(const std::string& kind, uint64_t hw);

// One open watch; destroying it frees its slot.
class Watcher {
 public:
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  // Waits up to `wait` for events; appends their lines to *out. Returns false when the watcher
  // fell out of the history (it then appends an ERROR event with a 410 Status and must be closed).
  bool Next(std::string* out, std::chrono::milliseconds wait);
  // A BOOKMARK line at the cache's current highest resourceVersion.
  std::string Bookmark() const;

 private:
  friend class WatchCache;

  Watcher(WatchCache* cache, WatchFilter filter, uint64_t next_seq)
      : cache_(cache), filter_(std::move(filter)), next_seq_(next_seq) {}
  WatchCache* cache_;
  const WatchFilter filter_;
  uint64_t next_seq_;    // sequence number of the next event to look at
  std::string initial_;  // ADDED lines of the initial state (N absent)
};

class WatchCache {
 public:
  // Subscribes to `store` (borrowed; must outlive the cache) and reads its current objects.
  explicit WatchCache(Store* store, WatchCacheOptions opts = {});
  ~WatchCache();
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;

  // Looks for changes now (after a write that did not notify, e.g. a status write).
  void Observe() EXCLUDES(mu_);
  // Opens a watch from `resource_version` ("" or "0": current state first). kGone-like errors:
  // kFailedPrecondition "too old resource version" (HTTP 410); kInvalidArgument for a version
  // that is not a decimal number; kUnavailable when max_watchers watches are open (HTTP 429).
  StatusOr<std::unique_ptr<Watcher>> Watch(WatchFilter filter, const std::string& resource_version) EXCLUDES(mu_);
  // The highest resourceVersion seen.
  uint64_t version() const EXCLUDES(mu_);
  int watchers() const EXCLUDES(mu_);

 private:
  friend class Watcher;
  struct Seen {
    uint64_t rv = 0;
    Object obj;
  };
  void ScanLocked() REQUIRES(mu_);
  void Append(WatchEvent e) REQUIRES(mu_);

  Store* const store_;
  const WatchCacheOptions opts_;
  mutable Mutex mu_;
  CondVar changed_;
  std::map<std::pair<std::string, std::string>, Seen> seen_ GUARDED_BY(mu_);
  std::deque<WatchEvent> ring_ GUARDED_BY(mu_);
  uint64_t first_seq_ GUARDED_BY(mu_) = 0;  // sequence number of ring_.front()
  uint64_t hw_ GUARDED_BY(mu_) = 0;         // highest resourceVersion seen
  uint64_t oldest_ GUARDED_BY(mu_) = 0;     // resuming needs N >= this
  int watchers_ GUARDED_BY(mu_) = 0;
  Subscription sub_;
};

// A Store that forwards to another and tells a WatchCache after each status write (which the
// Store contract lets a backend not notify). Give it to whoever writes statuses (the controller,
// the REST API); notifications of other writes come from the wrapped store's OnChange.
class WatchedStore : public Store {
 public:
  WatchedStore(Store* inner, WatchCache* cache) : inner_(inner), cache_(cache) {}
  StatusOr<Object> Get(const std::string& kind, const std::string& name) const override {
    return inner_->Get(kind, name);
  }
  std::vector<Object> List(const std::string& kind) const override { return inner_->List(kind); }
  size_t size() const override { return inner_->size(); }
  StatusOr<Object> Put(Object obj) override { return inner_->Put(std::move(obj)); }
  using Store::PutStatus;
  StatusOr<Object> PutStatus(const std::string& name, const WorkflowStatus& status,
                             const std::string& resource_version) override;
  StatusOr<Object> PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                    const std::string& resource_version) override;
  StatusOr<Object> Delete(const std::string& kind, const std::string& name) override {
    return inner_->Delete(kind, name);
  }
  Status RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) override {
    return inner_->RemoveFinalizer(kind, name, finalizer);
  }
  [[nodiscard]] Subscription OnChange(ChangeCallback fn) override { return inner_->OnChange(std::move(fn)); }

 private:
  Store* const inner_;
  WatchCache* const cache_;
};

}  // namespace jb
