#include "reconciler/file_store.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/manifest.h"
#include "api/names.h"
#include "base/file.h"

namespace jb {

namespace fs = std::filesystem;

// "NAME.json". WriteFileAtomic's temp file ".NAME.json.tmp" must fit in NAME_MAX (255), so a name
// longer than kShortName (DNS-1123 allows 253) is split: "<first kShortName chars>_/<rest>.json".
// No name contains '_' and every file ends in ".json", so the two forms never collide.
constexpr size_t kShortName = 245;

namespace {

std::string PathOf(const std::string& dir, const std::string& kind, const std::string& name) {
  fs::path kind_dir = fs::path(dir) / "objects" / kind;
  if (name.size() <= kShortName) return (kind_dir / (name + ".json")).string();
  return (kind_dir / (name.substr(0, kShortName) + "_") / (name.substr(kShortName) + ".json")).string();
}

std::string CounterPath(const std::string& dir) { return (fs::path(dir) / "objects" / "resource-version").string(); }

// One file per object under DIR/objects/<Kind>/ and the reserved-versions counter, all written
// with WriteFileAtomic.
class FilePersistence : public StorePersistence {
 public:
  explicit FilePersistence(std::string dir) : dir_(std::move(dir)) {}

  Status Write(const Object& obj) override {
    const std::string path = PathOf(dir_, KindOf(obj), MetaOf(obj).name);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    std::string text = ObjectToJson(obj, true) + "\n";
    // Never acknowledge what the next start could not load back: the loader skips a file it
    // cannot decode, so such an object would vanish at the next restart.
    if (auto s = CheckReadsBack(text, path); !s.ok()) return s;
    return WriteFileAtomic(path, text);
  }

  Status Erase(const std::string& kind, const std::string& name) override {
    const std::string path = PathOf(dir_, kind, name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Status::Unavailable("unlink " + path + ": " + std::strerror(errno));
    if (name.size() > kShortName) ::rmdir(fs::path(path).parent_path().c_str());  // fails (harmlessly) when not empty
    return Status::Ok();
  }

  Status ReserveVersions(uint64_t upto) override {
    std::error_code ec;
    fs::create_directories(fs::path(dir_) / "objects", ec);
    return WriteFileAtomic(CounterPath(dir_), std::to_string(upto) + "\n");
  }

 private:
  const std::string dir_;
};

}  // namespace

FileStore::FileStore(std::string dir) : StoreCore(std::make_unique<FilePersistence>(dir)), dir_(std::move(dir)) {}

namespace {

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
  if (docs.size() != 1)
    return Status::InvalidArgument("expected exactly one document, found " + std::to_string(docs.size()));
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
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(text);
}

}  // namespace

// What Load gathers before handing it to StoreCore::Restore.
struct FileStore::Loaded {
  std::map<Key, Object> objects;
  uint64_t version = 0;  // the highest version seen (objects and counter)
  std::string refusal;   // a damaged counter: writes are refused with this message
  std::vector<std::string> problems;
};

std::vector<std::string> FileStore::Load() {
  Loaded loaded;
  std::error_code ec;
  fs::path root = fs::path(dir_) / "objects";
  fs::create_directories(root, ec);
  for (const auto& kind : {"Workflow", "ModelProfile", "Infrastructure"}) {
    fs::create_directories(root / kind, ec);
    // The kind's directory, and the "<prefix>_" directories of long names (see PathOf).
    std::vector<fs::path> dirs{root / kind};
    for (size_t i = 0; i < dirs.size(); ++i) {
      auto it = fs::directory_iterator(dirs[i], ec);
      for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string file = it->path().filename().string();
        std::error_code dec;
        if (i == 0 && file.back() == '_' && it->is_directory(dec))
          dirs.push_back(it->path());
        else
          LoadFile(kind, it->path(), &loaded);
      }
      if (ec)
        loaded.problems.push_back(dirs[i].string() + ": cannot be listed, objects in it not loaded: " + ec.message());
      ec.clear();
    }
  }
  LoadCounter(&loaded);
  Restore(std::move(loaded.objects), loaded.version, std::move(loaded.refusal));
  return std::move(loaded.problems);
}

void FileStore::LoadFile(const std::string& kind, const fs::path& path, Loaded* loaded) const {
  const std::string file = path.filename().string();
  auto skip = [&](const std::string& why) { loaded->problems.push_back(path.string() + ": skipped, " + why); };
  std::error_code ec;
  if (file.size() > 5 && file[0] == '.' && path.extension() == ".tmp") {
    // WriteFileAtomic's temp file: the write was interrupted before its rename, so the previous
    // version (if any) is still the object's file.
    skip("left over from an interrupted write (the object's previous version is kept); removed");
    fs::remove(path, ec);
    return;
  }
  if (!fs::is_regular_file(path, ec) || path.extension() != ".json")
    return skip("not an object file (expected NAME.json)");
  std::string warning;
  auto read = ReadFile(path.string());
  if (!read.ok()) return skip(read.status().message());
  const std::string& text = *read;
  auto obj = DecodeStored(text, path.string(), &warning);
  if (!obj.ok()) return skip("cannot be decoded: " + obj.status().message());
  const std::string& name = MetaOf(*obj).name;
  if (KindOf(*obj) != kind || PathOf(dir_, kind, name) != path.string())
    return skip("it holds " + KindOf(*obj) + "/" + name + ", which does not belong in this file");
  if (!warning.empty())
    spdlog::warn(
        "state: {}: loaded {}/{} although the current name rules refuse it ({}); it can be read and deleted, "
        "not updated: re-create it under a valid name",
        path.string(), kind, name, warning);
  const auto& rv = MetaOf(*obj).resource_version;
  if (rv) loaded->version = std::max<uint64_t>(loaded->version, std::strtoull(rv->c_str(), nullptr, 10));
  loaded->objects[{kind, name}] = std::move(*obj);
}

void FileStore::LoadCounter(Loaded* loaded) const {
  const std::string path = CounterPath(dir_);
  std::error_code ec;
  std::string& refusal = loaded->refusal;
  if (!fs::exists(path, ec) && !ec) {
    if (!loaded->objects.empty())
      spdlog::warn(
          "state: {} is missing (a state directory from before it existed, or removed): resourceVersions continue "
          "above the highest stored one, {}; versions of objects deleted earlier may be issued again",
          path, loaded->version);
  } else if (auto read = ReadFile(path); !read.ok()) {
    refusal =
        read.status().message() +
        ": it holds the highest resourceVersion ever issued, so the store refuses writes rather than issue one again; "
        "make it readable and restart";
  } else if (auto n = ParseCounter(*read)) {
    loaded->version = std::max(loaded->version, *n);
  } else {
    refusal = path +
              ": corrupt (expected a decimal number): it holds the highest resourceVersion ever issued, so the "
              "store refuses writes rather than issue one again; write a number at least as high as any version "
              "clients may hold, or remove the file to continue above the highest stored version (" +
              std::to_string(loaded->version) + "), and restart";
  }
  if (!refusal.empty()) loaded->problems.push_back(refusal);
}

}  // namespace jb
