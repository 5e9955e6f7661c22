// FileStore: the default Store, for one machine. Objects are kept in memory and persisted one file
// per object under DIR/objects/<Kind>/NAME.json with atomic writes (write temp, fsync, rename,
// fsync dir), so a crash leaves either the old or the new version. A restart reloads every object;
// a torn or corrupt file is reported and skipped, never fatal. Semantics: StoreCore (names,
// resourceVersion, generation, finalizers, notifications); the resourceVersion counter's
// reservations are persisted in DIR/objects/resource-version (an fsynced atomic write per block of
// kVersionBlock versions), so versions never go back, not even across restarts after deletions.
// Thread-safety: all methods are thread-safe once Load has returned.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reconciler/store_core.h"

namespace jb {

class FileStore : public StoreCore {
 public:
  // `dir`: the state directory (non-empty). Load() must be called once before any other method.
  explicit FileStore(std::string dir);

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

 private:
  struct Loaded;
  void LoadFile(const std::string& kind, const std::filesystem::path& path, Loaded* loaded) const;
  void LoadCounter(Loaded* loaded) const;

  const std::string dir_;
};

}  // namespace jb
