// ModelProcess: a child process spoken to over a pipe on its stdin and a pipe on its stdout, as the
// exec runtime (worker/runtime_exec.cc) and `jbctl profile` (cli/profile_process.h) run a model.
// It owns the spawning (argv[0] looked up on PATH, the parent's environment with overrides, stderr
// where the caller says), the two pipe ends and the reaping; the destructor kills (SIGKILL) and
// reaps a child still running and closes the pipes.
//
// Two ways to talk to the child:
//  - from an event loop: watch in_fd()/out_fd() after SetNonBlocking(), and call Reap() (never
//    blocks) when the output ends;
//  - blocking, each call bounded by a deadline (poll(2)): WriteAll, ReadFrame and Handshake, for a
//    caller without a loop (jbctl profile) or before its loop runs (the exec runtime's Start()).
//    Reads are bounded on any pipe; a write's deadline holds once SetNonBlocking() was called (on
//    a blocking pipe, write(2) waits until the child has taken the bytes).
// A write to a child that has gone fails with an error, never with SIGPIPE (ScopedNoSigpipe).
//
// Thread-safety: none; one thread uses a ModelProcess at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "worker/exec_framing.h"

namespace jb {

struct ModelCommand {
  std::vector<std::string> argv;           // argv[0] is looked up on PATH when it has no '/'
  std::map<std::string, std::string> env;  // added to the parent's environment, replacing equal names
  int stderr_fd = -1;                      // the child's stderr (dup'ed; the caller keeps it); -1: ours
};

class ModelProcess {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  ModelProcess() = default;
  ~ModelProcess() { Kill(); }
  ModelProcess(const ModelProcess&) = delete;
  ModelProcess& operator=(const ModelProcess&) = delete;

  // Starts `cmd` (killing a child this object still had). InvalidArgument for an empty argv;
  // Unavailable "cannot start <argv[0]>: <reason>" when the pipes or the spawn fail (e.g. no such
  // file), with nothing left open.
  Status Spawn(const ModelCommand& cmd);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int in_fd() const { return in_; }    // the child's stdin (we write), -1 when closed
  int out_fd() const { return out_; }  // the child's stdout (we read), -1 when closed
  // Makes both pipe ends non-blocking (for an event loop).
  void SetNonBlocking();
  // Closes the child's stdin: its end of input.
  void CloseInput();
  // Reaps the child if it has ended, without blocking: "exited with code N" or "was killed by
  // signal N" (then running() is false); nullopt while it runs or when there is no child.
  std::optional<std::string> Reap();
  // Reap(), retried for up to `wait_s` seconds.
  std::optional<std::string> WaitExit(double wait_s);
  // SIGKILLs and reaps a running child, closes both pipes. Nothing happens without a child.
  void Kill();

  // ---- blocking, bounded -------------------------------------------------------------------------
  // Writes all of `bytes` to the child's stdin. DeadlineExceeded when the child does not take them
  // in time; Unavailable "<how it ended>" / "stopped reading its stdin" when the pipe is closed.
  Status WriteAll(std::string_view bytes, TimePoint deadline);
  // The next frame the child writes, decoded by `dec` (which keeps bytes read past the frame).
  // DeadlineExceeded "no frame in time"; Unavailable "<how it ended>" (or "closed its stdout")
  // at end of output, "broke the framing: ..." when `dec` is poisoned.
  StatusOr<exec::RawFrame> ReadFrame(exec::ExecStreamDecoder* dec, TimePoint deadline);
  // Exec framing v2 start-up (docs/exec-framing.md): writes our hello frame with `hello_text`, then
  // reads the child's first frame, which must be a hello: its text. Errors as WriteAll/ReadFrame,
  // or Unavailable "sent ... instead of a hello frame".
  StatusOr<std::string> Handshake(std::string_view hello_text, exec::ExecStreamDecoder* dec, TimePoint deadline);

 private:
  void CloseFds();

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
};

// "a b c" for an argv (messages name the command by it).
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace jb
