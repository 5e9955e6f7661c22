#include "api/manifest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "api/names.h"
#include "base/file.h"

namespace jb {

namespace fs = std::filesystem;

std::string Diagnostic::ToString() const {
  std::string s = file;
  if (mark.known()) s += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  s += ": ";
  if (!path.empty()) s += path + ": ";
  return s + message;
}

const ObjectMeta& MetaOf(const Object& o) {
  return std::visit([](const auto& x) -> const ObjectMeta& { return x.metadata; }, o);
}
ObjectMeta& MetaOf(Object& o) {
  return std::visit([](auto& x) -> ObjectMeta& { return x.metadata; }, o);
}
std::string KindOf(const Object& o) {
  return std::visit([](const auto& x) -> std::string { return std::decay_t<decltype(x)>::kKind; }, o);
}

bool IsValidName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return name != "." && name != "..";
}

void Document::AddDiagnostic(Diagnostic d) {
  if (diagnostics.size() >= kMaxDiagnostics) {
    ++omitted_diagnostics;
    return;
  }
  diagnostics.push_back(std::move(d));
}

std::string MoreErrorsLine(size_t n) { return "... and " + std::to_string(n) + " more error" + (n == 1 ? "" : "s"); }

std::string Document::Describe() const {
  if (object) return KindOf(*object) + "/" + MetaOf(*object).name;
  return "document " + std::to_string(index + 1);
}

Mark Document::MarkOf(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = marks.find(p);
    if (it != marks.end()) return it->second;
    auto cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p = p.substr(0, cut);
  }
  auto it = marks.find("");
  return it != marks.end() ? it->second : start;
}

namespace {

template <class T>
Object DecodeAs(const Value& root, Decoder& dec) {
  T obj{};
  dec.DecodeInto(root, obj, "");
  return obj;
}

}  // namespace

void DecodeDocument(const Value& root, Document* doc) {
  doc->marks[""] = root.mark().known() ? root.mark() : doc->start;
  if (!root.is_map()) {
    doc->AddDiagnostic(Diagnostic{doc->file, doc->MarkOf(""), "",
                                  std::string("document is a ") + Value::KindName(root.kind()) +
                                      "; expected a mapping with apiVersion, kind, metadata and spec"});
    return;
  }
  const Value* api = root.Find("apiVersion");
  const Value* kind = root.Find("kind");
  if (api == nullptr) {
    doc->AddDiagnostic(Diagnostic{doc->file, root.mark(), "apiVersion",
                                  std::string("missing required field; expected ") + kApiVersion});
  } else if (!api->is_string() || api->as_string() != kApiVersion) {
    doc->AddDiagnostic(Diagnostic{doc->file, api->mark(), "apiVersion",
                                  "\"" + Excerpt(api->is_string() ? api->as_string() : ToJson(*api)) +
                                      "\" is not supported; expected " + kApiVersion});
  }
  static const char* kKinds = "Workflow, ModelProfile, Infrastructure";
  if (kind == nullptr) {
    doc->AddDiagnostic(
        Diagnostic{doc->file, root.mark(), "kind", std::string("missing required field; expected one of ") + kKinds});
    return;
  }
  std::string k = kind->is_string() ? kind->as_string() : "";
  if (k != "Workflow" && k != "ModelProfile" && k != "Infrastructure") {
    doc->AddDiagnostic(Diagnostic{
        doc->file, kind->mark(), "kind",
        "\"" + Excerpt(kind->is_string() ? k : ToJson(*kind)) + "\" is not a known kind; expected one of " + kKinds});
    return;
  }
  // Decode the rest as the kind's struct; apiVersion/kind are handled above, so strip them.
  Value body = Value::Map();
  body.set_mark(root.mark());
  for (const auto& e : root.entries()) {
    if (e.key == "apiVersion" || e.key == "kind") continue;
    body.entries().push_back(e);
    // Kubernetes tools send metadata.managedFields (server-side apply bookkeeping): ignored.
    if (e.key == "metadata" && e.value.is_map()) {
      auto& meta = body.entries().back().value.entries();
      meta.erase(
          std::remove_if(meta.begin(), meta.end(), [](const Value::Entry& m) { return m.key == "managedFields"; }),
          meta.end());
    }
  }
  Decoder dec(doc->file, &doc->diagnostics, &doc->marks);
  Object obj;
  if (k == "Workflow") {
    obj = DecodeAs<Workflow>(body, dec);
  } else if (k == "ModelProfile") {
    obj = DecodeAs<ModelProfile>(body, dec);
  } else {
    obj = DecodeAs<Infrastructure>(body, dec);
  }
  doc->omitted_diagnostics += dec.omitted();
  doc->marks[""] = root.mark().known() ? root.mark() : doc->start;
  // Kept even with a bad apiVersion so that reference checks still see the object; its diagnostics
  // mark the document as failed.
  doc->object = std::move(obj);
}

std::vector<Document> DecodeText(const std::string& text, const std::string& file) {
  std::vector<Document> out;
  for (auto& pd : ParseYamlStream(text)) {
    Document d;
    d.file = file;
    d.index = pd.index;
    d.start = pd.start;
    if (!pd.error.ok()) {
      d.AddDiagnostic(Diagnostic{file, pd.error_mark, "", pd.error.message()});
    } else {
      DecodeDocument(pd.root, &d);
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Document> LoadPath(const std::string& path) {
  std::vector<Document> docs;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      auto ext = it->path().extension().string();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    auto text = ReadFile(f);
    if (!text.ok()) {
      Document d;
      d.file = f;
      d.AddDiagnostic(Diagnostic{f, Mark{}, "", text.status().message()});
      docs.push_back(std::move(d));
      continue;
    }
    auto part = DecodeText(*text, f);
    for (auto& d : part) docs.push_back(std::move(d));
  }
  return docs;
}

std::vector<Document> LoadAndValidate(const std::vector<std::string>& paths) {
  std::vector<Document> docs;
  for (const auto& p : paths)
    for (auto& d : LoadPath(p)) docs.push_back(std::move(d));
  ValidateSet(&docs);
  return docs;
}

Object UserView(Object obj) {
  ObjectMeta& m = MetaOf(obj);
  ObjectMeta user;
  user.name = m.name;
  user.labels = m.labels;
  user.annotations = m.annotations;
  m = user;
  if (auto* wf = std::get_if<Workflow>(&obj)) wf->status = WorkflowStatus{};
  return obj;
}

Value EncodeObject(const Object& obj) {
  Value body = std::visit([](const auto& x) { return Encoder::Encode(x); }, obj);
  Value out = Value::Map();
  out.Set("apiVersion", Value::String(kApiVersion));
  out.Set("kind", Value::String(KindOf(obj)));
  for (auto& e : body.entries()) out.entries().push_back(std::move(e));
  return out;
}

std::string ObjectToYaml(const Object& obj) { return ToYaml(EncodeObject(obj)); }
std::string ObjectToJson(const Object& obj, bool pretty) { return ToJson(EncodeObject(obj), pretty); }

StatusOr<Object> ObjectFromText(const std::string& text, const std::string& file,
                                std::vector<Diagnostic>* diagnostics) {
  auto docs = DecodeText(text, file);
  if (docs.size() != 1) {
    diagnostics->push_back(
        Diagnostic{file, Mark{}, "", "expected exactly one document, found " + std::to_string(docs.size())});
    return Status::InvalidArgument(diagnostics->back().ToString());
  }
  auto& d = docs[0];
  if (d.object) {
    std::vector<Document> one;
    one.push_back(d);
    ValidateSet(&one);
    d = std::move(one[0]);
  }
  for (auto& diag : d.diagnostics) diagnostics->push_back(diag);
  if (d.omitted_diagnostics > 0)
    diagnostics->push_back(Diagnostic{file, Mark{}, "", MoreErrorsLine(d.omitted_diagnostics)});
  if (!d.ok()) {
    std::string msg;
    for (const auto& diag : *diagnostics) msg += (msg.empty() ? "" : "\n") + diag.ToString();
    return Status::InvalidArgument(msg);
  }
  return std::move(*d.object);
}

std::vector<std::string> FormatDiagnostics(const std::vector<Document>& docs) {
  std::vector<const Diagnostic*> all;
  size_t omitted = 0;
  for (const auto& d : docs) {
    for (const auto& diag : d.diagnostics) all.push_back(&diag);
    omitted += d.omitted_diagnostics;
  }
  std::stable_sort(all.begin(), all.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return std::tie(a->file, a->mark.line, a->mark.column) < std::tie(b->file, b->mark.line, b->mark.column);
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < all.size() && i < kMaxDiagnostics; ++i) out.push_back(all[i]->ToString());
  if (all.size() > kMaxDiagnostics) omitted += all.size() - kMaxDiagnostics;
  if (omitted > 0) out.push_back(MoreErrorsLine(omitted));
  return out;
}

}  // namespace jb
