// JSON helpers of ingress/ (ingress/json_util.h): the bounded parse, UTF-8 check, base64.
#include "ingress/json_util.h"

#include <gtest/gtest.h>

namespace jb::oip {
namespace {

TEST(JsonUtil, BoundedParseRefusesDeepOrLargeDocuments) {
  EXPECT_TRUE(ParseJsonBounded(R"({"a":[[1]]})", 3, 10).ok());
  auto deep = ParseJsonBounded(R"({"a":[[1]]})", 2, 10);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().message(), "JSON nested deeper than 2 levels");
  // A million nested arrays: refused, without recursion or a tree that deep.
  auto huge = ParseJsonBounded(std::string(1000000, '[') + std::string(1000000, ']'), 32, 100);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().message(), "JSON nested deeper than 32 levels");
  auto many = ParseJsonBounded("[1,2,3,4]", 8, 3);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().message(), "JSON has more than 3 values");
  auto bad = ParseJsonBounded("{\"a\":}", 8, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("malformed JSON: parse error at line 1, column 6", 0), 0u)
      << bad.status().message();
}

TEST(JsonUtil, Utf8Validation) {
  EXPECT_TRUE(ValidUtf8("plain"));
  EXPECT_TRUE(ValidUtf8("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(ValidUtf8("\xff"));
  EXPECT_FALSE(ValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(ValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(ValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(ValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(JsonUtil, Base64Rfc4648Vectors) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace jb::oip
