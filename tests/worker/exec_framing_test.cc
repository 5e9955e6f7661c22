#include "worker/exec_framing.h"

#include <gtest/gtest.h>

#include <random>

namespace jb::exec {
namespace {

Request TwoParts(const std::string& key) {
  Request r;
  r.key = key;
  r.parts.push_back({"ReadDocument", std::string("\xff\xd8\x00\x01jpeg", 8)});
  r.parts.push_back({"ReadQuestion", "RIFF....WAVE"});
  return r;
}

std::string Body(const std::string& frame) { return frame.substr(kHeaderBytes); }

// Decodes every frame of `wire`, fed in chunks of random size.
std::vector<RawFrame> DecodeAll(const std::string& wire, std::mt19937& rng, Framing framing = Framing::kAuto) {
  ExecStreamDecoder dec(framing);
  std::vector<RawFrame> got;
  for (size_t at = 0; at < wire.size();) {
    size_t n = std::min(wire.size() - at, static_cast<size_t>(1 + rng() % 97));
    dec.Feed(wire.data() + at, n);
    at += n;
    for (;;) {
      auto next = dec.Next();
      EXPECT_TRUE(next.ok()) << next.status().message();
      if (!next.ok() || !next->has_value()) break;
      got.push_back(std::move(**next));
    }
  }
  EXPECT_EQ(dec.buffered(), 0u);
  return got;
}

TEST(ExecFraming, RequestRoundTripsWithNamedBinaryParts) {
  std::string wire;
  ASSERT_TRUE(EncodeRequest(TwoParts("req-17"), {}, &wire).ok());
  EXPECT_EQ(wire.substr(0, 4), std::string("JBX\x02", 4));
  EXPECT_TRUE(StartsV2(wire));
  auto req = DecodeRequestBody(Body(wire), {});
  ASSERT_TRUE(req.ok()) << req.status().message();
  EXPECT_EQ(req->key, "req-17");
  ASSERT_EQ(req->parts.size(), 2u);
  ASSERT_NE(req->Find("ReadDocument"), nullptr);
  EXPECT_EQ(req->Find("ReadDocument")->data, std::string("\xff\xd8\x00\x01jpeg", 8));
  EXPECT_EQ(req->Find("ReadQuestion")->data, "RIFF....WAVE");
  EXPECT_EQ(req->Find("Other"), nullptr);
}

TEST(ExecFraming, ExactBytesOfASmallRequest) {
  Request r;
  r.key = "k";
  r.parts.push_back({"in", "ab"});
  std::string wire;
  ASSERT_TRUE(EncodeRequest(r, {}, &wire).ok());
  const std::string want(
      "JBX\x02\x10\x00\x00\x00Q\x01\x00k\x01\x00\x02\x00in\x02\x00\x00\x00"
      "ab",
      24);
  EXPECT_EQ(wire, want);
}

TEST(ExecFraming, ResponsesAndHelloRoundTrip) {
  std::string wire;
  ASSERT_TRUE(EncodeResponse({"a", true, "44"}, {}, &wire).ok());
  auto ok = DecodeResponseBody(Body(wire), {});
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->key, "a");
  EXPECT_EQ(ok->data, "44");
  wire.clear();
  ASSERT_TRUE(EncodeResponse({"b", false, "no part named ReadQuestion"}, {}, &wire).ok());
  auto err = DecodeResponseBody(Body(wire), {});
  ASSERT_TRUE(err.ok());
  EXPECT_FALSE(err->ok);
  EXPECT_EQ(err->data, "no part named ReadQuestion");
  EXPECT_EQ(BodyType(Body(wire)), Type::kError);
  wire.clear();
  ASSERT_TRUE(EncodeHello("{\"ready\":true}", {}, &wire).ok());
  auto hello = DecodeHelloBody(Body(wire), {});
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(*hello, "{\"ready\":true}");
  EXPECT_EQ(BodyType(Body(wire)), Type::kHello);
}

TEST(ExecFraming, StreamRoundTripsWhateverTheChunking) {
  std::string wire;
  ASSERT_TRUE(EncodeHello("hi", {}, &wire).ok());
  for (int i = 0; i < 40; ++i) {
    Request r = TwoParts("key-" + std::to_string(i));
    r.parts[1].data = std::string(static_cast<size_t>(i) * 131, static_cast<char>(i));
    ASSERT_TRUE(EncodeRequest(r, {}, &wire).ok());
  }
  std::mt19937 rng(3);
  for (int trial = 0; trial < 10; ++trial) {
    auto got = DecodeAll(wire, rng);
    ASSERT_EQ(got.size(), 41u);
    EXPECT_TRUE(DecodeHelloBody(got[0].body, {}).ok());
    for (int i = 0; i < 40; ++i) {
      auto r = DecodeRequestBody(got[static_cast<size_t>(i) + 1].body, {});
      ASSERT_TRUE(r.ok()) << r.status().message();
      EXPECT_EQ(r->key, "key-" + std::to_string(i));
      EXPECT_EQ(r->parts[1].data.size(), static_cast<size_t>(i) * 131);
    }
  }
}

TEST(ExecFraming, EveryTruncationOfABodyIsAnError) {
  std::string wire;
  ASSERT_TRUE(EncodeRequest(TwoParts("truncate-me"), {}, &wire).ok());
  const std::string body = Body(wire);
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = DecodeRequestBody(std::string_view(body).substr(0, n), {});
    EXPECT_FALSE(r.ok()) << n;
  }
  auto extra = DecodeRequestBody(body + "x", {});
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.status().message().find("trailing"), std::string::npos);
  wire.clear();
  ASSERT_TRUE(EncodeResponse({"k", true, "text"}, {}, &wire).ok());
  for (size_t n = 0; n + kHeaderBytes < wire.size(); ++n)
    EXPECT_FALSE(DecodeResponseBody(std::string_view(wire).substr(kHeaderBytes, n), {}).ok()) << n;
}

TEST(ExecFraming, LimitsAreCheckedOnBothSides) {
  Limits small;
  small.max_body_bytes = 64;
  small.max_parts = 1;
  small.max_key_bytes = 4;
  small.max_name_bytes = 8;
  std::string wire;
  EXPECT_FALSE(EncodeRequest(TwoParts("k"), small, &wire).ok());           // two parts
  EXPECT_FALSE(EncodeRequest(Request{"toolong", {}}, small, &wire).ok());  // key
  EXPECT_FALSE(EncodeRequest(Request{"k", {{"a-very-long-name", ""}}}, small, &wire).ok());
  EXPECT_FALSE(EncodeRequest(Request{"k", {{"a", std::string(100, 'x')}}}, small, &wire).ok());
  EXPECT_FALSE(EncodeResponse({"k", true, std::string(100, 'x')}, small, &wire).ok());
  EXPECT_TRUE(wire.empty());  // failed encoders append nothing
  // The decoder enforces the same limits on a sender with looser ones.
  ASSERT_TRUE(EncodeRequest(TwoParts("k"), {}, &wire).ok());
  auto parts = DecodeRequestBody(Body(wire), small);
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find("parts exceeds"), std::string::npos);
  wire.clear();
  ASSERT_TRUE(EncodeRequest(Request{"toolong", {}}, {}, &wire).ok());
  EXPECT_FALSE(DecodeRequestBody(Body(wire), small).ok());
  wire.clear();
  ASSERT_TRUE(EncodeRequest(Request{"k", {{"a-very-long-name", ""}}}, {}, &wire).ok());
  EXPECT_FALSE(DecodeRequestBody(Body(wire), small).ok());
}

TEST(ExecFraming, DuplicatePartNamesAreRejected) {
  Request r{"k", {{"a", "1"}, {"a", "2"}}};
  std::string wire;
  EXPECT_FALSE(EncodeRequest(r, {}, &wire).ok());
  // Hand-made body with the duplicate.
  std::string body(
      "Q\x01\x00k\x02\x00\x01\x00"
      "a\x01\x00\x00\x00"
      "1\x01\x00"
      "a\x01\x00\x00\x00"
      "2",
      23);
  auto d = DecodeRequestBody(body, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("duplicate"), std::string::npos);
}

TEST(ExecFraming, WrongTypeByteIsAnError) {
  std::string wire;
  ASSERT_TRUE(EncodeResponse({"k", true, "x"}, {}, &wire).ok());
  EXPECT_FALSE(DecodeRequestBody(Body(wire), {}).ok());
  EXPECT_FALSE(DecodeHelloBody(Body(wire), {}).ok());
  EXPECT_FALSE(BodyType("Z").has_value());
  EXPECT_FALSE(BodyType("").has_value());
}

TEST(ExecFraming, OversizeFrameIsSkippedWithoutBufferingAndTheStreamGoesOn) {
  Limits limits;
  limits.max_body_bytes = 1024;
  std::string wire;
  ASSERT_TRUE(EncodeRequest(Request{"big", {{"in", std::string(200000, 'x')}}}, {}, &wire).ok());
  ASSERT_TRUE(EncodeRequest(Request{"small", {{"in", "y"}}}, limits, &wire).ok());
  ExecStreamDecoder dec(Framing::kV2, limits);
  std::vector<RawFrame> got;
  size_t max_held = 0;
  for (size_t at = 0; at < wire.size(); at += 512) {
    dec.Feed(wire.data() + at, std::min<size_t>(512, wire.size() - at));
    max_held = std::max(max_held, dec.held());
    for (;;) {
      auto next = dec.Next();
      ASSERT_TRUE(next.ok()) << next.status().message();
      if (!next->has_value()) break;
      got.push_back(std::move(**next));
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].skipped.ok());
  EXPECT_NE(got[0].skipped.message().find("exceeds the limit 1024"), std::string::npos);
  EXPECT_TRUE(got[0].body.empty());
  EXPECT_TRUE(got[1].skipped.ok());
  auto small = DecodeRequestBody(got[1].body, limits);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->key, "small");
  EXPECT_LE(max_held, 2048u);  // never the 200 kB the first frame claimed
}

TEST(ExecFraming, UnsupportedVersionIsSkippedAndOldOrMissingMagicPoisons) {
  std::string wire("JBX\x03\x05\x00\x00\x00hello", 13);
  ASSERT_TRUE(EncodeResponse({"k", true, "after"}, {}, &wire).ok());
  std::mt19937 rng(5);
  auto got = DecodeAll(wire, rng);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].version, 3);
  EXPECT_NE(got[0].skipped.message().find("unsupported exec framing version 3"), std::string::npos);
  EXPECT_EQ(DecodeResponseBody(got[1].body, {})->data, "after");

  std::string stream;
  ASSERT_TRUE(EncodeHello("x", {}, &stream).ok());
  stream += std::string("XYZ\x02\x00\x00\x00\x00", 8);
  ExecStreamDecoder dec;
  dec.Feed(stream.data(), stream.size());
  auto first = dec.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  auto bad = dec.Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("magic"), std::string::npos);
  EXPECT_FALSE(dec.Next().ok());  // poisoned for good

  ExecStreamDecoder v2;
  v2.Feed("JBX\x02\x00\x00\x00\x00", 8);
  ASSERT_TRUE(v2.Next().ok());
  v2.Feed("JBX\x01\x00\x00\x00\x00", 8);
  EXPECT_FALSE(v2.Next().ok());
}

TEST(ExecFraming, V1FramesAreDecodedAsBefore) {
  // The framing of worker/examples/wordcount_model.cc: u32 LE length and the payload.
  std::string wire;
  ASSERT_TRUE(EncodeV1("hello world", {}, &wire).ok());
  ASSERT_TRUE(EncodeV1("", {}, &wire).ok());
  ASSERT_TRUE(EncodeV1(std::string(70000, 'z'), {}, &wire).ok());
  EXPECT_EQ(wire.substr(0, 4), std::string("\x0b\x00\x00\x00", 4));
  std::mt19937 rng(7);
  auto got = DecodeAll(wire, rng);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].version, 1);
  EXPECT_EQ(got[0].body, "hello world");
  EXPECT_EQ(got[1].body, "");
  EXPECT_EQ(got[2].body.size(), 70000u);
  // A v1 length is at most 16 MiB, so its 4th byte is 0 or 1: never mistaken for v2, even when
  // the first three bytes spell the magic.
  EXPECT_FALSE(StartsV2(std::string("JBX\x00", 4)));
  EXPECT_FALSE(StartsV2(std::string("JBX\x01", 4)));
  ExecStreamDecoder dec;
  std::string looks_like_magic("JBX\x00", 4);  // length 0x0058424a: 5.8 MB, under the v1 limit
  dec.Feed(looks_like_magic.data(), 4);
  ASSERT_TRUE(dec.Next().ok());
  EXPECT_EQ(dec.framing(), Framing::kV1);
  // Over the v1 limit poisons, as worker/framing.h does.
  ExecStreamDecoder over;
  over.Feed("\x01\x00\x00\x02", 4);
  EXPECT_FALSE(over.Next().ok());
  // A v2 frame in a v1 stream poisons too.
  ExecStreamDecoder mixed;
  std::string v1v2;
  ASSERT_TRUE(EncodeV1("a", {}, &v1v2).ok());
  ASSERT_TRUE(EncodeHello("b", {}, &v1v2).ok());
  mixed.Feed(v1v2.data(), v1v2.size());
  ASSERT_TRUE(mixed.Next().ok());
  EXPECT_FALSE(mixed.Next().ok());
}

}  // namespace
}  // namespace jb::exec
