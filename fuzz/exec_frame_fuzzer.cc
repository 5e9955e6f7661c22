// Fuzz target: the exec framing v2 decoder (worker/exec_framing.h) on bytes from a model process or
// a worker, delivered in chunks of every size the way read() returns them.
// Input: the first byte picks the chunk size (1..64), whether the limits are small (to reach the
// over-limit and skip paths cheaply) and the framing (auto or v2); the rest is the byte stream.
// Properties beyond "no crash, no sanitizer report":
//  - an error poisons the stream: every later Next() fails too;
//  - no frame body exceeds the body limit, and a skipped frame carries no body;
//  - the decoder holds at most the header, one body and 4 KiB of consumed bytes beyond what was fed
//    and not yet decoded;
//  - a body that decodes (request, response, hello) encodes again to the same bytes, and a
//    request's key is what PeekRequestKey reads.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "worker/exec_framing.h"

namespace {

void CheckBody(const std::string& body, const jb::exec::Limits& limits) {
  using jb::exec::Type;
  auto type = jb::exec::BodyType(body);
  if (!type) return;
  std::string again;
  if (*type == Type::kRequest) {
    auto req = jb::exec::DecodeRequestBody(body, limits);
    const std::string peeked = jb::exec::PeekRequestKey(body, limits);  // on any bytes: no crash
    if (!req.ok()) return;
    jb::fuzz::Check(peeked == req->key, "PeekRequestKey disagrees with the decoded key");
    jb::fuzz::Check(req->parts.size() <= limits.max_parts, "more parts than the limit");
    jb::fuzz::Check(jb::exec::EncodeRequest(*req, limits, &again).ok(), "a decoded request does not encode");
  } else if (*type == Type::kHello) {
    auto hello = jb::exec::DecodeHelloBody(body, limits);
    if (!hello.ok()) return;
    jb::fuzz::Check(jb::exec::EncodeHello(*hello, limits, &again).ok(), "a decoded hello does not encode");
  } else {
    auto resp = jb::exec::DecodeResponseBody(body, limits);
    if (!resp.ok()) return;
    jb::fuzz::Check(jb::exec::EncodeResponse(*resp, limits, &again).ok(), "a decoded response does not encode");
  }
  jb::fuzz::Check(again.size() >= jb::exec::kHeaderBytes && again.substr(jb::exec::kHeaderBytes) == body,
                  "a body changes on a round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + (data[0] & 63u);
  const bool small = (data[0] & 64u) != 0;
  const auto framing = (data[0] & 128u) != 0 ? jb::exec::Framing::kV2 : jb::exec::Framing::kAuto;
  ++data;
  --size;
  jb::exec::Limits limits;
  if (small) limits = {.max_body_bytes = 256, .max_parts = 2, .max_key_bytes = 8, .max_name_bytes = 8};
  jb::exec::ExecStreamDecoder dec(framing, limits);
  size_t fed = 0;
  while (fed < size) {
    const size_t n = std::min(chunk, size - fed);
    dec.Feed(reinterpret_cast<const char*>(data + fed), n);
    fed += n;
    for (;;) {
      auto next = dec.Next();
      if (!next.ok()) {
        jb::fuzz::Check(!dec.Next().ok(), "a poisoned stream decodes again");
        return 0;
      }
      if (!next->has_value()) break;
      const auto& f = **next;
      jb::fuzz::Check(f.body.size() <= limits.max_body_bytes, "a frame body over the limit");
      jb::fuzz::Check(f.skipped.ok() || f.body.empty(), "a skipped frame carries a body");
      if (f.skipped.ok() && f.version == jb::exec::kVersion) CheckBody(f.body, limits);
    }
    const size_t consumed_held = dec.held() - dec.buffered();
    jb::fuzz::Check(consumed_held <= std::max<size_t>(4096, dec.buffered()),
                    "the decoder retains " + std::to_string(consumed_held) + " consumed bytes");
  }
  return 0;
}
