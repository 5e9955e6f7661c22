// Store: the daemon's object store. Objects are kept in memory and, when a directory is given,
// persisted one file per object with atomic writes (write temp, fsync, rename, fsync dir), so a
// crash leaves either the old or the new version. A restart reloads every object; a torn or corrupt
// file is reported and skipped, never fatal.
//
// Semantics (Kubernetes-like):
//  - names: metadata.name must be a DNS-1123 subdomain (api/names.h), so every name the store
//    writes is a file name it loads back (never a dotfile, never '/').
//  - resourceVersion: a store-wide counter, new on every write; a Put that carries a
//    resourceVersion must match the stored one (optimistic concurrency) or fails with kConflict.
//    Versions never go back, not even across restarts after deletions: with a directory, the
//    counter is persisted in objects/resource-version (blocks of kVersionBlock are reserved with
//    an fsynced atomic write before any version of the block is handed out).
//  - generation: starts at 1, bumped when the spec changes (status writes never bump it).
//  - Workflows get the finalizer "jellybean.dev/workers": Delete marks them (deletionTimestamp)
//    and they disappear only when the reconciler removes the finalizer.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
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
// resourceVersions reserved per write of the counter file: a restart skips at most this many.
inline constexpr uint64_t kVersionBlock = 1000;

class Store {
 public:
  // `dir` empty = memory only. Load() must be called once before use when `dir` is set.
  explicit Store(std::string dir);

  // Loads every persisted object. Returns one message per problem, each naming the file: every
  // file under objects/<Kind>/ that was not loaded and why (torn, corrupt, not NAME.json, kind or
  // name not matching the file, left over from an interrupted write), and a corrupt counter.
  // Objects stored by an earlier version under names the current rules refuse are loaded (with a
  // warning in the log): they can be read, reconciled and deleted, not updated.
  // Counter file: missing = continue above the highest stored version (warned when objects
  // exist: a state directory from before the counter); corrupt (not a decimal number) = the store
  // cannot know which versions were issued, so it loads everything but refuses every write that
  // would hand out a version (kUnavailable, with the message returned here) until the file is
  // fixed or removed.
  std::vector<std::string> Load();

  StatusOr<Object> Get(const std::string& kind, const std::string& name) const;
  std::vector<Object> List(const std::string& kind) const;

  // Create or update the spec/metadata (labels) of an object; status is kept from the stored one.
  // Returns the stored object (with its new resourceVersion and generation). kInvalidArgument
  // when metadata.name is not a DNS-1123 subdomain; kUnavailable when it cannot be persisted.
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
  std::string CounterPath() const;
  // The next resourceVersion; reserves a new block in the counter file first when needed.
  StatusOr<std::string> NextVersion() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoadFile(const std::string& kind, const std::filesystem::path& path, std::vector<std::string>* problems)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoadCounter(bool any_objects, std::vector<std::string>* problems) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const std::string& kind, const std::string& name);

  const std::string dir_;
  mutable std::mutex mu_;
  std::map<Key, Object> objects_ GUARDED_BY(mu_);
  uint64_t version_ GUARDED_BY(mu_) = 0;   // the last version handed out (or loaded)
  uint64_t reserved_ GUARDED_BY(mu_) = 0;  // versions up to this one are covered by the counter file
  std::string counter_error_ GUARDED_BY(mu_);  // non-empty: the counter is corrupt, writes are refused
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
