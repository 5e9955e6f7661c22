// Who owns an object: the manifest file it was applied from (daemon/manifest_watcher.h), or the
// REST API (`jbctl apply`). Two server-set annotations say it:
//   jellybean.dev/manifest-file  absolute path of the owning file; absent when the API owns it
//   jellybean.dev/manifest-hash  hash of the object's document as its file last applied it
//                                (kept when the API takes the object over)
// The rule (issue 18, "one source of truth"):
//  - A REST write (PUT, `jbctl apply`) to an object a file owns is refused (kConflict, 409) with a
//    message naming the file, unless forced (`?force=true`, `jbctl apply --force`): then the API
//    owns the object from that write on (the file annotation is removed) and the message says so.
//  - The watcher writes an object only when its document in the file changed since the file last
//    applied it (the hash differs), or when the object does not exist. So an object the API took
//    over stays as the API wrote it through restarts, SIGHUP and edits of other documents; editing
//    that object's own document in the file is a deliberate statement and gives it back to the file.
//  - Clients cannot set or clear the jellybean.dev/ annotations: a REST write keeps the stored ones.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "api/types.h"
#include "base/status.h"

namespace jb {

inline constexpr const char* kManifestFileAnnotation = "jellybean.dev/manifest-file";
inline constexpr const char* kManifestHashAnnotation = "jellybean.dev/manifest-hash";

// The file that owns `obj` ("" when the API does).
std::string ManifestOwner(const Object& obj);

// A hash of what a user controls of `obj` (kind, name, labels, spec, annotations other than the
// server's), 16 hex digits, stable across builds and restarts (FNV-1a 64 over its JSON).
std::string ManifestHash(const Object& obj);

// A REST write of `*incoming` over `current` (nullptr when the object does not exist). Refuses
// (kConflict) a write to an object owned by a file unless `force`. On success the server's
// annotations of `*incoming` are those of `current`, without the file one when forced; `*note` is
// the sentence saying that ownership moved ("" when it did not).
Status ClaimForApiWrite(const Object* current, Object* incoming, bool force, std::string* note);

// What the watcher does with `desired`, the document of `file` (absolute path) for an object whose
// stored version is `current` (nullptr: none).
struct FileWrite {
  bool write = false;   // put `desired` (with the annotations MarkFromFile set)
  std::string reclaim;  // when writing takes the object back: its owner until now ("jbctl" for the API)
};
// Sets `*desired`'s server annotations for `file`, then decides.
FileWrite DecideFileWrite(const Object* current, Object* desired, const std::string& file);

// "true" for `force=true` (also "1", "yes") in a raw query string such as "a=b&force=true".
bool ForceRequested(const std::string& query);

}  // namespace jb
