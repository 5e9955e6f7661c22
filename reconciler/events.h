// EventRecorder: a bounded, in-memory log of what happened to objects (Kubernetes-style events:
// Normal/Warning, one-word reason, sentence message), shown by `jbctl describe` and the REST API.
// Thread-safety: thread-safe.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace jb {

struct Event {
  std::string time;  // RFC 3339
  std::string kind;
  std::string name;
  std::string type;  // Normal | Warning
  std::string reason;
  std::string message;
  int count = 1;  // repeats of the same (kind, name, reason, message) in a row
};

class EventRecorder {
 public:
  explicit EventRecorder(size_t capacity = 1000) : capacity_(capacity) {}
  void Record(const std::string& kind, const std::string& name, const std::string& type, const std::string& reason,
              const std::string& message) EXCLUDES(mu_);
  // Events of one object (all when kind is empty), oldest first.
  std::vector<Event> List(const std::string& kind = "", const std::string& name = "") const EXCLUDES(mu_);

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  std::deque<Event> events_ GUARDED_BY(mu_);
};

}  // namespace jb
