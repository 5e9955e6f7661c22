// Exec framing v2: the byte protocol between a worker and an `exec` model process, carrying the
// item's key and one named part per input, so a join operator or a multi-input model is an
// ordinary exec process. Layout, version rule, limits and errors: docs/exec-framing.md.
//
//   frame  = "JBX" version(u8 = 2) body_length(u32 LE) body
//   body   = type(u8) ...      'H' hello, 'Q' request, 'A' answer, 'E' error
//
// Version 1 (worker/examples/wordcount_v1_model.cc; the exec runtime with `framing: 1`) is
// a bare u32 LE length and the payload, with no key, no parts, no errors. A v1 frame is never
// longer than 16 MiB, so its 4th byte is 0x00 or 0x01; a v2 frame's 4th byte is its version (>= 2):
// the first four bytes of a stream tell the two apart (StartsV2).
//
// Pure functions and one incremental decoder; no I/O. The encoders fail when a frame would break
// the limits; the decoders never allocate more than the limits allow, whatever length a peer
// claims (a length is only trusted once that many bytes have arrived).
// Thread-safety: plain values; an ExecStreamDecoder belongs to one stream/thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace jb::exec {

inline constexpr char kMagic[3] = {'J', 'B', 'X'};
inline constexpr uint8_t kVersion = 2;
inline constexpr size_t kHeaderBytes = 8;                  // magic(3) version(1) body_length(4)
inline constexpr uint32_t kMaxV1PayloadBytes = 16u << 20;  // v1: as worker/framing.h kMaxFrameBytes

// Bounds on what a peer may send; every one is checked before anything is allocated for it.
struct Limits {
  uint32_t max_body_bytes = 16u << 20;  // a v2 body, and a v1 payload (default 16 MiB)
  uint32_t max_parts = 16;              // parts of one request (default 16)
  uint32_t max_key_bytes = 1024;        // the item key (default 1 KiB)
  uint32_t max_name_bytes = 256;        // a part's name (default 256 B)
};

enum class Type : uint8_t { kHello = 'H', kRequest = 'Q', kAnswer = 'A', kError = 'E' };

struct Part {
  std::string name;  // the input: a source or producer operator name, e.g. "ReadDocument"
  std::string data;
};

struct Request {
  std::string key;          // the item key (e.g. the request id); echoed in the response
  std::vector<Part> parts;  // one per input, names unique, in the order the sender chose
  // The part named `name`, or nullptr.
  const Part* Find(std::string_view name) const;
};

struct Response {
  std::string key;   // the request's key
  bool ok = true;    // false: `data` is a one-line error message, the item failed (not the process)
  std::string data;  // the output when ok
};

// ---- encoders: append one whole frame to *out; InvalidArgument (out untouched) over a limit ------
Status EncodeHello(std::string_view text, const Limits& limits, std::string* out);
Status EncodeRequest(const Request& req, const Limits& limits, std::string* out);
Status EncodeResponse(const Response& resp, const Limits& limits, std::string* out);
// A v1 frame: u32 LE length, payload. Fails over limits.max_body_bytes.
Status EncodeV1(std::string_view payload, const Limits& limits, std::string* out);

// ---- body decoders (the bytes after the 8-byte header) --------------------------------------------
// InvalidArgument naming the field on a wrong type byte, a truncated or over-limit field, a
// duplicate part name, or trailing bytes.
StatusOr<std::string> DecodeHelloBody(std::string_view body, const Limits& limits);
StatusOr<Request> DecodeRequestBody(std::string_view body, const Limits& limits);
StatusOr<Response> DecodeResponseBody(std::string_view body, const Limits& limits);
// The key of a request body whose later fields may be malformed: "" when even the key is not
// readable (so an error answer can still name the item).
std::string PeekRequestKey(std::string_view body, const Limits& limits);
// The type byte of a body, or nullopt when empty or not one of Type's values.
std::optional<Type> BodyType(std::string_view body);

// True when `first4` (at least 4 bytes) begins a v2-or-later frame: "JBX" and a version >= 2.
bool StartsV2(std::string_view first4);

// ---- incremental decoding of a byte stream ---------------------------------------------------------
enum class Framing { kAuto, kV1, kV2 };  // kAuto: the stream's first four bytes decide

struct RawFrame {
  uint8_t version = kVersion;  // 1 or 2
  std::string body;            // v1: the payload; v2: the body (decode with the functions above)
  // Set when the frame was skipped without buffering its body: over limits.max_body_bytes, or an
  // unsupported version (>= 3). The stream goes on; the receiver answers it with an error.
  Status skipped;
};

// Splits a byte stream into frames. A v1 length over the limit, bad magic inside a v2 stream,
// or a v2 frame after the stream started as v1 (or the reverse) poisons the decoder: there is no
// resynchronising a byte stream. Memory: at most kHeaderBytes + limits.max_body_bytes plus the
// unread bytes fed, of which consumed ones are released (compaction as in worker/framing.h).
class ExecStreamDecoder {
 public:
  explicit ExecStreamDecoder(Framing framing = Framing::kAuto, Limits limits = {})
      : framing_(framing), limits_(limits) {}
  void Feed(const char* data, size_t n);
  // Next frame: OK with a value, OK with nullopt when more bytes are needed, or the poisoning error
  // (returned again on every later call).
  StatusOr<std::optional<RawFrame>> Next();
  // The framing in use: kAuto until the first four bytes have arrived.
  Framing framing() const { return framing_; }
  size_t buffered() const { return buf_.size() - pos_; }  // received, not yet decoded
  size_t held() const { return buf_.size(); }             // bytes held in memory

 private:
  StatusOr<std::optional<RawFrame>> NextV1();
  StatusOr<std::optional<RawFrame>> NextV2();
  void Consume(size_t n);

  Framing framing_;
  Limits limits_;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t skip_ = 0;  // body bytes of a skipped frame still to discard
  Status poisoned_;
};

}  // namespace jb::exec
