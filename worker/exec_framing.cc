#include "worker/exec_framing.h"

#include <algorithm>
#include <cstring>

namespace jb::exec {
namespace {

void PutU16(std::string* out, size_t v) {
  const char b[2] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)};
  out->append(b, 2);
}

void PutU32(std::string* out, size_t v) {
  const char b[4] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                     static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 24) & 0xff)};
  out->append(b, 4);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) | (static_cast<uint32_t>(u[2]) << 16) |
         (static_cast<uint32_t>(u[3]) << 24);
}

// Wraps a finished body in the v2 header, appending to *out; the body must fit the limits.
Status Frame(const std::string& body, const Limits& limits, std::string* out) {
  if (body.size() > limits.max_body_bytes)
    return Status::InvalidArgument("exec frame body of " + std::to_string(body.size()) + " bytes exceeds the limit " +
                                   std::to_string(limits.max_body_bytes));
  out->append(kMagic, 3);
  out->push_back(static_cast<char>(kVersion));
  PutU32(out, body.size());
  out->append(body);
  return Status::Ok();
}

Status CheckLen(const char* what, size_t n, size_t limit) {
  if (n <= limit) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " of " + std::to_string(n) + " bytes exceeds the limit " +
                                 std::to_string(limit));
}

// Reads fields off a body, front to back; every read is bounds-checked against the remaining bytes.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U8(uint8_t* v) {
    if (b_.size() < 1) return false;
    *v = static_cast<uint8_t>(b_[0]);
    b_.remove_prefix(1);
    return true;
  }
  bool U16(uint32_t* v) {
    if (b_.size() < 2) return false;
    const auto* u = reinterpret_cast<const unsigned char*>(b_.data());
    *v = static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8);
    b_.remove_prefix(2);
    return true;
  }
  bool U32(uint32_t* v) {
    if (b_.size() < 4) return false;
    *v = GetU32(b_.data());
    b_.remove_prefix(4);
    return true;
  }
  bool Bytes(uint32_t n, std::string* out) {
    if (b_.size() < n) return false;
    out->assign(b_.data(), n);
    b_.remove_prefix(n);
    return true;
  }
  bool done() const { return b_.empty(); }
  size_t left() const { return b_.size(); }

 private:
  std::string_view b_;
};

Status Truncated(const std::string& field) { return Status::InvalidArgument("exec frame truncated in " + field); }

Status ExpectType(Reader& r, std::initializer_list<Type> want, Type* got) {
  uint8_t t = 0;
  if (!r.U8(&t)) return Truncated("the type byte");
  for (Type w : want)
    if (t == static_cast<uint8_t>(w)) {
      *got = w;
      return Status::Ok();
    }
  std::string names;
  for (Type w : want) names += std::string(names.empty() ? "" : " or ") + "'" + static_cast<char>(w) + "'";
  return Status::InvalidArgument("exec frame type " + std::to_string(t) + " where " + names + " was expected");
}

Status ReadKey(Reader& r, const Limits& limits, std::string* key) {
  uint32_t n = 0;
  if (!r.U16(&n)) return Truncated("the key length");
  if (auto s = CheckLen("key", n, limits.max_key_bytes); !s.ok()) return s;
  if (!r.Bytes(n, key)) return Truncated("the key");
  return Status::Ok();
}

Status NoTrailing(const Reader& r) {
  if (r.done()) return Status::Ok();
  return Status::InvalidArgument("exec frame has " + std::to_string(r.left()) + " trailing bytes");
}

}  // namespace

const Part* Request::Find(std::string_view name) const {
  for (const auto& p : parts)
    if (p.name == name) return &p;
  return nullptr;
}

Status EncodeHello(std::string_view text, const Limits& limits, std::string* out) {
  std::string body;
  body.push_back(static_cast<char>(Type::kHello));
  PutU32(&body, text.size());
  body.append(text);
  return Frame(body, limits, out);
}

Status EncodeRequest(const Request& req, const Limits& limits, std::string* out) {
  if (auto s = CheckLen("key", req.key.size(), std::min<size_t>(limits.max_key_bytes, 0xffff)); !s.ok()) return s;
  if (req.parts.size() > std::min<size_t>(limits.max_parts, 0xffff))
    return Status::InvalidArgument("request of " + std::to_string(req.parts.size()) + " parts exceeds the limit " +
                                   std::to_string(limits.max_parts));
  size_t size = 1 + 2 + req.key.size() + 2;
  for (size_t i = 0; i < req.parts.size(); ++i) {
    const Part& p = req.parts[i];
    if (auto s = CheckLen("part name", p.name.size(), std::min<size_t>(limits.max_name_bytes, 0xffff)); !s.ok())
      return s;
    for (size_t j = 0; j < i; ++j)
      if (req.parts[j].name == p.name) return Status::InvalidArgument("duplicate part name \"" + p.name + "\"");
    size += 2 + p.name.size() + 4 + p.data.size();
  }
  if (auto s = CheckLen("exec frame body", size, limits.max_body_bytes); !s.ok()) return s;
  std::string body;
  body.reserve(size);
  body.push_back(static_cast<char>(Type::kRequest));
  PutU16(&body, req.key.size());
  body.append(req.key);
  PutU16(&body, req.parts.size());
  for (const auto& p : req.parts) {
    PutU16(&body, p.name.size());
    body.append(p.name);
    PutU32(&body, p.data.size());
    body.append(p.data);
  }
  return Frame(body, limits, out);
}

Status EncodeResponse(const Response& resp, const Limits& limits, std::string* out) {
  if (auto s = CheckLen("key", resp.key.size(), std::min<size_t>(limits.max_key_bytes, 0xffff)); !s.ok()) return s;
  if (auto s = CheckLen("exec frame body", 1 + 2 + resp.key.size() + 4 + resp.data.size(), limits.max_body_bytes);
      !s.ok())
    return s;
  std::string body;
  body.push_back(static_cast<char>(resp.ok ? Type::kAnswer : Type::kError));
  PutU16(&body, resp.key.size());
  body.append(resp.key);
  PutU32(&body, resp.data.size());
  body.append(resp.data);
  return Frame(body, limits, out);
}

Status EncodeV1(std::string_view payload, const Limits& limits, std::string* out) {
  const size_t limit = std::min<size_t>(limits.max_body_bytes, kMaxV1PayloadBytes);
  if (auto s = CheckLen("v1 payload", payload.size(), limit); !s.ok()) return s;
  PutU32(out, payload.size());
  out->append(payload);
  return Status::Ok();
}

std::optional<Type> BodyType(std::string_view body) {
  if (body.empty()) return std::nullopt;
  switch (static_cast<uint8_t>(body[0])) {
    case 'H':
      return Type::kHello;
    case 'Q':
      return Type::kRequest;
    case 'A':
      return Type::kAnswer;
    case 'E':
      return Type::kError;
    default:
      return std::nullopt;
  }
}

StatusOr<std::string> DecodeHelloBody(std::string_view body, const Limits& limits) {
  Reader r(body);
  Type t;
  if (auto s = ExpectType(r, {Type::kHello}, &t); !s.ok()) return s;
  uint32_t n = 0;
  if (!r.U32(&n)) return Truncated("the hello length");
  if (auto s = CheckLen("hello", n, limits.max_body_bytes); !s.ok()) return s;
  std::string text;
  if (!r.Bytes(n, &text)) return Truncated("the hello text");
  if (auto s = NoTrailing(r); !s.ok()) return s;
  return text;
}

StatusOr<Request> DecodeRequestBody(std::string_view body, const Limits& limits) {
  Reader r(body);
  Type t;
  if (auto s = ExpectType(r, {Type::kRequest}, &t); !s.ok()) return s;
  Request req;
  if (auto s = ReadKey(r, limits, &req.key); !s.ok()) return s;
  uint32_t n = 0;
  if (!r.U16(&n)) return Truncated("the part count");
  if (n > limits.max_parts)
    return Status::InvalidArgument("request of " + std::to_string(n) + " parts exceeds the limit " +
                                   std::to_string(limits.max_parts));
  req.parts.reserve(n);  // bounded by max_parts
  for (uint32_t i = 0; i < n; ++i) {
    Part p;
    const std::string at = "part " + std::to_string(i);
    uint32_t len = 0;
    if (!r.U16(&len)) return Truncated(at + "'s name length");
    if (auto s = CheckLen((at + "'s name").c_str(), len, limits.max_name_bytes); !s.ok()) return s;
    if (!r.Bytes(len, &p.name)) return Truncated(at + "'s name");
    if (req.Find(p.name) != nullptr) return Status::InvalidArgument("duplicate part name \"" + p.name + "\"");
    if (!r.U32(&len)) return Truncated(at + "'s data length");
    if (!r.Bytes(len, &p.data)) return Truncated(at + "'s data (\"" + p.name + "\")");
    req.parts.push_back(std::move(p));
  }
  if (auto s = NoTrailing(r); !s.ok()) return s;
  return req;
}

std::string PeekRequestKey(std::string_view body, const Limits& limits) {
  Reader r(body);
  Type t;
  std::string key;
  if (!ExpectType(r, {Type::kRequest}, &t).ok() || !ReadKey(r, limits, &key).ok()) return "";
  return key;
}

StatusOr<Response> DecodeResponseBody(std::string_view body, const Limits& limits) {
  Reader r(body);
  Type t;
  if (auto s = ExpectType(r, {Type::kAnswer, Type::kError}, &t); !s.ok()) return s;
  Response resp;
  resp.ok = t == Type::kAnswer;
  if (auto s = ReadKey(r, limits, &resp.key); !s.ok()) return s;
  uint32_t n = 0;
  if (!r.U32(&n)) return Truncated("the data length");
  if (!r.Bytes(n, &resp.data)) return Truncated("the data");
  if (auto s = NoTrailing(r); !s.ok()) return s;
  return resp;
}

bool StartsV2(std::string_view first4) {
  return first4.size() >= 4 && std::memcmp(first4.data(), kMagic, 3) == 0 && static_cast<uint8_t>(first4[3]) >= 2;
}

// ---- ExecStreamDecoder -------------------------------------------------------------------------------

void ExecStreamDecoder::Feed(const char* data, size_t n) {
  if (skip_ > 0 && buffered() == 0) {  // discard a skipped body straight from the input
    const size_t d = static_cast<size_t>(std::min<uint64_t>(skip_, n));
    skip_ -= d;
    data += d;
    n -= d;
  }
  buf_.append(data, n);
}

void ExecStreamDecoder::Consume(size_t n) {
  pos_ += n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

StatusOr<std::optional<RawFrame>> ExecStreamDecoder::Next() {
  if (!poisoned_.ok()) return poisoned_;
  if (skip_ > 0) {
    const size_t d = static_cast<size_t>(std::min<uint64_t>(skip_, buffered()));
    skip_ -= d;
    Consume(d);
    if (skip_ > 0) return std::optional<RawFrame>();
  }
  if (buffered() < 4) return std::optional<RawFrame>();
  const std::string_view head(buf_.data() + pos_, 4);
  if (framing_ == Framing::kAuto) framing_ = StartsV2(head) ? Framing::kV2 : Framing::kV1;
  auto r = framing_ == Framing::kV2 ? NextV2() : NextV1();
  if (!r.ok()) poisoned_ = r.status();
  return r;
}

StatusOr<std::optional<RawFrame>> ExecStreamDecoder::NextV1() {
  const std::string_view head(buf_.data() + pos_, 4);
  if (std::memcmp(head.data(), kMagic, 3) == 0 && static_cast<uint8_t>(head[3]) >= 2)
    return Status::InvalidArgument("a v2 exec frame in a stream that started with v1 frames");
  const uint32_t n = GetU32(head.data());
  const size_t limit = std::min<size_t>(limits_.max_body_bytes, kMaxV1PayloadBytes);
  if (n > limit)
    return Status::InvalidArgument("v1 exec frame length " + std::to_string(n) + " exceeds the limit " +
                                   std::to_string(limit));
  if (buffered() - 4 < n) return std::optional<RawFrame>();
  RawFrame f;
  f.version = 1;
  f.body.assign(buf_.data() + pos_ + 4, n);
  Consume(4 + static_cast<size_t>(n));
  return std::optional<RawFrame>(std::move(f));
}

StatusOr<std::optional<RawFrame>> ExecStreamDecoder::NextV2() {
  const char* p = buf_.data() + pos_;
  if (std::memcmp(p, kMagic, 3) != 0)
    return Status::InvalidArgument("exec frame without the \"JBX\" magic in a v2 stream");
  const auto version = static_cast<uint8_t>(p[3]);
  if (version < 2) return Status::InvalidArgument("exec frame version " + std::to_string(version) + " after the magic");
  if (buffered() < kHeaderBytes) return std::optional<RawFrame>();
  const uint32_t n = GetU32(p + 4);
  RawFrame f;
  f.version = version;
  if (version != kVersion || n > limits_.max_body_bytes) {
    f.skipped = version != kVersion
                    ? Status::InvalidArgument("unsupported exec framing version " + std::to_string(version) +
                                              " (this side speaks " + std::to_string(kVersion) + ")")
                    : Status::InvalidArgument("exec frame body of " + std::to_string(n) + " bytes exceeds the limit " +
                                              std::to_string(limits_.max_body_bytes));
    Consume(kHeaderBytes);
    skip_ = n;
    const size_t d = static_cast<size_t>(std::min<uint64_t>(skip_, buffered()));
    skip_ -= d;
    Consume(d);
    return std::optional<RawFrame>(std::move(f));
  }
  if (buffered() - kHeaderBytes < n) return std::optional<RawFrame>();
  f.body.assign(p + kHeaderBytes, n);
  Consume(kHeaderBytes + static_cast<size_t>(n));
  return std::optional<RawFrame>(std::move(f));
}

}  // namespace jb::exec
