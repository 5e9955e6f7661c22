#include "daemon/manifest_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "api/manifest.h"

namespace jb {

namespace fs = std::filesystem;

ManifestWatcher::~ManifestWatcher() { Stop(); }

void ManifestWatcher::AddWatches(const std::string& dir) {
  const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF;
  inotify_add_watch(inotify_fd_, dir.c_str(), mask);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec)) inotify_add_watch(inotify_fd_, it->path().c_str(), mask);
}

Status ManifestWatcher::Start() {
  if (!fs::is_directory(dir_)) return Status::NotFound("manifest dir " + dir_ + " does not exist");
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return Status::Unavailable("inotify_init1 failed");
  if (pipe2(stop_fd_, O_CLOEXEC) != 0) return Status::Unavailable("pipe2 failed");
  AddWatches(dir_);
  for (const auto& p : Sync()) spdlog::error("manifest: {}", p);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ManifestWatcher::Stop() {
  if (thread_.joinable()) {
    char c = 0;
    (void)!write(stop_fd_[1], &c, 1);
    thread_.join();
  }
  for (int* fd : {&inotify_fd_, &stop_fd_[0], &stop_fd_[1]})
    if (*fd >= 0) {
      close(*fd);
      *fd = -1;
    }
}

void ManifestWatcher::Loop() {
  char buf[16384];
  while (true) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    bool relevant = false;
    // Debounce: editors write in several steps; collect events for 100 ms, then sync once.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (true) {
      ssize_t n = read(inotify_fd_, buf, sizeof(buf));
      for (ssize_t off = 0; n > 0 && off < n;) {
        auto* ev = reinterpret_cast<inotify_event*>(buf + off);
        std::string name = ev->len ? ev->name : "";
        if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) relevant = true;
        auto ext = fs::path(name).extension().string();
        if (ext == ".yaml" || ext == ".yml" || ext == ".json") relevant = true;
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) break;
      pollfd again[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
      poll(again, 2, static_cast<int>(left));
      if (again[1].revents) return;
    }
    if (!relevant) continue;
    AddWatches(dir_);  // new subdirectories
    for (const auto& p : Sync()) spdlog::error("manifest: {}", p);
  }
}

std::vector<std::string> ManifestWatcher::Sync() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> problems;
  auto docs = LoadPath(dir_);
  ValidateSet(&docs);
  std::set<std::string> bad_files;
  for (const auto& d : docs)
    if (!d.ok()) bad_files.insert(d.file);
  for (const auto& line : FormatDiagnostics(docs)) problems.push_back(line);
  for (const auto& f : bad_files) events_->Record("ManifestDir", dir_, "Warning", "InvalidManifest", f + " was not applied: it has errors (see the log)");
  std::map<std::pair<std::string, std::string>, std::string> now;
  for (const auto& d : docs) {
    if (!d.ok() || bad_files.count(d.file)) continue;
    Object obj = *d.object;
    auto key = std::make_pair(KindOf(obj), MetaOf(obj).name);
    now[key] = d.file;
    auto cur = store_->Get(key.first, key.second);
    if (cur.ok()) {
      // Unchanged spec and labels: nothing to write (no new resourceVersion, no re-plan).
      if (UserView(*cur) == UserView(obj)) continue;
    }
    MetaOf(obj).resource_version.reset();  // the directory is the source of truth: last write wins
    auto put = store_->Put(obj);
    if (!put.ok()) {
      problems.push_back(d.file + ": " + d.Describe() + ": " + put.status().message());
      events_->Record(key.first, key.second, "Warning", "ApplyFailed", d.file + ": " + put.status().message());
    } else {
      events_->Record(key.first, key.second, "Normal", cur.ok() ? "Updated" : "Created", "applied from " + d.file);
    }
  }
  // Objects this watcher applied that are gone from the directory. Those of a file that now fails
  // validation are kept until it is fixed.
  for (const auto& [key, file] : owned_) {
    if (now.count(key)) continue;
    if (bad_files.count(file)) {
      now[key] = file;
      continue;
    }
    auto del = store_->Delete(key.first, key.second);
    if (del.ok()) events_->Record(key.first, key.second, "Normal", "Deleted", "removed from " + file);
  }
  owned_ = std::move(now);
  return problems;
}

}  // namespace jb
