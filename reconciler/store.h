// Store: the daemon's object store. Objects are kept in memory and, when a directory is given,
// persisted one file per object with atomic writes (write temp, fsync, rename, fsync dir), so a
// crash leaves either the old or the new version. A restart reloads every object; a torn or corrupt
// file is reported and skipped, never fatal.
//
// Semantics (Kubernetes-like):
//  - resourceVersion: a store-wide counter, new on every write; a Put that carries a
//    resourceVersion must match the stored one (optimistic concurrency) or fails with kConflict.
//  - generation: starts at 1, bumped when the spec changes (status writes never bump it).
//  - Workflows get the finalizer "jellybean.dev/workers": Delete marks them (deletionTimestamp)
//    and they disappear only when the reconciler removes the finalizer.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "port/thread_annotations.h"

namespace jb {

inline constexpr const char* kWorkersFinalizer = "jellybean.dev/workers";

class Store {
 public:
  // `dir` empty = memory only. Load() must be called once before use when `dir` is set.
  explicit Store(std::string dir);

  // Loads every persisted object; returns one message per file that was skipped (corrupt/torn).
  std::vector<std::string> Load();

  StatusOr<Object> Get(const std::string& kind, const std::string& name) const;
  std::vector<Object> List(const std::string& kind) const;

  // Create or update the spec/metadata (labels) of an object; status is kept from the stored one.
  // Returns the stored object (with its new resourceVersion and generation).
  StatusOr<Object> Put(Object obj);
  // Replaces a Workflow's status. `resource_version` empty = unconditional.
  StatusOr<Object> PutStatus(const std::string& name, const WorkflowStatus& status, const std::string& resource_version = "");
  // Deletes, or marks for deletion when finalizers remain. kNotFound when absent.
  StatusOr<Object> Delete(const std::string& kind, const std::string& name);
  // Removes one finalizer; deletes the object when it was marked and none remain.
  Status RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer);

  // Called (outside the lock) after every change with (kind, name).
  void OnChange(std::function<void(const std::string&, const std::string&)> fn);

  size_t size() const;

 private:
  using Key = std::pair<std::string, std::string>;
  Status Persist(const Object& obj) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status Unpersist(const std::string& kind, const std::string& name) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string PathOf(const std::string& kind, const std::string& name) const;
  void Notify(const std::string& kind, const std::string& name);

  const std::string dir_;
  mutable std::mutex mu_;
  std::map<Key, Object> objects_ GUARDED_BY(mu_);
  uint64_t version_ GUARDED_BY(mu_) = 0;
  std::vector<std::function<void(const std::string&, const std::string&)>> watchers_ GUARDED_BY(mu_);
};

// Writes `data` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);

// RFC 3339 UTC timestamp of now.
std::string NowRfc3339();
std::string NowRfc3339Millis();  // with milliseconds, for measured intervals
// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.fff]Z"; nullopt when malformed.
std::optional<double> ParseRfc3339(const std::string& s);
// Seconds from `rfc3339` to now (huge when it is empty or malformed).
double SecondsSince(const std::string& rfc3339);

}  // namespace jb
