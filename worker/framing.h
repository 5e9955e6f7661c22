// Length-prefixed framing of data-plane Frames: a 4-byte little-endian length, then the serialized
// protobuf. FrameDecoder accepts bytes in arbitrary chunks (as read() returns them) and yields whole
// frames; a length above the limit or an unparsable frame is an error that poisons the stream
// (the connection must be closed: there is no way to resynchronise a byte stream).
// Thread-safety: a decoder belongs to one connection/thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "worker/proto/frames.pb.h"

namespace jb {

inline constexpr uint32_t kMaxFrameBytes = 16u << 20;  // 16 MiB: far above any profiled item
// Before a peer is accepted (its Hello, or the receiver's first Credit), frames are small: a larger
// one closes the connection before anything is allocated for it.
inline constexpr uint32_t kMaxHelloFrameBytes = 64u << 10;

// Appends one encoded frame to `out`. Fails only when the frame exceeds kMaxFrameBytes.
Status EncodeFrame(const wire::Frame& frame, std::string* out);

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes = kMaxFrameBytes) : max_(max_frame_bytes) {}
  // Raises (or lowers) the limit for the frames not yet decoded (e.g. once the peer is accepted).
  void set_max_frame_bytes(uint32_t max) { max_ = max; }
  // Adds received bytes.
  void Feed(const char* data, size_t n) { buf_.append(data, n); }
  // Next complete frame: OK with a value, OK with nullopt when more bytes are needed, or an error.
  StatusOr<std::optional<wire::Frame>> Next();
  size_t buffered() const { return buf_.size() - pos_; }  // received, not yet decoded
  size_t held() const { return buf_.size(); }             // bytes the decoder holds in memory

 private:
  uint32_t max_;
  std::string buf_;
  size_t pos_ = 0;
  Status poisoned_;
};

}  // namespace jb
