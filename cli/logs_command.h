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

// `stop` (tests): polled while following; following ends when it returns true.
int LogsCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const std::function<bool()>& stop = nullptr);

}  // namespace jb
