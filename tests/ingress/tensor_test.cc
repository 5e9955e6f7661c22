// Tensor helpers (ingress/tensor.h): datatype names, shapes, the canonical BYTES encoding.
#include "ingress/tensor.h"

#include <gtest/gtest.h>

#include <limits>

namespace jb::oip {
namespace {

TEST(Tensor, DatatypeNamesAreCaseSensitiveAndRoundTrip) {
  for (const char* n : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
                        "FP32", "FP64", "BF16", "BYTES"}) {
    auto t = ParseDatatype(n);
    ASSERT_TRUE(t.has_value()) << n;
    EXPECT_STREQ(DatatypeName(*t), n);
  }
  EXPECT_FALSE(ParseDatatype("fp32").has_value());
  EXPECT_FALSE(ParseDatatype("STRING").has_value());
  EXPECT_EQ(ElementSize(Datatype::kBool), 1u);
  EXPECT_EQ(ElementSize(Datatype::kBf16), 2u);
  EXPECT_EQ(ElementSize(Datatype::kInt64), 8u);
  EXPECT_EQ(ElementSize(Datatype::kBytes), 0u);
}

TEST(Tensor, ShapeElementsCatchesOverflow) {
  EXPECT_EQ(*ShapeElements({}, 10), 1u);
  EXPECT_EQ(*ShapeElements({2, 0, 7}, 10), 0u);
  EXPECT_EQ(*ShapeElements({2, 5}, 10), 10u);
  EXPECT_FALSE(ShapeElements({2, 6}, 10).ok());
  const uint64_t big = uint64_t{1} << 33;
  auto over = ShapeElements({big, big, big}, std::numeric_limits<uint64_t>::max());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(ShapeString({1, 4}), "[1,4]");
}

TEST(Tensor, BytesElementsAreLengthPrefixedLittleEndian) {
  Tensor t = BytesTensor("T", {"hello", "", std::string(300, 'x')});
  EXPECT_EQ(t.raw.substr(0, 9), std::string("\x05\x00\x00\x00hello", 9));
  EXPECT_EQ(t.raw.substr(9, 4), std::string("\x00\x00\x00\x00", 4));
  EXPECT_EQ(t.raw.substr(13, 4), std::string("\x2c\x01\x00\x00", 4));  // 300
  auto split = SplitBytesElements(t.raw, 3, 1000);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ((*split)[2].size(), 300u);
  EXPECT_EQ(SplitBytesElements(t.raw, 2, 1000).status().message(), "304 bytes after the last of 2 BYTES elements");
  EXPECT_EQ(SplitBytesElements(t.raw, 3, 100).status().message(),
            "BYTES element 2 is 300 bytes, over the limit of 100");
  EXPECT_EQ(SplitBytesElements(std::string("\x01\x00", 2), 1, 10).status().message(),
            "BYTES element 0 of 1: its 4-byte length prefix is cut off after 2 bytes");
}

}  // namespace
}  // namespace jb::oip
