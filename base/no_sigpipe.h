// ScopedNoSigpipe: a write(2) to a pipe or socket whose reader has gone raises SIGPIPE, which kills
// the process unless main() ignored it. Library code that writes to peers (the agent channel's TLS
// writes, jbctl profile's model processes) holds one of these around the write instead of relying
// on main(): it blocks SIGPIPE in the calling thread for the scope and discards the one the scope
// raised (a SIGPIPE already pending before is left alone); the write then fails with EPIPE. SIGPIPE
// from a write is thread-directed, so the thread's mask is enough.
// Thread-safety: per thread (it changes the calling thread's signal mask only).
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace jb {

class ScopedNoSigpipe {
 public:
  ScopedNoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedNoSigpipe() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        int saved = errno;
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
        errno = saved;
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedNoSigpipe(const ScopedNoSigpipe&) = delete;
  ScopedNoSigpipe& operator=(const ScopedNoSigpipe&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

}  // namespace jb
