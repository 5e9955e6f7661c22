// ChangeNotifier: the subscriber list behind Store::OnChange, for any Store implementation.
// Notify calls every current subscriber; a Subscription's Reset removes it and waits until no call
// of its callback is running on another thread, so the subscriber may be destroyed right after
// (the use-after-free a list of raw callbacks allows when a Controller goes before its store).
// Thread-safety: all methods are thread-safe; Notify must not be called with a lock held that a
// callback (which may call the store) or an unsubscribing thread could need.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "reconciler/store.h"

namespace jb {

class ChangeNotifier {
 public:
  ChangeNotifier();
  // Subscriptions that outlive the notifier become no-ops.
  ~ChangeNotifier() = default;
  ChangeNotifier(const ChangeNotifier&) = delete;
  ChangeNotifier& operator=(const ChangeNotifier&) = delete;

  [[nodiscard]] Subscription Subscribe(Store::ChangeCallback fn);
  // Calls every callback subscribed when the call starts and still subscribed when its turn
  // comes, on this thread, in subscription order.
  void Notify(const std::string& kind, const std::string& name);
  size_t subscribers() const;

 private:
  struct Entry {
    Store::ChangeCallback fn;
    bool removed = false;                  // guarded by State::mu
    std::vector<std::thread::id> callers;  // threads inside fn now; guarded by State::mu
  };
  struct State {
    mutable Mutex mu;
    CondVar idle;  // signalled when a call of a callback returns
    uint64_t next_id GUARDED_BY(mu) = 1;
    std::map<uint64_t, std::shared_ptr<Entry>> entries GUARDED_BY(mu);
  };
  static void Cancel(const std::weak_ptr<State>& weak, uint64_t id);

  // Shared (weakly) with every Subscription, so that a Subscription outliving the notifier finds
  // it gone instead of dangling. Entries are shared with Notify's snapshot, which calls them
  // outside the lock.
  const std::shared_ptr<State> state_;
};

}  // namespace jb
