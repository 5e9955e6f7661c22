#include "reconciler/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/manifest.h"

namespace jb {

namespace fs = std::filesystem;

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string NowRfc3339Millis() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

std::optional<double> ParseRfc3339(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  double frac = 0;
  if (*rest == '.') {
    char* end = nullptr;
    frac = std::strtod(rest, &end);
    rest = end;
  }
  if (*rest != 'Z') return std::nullopt;
  return static_cast<double>(timegm(&tm)) + frac;
}

double SecondsSince(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t) return 1e18;
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - *t;
}

Status WriteFileAtomic(const std::string& path, const std::string& data, int mode) {
  fs::path p(path);
  std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::Unavailable("write " + tmp + ": " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::Unavailable("fsync " + tmp + ": " + err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::Unavailable("rename " + tmp + ": " + err);
  }
  int dfd = ::open(p.parent_path().empty() ? "." : p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Store::Store(std::string dir) : dir_(std::move(dir)) {}

std::string Store::PathOf(const std::string& kind, const std::string& name) const {
  return (fs::path(dir_) / "objects" / kind / (name + ".json")).string();
}

std::vector<std::string> Store::Load() {
  std::vector<std::string> problems;
  if (dir_.empty()) return problems;
  std::error_code ec;
  fs::path root = fs::path(dir_) / "objects";
  fs::create_directories(root, ec);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& kind : {"Workflow", "ModelProfile", "Infrastructure"}) {
    fs::create_directories(root / kind, ec);
    for (auto it = fs::directory_iterator(root / kind, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const auto& path = it->path();
      if (path.extension() != ".json" || path.filename().string()[0] == '.') continue;
      std::ifstream in(path);
      std::stringstream ss;
      ss << in.rdbuf();
      std::vector<Diagnostic> diags;
      auto obj = ObjectFromText(ss.str(), path.string(), &diags);
      if (!obj.ok()) {
        problems.push_back(path.string() + ": skipped, cannot be decoded: " + obj.status().message());
        continue;
      }
      if (KindOf(*obj) != kind || MetaOf(*obj).name + ".json" != path.filename().string()) {
        problems.push_back(path.string() + ": skipped, kind or name does not match the file");
        continue;
      }
      const auto& rv = MetaOf(*obj).resource_version;
      if (rv) version_ = std::max<uint64_t>(version_, std::strtoull(rv->c_str(), nullptr, 10));
      objects_[{kind, MetaOf(*obj).name}] = std::move(*obj);
    }
  }
  return problems;
}

Status Store::Persist(const Object& obj) {
  if (dir_.empty()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "objects" / KindOf(obj), ec);
  return WriteFileAtomic(PathOf(KindOf(obj), MetaOf(obj).name), ObjectToJson(obj, true) + "\n");
}

Status Store::Unpersist(const std::string& kind, const std::string& name) {
  if (dir_.empty()) return Status::Ok();
  if (::unlink(PathOf(kind, name).c_str()) != 0 && errno != ENOENT)
    return Status::Unavailable("unlink " + PathOf(kind, name) + ": " + std::strerror(errno));
  return Status::Ok();
}

StatusOr<Object> Store::Get(const std::string& kind, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find({kind, name});
  if (it == objects_.end()) return Status::NotFound(kind + " \"" + name + "\" not found");
  return it->second;
}

std::vector<Object> Store::List(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Object> out;
  for (const auto& [key, obj] : objects_)
    if (key.first == kind) out.push_back(obj);
  return out;
}

size_t Store::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_.size();
}

namespace {

bool SpecEqual(const Object& a, const Object& b) {
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T* y = std::get_if<T>(&b);
        return y != nullptr && x.spec == y->spec;
      },
      a);
}

}  // namespace

StatusOr<Object> Store::Put(Object obj) {
  const std::string kind = KindOf(obj), name = MetaOf(obj).name;
  Object stored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find({kind, name});
    ObjectMeta& meta = MetaOf(obj);
    if (it != objects_.end()) {
      const ObjectMeta& old = MetaOf(it->second);
      if (meta.resource_version && meta.resource_version != old.resource_version)
        return Status::Conflict(kind + " \"" + name + "\" was modified: resourceVersion " + *meta.resource_version +
                                " is stale (current " + old.resource_version.value_or("") + ")");
      if (old.deletion_timestamp) return Status::Conflict(kind + " \"" + name + "\" is being deleted");
      meta.generation = old.generation.value_or(1) + (SpecEqual(obj, it->second) ? 0 : 1);
      meta.finalizers = old.finalizers;
      // Status belongs to the controller: keep it.
      if (auto* wf = std::get_if<Workflow>(&obj)) wf->status = std::get<Workflow>(it->second).status;
    } else {
      if (meta.resource_version)
        return Status::NotFound(kind + " \"" + name + "\" does not exist, so resourceVersion cannot match");
      meta.generation = 1;
      meta.finalizers.clear();
      if (auto* wf = std::get_if<Workflow>(&obj)) {
        wf->status = WorkflowStatus{};
        meta.finalizers.push_back(kWorkersFinalizer);
      }
    }
    meta.deletion_timestamp.reset();
    meta.resource_version = std::to_string(++version_);
    if (auto s = Persist(obj); !s.ok()) return s;
    objects_[{kind, name}] = obj;
    stored = obj;
  }
  Notify(kind, name);
  return stored;
}

StatusOr<Object> Store::PutStatus(const std::string& name, const WorkflowStatus& status, const std::string& rv) {
  Object stored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find({"Workflow", name});
    if (it == objects_.end()) return Status::NotFound("Workflow \"" + name + "\" not found");
    Workflow wf = std::get<Workflow>(it->second);
    if (!rv.empty() && wf.metadata.resource_version != rv)
      return Status::Conflict("Workflow \"" + name + "\" was modified while reconciling");
    if (wf.status == status) return it->second;  // nothing to write
    wf.status = status;
    wf.metadata.resource_version = std::to_string(++version_);
    if (auto s = Persist(wf); !s.ok()) return s;
    it->second = wf;
    stored = wf;
  }
  return stored;  // status writes do not notify: the reconciler wrote them
}

StatusOr<Object> Store::Delete(const std::string& kind, const std::string& name) {
  Object result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find({kind, name});
    if (it == objects_.end()) return Status::NotFound(kind + " \"" + name + "\" not found");
    ObjectMeta& meta = MetaOf(it->second);
    if (!meta.finalizers.empty()) {
      if (!meta.deletion_timestamp) {
        Object marked = it->second;
        MetaOf(marked).deletion_timestamp = NowRfc3339();
        MetaOf(marked).resource_version = std::to_string(++version_);
        if (auto s = Persist(marked); !s.ok()) return s;
        it->second = marked;
      }
      result = it->second;
    } else {
      if (auto s = Unpersist(kind, name); !s.ok()) return s;
      result = it->second;
      objects_.erase(it);
    }
  }
  Notify(kind, name);
  return result;
}

Status Store::RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find({kind, name});
    if (it == objects_.end()) return Status::Ok();
    Object obj = it->second;
    auto& f = MetaOf(obj).finalizers;
    f.erase(std::remove(f.begin(), f.end(), finalizer), f.end());
    if (f.empty() && MetaOf(obj).deletion_timestamp) {
      if (auto s = Unpersist(kind, name); !s.ok()) return s;
      objects_.erase(it);
    } else {
      MetaOf(obj).resource_version = std::to_string(++version_);
      if (auto s = Persist(obj); !s.ok()) return s;
      it->second = obj;
    }
  }
  Notify(kind, name);
  return Status::Ok();
}

void Store::OnChange(std::function<void(const std::string&, const std::string&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.push_back(std::move(fn));
}

void Store::Notify(const std::string& kind, const std::string& name) {
  std::vector<std::function<void(const std::string&, const std::string&)>> w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    w = watchers_;
  }
  for (auto& fn : w) fn(kind, name);
}

}  // namespace jb
