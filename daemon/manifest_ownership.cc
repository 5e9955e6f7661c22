#include "daemon/manifest_ownership.h"

#include <cstdint>
#include <cstdio>
#include <sstream>

#include "api/manifest.h"

namespace jb {

namespace {

bool IsServerAnnotation(const std::string& key) {
  return key == kManifestFileAnnotation || key == kManifestHashAnnotation;
}

std::string Annotation(const Object& obj, const char* key) {
  const auto& a = MetaOf(obj).annotations;
  auto it = a.find(key);
  return it == a.end() ? "" : it->second;
}

std::string Ref(const Object& obj) { return KindOf(obj) + "/" + MetaOf(obj).name; }

}  // namespace

std::string ManifestOwner(const Object& obj) { return Annotation(obj, kManifestFileAnnotation); }

std::string ManifestHash(const Object& obj) {
  Object view = UserView(obj);
  MetaOf(view).annotations.clear();  // the user's annotations are added below, the server's never
  std::string text = ObjectToJson(view);
  for (const auto& [k, v] : MetaOf(obj).annotations)
    if (!IsServerAnnotation(k)) text += "\n" + k + "=" + v;
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Status ClaimForApiWrite(const Object* current, Object* incoming, bool force, std::string* note) {
  note->clear();
  auto& mine = MetaOf(*incoming).annotations;
  for (auto it = mine.begin(); it != mine.end();) it = IsServerAnnotation(it->first) ? mine.erase(it) : std::next(it);
  if (current == nullptr) return Status::Ok();
  for (const auto& [k, v] : MetaOf(*current).annotations)
    if (IsServerAnnotation(k)) mine[k] = v;
  const std::string owner = ManifestOwner(*current);
  if (owner.empty()) return Status::Ok();
  if (!force)
    return Status::Conflict(Ref(*current) + " is owned by the manifest file " + owner +
                            " (applied from the watched manifest directory): edit that file, or apply with --force "
                            "(REST: ?force=true) to take the object over from it");
  mine.erase(kManifestFileAnnotation);
  *note = "took " + Ref(*current) + " over from the manifest file " + owner +
          ": the manifest directory no longer writes it until its document in that file changes";
  return Status::Ok();
}

FileWrite DecideFileWrite(const Object* current, Object* desired, const std::string& file) {
  auto& a = MetaOf(*desired).annotations;
  for (auto it = a.begin(); it != a.end();) it = IsServerAnnotation(it->first) ? a.erase(it) : std::next(it);
  const std::string hash = ManifestHash(*desired);
  a[kManifestFileAnnotation] = file;
  a[kManifestHashAnnotation] = hash;
  FileWrite out;
  if (current == nullptr) {
    out.write = true;
    return out;
  }
  const std::string owner = ManifestOwner(*current);
  if (owner == file) {
    // Ours: write only what differs (nothing after a restart or a re-scan).
    out.write = UserView(*current) != UserView(*desired) || MetaOf(*current).annotations != a;
    return out;
  }
  // The API's (taken over with --force, or created by `jbctl apply`) or another file's: kept while
  // this document is what the file last applied.
  if (Annotation(*current, kManifestHashAnnotation) == hash) return out;
  out.write = true;
  out.reclaim = owner.empty() ? "jbctl" : owner;
  return out;
}

bool ForceRequested(const std::string& query) {
  std::stringstream ss(query);
  std::string part;
  while (std::getline(ss, part, '&')) {
    if (part == "force" || part == "force=true" || part == "force=1" || part == "force=yes") return true;
  }
  return false;
}

}  // namespace jb
