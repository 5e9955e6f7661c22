// Fuzz target: the manifest decoder on untrusted text, both ways it is reached.
//  - `jbctl validate` and the manifest directory watcher: DecodeText, ValidateSet, FormatDiagnostics.
//  - The REST server's PUT/POST body: ObjectFromText.
// Property checked beyond "no crash, no sanitizer report": an object the server accepts must read
// back as the same object from every form it is written in (the store's pretty JSON, the REST
// replies' compact JSON, `jbctl get -o yaml`); otherwise an acknowledged write is lost or changed
// at the next restart.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "fuzz/fuzz_check.h"

namespace {

void CheckReadsBack(const jb::Object& obj, const std::string& text, const char* form) {
  std::vector<jb::Diagnostic> diags;
  auto back = jb::ObjectFromText(text, "round trip", &diags);
  if (!back.ok())
    jb::fuzz::Fail(std::string("accepted object does not read back from ") + form + ": " + back.status().message() +
                   "\n--- text:\n" + text);
  jb::fuzz::Check(*back == obj,
                  std::string("accepted object reads back different from ") + form + "\n--- text:\n" + text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  auto docs = jb::DecodeText(text, "fuzz.yaml");
  jb::ValidateSet(&docs);
  for (const auto& d : docs) {
    (void)d.Describe();
    for (const auto& diag : d.diagnostics) (void)d.MarkOf(diag.path);
  }
  (void)jb::FormatDiagnostics(docs);

  std::vector<jb::Diagnostic> diags;
  auto obj = jb::ObjectFromText(text, "request body", &diags);
  if (!obj.ok()) return 0;
  jb::fuzz::Check(jb::IsValidName(jb::MetaOf(*obj).name),
                  "accepted object with an invalid name \"" + jb::MetaOf(*obj).name + "\"");
  CheckReadsBack(*obj, jb::ObjectToJson(*obj, /*pretty=*/true), "pretty JSON (the store)");
  CheckReadsBack(*obj, jb::ObjectToJson(*obj), "compact JSON (REST replies)");
  CheckReadsBack(*obj, jb::ObjectToYaml(*obj), "YAML (jbctl get -o yaml)");
  return 0;
}
