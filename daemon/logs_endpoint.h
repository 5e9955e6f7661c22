// GET /apis/jellybean.dev/v1alpha1/workflows/NAME/logs?worker=W[&tailLines=N][&sinceBytes=K][&follow=true]:
// a worker's log (stdout and stderr) through the daemon, as text/plain, read with Driver::ReadLog.
//   - worker (required): the worker's name (`jbctl get workflow NAME -o yaml` lists them under
//     the driver's workers; the 400 answer names them).
//   - tailLines=N: only the last N lines (of the last 1 MiB).
//   - sinceBytes=K: the bytes from offset K on (a follower's next read); at most 1 MiB per answer.
//   - follow=true: the answer streams (chunked) what the worker logs from then on, until the client
//     goes away, the worker is gone, or an hour has passed; at most kMaxFollowers at once (429).
// Every answer carries X-Log-Offset: the offset after its bytes (the next sinceBytes).
// Errors are Status objects: 404 for an unknown workflow or worker (naming the worker and listing
// the workflow's), 400 for bad parameters, 501 when the worker's driver cannot fetch logs yet
// (naming the driver), 405 for anything but GET.
// Thread-safety: thread-safe (the follower count is atomic).
#pragma once

#include "daemon/http.h"
#include "drivers/driver.h"
#include "reconciler/store.h"

namespace jb {

inline constexpr int kMaxFollowers = 2;
inline constexpr size_t kMaxLogAnswerBytes = 1 << 20;

// The answer to `req` for workflow `workflow`; `driver` may be null (503).
HttpResponse ServeWorkerLogs(const HttpRequest& req, const std::string& workflow, const Store& store, Driver* driver);

// The last `n` lines of `text` (a last line without its newline counts).
std::string LastLines(const std::string& text, size_t n);

}  // namespace jb
