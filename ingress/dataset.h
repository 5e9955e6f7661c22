// Dataset sources: a labelled data set replayed as items. The data set is a JSON-lines index, one
// object per line:
//
//   {"key": "img-001", "file": "images/001.jpg", "label": "cat"}
//   {"key": "q-17", "data": "What is 2+2?", "label": "4"}
//
//  - `key` (string, required, unique in the index): the item key; parts of dataset sources join by it.
//  - exactly one of `file` (a path relative to the index's directory; absolute paths and ".."
//    components are refused so a data set stays inside its directory) or `data` (inline text).
//  - `label` (optional): a string, or a number/boolean taken as its JSON text ("4", "true").
//  - Blank lines are skipped; other members are ignored.
// Every line is checked when the index is opened, so a broken index fails at once with
// "PATH:LINE: what was expected"; a `file` is read when its item is produced (a file missing or over
// the size limit then fails that item with PATH:LINE too).
// Thread-safety: a Dataset is immutable after Open and may be shared; a DatasetReader belongs to
// one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb::ingress {

struct DatasetLimits {
  size_t max_line_bytes = 1u << 20;    // one index line. Default 1 MiB.
  size_t max_item_bytes = 16u << 20;   // one item's data (inline or file). Default 16 MiB.
  size_t max_items = 1'000'000;        // lines with an item. Default 1 M.
  size_t max_key_bytes = 1024;         // Default 1 KiB.
  size_t max_label_bytes = 64u << 10;  // Default 64 KiB.
};

struct DatasetEntry {
  std::string key;
  std::optional<std::string> file;  // resolved path (index directory + relative path)
  std::string data;                 // inline data (when no file)
  std::optional<std::string> label;
  int line = 0;  // 1-based line in the index
};

struct DatasetItem {
  std::string key;
  std::string data;
  std::optional<std::string> label;
  uint64_t pass = 0;  // 0 for the first pass over the data set, 1 for the second (looping), ...
};

class Dataset {
 public:
  // Reads and checks the whole index. kNotFound when it cannot be opened; kInvalidArgument
  // "PATH:LINE: ..." for a bad line, a duplicate key, or too many items (PATH:LINE of the first
  // line over the limit); an index with no item is an error too.
  static StatusOr<std::shared_ptr<const Dataset>> Open(const std::string& index_path, DatasetLimits limits = {});

  const std::string& path() const { return path_; }
  const std::vector<DatasetEntry>& entries() const { return entries_; }
  const DatasetLimits& limits() const { return limits_; }
  // The entry's data: inline, or the file's content. kInvalidArgument "PATH:LINE: ..." when the
  // file cannot be read or is over max_item_bytes.
  StatusOr<std::string> ReadData(const DatasetEntry& e) const;

 private:
  std::string path_;
  DatasetLimits limits_;
  std::vector<DatasetEntry> entries_;
};

class DatasetReader {
 public:
  enum class Mode { kOnce, kLoop };
  // Shares the data set (a shared_ptr because several sources may replay the same data set).
  DatasetReader(std::shared_ptr<const Dataset> dataset, Mode mode) : ds_(std::move(dataset)), mode_(mode) {}

  // The next item in index order: a value, nullopt once a kOnce reader has produced every item,
  // or the item's read error (the reader then moves past that item).
  StatusOr<std::optional<DatasetItem>> Next();

 private:
  std::shared_ptr<const Dataset> ds_;
  Mode mode_;
  size_t next_ = 0;
  uint64_t pass_ = 0;
};

}  // namespace jb::ingress
