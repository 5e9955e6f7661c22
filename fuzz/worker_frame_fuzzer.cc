// Fuzz target: the data-plane frame decoder (worker/framing.h) on bytes from a peer worker,
// delivered in chunks of every size the way read() returns them.
// Input: the first byte picks the chunk size (1..64) and whether the decoder has a small frame
// limit (to reach the over-limit path cheaply); the rest is the byte stream.
// Properties beyond "no crash, no sanitizer report":
//  - an error poisons the stream: every later Next() fails too;
//  - consumed bytes are released: the decoder retains at most max(4 KiB, unread bytes) of them;
//  - a decoded frame encodes and decodes again to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "worker/framing.h"

namespace {

void CheckRoundTrip(const jb::wire::Frame& frame) {
  std::string enc;
  auto s = jb::EncodeFrame(frame, &enc);
  jb::fuzz::Check(s.ok(), "a decoded frame does not encode: " + s.message());
  jb::FrameDecoder again;
  again.Feed(enc.data(), enc.size());
  auto next = again.Next();
  jb::fuzz::Check(next.ok() && next->has_value(), "an encoded frame does not decode");
  jb::fuzz::Check((*next)->SerializeAsString() == frame.SerializeAsString(), "a frame changes on a round trip");
  jb::fuzz::Check(again.buffered() == 0, "bytes left over after one encoded frame");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + (data[0] & 63u);
  const bool small_limit = (data[0] & 64u) != 0;
  ++data;
  --size;
  jb::FrameDecoder dec(small_limit ? 256 : jb::kMaxFrameBytes);
  size_t fed = 0;
  while (fed < size) {
    const size_t n = std::min(chunk, size - fed);
    dec.Feed(reinterpret_cast<const char*>(data + fed), n);
    fed += n;
    for (;;) {
      auto next = dec.Next();
      if (!next.ok()) {
        auto after = dec.Next();
        jb::fuzz::Check(!after.ok(), "a poisoned stream decodes again");
        return 0;
      }
      if (!next->has_value()) break;
      CheckRoundTrip(**next);
    }
    const size_t consumed_held = dec.held() - dec.buffered();
    jb::fuzz::Check(consumed_held <= std::max<size_t>(4096, dec.buffered()),
                    "the decoder retains " + std::to_string(consumed_held) + " consumed bytes");
  }
  return 0;
}
