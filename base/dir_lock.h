// DirLock: one process at a time on a state directory. Lock() takes an exclusive flock(2) on
// DIR/lock and writes the holder's PID into it; the lock lasts as long as the DirLock (the kernel
// drops it when the process dies, so a crashed holder never leaves a stale lock behind).
//
// A second Lock() on the same directory — from another process, or from another DirLock in this
// one — fails with kFailedPrecondition naming the directory and the PID that holds it:
//   "state directory /var/lib/jellybean is in use by PID 4242 (lock /var/lib/jellybean/lock)".
// Thread-safety: a DirLock is owned by one thread; different DirLocks are independent.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace jb {

class DirLock {
 public:
  // Creates DIR (and parents) if needed, then locks it; see the top of the file.
  static StatusOr<std::unique_ptr<DirLock>> Lock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  DirLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace jb
