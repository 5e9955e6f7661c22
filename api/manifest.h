// Manifests: decoding YAML/JSON documents into resources, encoding them back, and validating a
// set of documents (field-level checks from the Describe() lists plus cross-object checks:
// duplicate names, dangling references, cycles, runnable variants). Every problem becomes a
// Diagnostic "file:line:col: field.path: what was wrong and what was expected"; all problems are
// reported, not just the first. Nothing here throws.
// Thread-safety: free functions on values; no shared state.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "api/types.h"

namespace jb {

// One document of a manifest stream, after decoding.
struct Document {
  std::string file;                             // as given by the caller (shown in diagnostics)
  int index = 0;                                // position in its file's stream
  Mark start;                                   // first line of the document
  std::optional<Object> object;                 // set when the document decoded (it may still have semantic errors)
  std::vector<Diagnostic> diagnostics;          // at most kMaxDiagnostics (api/fields.h)
  size_t omitted_diagnostics = 0;               // problems found beyond those, only counted
  std::unordered_map<std::string, Mark> marks;  // field path -> position, for diagnostics

  bool ok() const { return object.has_value() && diagnostics.empty(); }
  // Adds a problem, or only counts it when `diagnostics` is full.
  void AddDiagnostic(Diagnostic d);
  // "Kind/name" when known, else "document N".
  std::string Describe() const;
  // Position of `path`, or of its nearest ancestor that has one.
  Mark MarkOf(const std::string& path) const;
};

// Decodes one parsed value; field-level problems go to `doc->diagnostics`.
void DecodeDocument(const Value& root, Document* doc);

// Parses and decodes every document in `text` (YAML or JSON).
std::vector<Document> DecodeText(const std::string& text, const std::string& file);

// Reads FILE, or every *.yaml/*.yml/*.json file of DIR (recursively, sorted by path).
// An unreadable path yields a Document carrying the error.
std::vector<Document> LoadPath(const std::string& path);

// LoadPath over every path, then ValidateSet over the union (references may cross files).
std::vector<Document> LoadAndValidate(const std::vector<std::string>& paths);

// Cross-object validation of a whole set: adds diagnostics to the documents concerned.
// References to a kind of which the set holds no object at all are not checked (validating one
// file alone must not fail because its neighbours are elsewhere).
void ValidateSet(std::vector<Document>* docs);

// What a user controls of an object: kind, name, labels and spec (server-set metadata and the
// status cleared). Two objects with equal views need no write; `jbctl diff` compares views.
Object UserView(Object obj);

// Object <-> Value. EncodeObject writes apiVersion and kind first.
Value EncodeObject(const Object& obj);
std::string ObjectToYaml(const Object& obj);
std::string ObjectToJson(const Object& obj, bool pretty = false);

// Decodes a single object from text (the REST body path). On failure returns the diagnostics, at
// most kMaxDiagnostics of them followed by one "... and N more errors" line when there were more.
StatusOr<Object> ObjectFromText(const std::string& text, const std::string& file, std::vector<Diagnostic>* diagnostics);

// Sorted "file:line:col: path: message" lines: the first kMaxDiagnostics of all the documents'
// problems, then one "... and N more errors" line when there were more. Every report of problems to
// a user (jbctl, the manifest watcher's log, conditions) goes through this cap.
std::vector<std::string> FormatDiagnostics(const std::vector<Document>& docs);

// "... and N more errors".
std::string MoreErrorsLine(size_t n);

// True when `name` satisfies kNameRule.
bool IsValidName(const std::string& name);

}  // namespace jb
