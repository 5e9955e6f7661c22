// The ssh driver's remote supervisor: a POSIX shell script installed as <node dir>/bin/jb-supervise
// that runs one worker and restarts it with RestartBackoff's back-off (drivers/worker_process.h).
// `jb-supervise --fence TERM` is the node's fencing check (drivers/fencing.h): exit 75 with
// "fenced: ..." on stderr when <node dir>/term holds a higher term, else TERM is recorded there.
// Thread-safety: a pure function.
#pragma once

#include <string>

namespace jb {

// The script's text, with the back-off figures filled in.
std::string SupervisorScript();

// The exit status of `jb-supervise --fence` refusing an older term.
inline constexpr int kFencedExitStatus = 75;

}  // namespace jb
