// SshDriver::ReadLog: a worker's log (<node dir>/<workflow>/<worker>.log, which its jb-supervise
// appends the worker's stdout and stderr to) read on the host with one command over the driver's
// multiplexed ssh connection. The remote command sends at most `max_bytes` (head -c), and what
// arrives is cut to that bound again here.
#include <algorithm>
#include <sstream>

#include "drivers/ssh/ssh_driver.h"
#include "drivers/unknown_worker.h"

namespace jb {

StatusOr<std::string> SshDriver::ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                         size_t max_bytes, int64_t* end) {
  *end = 0;
  Deployed d;
  {
    MutexLock l(&mu_);
    auto w = deployed_.find(workflow);
    if (w == deployed_.end() || w->second.count(worker) == 0) {
      return UnknownWorker(workflow, worker, w == deployed_.end() ? nullptr : &w->second);
    }
    d = w->second.at(worker);
  }
  const std::string max = std::to_string(max_bytes);
  // Prints "SIZE FROM" on the first line, then the bytes from FROM on (at most MAX). FROM: the
  // last MAX bytes when offset < 0; 0 when the log is shorter than the offset (it was replaced).
  std::string script = "cd " + ShellQuote(NodeDir(d)) + " || exit 3; f=" + ShellQuote(workflow + "/" + worker) +
                       ".log; [ -f \"$f\" ] || { echo '0 0'; exit 0; }; size=$(($(wc -c < \"$f\")));";
  if (offset < 0)
    script += " from=$((size > " + max + " ? size - " + max + " : 0));";
  else
    script += " from=" + std::to_string(offset) + "; [ $from -gt $size ] && from=0;";
  script += " echo \"$size $from\"; tail -c +$((from + 1)) \"$f\" | head -c " + max;
  auto r = RunRemote(d.target, script, "/dev/null", d.target.connect_timeout_s + 10);
  if (!r.ok()) return Status::Unavailable("log of " + worker + " on " + d.target.host + ": " + r.status().message());
  const size_t nl = r->find('\n');
  std::istringstream head(r->substr(0, nl));
  int64_t size = -1, from = -1;
  if (nl == std::string::npos || !(head >> size >> from) || from < 0 || from > size)
    return Status::Unavailable("log of " + worker + " on " + d.target.host + ": unexpected answer from the host");
  std::string text = r->substr(nl + 1, max_bytes);
  *end = from + static_cast<int64_t>(text.size());
  return text;
}

}  // namespace jb
