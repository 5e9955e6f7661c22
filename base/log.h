// Structured logging for the daemon and its libraries: a level, a message, and the fields a platform
// engineer filters on (workflow, plan epoch, worker, reason). Two sinks:
//   - the console (stderr): "[time] [level] workflow=vqa epoch=3 worker=vqa-e3-detect reason=X message"
//     (values with spaces or quotes are quoted);
//   - journald (under systemd: JOURNAL_STREAM is set): one entry per line with PRIORITY, MESSAGE
//     (the console line without the time) and the fields as JB_WORKFLOW, JB_EPOCH, JB_WORKER,
//     JB_REASON, so `journalctl JB_WORKFLOW=vqa` selects a workflow's story.
// The level (trace < debug < info < warn < error) filters both sinks and spdlog's default logger,
// which the same Init sets up (code that still calls spdlog:: directly reaches the same sink).
// spdlog and sd-journal are confined to log.cc.
// Thread-safety: every function is thread-safe; Init/SetLevel may race with logging (the level is
// an atomic; the logger is ours, swapped under a lock, and a Log call keeps the one it took alive).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

// "trace", "debug", "info", "warn" (or "warning"), "error", "off"; else kInvalidArgument.
StatusOr<Level> ParseLevel(const std::string& name);
const char* LevelName(Level level);

struct Fields {
  std::string workflow;
  std::optional<int64_t> epoch;
  std::string worker;
  std::string reason;
};

enum class Sink {
  kAuto,     // journald when JOURNAL_STREAM is set, else the console
  kConsole,  // stderr
  kJournal,  // sd_journal_send
};

// Sets up the sink and the level (also spdlog's default logger, named `name`).
void Init(const std::string& name, Level level, Sink sink = Sink::kAuto);
void SetLevel(Level level);
Level CurrentLevel();
bool Enabled(Level level);

// "workflow=vqa epoch=3 worker=w reason=R message": the set fields in that order, then the message.
std::string FormatLine(const Fields& fields, const std::string& message);
// The journald entry: "MESSAGE=<FormatLine>", "PRIORITY=<syslog priority>", then JB_WORKFLOW=,
// JB_EPOCH=, JB_WORKER=, JB_REASON= for the set fields.
std::vector<std::string> JournalEntry(Level level, const Fields& fields, const std::string& message);

// Logs when `level` is enabled.
void Log(Level level, const Fields& fields, const std::string& message);
inline void Trace(const Fields& f, const std::string& m) { Log(Level::kTrace, f, m); }
inline void Debug(const Fields& f, const std::string& m) { Log(Level::kDebug, f, m); }
inline void Info(const Fields& f, const std::string& m) { Log(Level::kInfo, f, m); }
inline void Warn(const Fields& f, const std::string& m) { Log(Level::kWarn, f, m); }
inline void Error(const Fields& f, const std::string& m) { Log(Level::kError, f, m); }

// Tests: every enabled Log call also goes to `capture` (level, FormatLine) while set; nullptr stops.
void SetCaptureForTesting(std::function<void(Level, const std::string&)> capture);

// Scoped capture for tests: collects the lines logged while alive.
class CaptureForTesting {
 public:
  CaptureForTesting();
  ~CaptureForTesting();
  CaptureForTesting(const CaptureForTesting&) = delete;
  CaptureForTesting& operator=(const CaptureForTesting&) = delete;
  std::vector<std::pair<Level, std::string>> Lines() const;
  // Whether a captured line at `level` contains every one of `parts`.
  bool Has(Level level, const std::vector<std::string>& parts) const;

 private:
  struct State;
  State* state_;
};

}  // namespace jb::log
