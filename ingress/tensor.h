// Tensors of the Open Inference Protocol (KServe v2 / Triton HTTP), in one canonical form: the
// bytes the binary-data extension would carry (docs/oip-v2.md section 3). Fixed-size types are
// little-endian, row-major, no padding; BOOL is one byte 0/1; each BYTES element is a 4-byte
// little-endian length followed by its bytes. A tensor received as JSON `data` is converted to this
// form on parsing, so the rest of the system sees one representation whatever the client sent, and
// a response can be written as JSON or binary from the same tensor.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace jb::oip {

enum class Datatype {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBf16,
  kBytes
};

// "BOOL", "UINT8", ..., "BYTES" (the protocol's upper-case names).
const char* DatatypeName(Datatype t);
// The datatype of a protocol name; names are case-sensitive ("FP32", not "fp32"). nullopt if unknown.
std::optional<Datatype> ParseDatatype(std::string_view name);
// Bytes of one element: 1..8; 0 for BYTES (variable).
size_t ElementSize(Datatype t);
// The names of every datatype, comma-separated, for error messages.
const char* AllDatatypeNames();

struct Tensor {
  std::string name;
  Datatype datatype = Datatype::kBytes;
  std::vector<uint64_t> shape;
  std::string raw;        // canonical bytes (see top of file)
  uint64_t elements = 0;  // product of shape (number of strings for BYTES)
};

// Product of `shape` (1 for rank 0). Fails when the product exceeds `max` (overflow included).
StatusOr<uint64_t> ShapeElements(const std::vector<uint64_t>& shape, uint64_t max);

// "[1,4]"
std::string ShapeString(const std::vector<uint64_t>& shape);

// Appends one BYTES element (length prefix + bytes) to `raw`.
void AppendBytesElement(std::string_view element, std::string* raw);

// Splits canonical BYTES data into exactly `count` elements, each at most `max_element` bytes.
// The views point into `raw`. Fails (naming what was found) when the data is truncated, an element
// is too long, or bytes are left over.
StatusOr<std::vector<std::string_view>> SplitBytesElements(std::string_view raw, uint64_t count, size_t max_element);

// A BYTES tensor of shape [strings.size()].
Tensor BytesTensor(std::string name, const std::vector<std::string>& strings);

// A tensor whose canonical bytes are checked against datatype and shape (fixed-size: exactly
// elements * size; BYTES: exactly `elements` length-prefixed elements). For building responses
// from model answers.
StatusOr<Tensor> MakeTensor(std::string name, Datatype datatype, std::vector<uint64_t> shape, std::string raw);

}  // namespace jb::oip
