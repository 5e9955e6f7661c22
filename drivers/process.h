// RunCommand: runs a helper program (a cloud hook, the ssh client) to completion with a deadline,
// capturing its stdout and stderr. The program gets exactly `env` as its environment (plus a fixed
// PATH), stdin from `stdin_path` (default /dev/null), no inherited fds, and its own process group:
// at the deadline the whole group is killed. A non-zero exit is a result, not an error; errors are
// "could not run it" and "ran past the deadline" (DeadlineExceeded).
// Thread-safety: reentrant.
#pragma once

#include <spawn.h>

#include <map>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/status.h"

namespace jb {

struct CommandResult {
  int exit_status = -1;  // 128 + signal when killed by one
  std::string out, err;
};

struct CommandOptions {
  std::map<std::string, std::string> env;
  std::string stdin_path = "/dev/null";
  double timeout_s = 30;
};

StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, const CommandOptions& opts);

// Creates the parent directory, then writes `data` to `path` with base/file.h's WriteFileAtomic
// (durable: temp file, fsync, rename, fsync of the directory), permissions `mode` (0600 for secrets).
Status WriteFileCreatingDirs(const std::string& path, const std::string& data, int mode);

// Spawn attributes for a helper or worker process: no blocked signals, and the signals the daemon
// ignores or handles (PIPE, HUP, TERM, INT, CHLD) back at their defaults; plus `flags`
// (POSIX_SPAWN_SETPGROUP, POSIX_SPAWN_SETSID). The caller destroys `attr`.
void InitChildAttr(posix_spawnattr_t* attr, short flags);

// ReadFileOrEmpty: base/file.h.

// OK when `path` is a file only its owner can read or write (mode & 077 == 0); otherwise an
// InvalidArgument naming `what` and `path` that says to run `chmod 600 PATH` (NotFound when it
// does not exist). Every secret the daemon reads (REST token, agent bootstrap token) goes through
// this, so they are refused the same way.
Status CheckPrivateFile(const std::string& path, const std::string& what);

// The last `n` bytes of `s` (for error messages quoting a program's stderr).
std::string Tail(const std::string& s, size_t n = 400);

}  // namespace jb
