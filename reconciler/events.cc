#include "reconciler/events.h"

#include "reconciler/store.h"

namespace jb {

void EventRecorder::Record(const std::string& kind, const std::string& name, const std::string& type,
                           const std::string& reason, const std::string& message) {
  MutexLock lock(&mu_);
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (it->kind != kind || it->name != name) continue;
    if (it->reason == reason && it->message == message && it->type == type) {
      ++it->count;
      it->time = NowRfc3339();
      return;
    }
    break;  // only the object's latest event is merged
  }
  events_.push_back(Event{NowRfc3339(), kind, name, type, reason, message, 1});
  while (events_.size() > capacity_) events_.pop_front();
}

std::vector<Event> EventRecorder::List(const std::string& kind, const std::string& name) const {
  MutexLock lock(&mu_);
  std::vector<Event> out;
  for (const auto& e : events_)
    if (kind.empty() || (e.kind == kind && e.name == name)) out.push_back(e);
  return out;
}

}  // namespace jb
