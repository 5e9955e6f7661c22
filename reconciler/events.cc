#include "reconciler/events.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file.h"
#include "base/log.h"
#include "reconciler/store.h"

namespace jb {

std::string EventLine(uint64_t seq, const Event& e) {
  nlohmann::json j = {{"seq", seq},     {"time", e.time},     {"kind", e.kind},       {"name", e.name},
                      {"type", e.type}, {"reason", e.reason}, {"message", e.message}, {"count", e.count}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status ParseEventLine(const std::string& line, uint64_t* seq, Event* e) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("not a JSON object");
  if (!j.contains("seq") || !j["seq"].is_number_unsigned()) return Status::InvalidArgument("no numeric \"seq\"");
  for (const char* k : {"time", "kind", "name", "type", "reason", "message"})
    if (!j.contains(k) || !j[k].is_string()) return Status::InvalidArgument(std::string("no string \"") + k + "\"");
  if (!j.contains("count") || !j["count"].is_number_integer() || j["count"].get<int64_t>() < 1 ||
      j["count"].get<int64_t>() > 1000000000)
    return Status::InvalidArgument("no positive \"count\"");
  *seq = j["seq"].get<uint64_t>();
  auto str = [&](const char* k) { return j[k].get<std::string>(); };
  *e = Event{str("time"), str("kind"), str("name"), str("type"), str("reason"), str("message"), j["count"].get<int>()};
  if (e->type != "Normal" && e->type != "Warning") return Status::InvalidArgument("type is not Normal or Warning");
  return Status::Ok();
}

EventRecorder::~EventRecorder() {
  MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

Status EventRecorder::Open(const std::string& path, std::vector<std::string>* skipped) {
  MutexLock lock(&mu_);
  std::map<uint64_t, Event> by_seq;
  auto content = ReadFile(path);
  if (!content.ok() && content.status().code() != Status::Code::kNotFound) return content.status();
  size_t lines = 0;
  if (content.ok()) {
    std::istringstream in(*content);
    std::string line;
    while (std::getline(in, line)) {
      ++lines;
      if (line.empty()) continue;
      uint64_t seq = 0;
      Event e;
      if (auto s = ParseEventLine(line, &seq, &e); !s.ok()) {
        skipped->push_back(path + " line " + std::to_string(lines) + ": " + s.message() + "; skipped");
        continue;
      }
      by_seq[seq] = e;
    }
  }
  // Loaded events come before any recorded in memory so far (none, in the daemon).
  std::deque<Stored> loaded;
  for (auto& [seq, e] : by_seq) loaded.push_back(Stored{seq, std::move(e)});
  while (loaded.size() > capacity_) loaded.pop_front();
  uint64_t next = loaded.empty() ? 1 : loaded.back().seq + 1;
  for (auto& s : events_) {
    s.seq = next++;
    loaded.push_back(std::move(s));
  }
  while (loaded.size() > capacity_) loaded.pop_front();
  events_ = std::move(loaded);
  next_seq_ = next;
  path_ = path;
  // Start from a compact file: what was skipped or dropped is gone from it as well.
  if (auto s = RewriteLocked(); !s.ok()) return s;
  return Status::Ok();
}

Status EventRecorder::RewriteLocked() {
  std::string data;
  for (const auto& s : events_) data += EventLine(s.seq, s.event);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (auto s = WriteFileAtomic(path_, data, 0640); !s.ok()) return s;
  file_lines_ = events_.size();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return Status::Unavailable("cannot open " + path_ + " for appending: " + std::strerror(errno));
  return Status::Ok();
}

void EventRecorder::PersistLocked(const Stored& s) {
  if (path_.empty()) return;
  Status st = Status::Ok();
  if (file_lines_ + 1 > 2 * capacity_) {
    st = RewriteLocked();  // holds s already
  } else if (fd_ >= 0) {
    const std::string line = EventLine(s.seq, s.event);
    ssize_t n = ::write(fd_, line.data(), line.size());
    if (n == static_cast<ssize_t>(line.size()))
      ++file_lines_;
    else
      st = Status::Unavailable("cannot append to " + path_ + ": " + (n < 0 ? std::strerror(errno) : "short write"));
  } else {
    st = RewriteLocked();
  }
  if (!st.ok() && !write_failed_) log::Error(log::Fields{}, "events: " + st.message() + "; kept in memory only");
  write_failed_ = !st.ok();
}

void EventRecorder::Record(const std::string& kind, const std::string& name, const std::string& type,
                           const std::string& reason, const std::string& message) {
  log::Fields f;
  if (kind == "Workflow") f.workflow = name;
  f.reason = reason;
  log::Log(type == "Warning" ? log::Level::kWarn : log::Level::kInfo, f,
           (kind == "Workflow" ? "" : kind + "/" + name + ": ") + message);
  MutexLock lock(&mu_);
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    Event& e = it->event;
    if (e.kind != kind || e.name != name) continue;
    if (e.reason == reason && e.message == message && e.type == type) {
      ++e.count;
      e.time = NowRfc3339();
      PersistLocked(*it);
      return;
    }
    break;  // only the object's latest event is merged
  }
  events_.push_back(Stored{next_seq_++, Event{NowRfc3339(), kind, name, type, reason, message, 1}});
  while (events_.size() > capacity_) events_.pop_front();
  PersistLocked(events_.back());
}

std::vector<Event> EventRecorder::List(const std::string& kind, const std::string& name) const {
  MutexLock lock(&mu_);
  std::vector<Event> out;
  for (const auto& s : events_)
    if (kind.empty() || (s.event.kind == kind && s.event.name == name)) out.push_back(s.event);
  return out;
}

}  // namespace jb
