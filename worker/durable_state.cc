#include "worker/durable_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/file.h"

namespace jb {
namespace {

Status Errno(const std::string& what) { return Status::Unavailable(what + ": " + std::strerror(errno)); }

// Reads a whole file; ok with "" when it does not exist.
StatusOr<std::string> ReadIfExists(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return Status::Unavailable("cannot read " + path + ": " + ec.message());
    return std::string();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Unavailable("cannot read " + path);
  return ss.str();
}

}  // namespace

std::string StatePath(const std::string& metrics_file, const std::string& suffix) {
  if (metrics_file.empty()) return "";
  static const std::string kMetrics = ".metrics.json";
  std::string base = metrics_file;
  if (base.size() > kMetrics.size() && base.compare(base.size() - kMetrics.size(), kMetrics.size(), kMetrics) == 0)
    base.resize(base.size() - kMetrics.size());
  return base + suffix;
}

// ---- SeqReservation -------------------------------------------------------------------------------

StatusOr<SeqReservation> SeqReservation::Open(const std::string& path) {
  auto text = ReadIfExists(path);
  if (!text.ok()) return text.status();
  uint64_t next = 1;
  if (!text->empty()) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text->c_str(), &end, 10);
    while (end != nullptr && (*end == '\n' || *end == ' ')) ++end;
    if (errno != 0 || end == text->c_str() || *end != '\0' || v == 0)
      return Status::InvalidArgument(
          path + ": expected the next free request sequence number, found \"" + text->substr(0, 40) +
          "\"; the sources cannot start without it (numbering from 1 again would reuse request "
          "identities). Remove the file only together with every worker of the workflow.");
    next = v;
  }
  return SeqReservation(path, next, next);
}

SeqReservation SeqReservation::Volatile() { return SeqReservation("", 1, UINT64_MAX); }

Status SeqReservation::Write(const std::string& path, uint64_t limit) {
  if (path.empty()) return Status::Ok();
  return WriteFileAtomic(path, std::to_string(limit) + "\n");
}

// ---- DeliveryRecord -------------------------------------------------------------------------------

bool DeliveryRecord::ParseLine(const std::string& line, Entry* e) {
  std::istringstream in(line);
  std::string extra;
  if (!(in >> e->source >> e->seq >> e->emitted_ns >> e->pid) || (in >> extra)) return false;
  return e->seq > 0;
}

StatusOr<std::unique_ptr<DeliveryRecord>> DeliveryRecord::Open(const std::string& path, int64_t max_bytes,
                                                               const std::function<void(const Entry&)>& each,
                                                               int64_t* skipped) {
  int64_t bad = 0;
  std::string last;
  for (const std::string& p : {path + ".1", path}) {
    auto text = ReadIfExists(p);
    if (!text.ok()) return text.status();
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Entry e;
      if (ParseLine(line, &e))
        each(e);
      else
        ++bad;
    }
    last = std::move(*text);
  }
  if (skipped != nullptr) *skipped = bad;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open " + path);
  std::unique_ptr<DeliveryRecord> r(new DeliveryRecord(path, fd, static_cast<int64_t>(last.size()), max_bytes));
  // A line cut short (a write interrupted by a full disk) is ended, so the next entry stays whole.
  if (!last.empty() && last.back() != '\n') r->buf_ = "\n";
  return r;
}

DeliveryRecord::~DeliveryRecord() {
  (void)Flush();
  if (fd_ >= 0) close(fd_);
}

void DeliveryRecord::Add(const std::string& source, uint64_t seq, int64_t emitted_ns) {
  buf_ += source;
  buf_ += ' ';
  buf_ += std::to_string(seq);
  buf_ += ' ';
  buf_ += std::to_string(emitted_ns);
  buf_ += ' ';
  buf_ += std::to_string(static_cast<int64_t>(getpid()));
  buf_ += '\n';
}

Status DeliveryRecord::Rotate() {
  close(fd_);
  fd_ = -1;
  std::string old = path_ + ".1";
  if (std::rename(path_.c_str(), old.c_str()) != 0) return Errno("rename " + path_);
  fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("open " + path_);
  size_ = 0;
  return Status::Ok();
}

Status DeliveryRecord::Flush() {
  if (buf_.empty()) return Status::Ok();
  if (fd_ < 0) return Status::Unavailable("delivery record " + path_ + " is not open");
  if (size_ > 0 && size_ + static_cast<int64_t>(buf_.size()) > max_bytes_)
    if (auto s = Rotate(); !s.ok()) return s;
  // What was written stays written: a retry after a partial write continues after it.
  while (!buf_.empty()) {
    ssize_t w = write(fd_, buf_.data(), buf_.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Errno("write " + path_);
    buf_.erase(0, static_cast<size_t>(w));
    size_ += w;
  }
  return Status::Ok();
}

}  // namespace jb
