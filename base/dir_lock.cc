#include "base/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file.h"

namespace jb {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

StatusOr<std::unique_ptr<DirLock>> DirLock::Lock(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create the state directory " + dir + ": " + ec.message());
  std::string path = (std::filesystem::path(dir) / "lock").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) return Status::Unavailable("cannot lock " + path + ": " + std::strerror(err));
    std::string holder = Trimmed(ReadFileOrEmpty(path));
    return Status::FailedPrecondition("state directory " + dir + " is in use by " +
                                      (holder.empty() ? std::string("another process") : "PID " + holder) + " (lock " +
                                      path + ")");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    int err = errno;
    ::close(fd);
    return Status::Unavailable("cannot write " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<DirLock>(new DirLock(fd, std::move(path)));
}

DirLock::~DirLock() { ::close(fd_); }

}  // namespace jb
