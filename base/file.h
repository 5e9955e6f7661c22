// Durable file writes: the one atomic write of the project (objects, counters, worker state,
// TLS keys and configs).
// Thread-safety: safe to call concurrently for different paths.
#pragma once

#include <string>

#include "base/status.h"

namespace jb {

// Writes `data` to `path` atomically: temp file ".NAME.tmp" in the same directory, fsync, rename,
// fsync dir, so a crash leaves either the old or the new content. kUnavailable (naming the file
// and the error) when any step fails; the temp file is then removed.
Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);

}  // namespace jb
