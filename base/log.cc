#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace jb::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_journal{false};

struct CaptureSlot {
  Mutex mu;
  std::function<void(Level, const std::string&)> fn GUARDED_BY(mu);
};
CaptureSlot& Slot() {
  static CaptureSlot slot;
  return slot;
}

// The logger Log writes to: ours, swapped by Init under the lock, so a Log racing with Init holds
// the old one alive until it is done. Logs filter on g_level; the logger itself passes everything.
struct LoggerSlot {
  Mutex mu;
  std::shared_ptr<spdlog::logger> logger GUARDED_BY(mu);
};
LoggerSlot& Loggers() {
  static LoggerSlot slot;
  return slot;
}

std::shared_ptr<spdlog::logger> CurrentLogger() {
  LoggerSlot& slot = Loggers();
  MutexLock lock(&slot.mu);
  if (!slot.logger) {
    slot.logger =
        std::make_shared<spdlog::logger>("jellybean", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    slot.logger->set_level(spdlog::level::trace);
  }
  return slot.logger;
}

// spdlog's registry (behind the spdlog:: free functions some code still calls) is a function-local
// static inside libspdlog; create it while the program is still single-threaded, so its first use
// never races (ThreadSanitizer cannot see the guard inside the uninstrumented library).
[[maybe_unused]] const bool g_registry_ready = spdlog::default_logger_raw() != nullptr;

spdlog::level::level_enum SpdLevel(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

int SyslogPriority(Level level) {
  switch (level) {
    case Level::kTrace:
    case Level::kDebug:
      return 7;
    case Level::kInfo:
      return 6;
    case Level::kWarn:
      return 4;
    case Level::kError:
    case Level::kOff:
      break;
  }
  return 3;
}

// key=value, the value quoted (with \" and \\ escaped) when it is empty-looking or has spaces.
void AppendField(std::string* out, const char* key, const std::string& value) {
  *out += key;
  *out += '=';
  bool plain = !value.empty();
  for (char c : value) plain = plain && c != ' ' && c != '"' && c != '\\' && c != '=' && c != '\n' && c != '\t';
  if (plain) {
    *out += value;
  } else {
    *out += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') *out += '\\';
      *out += c == '\n' ? ' ' : c;
    }
    *out += '"';
  }
  *out += ' ';
}

}  // namespace

StatusOr<Level> ParseLevel(const std::string& name) {
  if (name == "trace") return Level::kTrace;
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  return Status::InvalidArgument("log level \"" + name + "\": expected trace, debug, info, warn or error");
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      break;
  }
  return "off";
}

void Init(const std::string& name, Level level, Sink sink) {
  const bool journal = sink == Sink::kJournal || (sink == Sink::kAuto && std::getenv("JOURNAL_STREAM") != nullptr);
  std::shared_ptr<spdlog::logger> logger;
  if (journal)
    logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::systemd_sink_mt>());
  else
    logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  {
    LoggerSlot& slot = Loggers();
    MutexLock lock(&slot.mu);
    slot.logger = logger;
  }
  g_journal.store(journal);
  SetLevel(level);
}

void SetLevel(Level level) {
  g_level.store(static_cast<int>(level));
  spdlog::set_level(SpdLevel(level));
}

Level CurrentLevel() { return static_cast<Level>(g_level.load()); }

bool Enabled(Level level) { return level != Level::kOff && static_cast<int>(level) >= g_level.load(); }

std::string FormatLine(const Fields& fields, const std::string& message) {
  std::string out;
  if (!fields.workflow.empty()) AppendField(&out, "workflow", fields.workflow);
  if (fields.epoch) AppendField(&out, "epoch", std::to_string(*fields.epoch));
  if (!fields.worker.empty()) AppendField(&out, "worker", fields.worker);
  if (!fields.reason.empty()) AppendField(&out, "reason", fields.reason);
  return out + message;
}

std::vector<std::string> JournalEntry(Level level, const Fields& fields, const std::string& message) {
  std::vector<std::string> out;
  out.push_back("MESSAGE=" + FormatLine(fields, message));
  out.push_back("PRIORITY=" + std::to_string(SyslogPriority(level)));
  out.push_back(std::string("JB_LEVEL=") + LevelName(level));
  if (!fields.workflow.empty()) out.push_back("JB_WORKFLOW=" + fields.workflow);
  if (fields.epoch) out.push_back("JB_EPOCH=" + std::to_string(*fields.epoch));
  if (!fields.worker.empty()) out.push_back("JB_WORKER=" + fields.worker);
  if (!fields.reason.empty()) out.push_back("JB_REASON=" + fields.reason);
  return out;
}

void Log(Level level, const Fields& fields, const std::string& message) {
  if (!Enabled(level)) return;
  const std::string line = FormatLine(fields, message);
  {
    CaptureSlot& slot = Slot();
    MutexLock lock(&slot.mu);
    if (slot.fn) slot.fn(level, line);
  }
  if (g_journal.load()) {
    const auto entry = JournalEntry(level, fields, message);
    std::vector<iovec> iov(entry.size());
    for (size_t i = 0; i < entry.size(); ++i) iov[i] = iovec{const_cast<char*>(entry[i].data()), entry[i].size()};
    (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    return;
  }
  CurrentLogger()->log(SpdLevel(level), "{}", line);
}

void SetCaptureForTesting(std::function<void(Level, const std::string&)> capture) {
  CaptureSlot& slot = Slot();
  MutexLock lock(&slot.mu);
  slot.fn = std::move(capture);
}

struct CaptureForTesting::State {
  mutable Mutex mu;
  std::vector<std::pair<Level, std::string>> lines GUARDED_BY(mu);
};

CaptureForTesting::CaptureForTesting() : state_(new State) {
  State* s = state_;
  SetCaptureForTesting([s](Level level, const std::string& line) {
    MutexLock lock(&s->mu);
    s->lines.emplace_back(level, line);
  });
}

CaptureForTesting::~CaptureForTesting() {
  SetCaptureForTesting(nullptr);
  delete state_;
}

std::vector<std::pair<Level, std::string>> CaptureForTesting::Lines() const {
  MutexLock lock(&state_->mu);
  return state_->lines;
}

bool CaptureForTesting::Has(Level level, const std::vector<std::string>& parts) const {
  for (const auto& [l, line] : Lines()) {
    if (l != level) continue;
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

}  // namespace jb::log
