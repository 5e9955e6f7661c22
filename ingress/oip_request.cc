#include "ingress/oip_request.h"

#include <cfloat>
#include <charconv>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "ingress/json_util.h"

namespace jb::oip {
namespace {

using nlohmann::json;

Status Bad(const std::string& m) { return Status::InvalidArgument(m); }

std::string InputLabel(const std::string& name) { return "input '" + Excerpt(name, 64) + "'"; }

void AppendLe(uint64_t bits, size_t n, std::string* out) {
  for (size_t i = 0; i < n; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xffu));
}

// Converts one JSON scalar of input `label` to its canonical bytes.
Status AppendElement(const json& v, Datatype t, const std::string& label, uint64_t index, size_t max_string,
                     std::string* raw) {
  const std::string where = label + ": data element " + std::to_string(index);
  const char* want = DatatypeName(t);
  switch (t) {
    case Datatype::kBool:
      if (!v.is_boolean()) return Bad(where + " is " + JsonKind(v) + ", expected true or false for BOOL");
      raw->push_back(v.get<bool>() ? 1 : 0);
      return Status::Ok();
    case Datatype::kBytes: {
      if (!v.is_string()) return Bad(where + " is " + JsonKind(v) + ", expected a string for BYTES");
      const auto& s = v.get_ref<const std::string&>();
      if (s.size() > max_string) {
        return Bad(where + " is " + std::to_string(s.size()) + " bytes, over the limit of " +
                   std::to_string(max_string));
      }
      AppendBytesElement(s, raw);
      return Status::Ok();
    }
    case Datatype::kFp32:
    case Datatype::kFp64: {
      if (!v.is_number()) return Bad(where + " is " + JsonKind(v) + ", expected a number for " + want);
      const double d = v.get<double>();
      if (t == Datatype::kFp64) {
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        AppendLe(bits, 8, raw);
        return Status::Ok();
      }
      if (d > FLT_MAX || d < -FLT_MAX) return Bad(where + " (" + v.dump() + ") is out of range for FP32");
      const auto f = static_cast<float>(d);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      AppendLe(bits, 4, raw);
      return Status::Ok();
    }
    case Datatype::kFp16:
    case Datatype::kBf16:
      return Bad(label + ": " + std::string(want) + " data cannot be sent as JSON; use the binary data extension");
    default:
      break;
  }
  // Integers.
  if (!v.is_number_integer()) return Bad(where + " is " + JsonKind(v) + ", expected an integer for " + want);
  const size_t size = ElementSize(t);
  const bool is_unsigned_type =
      t == Datatype::kUint8 || t == Datatype::kUint16 || t == Datatype::kUint32 || t == Datatype::kUint64;
  const std::string range = " is out of range for " + std::string(want);
  if (is_unsigned_type) {
    if (!v.is_number_unsigned()) return Bad(where + " (" + v.dump() + ")" + range);
    const auto u = v.get<uint64_t>();
    if (size < 8 && u >> (8 * size) != 0) return Bad(where + " (" + v.dump() + ")" + range);
    AppendLe(u, size, raw);
    return Status::Ok();
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Bad(where + " (" + v.dump() + ")" + range);
  }
  const auto i = v.get<int64_t>();
  if (size < 8) {
    const int64_t lim = int64_t{1} << (8 * size - 1);
    if (i < -lim || i >= lim) return Bad(where + " (" + v.dump() + ")" + range);
  }
  AppendLe(static_cast<uint64_t>(i), size, raw);
  return Status::Ok();
}

// Walks `data` (nested arrays or a flat one, row-major) and converts each scalar; fails as soon as
// more than `expected` elements are found.
Status FlattenData(const json& data, Tensor* t, uint64_t expected, size_t max_string, uint64_t* found) {
  if (!data.is_array()) {
    if (*found >= expected) {
      ++*found;
      return Status::Ok();
    }
    Status s = AppendElement(data, t->datatype, InputLabel(t->name), *found, max_string, &t->raw);
    ++*found;
    return s;
  }
  for (const auto& e : data) {
    Status s = FlattenData(e, t, expected, max_string, found);
    if (!s.ok()) return s;
    if (*found > expected) return Status::Ok();  // the caller reports the mismatch
  }
  return Status::Ok();
}

StatusOr<std::vector<uint64_t>> ParseShape(const json& in, const std::string& label, const RequestLimits& limits) {
  const json* shape = Member(in, "shape");
  if (!shape) return Bad(label + ": missing \"shape\" (an array of non-negative integers)");
  if (!shape->is_array())
    return Bad(label + ": \"shape\" is " + JsonKind(*shape) + ", expected an array of non-negative integers");
  if (shape->size() > limits.max_rank) {
    return Bad(label + ": shape has " + std::to_string(shape->size()) + " dimensions, over the limit of " +
               std::to_string(limits.max_rank));
  }
  std::vector<uint64_t> dims;
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned()) {
      return Bad(label + ": shape dimension " + Excerpt(d.dump(), 32) + " is not a non-negative integer");
    }
    dims.push_back(d.get<uint64_t>());
  }
  return dims;
}

// Parses one element of `inputs`; binary inputs take their bytes from `*binary` (advanced past them).
StatusOr<Tensor> ParseInput(const json& in, size_t index, std::string_view* binary, bool has_header,
                            const RequestLimits& limits) {
  const std::string at = "inputs[" + std::to_string(index) + "]";
  if (!in.is_object()) return Bad(at + " is " + JsonKind(in) + ", expected an object");
  Tensor t;
  auto name = RequiredString(in, "name", at, limits.max_name_bytes);
  if (!name.ok()) return name.status();
  t.name = *name;
  const std::string label = InputLabel(t.name);
  auto dt = RequiredString(in, "datatype", label, 16);
  if (!dt.ok()) return dt.status();
  auto type = ParseDatatype(*dt);
  if (!type) return Bad(label + ": unknown datatype '" + *dt + "', expected one of " + AllDatatypeNames());
  t.datatype = *type;
  auto shape = ParseShape(in, label, limits);
  if (!shape.ok()) return shape.status();
  t.shape = std::move(*shape);
  auto n = ShapeElements(t.shape, limits.max_elements);
  if (!n.ok()) return Bad(label + ": " + n.status().message());
  t.elements = *n;

  const json* params = Member(in, "parameters");
  if (params && !params->is_object())
    return Bad(label + ": \"parameters\" is " + JsonKind(*params) + ", expected an object");
  const json* size = params ? Member(*params, "binary_data_size") : nullptr;
  const json* shm = params ? Member(*params, "shared_memory_region") : nullptr;
  const json* data = Member(in, "data");
  if ((data != nullptr) + (size != nullptr) + (shm != nullptr) != 1) {
    return Bad(label +
               ": set exactly one of \"data\", \"parameters.binary_data_size\" or "
               "\"parameters.shared_memory_region\"");
  }
  if (shm) return Bad(label + ": shared memory inputs are not supported");
  if (data) {
    uint64_t found = 0;
    Status s = FlattenData(*data, &t, t.elements, limits.max_string_bytes, &found);
    if (!s.ok()) return s;
    if (found != t.elements) {
      return Bad(label + ": shape " + ShapeString(t.shape) + " needs " + std::to_string(t.elements) +
                 " elements, data has " + (found > t.elements ? "more" : std::to_string(found)));
    }
    return t;
  }
  if (!has_header) {
    return Bad(label + ": has \"binary_data_size\" but the request has no Inference-Header-Content-Length header");
  }
  if (!size->is_number_unsigned())
    return Bad(label + ": binary_data_size is " + Excerpt(size->dump(), 32) + ", expected a non-negative integer");
  const auto bytes = size->get<uint64_t>();
  if (bytes > binary->size()) {
    return Bad(label + ": binary_data_size is " + std::to_string(bytes) + " but only " +
               std::to_string(binary->size()) + " bytes of binary data remain");
  }
  const std::string_view chunk = binary->substr(0, bytes);
  binary->remove_prefix(bytes);
  if (t.datatype == Datatype::kBytes) {
    auto split = SplitBytesElements(chunk, t.elements, limits.max_string_bytes);
    if (!split.ok()) return Bad(label + " (shape " + ShapeString(t.shape) + "): " + split.status().message());
  } else if (t.elements > bytes || bytes != t.elements * ElementSize(t.datatype)) {
    return Bad(label + ": " + DatatypeName(t.datatype) + " shape " + ShapeString(t.shape) + " needs " +
               std::to_string(t.elements) + " x " + std::to_string(ElementSize(t.datatype)) +
               " bytes, binary_data_size is " + std::to_string(bytes));
  }
  if (t.datatype == Datatype::kBool) {
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (chunk[i] != 0 && chunk[i] != 1) {
        return Bad(label + ": BOOL element " + std::to_string(i) + " is byte " +
                   std::to_string(static_cast<unsigned char>(chunk[i])) + ", expected 0 or 1");
      }
    }
  }
  t.raw.assign(chunk);
  return t;
}

StatusOr<std::vector<RequestedOutput>> ParseOutputs(const json& outputs, const RequestLimits& limits) {
  if (!outputs.is_array()) return Bad("\"outputs\" is " + JsonKind(outputs) + ", expected an array");
  if (outputs.size() > limits.max_inputs) {
    return Bad("\"outputs\" has " + std::to_string(outputs.size()) + " entries, over the limit of " +
               std::to_string(limits.max_inputs));
  }
  std::vector<RequestedOutput> out;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string at = "outputs[" + std::to_string(i) + "]";
    if (!outputs[i].is_object()) return Bad(at + " is " + JsonKind(outputs[i]) + ", expected an object");
    auto name = RequiredString(outputs[i], "name", at, limits.max_name_bytes);
    if (!name.ok()) return name.status();
    RequestedOutput o{*name, std::nullopt};
    const json* p = Member(outputs[i], "parameters");
    if (p && !p->is_object()) return Bad(at + ": \"parameters\" is " + JsonKind(*p) + ", expected an object");
    if (const json* b = p ? Member(*p, "binary_data") : nullptr) {
      if (!b->is_boolean())
        return Bad("output '" + *name + "': binary_data is " + JsonKind(*b) + ", expected true or false");
      o.binary_data = b->get<bool>();
    }
    out.push_back(std::move(o));
  }
  return out;
}

Status ParseRequestParameters(const json& root, InferRequest* req) {
  const json* p = Member(root, "parameters");
  if (!p) return Status::Ok();
  if (!p->is_object()) return Bad("\"parameters\" is " + JsonKind(*p) + ", expected an object");
  if (const json* b = Member(*p, "binary_data_output")) {
    if (!b->is_boolean()) return Bad("parameter binary_data_output is " + JsonKind(*b) + ", expected true or false");
    req->binary_data_output = b->get<bool>();
  }
  if (const json* t = Member(*p, "timeout")) {
    if (!t->is_number_unsigned() || t->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad("parameter timeout is " + Excerpt(t->dump(), 32) + ", expected a non-negative integer (microseconds)");
    }
    req->timeout_us = static_cast<int64_t>(t->get<uint64_t>());
  }
  return Status::Ok();
}

StatusOr<size_t> ParseHeaderLength(std::string_view v, size_t body_size) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  size_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    return Bad("Inference-Header-Content-Length is '" + Excerpt(std::string(v), 32) +
               "', expected a non-negative integer");
  }
  if (n == 0)
    return Bad(
        "Inference-Header-Content-Length: 0 (a raw binary request) is not supported; send the JSON header first");
  if (n > body_size) {
    return Bad("Inference-Header-Content-Length is " + std::to_string(n) + ", more than the body's " +
               std::to_string(body_size) + " bytes");
  }
  return n;
}

}  // namespace

const Tensor* InferRequest::FindInput(std::string_view name) const {
  for (const auto& t : inputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool InferRequest::WantsBinary(std::string_view name) const {
  for (const auto& o : outputs) {
    if (o.name == name) return o.binary_data.value_or(false);
  }
  return binary_data_output;
}

StatusOr<InferRequest> ParseInferRequest(const RequestView& request, const RequestLimits& limits) {
  if (request.body.size() > limits.max_body_bytes) {
    return Status::Infeasible("request body is " + std::to_string(request.body.size()) + " bytes, over the limit of " +
                              std::to_string(limits.max_body_bytes));
  }
  size_t json_size = request.body.size();
  if (request.header_length) {
    auto n = ParseHeaderLength(*request.header_length, request.body.size());
    if (!n.ok()) return n.status();
    json_size = *n;
  }
  std::string_view binary = request.body.substr(json_size);
  auto root = ParseJsonBounded(request.body.substr(0, json_size), limits.max_json_depth, limits.max_json_values);
  if (!root.ok()) return root.status();
  if (!root->is_object()) return Bad("the request is " + JsonKind(*root) + ", expected a JSON object");

  InferRequest req;
  req.binary_request = !binary.empty();
  if (const json* id = Member(*root, "id")) {
    if (!id->is_string()) return Bad("\"id\" is " + JsonKind(*id) + ", expected a string");
    if (id->get_ref<const std::string&>().size() > limits.max_id_bytes) {
      return Bad("\"id\" is longer than " + std::to_string(limits.max_id_bytes) + " bytes");
    }
    req.id = id->get<std::string>();
  }
  Status ps = ParseRequestParameters(*root, &req);
  if (!ps.ok()) return ps;
  const json* inputs = Member(*root, "inputs");
  if (!inputs) return Bad("missing \"inputs\" (an array of input tensors)");
  if (!inputs->is_array()) return Bad("\"inputs\" is " + JsonKind(*inputs) + ", expected an array");
  if (inputs->empty()) return Bad("\"inputs\" is empty");
  if (inputs->size() > limits.max_inputs) {
    return Bad("\"inputs\" has " + std::to_string(inputs->size()) + " entries, over the limit of " +
               std::to_string(limits.max_inputs));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < inputs->size(); ++i) {
    auto t = ParseInput((*inputs)[i], i, &binary, request.header_length.has_value(), limits);
    if (!t.ok()) return t.status();
    if (!names.insert(t->name).second) return Bad(InputLabel(t->name) + " appears twice");
    req.inputs.push_back(std::move(*t));
  }
  if (!binary.empty()) {
    return Bad(std::to_string(binary.size()) +
               " bytes of binary data after the last binary input (the "
               "binary_data_size values add up to less than the body after the JSON header)");
  }
  if (const json* outputs = Member(*root, "outputs")) {
    auto o = ParseOutputs(*outputs, limits);
    if (!o.ok()) return o.status();
    req.outputs = std::move(*o);
  }
  return req;
}

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i) {
      auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
      same = lower(k[i]) == lower(name[i]);
    }
    if (same) return std::string_view(v);
  }
  return std::nullopt;
}

}  // namespace jb::oip
