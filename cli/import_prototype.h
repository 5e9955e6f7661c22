// Converts the JellyBean prototype's optimizer input folder (libertyeagle/JellyBean,
// VQA/examples/optimizer_inputs/: header-less CSVs + JSON/YAML config) into our manifests.
// The cleaned copy with CSV headers (tests/data/vqa-medium) is accepted as well.
// Thread-safety: pure function of the folder's contents.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"

namespace jb {

struct ImportOptions {
  std::string workflow_name;        // default: the sink operator's name, lower-cased
  std::string infrastructure_name;  // default: the folder's base name
  std::string percentile = "p75";   // which profile the workflow plans with
};

struct ImportResult {
  Infrastructure infrastructure;
  std::vector<ModelProfile> profiles;
  Workflow workflow;
  std::vector<std::string> notes;  // assumptions made while converting (printed as comments)
};

// Errors name the file and line that could not be converted.
StatusOr<ImportResult> ImportPrototype(const std::string& dir, const ImportOptions& opts);

// Minimal CSV reader for the prototype's files: comma separated, no quoting, optional header
// (detected when the first cell of the first row equals `first_header`), trailing empty cells
// dropped (one shipped row has a stray trailing comma). Rows keep their 1-based line number.
struct CsvRow {
  int line = 0;
  std::vector<std::string> cells;
};
StatusOr<std::vector<CsvRow>> ReadPrototypeCsv(const std::string& path, const std::string& first_header);

}  // namespace jb
