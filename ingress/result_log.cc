#include "ingress/result_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "ingress/json_util.h"

namespace jb::ingress {
namespace {

std::string Timestamp(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::Unavailable("result log " + path + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

std::string ResultLine(const ResultRecord& r, std::chrono::system_clock::time_point ts, const ResultOrigin* origin) {
  nlohmann::ordered_json j;
  j["key"] = r.key;
  if (origin) {
    j["source"] = origin->source;
    j["seq"] = origin->seq;
  }
  if (oip::ValidUtf8(r.answer)) {
    j["answer"] = r.answer;
  } else {
    j["answer_base64"] = oip::Base64(r.answer);
  }
  if (r.label) j["label"] = *r.label;
  if (r.correct) j["correct"] = *r.correct;
  if (origin && origin->latency_ms) j["latency_ms"] = std::round(*origin->latency_ms * 1000) / 1000;
  j["ts"] = Timestamp(ts);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

StatusOr<std::unique_ptr<ResultLog>> ResultLog::Open(ResultLogOptions options) {
  if (options.path.empty()) return Status::InvalidArgument("result log: path is empty");
  if (options.max_file_bytes == 0) return Status::InvalidArgument("result log: max_file_bytes must be positive");
  if (options.max_files < 1) return Status::InvalidArgument("result log: max_files must be at least 1");
  if (!options.clock) options.clock = Clock::Real();
  std::unique_ptr<ResultLog> log(new ResultLog(std::move(options)));
  MutexLock l(&log->mu_);
  Status s = log->OpenFile();
  if (!s.ok()) return s;
  log->last_sync_ = log->opt_.clock->Now();
  return log;
}

ResultLog::~ResultLog() {
  MutexLock l(&mu_);
  if (fd_ >= 0) {
    SyncLocked().IgnoreError();  // nothing left to report to; the lines are written either way
    ::close(fd_);
  }
}

Status ResultLog::OpenFile() {
  fd_ = ::open(opt_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("open", opt_.path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Errno("stat", opt_.path);
  size_ = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Status ResultLog::SyncLocked() {
  if (!dirty_) return Status::Ok();
  if (::fdatasync(fd_) != 0) return Errno("fsync", opt_.path);
  dirty_ = false;
  ++syncs_;
  last_sync_ = opt_.clock->Now();
  return Status::Ok();
}

Status ResultLog::MaybeSync() {
  if (opt_.clock->Now() - last_sync_ < opt_.fsync_period) return Status::Ok();
  return SyncLocked();
}

Status ResultLog::Rotate() {
  Status s = SyncLocked();
  if (!s.ok()) return s;
  ::close(fd_);
  fd_ = -1;
  for (int i = opt_.max_files - 1; i >= 1; --i) {
    const std::string from = opt_.path + "." + std::to_string(i);
    if (::rename(from.c_str(), (opt_.path + "." + std::to_string(i + 1)).c_str()) != 0 && errno != ENOENT) {
      return Errno("rename " + from, opt_.path);
    }
  }
  if (::rename(opt_.path.c_str(), (opt_.path + ".1").c_str()) != 0) return Errno("rename", opt_.path);
  ++rotations_;
  s = OpenFile();
  if (!s.ok()) return s;
  // The renames and the new file's entry are durable once the directory is synced.
  std::string dir = std::filesystem::path(opt_.path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open directory", opt_.path);
  const int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Errno("fsync directory", opt_.path);
  return Status::Ok();
}

Status ResultLog::Append(const ResultRecord& r, const ResultOrigin* origin) {
  const std::string line = ResultLine(r, opt_.clock->WallNow(), origin);
  MutexLock l(&mu_);
  if (fd_ < 0) {
    Status s = OpenFile();  // a failed rotation left no file open; try again
    if (!s.ok()) return s;
  }
  if (size_ > 0 && size_ + line.size() > opt_.max_file_bytes) {
    Status s = Rotate();
    if (!s.ok()) return s;
  }
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status err = Errno("write", opt_.path);
      // Drop the partial line so the next one starts on a line of its own.
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) return Errno("write, then truncate", opt_.path);
      return err;
    }
    done += static_cast<size_t>(n);
  }
  size_ += line.size();
  dirty_ = true;
  return MaybeSync();
}

Status ResultLog::Tick() {
  MutexLock l(&mu_);
  if (fd_ < 0) return Status::Ok();
  return MaybeSync();
}

Status ResultLog::Sync() {
  MutexLock l(&mu_);
  if (fd_ < 0) return Status::Ok();
  return SyncLocked();
}

uint64_t ResultLog::syncs() const {
  MutexLock l(&mu_);
  return syncs_;
}

uint64_t ResultLog::rotations() const {
  MutexLock l(&mu_);
  return rotations_;
}

}  // namespace jb::ingress
