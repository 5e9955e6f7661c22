// jbctl logs workflow/NAME --worker W [-f] [--tail N]: a worker's log (stdout and stderr) through
// the daemon (GET .../workflows/NAME/logs, daemon/logs_endpoint.h). Connection flags as the other
// commands against jellybeand (cli/remote.h). -f follows: it reads what the worker logs from then
// on (every 500 ms, from the offset the daemon returned) until the worker is gone or jbctl is
// stopped. Exit 0, or 1 with the daemon's reason on stderr (an unknown worker names the workflow's
// workers; a driver that cannot fetch logs is named).
// Thread-safety: a plain function.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace jb {

namespace cli {
struct Remote;
}

struct LogsOptions {
  std::string target;  // workflow/NAME (or NAME with kind "workflow" before it)
  std::string worker;
  bool follow = false;
  int tail = -1;  // -1: the whole log (the daemon's cap applies)
};

// `stop` (tests): polled while following; following ends when it returns true.
int Logs(const cli::Remote& r, const LogsOptions& o, std::ostream& out, std::ostream& err,
         const std::function<bool()>& stop = nullptr);

// The same from raw arguments (connection flags and the above as flags), for tests and scripts.
int LogsCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const std::function<bool()>& stop = nullptr);

}  // namespace jb
