#include "worker/framing.h"

namespace jb {

Status EncodeFrame(const wire::Frame& frame, std::string* out) {
  size_t size = frame.ByteSizeLong();
  if (size > kMaxFrameBytes)
    return Status::InvalidArgument("frame of " + std::to_string(size) + " bytes exceeds the limit");
  uint32_t n = static_cast<uint32_t>(size);
  char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff), static_cast<char>((n >> 16) & 0xff),
                 static_cast<char>((n >> 24) & 0xff)};
  out->append(len, 4);
  size_t at = out->size();
  out->resize(at + size);
  if (!frame.SerializeToArray(out->data() + at, static_cast<int>(size)))
    return Status::Internal("frame serialisation failed");
  return Status::Ok();
}

StatusOr<std::optional<wire::Frame>> FrameDecoder::Next() {
  if (!poisoned_.ok()) return poisoned_;
  if (buf_.size() - pos_ < 4) return std::optional<wire::Frame>();
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  uint32_t n = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
               (static_cast<uint32_t>(p[3]) << 24);
  if (n > max_) {
    poisoned_ =
        Status::InvalidArgument("frame length " + std::to_string(n) + " exceeds the limit " + std::to_string(max_));
    return poisoned_;
  }
  if (buf_.size() - pos_ - 4 < n) return std::optional<wire::Frame>();
  wire::Frame frame;
  if (!frame.ParseFromArray(buf_.data() + pos_ + 4, static_cast<int>(n))) {
    poisoned_ = Status::InvalidArgument("malformed frame of " + std::to_string(n) + " bytes");
    return poisoned_;
  }
  pos_ += 4 + n;
  // Compact once the consumed prefix dominates, so memory stays bounded by the unread bytes.
  if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<wire::Frame>(std::move(frame));
}

}  // namespace jb
