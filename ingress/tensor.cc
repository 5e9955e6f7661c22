#include "ingress/tensor.h"

#include <array>
#include <limits>
#include <utility>

namespace jb::oip {
namespace {

struct TypeInfo {
  Datatype type;
  const char* name;
  size_t size;
};

constexpr std::array<TypeInfo, 14> kTypes = {{
    {Datatype::kBool, "BOOL", 1},
    {Datatype::kUint8, "UINT8", 1},
    {Datatype::kUint16, "UINT16", 2},
    {Datatype::kUint32, "UINT32", 4},
    {Datatype::kUint64, "UINT64", 8},
    {Datatype::kInt8, "INT8", 1},
    {Datatype::kInt16, "INT16", 2},
    {Datatype::kInt32, "INT32", 4},
    {Datatype::kInt64, "INT64", 8},
    {Datatype::kFp16, "FP16", 2},
    {Datatype::kFp32, "FP32", 4},
    {Datatype::kFp64, "FP64", 8},
    {Datatype::kBf16, "BF16", 2},
    {Datatype::kBytes, "BYTES", 0},
}};

const TypeInfo& Info(Datatype t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i;
  }
  return kTypes.back();  // unreachable: every enumerator is in the table
}

uint32_t ReadU32Le(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3])) << 24;
}

}  // namespace

const char* DatatypeName(Datatype t) { return Info(t).name; }

std::optional<Datatype> ParseDatatype(std::string_view name) {
  for (const auto& i : kTypes) {
    if (name == i.name) return i.type;
  }
  return std::nullopt;
}

size_t ElementSize(Datatype t) { return Info(t).size; }

const char* AllDatatypeNames() {
  return "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES";
}

StatusOr<uint64_t> ShapeElements(const std::vector<uint64_t>& shape, uint64_t max) {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (d != 0 && n > max / d) {
      return Status::InvalidArgument("shape " + ShapeString(shape) + " has more than " + std::to_string(max) +
                                     " elements");
    }
    n *= d;
  }
  if (n > max) {
    return Status::InvalidArgument("shape " + ShapeString(shape) + " has more than " + std::to_string(max) +
                                   " elements");
  }
  return n;
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

void AppendBytesElement(std::string_view element, std::string* raw) {
  const auto n = static_cast<uint32_t>(element.size());
  for (int shift = 0; shift < 32; shift += 8) raw->push_back(static_cast<char>((n >> shift) & 0xffu));
  raw->append(element);
}

StatusOr<std::vector<std::string_view>> SplitBytesElements(std::string_view raw, uint64_t count, size_t max_element) {
  std::vector<std::string_view> out;
  size_t at = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (raw.size() - at < 4) {
      return Status::InvalidArgument("BYTES element " + std::to_string(i) + " of " + std::to_string(count) +
                                     ": its 4-byte length prefix is cut off after " + std::to_string(raw.size()) +
                                     " bytes");
    }
    const uint32_t len = ReadU32Le(raw, at);
    at += 4;
    if (len > max_element) {
      return Status::InvalidArgument("BYTES element " + std::to_string(i) + " is " + std::to_string(len) +
                                     " bytes, over the limit of " + std::to_string(max_element));
    }
    if (raw.size() - at < len) {
      return Status::InvalidArgument("BYTES element " + std::to_string(i) + " declares " + std::to_string(len) +
                                     " bytes but only " + std::to_string(raw.size() - at) + " remain");
    }
    out.push_back(raw.substr(at, len));
    at += len;
  }
  if (at != raw.size()) {
    return Status::InvalidArgument(std::to_string(raw.size() - at) + " bytes after the last of " +
                                   std::to_string(count) + " BYTES elements");
  }
  return out;
}

Tensor BytesTensor(std::string name, const std::vector<std::string>& strings) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = Datatype::kBytes;
  t.shape = {strings.size()};
  t.elements = strings.size();
  for (const auto& s : strings) AppendBytesElement(s, &t.raw);
  return t;
}

StatusOr<Tensor> MakeTensor(std::string name, Datatype datatype, std::vector<uint64_t> shape, std::string raw) {
  auto n = ShapeElements(shape, std::numeric_limits<uint64_t>::max());
  if (!n.ok()) return n.status();
  if (datatype == Datatype::kBytes) {
    auto split = SplitBytesElements(raw, *n, std::numeric_limits<uint32_t>::max());
    if (!split.ok()) return Status::InvalidArgument("tensor '" + name + "': " + split.status().message());
  } else if (*n > raw.size() || raw.size() != *n * ElementSize(datatype)) {
    return Status::InvalidArgument("tensor '" + name + "': " + std::string(DatatypeName(datatype)) + " shape " +
                                   ShapeString(shape) + " needs " + std::to_string(*n) + " elements of " +
                                   std::to_string(ElementSize(datatype)) + " bytes, got " + std::to_string(raw.size()) +
                                   " bytes");
  }
  Tensor t;
  t.name = std::move(name);
  t.datatype = datatype;
  t.shape = std::move(shape);
  t.raw = std::move(raw);
  t.elements = *n;
  return t;
}

}  // namespace jb::oip
