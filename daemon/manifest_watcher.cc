#include "daemon/manifest_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "api/manifest.h"
#include "base/file.h"
#include "daemon/manifest_ownership.h"

namespace jb {

namespace fs = std::filesystem;

namespace {

// While a listing fails (the directory is gone or unreadable), inotify may not see it come back:
// retry this often.
constexpr int kRetryListingMs = 1000;

bool IsManifestName(const std::string& file) {
  auto ext = fs::path(file).extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// The manifest files under `root`, sorted. A directory that cannot be listed goes to `*unlisted`
// with the reason: nothing is known about the files under it.
std::vector<std::string> ListManifests(const std::string& root, std::map<std::string, std::string>* unlisted) {
  std::vector<std::string> files;
  std::vector<fs::path> dirs{fs::path(root)};
  while (!dirs.empty()) {
    fs::path dir = std::move(dirs.back());
    dirs.pop_back();
    std::error_code ec;
    // The root may be a symbolic link to a directory; below it, links to directories are not
    // followed (no loops) and links to files are.
    if (dir == fs::path(root) && !fs::is_directory(dir, ec)) {
      (*unlisted)[root] = ec ? ec.message() : "not a directory";
      continue;
    }
    std::vector<fs::path> entries;
    auto it = fs::directory_iterator(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) entries.push_back(it->path());
    if (ec) {
      (*unlisted)[dir.string()] = ec.message();
      continue;
    }
    for (const auto& p : entries) {
      std::string name = p.filename().string();
      if (name.empty() || name[0] == '.') continue;
      std::error_code sec;
      auto st = fs::symlink_status(p, sec);
      if (fs::is_directory(st))
        dirs.push_back(p);
      else if (IsManifestName(name))
        files.push_back(p.string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool IsUnder(const std::string& file, const std::string& dir) {
  return file.size() > dir.size() && file.compare(0, dir.size(), dir) == 0 && file[dir.size()] == '/';
}

}  // namespace

ManifestWatcher::~ManifestWatcher() { Stop(); }

void ManifestWatcher::AddWatches(const std::string& dir) {
  const uint32_t mask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;
  inotify_add_watch(inotify_fd_, dir.c_str(), mask);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_directory(ec)) inotify_add_watch(inotify_fd_, it->path().c_str(), mask);
}

Status ManifestWatcher::Start() {
  if (!fs::is_directory(dir_)) return Status::NotFound("manifest dir " + dir_ + " does not exist");
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return Status::Unavailable("inotify_init1 failed");
  if (pipe2(stop_fd_, O_CLOEXEC) != 0) return Status::Unavailable("pipe2 failed");
  AddWatches(dir_);
  SyncAndLogNew(false);
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

void ManifestWatcher::SyncAndLogNew(bool only_changed) {
  std::set<std::string> now;
  std::vector<std::string> problems;
  {
    MutexLock lock(&mu_);
    problems = SyncLocked(only_changed);
  }
  for (auto& p : problems) {
    if (!logged_.count(p)) spdlog::error("manifest: {}", p);
    now.insert(std::move(p));
  }
  logged_ = std::move(now);
}

void ManifestWatcher::Loop() {
  char buf[16384];
  while (true) {
    int timeout = -1;
    {
      MutexLock lock(&mu_);
      if (listing_failed_) timeout = kRetryListingMs;
      if (!pending_.empty()) {
        int settle = static_cast<int>(std::max<int64_t>(settle_.count(), 1));
        timeout = timeout < 0 ? settle : std::min(timeout, settle);
      }
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
    int ready = poll(fds, 2, timeout);
    if (ready < 0) continue;
    if (fds[1].revents) return;
    const bool timer = ready == 0;  // the retry or settle timer
    bool relevant = timer;
    // Debounce: editors write in several steps; collect events for 100 ms, then sync once.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (true) {
      ssize_t n = read(inotify_fd_, buf, sizeof(buf));
      for (ssize_t off = 0; n > 0 && off < n;) {
        auto* ev = reinterpret_cast<inotify_event*>(buf + off);
        std::string name = ev->len ? ev->name : "";
        if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)))
          relevant = true;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) relevant = true;  // a watched directory went away
        if (IsManifestName(name)) relevant = true;
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) break;
      pollfd again[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
      poll(again, 2, static_cast<int>(left));
      if (again[1].revents) return;
    }
    if (!relevant) continue;
    AddWatches(dir_);     // new subdirectories, or the directory itself re-created
    SyncAndLogNew(true);  // only the files whose content changed (issue 18)
  }
}

std::vector<std::string> ManifestWatcher::Sync() {
  MutexLock lock(&mu_);
  return SyncLocked(false);
}

std::vector<std::string> ManifestWatcher::SyncLocked(bool only_changed) {
  DirSnapshot snap = ReadDir(dir_);
  listing_failed_ = !snap.unlisted.empty();
  std::vector<std::string> problems = FormatDiagnostics(snap.docs);
  for (const auto& [f, why] : snap.problems) {
    if (!snap.bad_files.count(f)) problems.push_back(f + ": " + why);  // bad files: their diagnostics say it
    // One event per problem, not one per sync.
    auto before = file_problems_.find(f);
    if (before == file_problems_.end() || before->second != why)
      events_->Record("ManifestDir", dir_, "Warning", "InvalidManifest", f + " " + why);
  }
  file_problems_ = snap.problems;
  std::set<std::string> failed;
  auto now = Apply(snap, only_changed, &problems, &failed);
  ConfirmRemovals(snap, &now);
  owned_ = std::move(now);
  // Only files applied in full count as seen: one with errors, or whose write failed, is applied
  // again at the next sync even if its content stays the same (a fix may come from another file).
  last_state_.clear();
  for (const auto& [f, h] : snap.state)
    if (!snap.bad_files.count(f) && !snap.problems.count(f) && !failed.count(f)) last_state_[f] = h;
  return problems;
}

ManifestWatcher::DirSnapshot ManifestWatcher::ReadDir(const std::string& dir) {
  DirSnapshot snap;
  auto files = ListManifests(dir, &snap.unlisted);
  for (const auto& [d, why] : snap.unlisted)
    snap.problems[d] =
        "cannot be listed (" + why + "); keeping the objects applied from " + (d == dir ? "it" : "files under it");
  for (const auto& f : files) {
    // Never read a FIFO or a device (it could block the watcher and SIGHUP for ever).
    std::error_code ec;
    auto type = fs::status(f, ec).type();
    if (type != fs::file_type::regular) {
      snap.problems[f] =
          std::string(type == fs::file_type::not_found ? "is a link to nothing" : "is not a regular file") +
          "; keeping the objects it applied before";
      continue;
    }
    auto read = ReadFile(f);
    if (!read.ok()) {
      snap.problems[f] = read.status().message() + "; keeping the objects it applied before";
      continue;
    }
    const std::string& text = *read;
    snap.state[f] = std::to_string(std::hash<std::string>{}(text));
    auto part = DecodeText(text, f);
    if (part.empty()) {
      snap.problems[f] =
          "holds no document (empty, or being rewritten); keeping the objects it applied before "
          "(remove the file to delete them)";
      continue;
    }
    for (auto& d : part) snap.docs.push_back(std::move(d));
  }
  ValidateSet(&snap.docs);  // references may cross files
  for (const auto& d : snap.docs)
    if (!d.ok()) snap.bad_files.insert(d.file);
  for (const auto& f : snap.bad_files)
    snap.problems[f] = "was not applied: it has errors (see the log); keeping the objects it applied before";
  return snap;
}

bool ManifestWatcher::DirSnapshot::Holds(const std::string& file, const std::string& root) const {
  if (problems.count(file) || unlisted.count(root)) return true;
  for (const auto& [d, why] : unlisted)
    if (IsUnder(file, d)) return true;
  return false;
}

std::map<ManifestWatcher::Key, std::string> ManifestWatcher::Apply(const DirSnapshot& snap, bool only_changed,
                                                                   std::vector<std::string>* problems,
                                                                   std::set<std::string>* failed) {
  std::map<Key, std::string> now;
  for (const auto& d : snap.docs) {
    if (!d.ok() || snap.bad_files.count(d.file)) continue;
    Object obj = *d.object;
    Key key{KindOf(obj), MetaOf(obj).name};
    now[key] = d.file;
    auto last = last_state_.find(d.file);
    if (only_changed && last != last_state_.end() && last->second == snap.state.at(d.file)) continue;
    auto cur = store_->Get(key.first, key.second);
    const std::string file = fs::absolute(d.file).lexically_normal().string();
    // Unchanged, or taken over by `jbctl apply --force` and this document unchanged since: nothing
    // to write (no new resourceVersion, no re-plan, no revert). daemon/manifest_ownership.h.
    FileWrite decision = DecideFileWrite(cur.ok() ? &*cur : nullptr, &obj, file);
    if (!decision.write) continue;
    MetaOf(obj).resource_version.reset();  // the directory is the source of truth: last write wins
    auto put = store_->Put(obj);
    if (!put.ok()) {
      failed->insert(d.file);
      problems->push_back(d.file + ": " + d.Describe() + ": " + put.status().message());
      events_->Record(key.first, key.second, "Warning", "ApplyFailed", d.file + ": " + put.status().message());
      continue;
    }
    if (!decision.reclaim.empty()) {
      spdlog::info("manifest: {} takes {}/{} back from {}: its document changed", file, key.first, key.second,
                   decision.reclaim);
      events_->Record(key.first, key.second, "Normal", "ManifestOwner",
                      file + " takes the object back from " + decision.reclaim + ": its document changed");
    }
    events_->Record(key.first, key.second, "Normal", cur.ok() ? "Updated" : "Created", "applied from " + d.file);
  }
  return now;
}

void ManifestWatcher::ConfirmRemovals(const DirSnapshot& snap, std::map<Key, std::string>* now) {
  const auto at = std::chrono::steady_clock::now();
  std::map<Key, PendingRemoval> pending;
  for (const auto& [key, file] : owned_) {
    if (now->count(key)) continue;
    (*now)[key] = file;  // kept unless deleted below
    if (snap.Holds(file, dir_)) continue;
    auto st = snap.state.find(file);
    PendingRemoval seen{file, st == snap.state.end() ? "gone" : st->second, at};
    auto p = pending_.find(key);
    if (p == pending_.end() || p->second.file != seen.file || p->second.state != seen.state) {
      pending[key] = seen;  // first seen: confirmed by a later sync
      continue;
    }
    if (at - p->second.since < settle_) {
      pending[key] = p->second;
      continue;
    }
    auto del = store_->Delete(key.first, key.second);
    if (del.ok() || del.status().code() == Status::Code::kNotFound) now->erase(key);
    if (del.ok()) events_->Record(key.first, key.second, "Normal", "Deleted", "removed from " + file);
  }
  pending_ = std::move(pending);
}

}  // namespace jb
