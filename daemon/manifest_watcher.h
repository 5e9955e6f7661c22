// ManifestWatcher: a manifest directory as a second way to apply. Every *.yaml/*.yml/*.json file
// under the directory is applied to the store; inotify events (create, change, move, delete) trigger
// a resync shortly after. Objects that disappear from the directory (file removed, document
// removed) are deleted from the store; a file that fails validation is reported in the log and
// as an event, and the objects it applied before are kept (nothing is lost on a bad edit).
// Thread-safety: Start/Stop from one thread; Sync may also be called from that thread (SIGHUP).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "reconciler/events.h"
#include "reconciler/store.h"

namespace jb {

class ManifestWatcher {
 public:
  ManifestWatcher(std::string dir, Store* store, EventRecorder* events) : dir_(std::move(dir)), store_(store), events_(events) {}
  ~ManifestWatcher();
  // Initial sync, then watches in a background thread.
  Status Start();
  void Stop();
  // Applies the directory's current contents; returns one line per problem.
  std::vector<std::string> Sync();

 private:
  void Loop();
  void AddWatches(const std::string& dir);

  const std::string dir_;
  Store* store_;
  EventRecorder* events_;
  std::mutex mu_;                                                 // serialises Sync
  std::map<std::pair<std::string, std::string>, std::string> owned_;  // (kind, name) -> file
  int inotify_fd_ = -1;
  int stop_fd_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace jb
