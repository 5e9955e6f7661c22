// jellybeand's process-level pieces: configuration (file + flags), secure-by-default material
// (TLS CA + server pair and the bearer token, generated into the state dir on first start),
// systemd notification, and applying a manifest directory.
// Thread-safety: functions are called from the main thread during start-up and reload.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/config.h"
#include "daemon/rest_tls.h"  // EnsureTls
#include "reconciler/store.h"

namespace jb {

// Fills defaults and checks the combination (plain HTTP only on loopback, ...).
Status FinishConfig(DaemonConfig* cfg);
// "host:port" -> host, port (port 0 allowed).
Status SplitListen(const std::string& listen, std::string* host, int* port);

// Reads the token file, creating it (32 random bytes, hex, mode 0600) when missing.
StatusOr<std::string> EnsureToken(const std::string& path);

// sd_notify wrapper; a no-op when NOTIFY_SOCKET is unset.
void Notify(const std::string& state);
// Half of WATCHDOG_USEC in microseconds, or 0 when the watchdog is off.
uint64_t WatchdogIntervalUsec();

}  // namespace jb
