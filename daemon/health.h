// jellybeand's own health as the systemd watchdog sees it. WATCHDOG=1 is sent only while the
// daemon really serves: a loopback GET /healthz on its own REST listener answers 200 within a
// deadline, and it has descriptors to spare. A daemon whose listener is wedged (descriptors
// exhausted by half-closed connections, a stuck accept loop) stops feeding the watchdog and
// systemd restarts it, instead of being reported healthy forever.
//
// JudgeHealth is pure (tested without a daemon); ProbeHealthz and CountOpenFds do the I/O.
// Thread-safety: the functions are reentrant.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace jb {

struct HealthSample {
  bool probe_ok = false;    // GET /healthz answered 200 within the deadline
  std::string probe_error;  // why not, when !probe_ok
  bool fds_known = false;   // open_fds could be counted (counting needs a descriptor itself)
  size_t open_fds = 0;
  size_t fd_limit = 0;  // soft RLIMIT_NOFILE; 0 = unlimited/unknown
};

struct HealthVerdict {
  bool healthy = false;
  std::string reason;  // "" when healthy; else what is wrong, for STATUS= and the log
};

// Descriptors that must stay free for the daemon to be called healthy: enough to accept a
// connection, open a state file and spawn a worker (max(16, limit/50)).
size_t DescriptorReserve(size_t fd_limit);

// Healthy when the probe succeeded, the descriptors could be counted and at least
// DescriptorReserve(fd_limit) of them are free.
HealthVerdict JudgeHealth(const HealthSample& s);

// One GET /healthz to host:port (TLS without verification when `tls`: it is our own listener on
// loopback; what is checked is that it answers, not who it is), within `timeout_s` in all.
// OK on a 200 status line; otherwise the reason. Must run in a process that ignores SIGPIPE
// (jellybeand does).
Status ProbeHealthz(const std::string& host, int port, bool tls, double timeout_s);

// The loopback address to probe for a listen host: 0.0.0.0 / "" -> 127.0.0.1, :: -> ::1, a
// bracketed IPv6 address without its brackets, anything else as is.
std::string ProbeHost(const std::string& listen_host);

// Fills fds_known/open_fds/fd_limit from /proc/self/fd and RLIMIT_NOFILE.
void CountOpenFds(HealthSample* s);

}  // namespace jb
