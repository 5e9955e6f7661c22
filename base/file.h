// Whole-file reads and durable file writes: the one ReadFile and the one atomic write of the
// project (objects, counters, worker state, TLS keys and configs).
// Thread-safety: safe to call concurrently for different paths.
#pragma once

#include <string>

#include "base/status.h"

namespace jb {

// Writes `data` to `path` atomically: temp file ".NAME.tmp" in the same directory, fsync, rename,
// fsync dir, so a crash leaves either the old or the new content. kUnavailable (naming the file
// and the error) when any step fails; the temp file is then removed.
Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);

// The whole content of `path` (binary-safe; retries on EINTR). On failure the message names the
// file and the error, "cannot read PATH: REASON"; the code is kNotFound when the file does not
// exist, kUnavailable otherwise (no permission, a directory, an I/O error).
StatusOr<std::string> ReadFile(const std::string& path);

// ReadFile's content, or "" when it cannot be read: for files whose absence means "nothing yet"
// (a pid file, a metrics report, /proc entries of a process that may be gone).
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace jb
