// EventRecorder: a bounded log of what happened to objects (Kubernetes-style events: Normal/Warning,
// one-word reason, sentence message), shown by `jbctl describe` and the REST API. Every recorded
// event is also logged (base/log.h): Warning at warn, Normal at info, with the workflow and reason
// as fields.
//
// Persistence (optional, Open): the events survive a daemon restart in one JSON-lines file (the
// daemon's STATE/events.jsonl). Each Record appends one line {"seq":N,...} (a repeat appends its
// event again with the same seq and the new count and time); when the file holds more than twice
// the capacity in lines it is rewritten atomically (base/file.h) with only the events kept. At
// Open the lines are read back in order (a later line of a seq replaces the earlier one), the
// newest `capacity` are kept, and a line that is not a well-formed event is skipped and reported,
// never fatal. A failed append is logged once and the recorder goes on in memory.
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
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
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Loads the events persisted in `path` (a missing file is an empty log) and appends every later
  // event to it. Returns one sentence per line skipped ("events.jsonl line 7: ..."); an error when
  // the file cannot be opened for appending (the recorder then stays in memory only).
  Status Open(const std::string& path, std::vector<std::string>* skipped) EXCLUDES(mu_);

  void Record(const std::string& kind, const std::string& name, const std::string& type, const std::string& reason,
              const std::string& message) EXCLUDES(mu_);
  // Events of one object (all when kind is empty), oldest first.
  std::vector<Event> List(const std::string& kind = "", const std::string& name = "") const EXCLUDES(mu_);

 private:
  struct Stored {
    uint64_t seq = 0;
    Event event;
  };
  // Appends `s` to the file; rewrites the file when it has grown past twice the capacity.
  void PersistLocked(const Stored& s) REQUIRES(mu_);
  Status RewriteLocked() REQUIRES(mu_);

  const size_t capacity_;
  mutable Mutex mu_;
  std::deque<Stored> events_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  std::string path_ GUARDED_BY(mu_);
  int fd_ GUARDED_BY(mu_) = -1;
  size_t file_lines_ GUARDED_BY(mu_) = 0;
  bool write_failed_ GUARDED_BY(mu_) = false;
};

// One event as the JSON line the file holds, and back (kInvalidArgument naming what is wrong).
std::string EventLine(uint64_t seq, const Event& e);
Status ParseEventLine(const std::string& line, uint64_t* seq, Event* e);

}  // namespace jb
