#include "ingress/dataset.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "ingress/json_util.h"

namespace jb::ingress {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Reads one line (without its '\n') of at most `max` bytes. nullopt at end of input; sets
// *too_long when the line is longer (the rest of the line is skipped).
std::optional<std::string> ReadLine(std::streambuf* sb, size_t max, bool* too_long) {
  std::string line;
  *too_long = false;
  int c = sb->sbumpc();
  if (c == std::char_traits<char>::eof()) return std::nullopt;
  while (c != std::char_traits<char>::eof() && c != '\n') {
    if (line.size() < max) {
      line.push_back(static_cast<char>(c));
    } else {
      *too_long = true;
    }
    c = sb->sbumpc();
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

bool Blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

Status CheckRelative(const std::string& file) {
  const fs::path p(file);
  if (file.empty()) return Status::InvalidArgument("\"file\" is empty");
  if (p.is_absolute())
    return Status::InvalidArgument("\"file\" is absolute ('" + Excerpt(file, 64) +
                                   "'), expected a path relative to the index");
  for (const auto& part : p) {
    if (part == "..")
      return Status::InvalidArgument("\"file\" ('" + Excerpt(file, 64) + "') leaves the index's directory (\"..\")");
  }
  return Status::Ok();
}

StatusOr<DatasetEntry> ParseEntry(const std::string& line, const fs::path& dir, const DatasetLimits& limits) {
  auto doc = oip::ParseJsonBounded(line, 8, 4096);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object())
    return Status::InvalidArgument("the line is " + oip::JsonKind(*doc) + ", expected a JSON object");
  DatasetEntry e;
  auto key = oip::RequiredString(*doc, "key", "the item", limits.max_key_bytes);
  if (!key.ok()) return key.status();
  e.key = *key;
  const json* file = oip::Member(*doc, "file");
  const json* data = oip::Member(*doc, "data");
  if ((file != nullptr) == (data != nullptr)) {
    return Status::InvalidArgument(
        "item '" + e.key + "': set exactly one of \"file\" (a path relative to the index) or \"data\" (inline text)");
  }
  if (file) {
    if (!file->is_string())
      return Status::InvalidArgument("item '" + e.key + "': \"file\" is " + oip::JsonKind(*file) +
                                     ", expected a string");
    Status s = CheckRelative(file->get<std::string>());
    if (!s.ok()) return Status::InvalidArgument("item '" + e.key + "': " + s.message());
    e.file = (dir / file->get<std::string>()).string();
  } else {
    if (!data->is_string())
      return Status::InvalidArgument("item '" + e.key + "': \"data\" is " + oip::JsonKind(*data) +
                                     ", expected a string");
    e.data = data->get<std::string>();
    if (e.data.size() > limits.max_item_bytes) {
      return Status::InvalidArgument("item '" + e.key + "': \"data\" is " + std::to_string(e.data.size()) +
                                     " bytes, over the limit of " + std::to_string(limits.max_item_bytes));
    }
  }
  if (const json* label = oip::Member(*doc, "label")) {
    if (label->is_string()) {
      e.label = label->get<std::string>();
    } else if (label->is_number() || label->is_boolean()) {
      e.label = label->dump();
    } else {
      return Status::InvalidArgument("item '" + e.key + "': \"label\" is " + oip::JsonKind(*label) +
                                     ", expected a string, number or boolean");
    }
    if (e.label->size() > limits.max_label_bytes) {
      return Status::InvalidArgument("item '" + e.key + "': \"label\" is over the limit of " +
                                     std::to_string(limits.max_label_bytes) + " bytes");
    }
  }
  return e;
}

}  // namespace

StatusOr<std::shared_ptr<const Dataset>> Dataset::Open(const std::string& index_path, DatasetLimits limits) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) return Status::NotFound("dataset index " + index_path + " cannot be opened");
  auto ds = std::make_shared<Dataset>();
  ds->path_ = index_path;
  ds->limits_ = limits;
  const fs::path dir = fs::path(index_path).parent_path();
  std::set<std::string> keys;
  int line_no = 0;
  bool too_long = false;
  while (auto line = ReadLine(in.rdbuf(), limits.max_line_bytes, &too_long)) {
    ++line_no;
    const std::string at = index_path + ":" + std::to_string(line_no) + ": ";
    if (too_long)
      return Status::InvalidArgument(at + "line is over the limit of " + std::to_string(limits.max_line_bytes) +
                                     " bytes");
    if (Blank(*line)) continue;
    if (ds->entries_.size() >= limits.max_items) {
      return Status::InvalidArgument(at + "more than " + std::to_string(limits.max_items) + " items");
    }
    auto e = ParseEntry(*line, dir, limits);
    if (!e.ok()) return Status::InvalidArgument(at + e.status().message());
    if (!keys.insert(e->key).second)
      return Status::InvalidArgument(at + "key '" + e->key +
                                     "' appears twice (keys join parts, so they must be unique)");
    e->line = line_no;
    ds->entries_.push_back(std::move(*e));
  }
  if (in.bad()) return Status::Unavailable("dataset index " + index_path + ": read error");
  if (ds->entries_.empty()) return Status::InvalidArgument(index_path + ": no items");
  return std::shared_ptr<const Dataset>(std::move(ds));
}

StatusOr<std::string> Dataset::ReadData(const DatasetEntry& e) const {
  if (!e.file) return e.data;
  const std::string at = path_ + ":" + std::to_string(e.line) + ": item '" + e.key + "': ";
  std::error_code ec;
  const auto size = fs::file_size(*e.file, ec);
  if (ec) return Status::InvalidArgument(at + "file " + *e.file + " cannot be read: " + ec.message());
  if (size > limits_.max_item_bytes) {
    return Status::InvalidArgument(at + "file " + *e.file + " is " + std::to_string(size) +
                                   " bytes, over the limit of " + std::to_string(limits_.max_item_bytes));
  }
  std::ifstream f(*e.file, std::ios::binary);
  if (!f) return Status::InvalidArgument(at + "file " + *e.file + " cannot be opened");
  std::string data(static_cast<size_t>(size), '\0');
  f.read(data.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(f.gcount()) != size)
    return Status::InvalidArgument(at + "file " + *e.file + " changed while being read");
  return data;
}

StatusOr<std::optional<DatasetItem>> DatasetReader::Next() {
  const auto& entries = ds_->entries();
  if (next_ == entries.size()) {
    if (mode_ == Mode::kOnce) return std::optional<DatasetItem>();
    next_ = 0;
    ++pass_;
  }
  const DatasetEntry& e = entries[next_++];
  auto data = ds_->ReadData(e);
  if (!data.ok()) return data.status();
  return std::optional<DatasetItem>(DatasetItem{e.key, std::move(*data), e.label, pass_});
}

}  // namespace jb::ingress
