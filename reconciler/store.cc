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

#include <spdlog/spdlog.h>

#include "api/manifest.h"
#include "api/names.h"

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

// "NAME.json". WriteFileAtomic's temp file ".NAME.json.tmp" must fit in NAME_MAX (255), so a name
// longer than kShortName (DNS-1123 allows 253) is split: "<first kShortName chars>_/<rest>.json".
// No name contains '_' and every file ends in ".json", so the two forms never collide.
constexpr size_t kShortName = 245;

std::string Store::PathOf(const std::string& kind, const std::string& name) const {
  fs::path dir = fs::path(dir_) / "objects" / kind;
  if (name.size() <= kShortName) return (dir / (name + ".json")).string();
  return (dir / (name.substr(0, kShortName) + "_") / (name.substr(kShortName) + ".json")).string();
}

std::string Store::CounterPath() const { return (fs::path(dir_) / "objects" / "resource-version").string(); }

namespace {

bool ReadWholeFile(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

// Name diagnostics that an earlier version did not make: the name passes the rule of the time
// (IsValidName) but not the DNS-1123 rule of today. Such an object was acknowledged and stored;
// dropping it at load would lose it (and orphan its workers), so it is loaded with a warning.
bool IsLegacyNameDiagnostic(const Object& obj, const Diagnostic& d) {
  auto legacy = [&](const std::string& name, const std::string& why) {
    return IsValidName(name) && !why.empty() && d.message.rfind("\"" + name + "\" is not a valid name", 0) == 0;
  };
  const std::string& name = MetaOf(obj).name;
  if (d.path == "metadata.name") return legacy(name, IsDns1123Subdomain(name));
  if (const auto* inf = std::get_if<Infrastructure>(&obj)) {
    for (size_t i = 0; i < inf->spec.tiers.size(); ++i)
      if (d.path == "spec.tiers[" + std::to_string(i) + "].name")
        return legacy(inf->spec.tiers[i].name, IsDns1123Label(inf->spec.tiers[i].name));
    for (size_t i = 0; i < inf->spec.nodes.size(); ++i)
      if (d.path == "spec.nodes[" + std::to_string(i) + "].name")
        return legacy(inf->spec.nodes[i].name, IsDns1123Label(inf->spec.nodes[i].name));
  }
  return false;
}

// Decodes and validates one stored object. On success `*warning` lists the legacy-name
// diagnostics that were tolerated (empty when none); on failure the status says why.
StatusOr<Object> DecodeStored(const std::string& text, const std::string& file, std::string* warning) {
  auto docs = DecodeText(text, file);
  if (docs.size() != 1) return Status::InvalidArgument("expected exactly one document, found " + std::to_string(docs.size()));
  ValidateSet(&docs);
  Document& d = docs[0];
  std::string errors;
  for (const auto& diag : d.diagnostics) {
    if (d.object && IsLegacyNameDiagnostic(*d.object, diag))
      *warning += (warning->empty() ? "" : "; ") + diag.path + ": " + diag.message;
    else
      errors += (errors.empty() ? "" : "; ") + diag.ToString();
  }
  if (!d.object || !errors.empty()) return Status::InvalidArgument(errors.empty() ? "no object" : errors);
  return std::move(*d.object);
}

// A decimal number and nothing else (but a final newline): anything else is a damaged counter.
std::optional<uint64_t> ParseCounter(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(text);
}

}  // namespace

std::vector<std::string> Store::Load() {
  std::vector<std::string> problems;
  if (dir_.empty()) return problems;
  std::error_code ec;
  fs::path root = fs::path(dir_) / "objects";
  fs::create_directories(root, ec);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& kind : {"Workflow", "ModelProfile", "Infrastructure"}) {
    fs::create_directories(root / kind, ec);
    // The kind's directory, and the "<prefix>_" directories of long names (see PathOf).
    std::vector<fs::path> dirs{root / kind};
    for (size_t i = 0; i < dirs.size(); ++i) {
      auto it = fs::directory_iterator(dirs[i], ec);
      for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string file = it->path().filename().string();
        std::error_code dec;
        if (i == 0 && file.back() == '_' && it->is_directory(dec)) dirs.push_back(it->path());
        else LoadFile(kind, it->path(), &problems);
      }
      if (ec) problems.push_back(dirs[i].string() + ": cannot be listed, objects in it not loaded: " + ec.message());
      ec.clear();
    }
  }
  LoadCounter(!objects_.empty(), &problems);
  return problems;
}

void Store::LoadFile(const std::string& kind, const fs::path& path, std::vector<std::string>* problems) {
  const std::string file = path.filename().string();
  auto skip = [&](const std::string& why) { problems->push_back(path.string() + ": skipped, " + why); };
  std::error_code ec;
  if (file.size() > 5 && file[0] == '.' && path.extension() == ".tmp") {
    // WriteFileAtomic's temp file: the write was interrupted before its rename, so the previous
    // version (if any) is still the object's file.
    skip("left over from an interrupted write (the object's previous version is kept); removed");
    fs::remove(path, ec);
    return;
  }
  if (!fs::is_regular_file(path, ec) || path.extension() != ".json") return skip("not an object file (expected NAME.json)");
  std::string text, warning;
  if (!ReadWholeFile(path, &text)) return skip(std::string("cannot be read: ") + std::strerror(errno));
  auto obj = DecodeStored(text, path.string(), &warning);
  if (!obj.ok()) return skip("cannot be decoded: " + obj.status().message());
  const std::string& name = MetaOf(*obj).name;
  if (KindOf(*obj) != kind || PathOf(kind, name) != path.string())
    return skip("it holds " + KindOf(*obj) + "/" + name + ", which does not belong in this file");
  if (!warning.empty())
    spdlog::warn("state: {}: loaded {}/{} although the current name rules refuse it ({}); it can be read and deleted, "
                 "not updated: re-create it under a valid name",
                 path.string(), kind, name, warning);
  const auto& rv = MetaOf(*obj).resource_version;
  if (rv) version_ = std::max<uint64_t>(version_, std::strtoull(rv->c_str(), nullptr, 10));
  objects_[{kind, name}] = std::move(*obj);
}

void Store::LoadCounter(bool any_objects, std::vector<std::string>* problems) {
  const std::string path = CounterPath();
  std::string text;
  std::error_code ec;
  if (!fs::exists(path, ec) && !ec) {
    if (any_objects)
      spdlog::warn("state: {} is missing (a state directory from before it existed, or removed): resourceVersions continue "
                   "above the highest stored one, {}; versions of objects deleted earlier may be issued again",
                   path, version_);
  } else if (!ReadWholeFile(path, &text)) {
    counter_error_ = path + ": cannot be read (" + std::strerror(errno) +
                     "): it holds the highest resourceVersion ever issued, so the store refuses writes rather than issue one again; "
                     "make it readable and restart";
  } else if (auto n = ParseCounter(text)) {
    version_ = std::max(version_, *n);
  } else {
    counter_error_ = path + ": corrupt (expected a decimal number): it holds the highest resourceVersion ever issued, so the "
                     "store refuses writes rather than issue one again; write a number at least as high as any version "
                     "clients may hold, or remove the file to continue above the highest stored version (" +
                     std::to_string(version_) + "), and restart";
  }
  if (!counter_error_.empty()) problems->push_back(counter_error_);
  // The next write reserves a fresh block above everything seen.
  reserved_ = version_;
}

StatusOr<std::string> Store::NextVersion() {
  if (!counter_error_.empty()) return Status::Unavailable(counter_error_);
  if (!dir_.empty() && version_ >= reserved_) {
    const uint64_t upto = version_ + kVersionBlock;
    std::error_code ec;
    fs::create_directories(fs::path(dir_) / "objects", ec);
    if (auto s = WriteFileAtomic(CounterPath(), std::to_string(upto) + "\n"); !s.ok())
      return Status::Unavailable("cannot reserve resourceVersions: " + s.message());
    reserved_ = upto;
  }
  return std::to_string(++version_);
}

Status Store::Persist(const Object& obj) {
  if (dir_.empty()) return Status::Ok();
  const std::string path = PathOf(KindOf(obj), MetaOf(obj).name);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  return WriteFileAtomic(path, ObjectToJson(obj, true) + "\n");
}

Status Store::Unpersist(const std::string& kind, const std::string& name) {
  if (dir_.empty()) return Status::Ok();
  const std::string path = PathOf(kind, name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::Unavailable("unlink " + path + ": " + std::strerror(errno));
  if (name.size() > kShortName) ::rmdir(fs::path(path).parent_path().c_str());  // fails (harmlessly) when not empty
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
  // The decoder checks names too; the store checks again because it must never acknowledge an
  // object it could not load back (a dotfile, a path with '/').
  if (std::string why = IsDns1123Subdomain(name); !why.empty())
    return Status::InvalidArgument(kind + " name \"" + name + "\" is not a valid name: it " + why);
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
    auto rv = NextVersion();
    if (!rv.ok()) return rv.status();
    meta.resource_version = *rv;
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
    auto next = NextVersion();
    if (!next.ok()) return next.status();
    wf.metadata.resource_version = *next;
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
        auto rv = NextVersion();
        if (!rv.ok()) return rv.status();
        MetaOf(marked).resource_version = *rv;
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
      auto rv = NextVersion();
      if (!rv.ok()) return rv.status();
      MetaOf(obj).resource_version = *rv;
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
