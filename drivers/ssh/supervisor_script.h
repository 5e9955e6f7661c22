// The ssh driver's remote supervisor: a POSIX shell script installed as <node dir>/bin/jb-supervise
// that runs one worker and restarts it with RestartBackoff's back-off (drivers/worker_process.h).
// Thread-safety: a pure function.
#pragma once

#include <string>

namespace jb {

// The script's text, with the back-off figures filled in.
std::string SupervisorScript();

}  // namespace jb
