#include "reconciler/change_notifier.h"

#include <algorithm>

namespace jb {

ChangeNotifier::ChangeNotifier() : state_(std::make_shared<State>()) {}

Subscription ChangeNotifier::Subscribe(Store::ChangeCallback fn) {
  auto entry = std::make_shared<Entry>();
  entry->fn = std::move(fn);
  uint64_t id = 0;
  {
    MutexLock lock(&state_->mu);
    id = state_->next_id++;
    state_->entries.emplace(id, std::move(entry));
  }
  return Subscription([weak = std::weak_ptr<State>(state_), id] { Cancel(weak, id); });
}

void ChangeNotifier::Cancel(const std::weak_ptr<State>& weak, uint64_t id) {
  std::shared_ptr<State> state = weak.lock();
  if (!state) return;  // the notifier (its store) is gone: nothing can call the callback any more
  MutexLock lock(&state->mu);
  auto it = state->entries.find(id);
  if (it == state->entries.end()) return;
  std::shared_ptr<Entry> entry = std::move(it->second);
  state->entries.erase(it);
  entry->removed = true;  // Notify checks it under the lock before each call: no new call starts
  // Wait out the calls running on other threads. A call on this thread (a callback cancelling its
  // own subscription) cannot be waited for: it is below us on the stack.
  const std::thread::id self = std::this_thread::get_id();
  state->idle.Wait(&state->mu, [&] {
    return std::all_of(entry->callers.begin(), entry->callers.end(), [&](std::thread::id t) { return t == self; });
  });
}

void ChangeNotifier::Notify(const std::string& kind, const std::string& name) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    MutexLock lock(&state_->mu);
    entries.reserve(state_->entries.size());
    for (const auto& [id, entry] : state_->entries) entries.push_back(entry);
  }
  const std::thread::id self = std::this_thread::get_id();
  for (const auto& entry : entries) {
    {
      MutexLock lock(&state_->mu);
      if (entry->removed) continue;
      entry->callers.push_back(self);
    }
    entry->fn(kind, name);
    {
      MutexLock lock(&state_->mu);
      auto& callers = entry->callers;
      callers.erase(std::find(callers.begin(), callers.end(), self));
    }
    state_->idle.SignalAll();
  }
}

size_t ChangeNotifier::subscribers() const {
  MutexLock lock(&state_->mu);
  return state_->entries.size();
}

}  // namespace jb
