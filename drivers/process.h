// RunCommand: runs a helper program (a cloud hook, the ssh client) to completion with a deadline,
// capturing its stdout and stderr. The program gets exactly `env` as its environment (plus a fixed
// PATH), stdin from `stdin_path` (default /dev/null), no inherited fds, and its own process group:
// at the deadline the whole group is killed. A non-zero exit is a result, not an error; errors are
// "could not run it" and "ran past the deadline" (DeadlineExceeded).
// Thread-safety: reentrant.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/status.h"

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

// The whole content of `path`; "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// The last `n` bytes of `s` (for error messages quoting a program's stderr).
std::string Tail(const std::string& s, size_t n = 400);

}  // namespace jb
