// Fencing (issue 20): every deployment action carries the term of the daemon that gives it, and
// whatever receives it (jellybean-agent, the ssh driver's remote supervisor, cloud hooks) refuses
// an instruction whose term is older than the highest it has seen. With several replicas the term
// is the elected leader's (daemon/leader.h: the leader key's create revision, which grows with
// every new leader), so a former leader cut off from etcd that still reaches a device or host is
// refused there instead of fighting the new one. A single daemon (file store) uses a counter kept
// in its state directory and raised at every start (NextLocalTerm), so it is monotonic too.
// Thread-safety: FencingTerm is thread-safe (an atomic); the daemon sets it, drivers read it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace jb {

class FencingTerm {
 public:
  void Set(int64_t term) { term_.store(term); }
  int64_t Get() const { return term_.load(); }

 private:
  std::atomic<int64_t> term_{0};
};

// What a driver reads its term from; nullptr: the driver does not fence (tests of one driver).
using TermSource = std::shared_ptr<const FencingTerm>;

inline int64_t TermOf(const TermSource& source) { return source ? source->Get() : 0; }

}  // namespace jb
