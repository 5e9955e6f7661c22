#include "worker/framing.h"

#include <gtest/gtest.h>

#include <random>

namespace jb {
namespace {

wire::Frame ItemFrame(uint64_t seq, size_t payload_bytes) {
  wire::Frame f;
  auto* it = f.mutable_item();
  it->set_key(0.25);
  it->set_source("ReadImage");
  it->set_seq(seq);
  it->set_op("ExtractImageFeature");
  it->set_payload(std::string(payload_bytes, static_cast<char>('a' + seq % 26)));
  it->set_epoch(7);
  it->add_trace_ns(123456789);
  return f;
}

TEST(Framing, RoundTripsWhateverTheChunking) {
  std::string wire;
  std::vector<wire::Frame> sent;
  for (uint64_t i = 0; i < 50; ++i) {
    sent.push_back(ItemFrame(i, i * 37));
    ASSERT_TRUE(EncodeFrame(sent.back(), &wire).ok());
  }
  wire::Frame ack;
  ack.mutable_ack()->add_ids(49);
  ack.mutable_ack()->add_ids(50);
  sent.push_back(ack);
  ASSERT_TRUE(EncodeFrame(ack, &wire).ok());
  std::mt19937 rng(1);
  for (int trial = 0; trial < 20; ++trial) {
    FrameDecoder dec;
    std::vector<wire::Frame> got;
    for (size_t at = 0; at < wire.size();) {
      size_t n = std::min(wire.size() - at, static_cast<size_t>(1 + rng() % 300));
      dec.Feed(wire.data() + at, n);
      at += n;
      while (true) {
        auto next = dec.Next();
        ASSERT_TRUE(next.ok()) << next.status().message();
        if (!next->has_value()) break;
        got.push_back(**next);
      }
    }
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(got[i].SerializeAsString(), sent[i].SerializeAsString()) << i;
    EXPECT_EQ(dec.buffered(), 0u);
  }
}

TEST(Framing, OversizedLengthPoisonsTheStream) {
  FrameDecoder dec(1024);
  std::string wire;
  ASSERT_TRUE(EncodeFrame(ItemFrame(1, 2000), &wire).ok());
  dec.Feed(wire.data(), wire.size());
  auto r = dec.Next();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceeds the limit 1024"), std::string::npos);
  EXPECT_FALSE(dec.Next().ok()) << "a poisoned stream stays poisoned";
}

TEST(Framing, GarbageIsAnErrorNotACrash) {
  FrameDecoder dec;
  std::string junk = {5, 0, 0, 0, '\xff', '\xff', '\xff', '\xff', '\xff'};
  dec.Feed(junk.data(), junk.size());
  EXPECT_FALSE(dec.Next().ok());
}

TEST(Framing, MemoryStaysBoundedByUnreadBytes) {
  FrameDecoder dec;
  std::string one;
  ASSERT_TRUE(EncodeFrame(ItemFrame(1, 1024), &one).ok());
  for (int i = 0; i < 10000; ++i) {
    dec.Feed(one.data(), one.size());
    auto r = dec.Next();
    ASSERT_TRUE(r.ok() && r->has_value());
    ASSERT_LE(dec.held(), 4096u + 2 * one.size()) << "consumed bytes must be released";
  }
  EXPECT_EQ(dec.buffered(), 0u);
}

}  // namespace
}  // namespace jb
