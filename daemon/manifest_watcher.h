// ManifestWatcher: a manifest directory as a second way to apply. Every *.yaml/*.yml/*.json file
// under the directory (recursively; names starting with '.' are skipped, like the kubelet's static
// pod directory: editors' swap and lock files, ConfigMap "..data" directories) is applied to the
// store; inotify events (create, change, move, delete) trigger a resync shortly after.
//
// Only a real removal deletes: the objects a file applied are deleted when the file is gone from a
// successful listing of its directory, or when the file still parses but no longer holds their
// documents, and that state has lasted `settle` (default 1 s) and a second sync: an editor that
// saves by deleting and re-creating, or a write caught half-way at a document boundary, deletes
// nothing. Every transient state is an error that keeps what the file applied before:
//  - the directory (or a subdirectory) cannot be listed: its files' objects are all kept;
//  - a file cannot be read;
//  - a file is empty (no document: `cp`, editors and shell redirections truncate before they
//    write, so a sync can see the empty file between the two steps);
//  - a file fails to parse or to validate (a partial write, a bad edit).
// Ownership: each object applied carries the file it came from (jellybean.dev/manifest-file) and is
// written again only when its own document changed; `jbctl apply` to it is refused unless forced
// (daemon/manifest_ownership.h states the rule). The background loop applies only files whose
// content changed; Start() and Sync() (SIGHUP) look at every file, with the same per-object rule.
//
// Each problem is logged once by the background loop (again only when it changes) and recorded
// as a Warning event once per change.
// Thread-safety: Start/Stop from one thread; Sync may also be called from another (SIGHUP): it is
// serialised by a mutex.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/manifest.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "reconciler/events.h"
#include "reconciler/store.h"

namespace jb {

class ManifestWatcher {
 public:
  ManifestWatcher(std::string dir, Store* store, EventRecorder* events,
                  std::chrono::milliseconds settle = std::chrono::seconds(1))
      : dir_(std::move(dir)), store_(store), events_(events), settle_(settle) {}
  ~ManifestWatcher();
  // Initial sync, then watches in a background thread. kNotFound when `dir` is not a directory.
  Status Start();
  void Stop();
  // Applies the directory's current contents; returns one line per current problem (all of them,
  // also those reported by an earlier sync).
  std::vector<std::string> Sync() EXCLUDES(mu_);

 private:
  using Key = std::pair<std::string, std::string>;  // (kind, name)
  // What one sync found in the directory.
  struct DirSnapshot {
    std::vector<Document> docs;                   // of every readable, non-empty file, validated together
    std::map<std::string, std::string> problems;  // file or directory -> why what it applied is kept
    std::map<std::string, std::string> unlisted;  // directories that could not be listed -> why
    std::map<std::string, std::string> state;     // readable file -> hash of its content
    std::set<std::string> bad_files;              // files with a diagnostic
    // True when the objects `file` applied must be kept whatever it holds now.
    bool Holds(const std::string& file, const std::string& root) const;
  };
  static DirSnapshot ReadDir(const std::string& dir);
  // Sync() with mu_ held. `only_changed` (the background loop's syncs): files whose content is
  // the same as when they were last applied in full are not applied again (issue 18: an edit of
  // one file reverted `jbctl apply` changes to objects of others).
  std::vector<std::string> SyncLocked(bool only_changed) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts every changed object of a file without problems, as daemon/manifest_ownership.h's rule
  // decides; returns (kind, name) -> file applied now. Files with a failed write go to `*failed`.
  std::map<Key, std::string> Apply(const DirSnapshot& snap, bool only_changed, std::vector<std::string>* problems,
                                   std::set<std::string>* failed) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the owned objects missing from `*now` whose removal has settled; adds the others to it.
  void ConfirmRemovals(const DirSnapshot& snap, std::map<Key, std::string>* now) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop() EXCLUDES(mu_);
  void AddWatches(const std::string& dir);
  // Syncs and logs the problems that were not logged at the previous sync.
  void SyncAndLogNew(bool only_changed) EXCLUDES(mu_);

  const std::string dir_;
  Store* store_;
  EventRecorder* events_;
  // A removal seen once: deleted when a later sync, `settle_` after `since`, sees the same state.
  struct PendingRemoval {
    std::string file;
    std::string state;  // the file's content hash, or "gone"
    std::chrono::steady_clock::time_point since;
  };
  const std::chrono::milliseconds settle_;
  Mutex mu_;                                                          // serialises Sync
  std::map<Key, std::string> owned_ GUARDED_BY(mu_);                  // (kind, name) -> file
  std::map<std::string, std::string> file_problems_ GUARDED_BY(mu_);  // file -> problems at the last sync
  bool listing_failed_ GUARDED_BY(mu_) = false;            // the last sync could not list everything: retry on a timer
  std::map<Key, PendingRemoval> pending_ GUARDED_BY(mu_);  // confirmed on a timer
  std::map<std::string, std::string> last_state_ GUARDED_BY(mu_);  // file -> content hash when last applied in full
  std::set<std::string> logged_;  // problem lines logged at the last sync (loop thread only)
  int inotify_fd_ = -1;
  int stop_fd_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace jb
