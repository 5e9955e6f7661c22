#include "api/value.h"

#include <gtest/gtest.h>

#include <cmath>

namespace jb {
namespace {

TEST(Value, ScalarsAreTypedLikeYaml12) {
  auto docs = ParseYamlStream("a: 1\nb: 1.5\nc: \"1\"\nd: true\ne: ~\nf: hello\ng: -2e3\nh: .inf\n");
  ASSERT_EQ(docs.size(), 1u);
  const Value& v = docs[0].root;
  EXPECT_TRUE(v.Find("a")->is_integer());
  EXPECT_TRUE(v.Find("b")->is_number());
  EXPECT_FALSE(v.Find("b")->is_integer());
  EXPECT_TRUE(v.Find("c")->is_string()) << "quoted scalars stay strings";
  EXPECT_TRUE(v.Find("d")->is_bool());
  EXPECT_TRUE(v.Find("e")->is_null());
  EXPECT_EQ(v.Find("f")->as_string(), "hello");
  EXPECT_EQ(v.Find("g")->as_number(), -2000);
  EXPECT_TRUE(std::isinf(v.Find("h")->as_number()));
}

TEST(Value, MarksAreOneBasedLineAndColumn) {
  auto docs = ParseYamlStream("a:\n  b: 3\n");
  const Value* b = docs[0].root.Find("a")->Find("b");
  EXPECT_EQ(b->mark().line, 2);
  EXPECT_EQ(b->mark().column, 6);
  EXPECT_EQ(docs[0].root.Find("a")->entries()[0].key_mark.column, 3);
}

TEST(Value, BrokenDocumentDoesNotHideTheOthers) {
  auto docs = ParseYamlStream("a: 1\n---\nb: [1, 2\n---\nc: 3\n");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_TRUE(docs[0].error.ok());
  EXPECT_FALSE(docs[1].error.ok());
  EXPECT_GE(docs[1].error_mark.line, 3);
  EXPECT_TRUE(docs[2].error.ok());
  EXPECT_EQ(docs[2].root.Find("c")->as_number(), 3);
  EXPECT_EQ(docs[2].root.Find("c")->mark().line, 5) << "line numbers count from the start of the stream";
}

TEST(Value, DuplicateKeysAreErrors) {
  auto docs = ParseYamlStream("a: 1\na: 2\n");
  EXPECT_FALSE(docs[0].error.ok());
  EXPECT_EQ(docs[0].error_mark.line, 2);
}

TEST(Value, JsonIsParsedWithPositions) {
  auto docs = ParseYamlStream("{\"a\": {\"b\": [1, \"x\"]},\n \"c\": null}");
  ASSERT_TRUE(docs[0].error.ok());
  const Value* b = docs[0].root.Find("a")->Find("b");
  EXPECT_TRUE(b->items()[1].is_string());
  EXPECT_EQ(docs[0].root.Find("c")->is_null(), true);
}

TEST(Value, NumbersRoundTripExactly) {
  for (double d : {0.1, 794.0348300933838, 1e-300, 123456789.123456789, 40.0, -3.823, 2.00390625}) {
    auto docs = ParseYamlStream("x: " + FormatNumber(d) + "\n");
    EXPECT_EQ(docs[0].root.Find("x")->as_number(), d) << FormatNumber(d);
  }
}

TEST(Value, YamlAndJsonEmittersRoundTrip) {
  Value v = Value::Map();
  v.Set("s", Value::String("needs: quoting #really"));
  v.Set("t", Value::String("true"));
  v.Set("n", Value::String("12"));
  v.Set("e", Value::String(""));
  v.Set("u", Value::String("line\nbreak \"q\" \\"));
  Value seq = Value::Seq();
  Value item = Value::Map();
  item.Set("k", Value::Number(0.25));
  item.Set("l", Value::Seq());
  seq.Append(item);
  seq.Append(Value::Bool(false));
  v.Set("list", seq);
  for (const std::string& text : {ToYaml(v), ToJson(v), ToJson(v, true)}) {
    auto docs = ParseYamlStream(text);
    ASSERT_EQ(docs.size(), 1u) << text;
    ASSERT_TRUE(docs[0].error.ok()) << text;
    const Value& r = docs[0].root;
    EXPECT_EQ(r.Find("s")->as_string(), "needs: quoting #really") << text;
    EXPECT_TRUE(r.Find("t")->is_string()) << text;
    EXPECT_TRUE(r.Find("n")->is_string()) << text;
    EXPECT_EQ(r.Find("e")->as_string(), "") << text;
    EXPECT_EQ(r.Find("u")->as_string(), "line\nbreak \"q\" \\") << text;
    EXPECT_EQ(r.Find("list")->items()[0].Find("k")->as_number(), 0.25) << text;
    EXPECT_FALSE(r.Find("list")->items()[1].as_bool()) << text;
  }
}

TEST(Value, DeepNestingIsRejectedNotACrash) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  auto docs = ParseYamlStream("a: " + deep + "\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_FALSE(docs[0].error.ok());
}

// An integer literal beyond int64 was converted to int64 before the range check: undefined
// behaviour (UBSan's float-cast-overflow, found by fuzz/agent_frame_fuzzer.cc on the agent port).
TEST(Value, IntegerLiteralBeyondInt64IsANumberWithoutOverflow) {
  auto docs = ParseYamlStream("a: 77777777777777777777777777777\nb: -9223372036854775809\nc: 9007199254740991\n");
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_TRUE(docs[0].error.ok()) << docs[0].error.message();
  const Value& v = docs[0].root;
  EXPECT_FALSE(v.Find("a")->is_integer());
  EXPECT_DOUBLE_EQ(v.Find("a")->as_number(), 7.7777777777777777e28);
  EXPECT_FALSE(v.Find("b")->is_integer());
  EXPECT_DOUBLE_EQ(v.Find("b")->as_number(), -9223372036854775809.0);
  EXPECT_TRUE(v.Find("c")->is_integer());
  EXPECT_EQ(v.Find("c")->as_number(), 9007199254740991.0);
}

}  // namespace
}  // namespace jb
