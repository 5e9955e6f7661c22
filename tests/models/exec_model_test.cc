// ServeModel (models/common/exec_model.h) in-process over two pipes: what a model process using it
// answers to well-formed, failing and malformed input, under v2 and v1.
#include "models/common/exec_model.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "tests/models/model_process.h"

namespace jb::exec {
namespace {

// Echoes the part "in"; "fail" fails the item, "throw" throws, "big" answers over the limit.
StatusOr<std::string> Echo(const Request& req) {
  const Part* in = InputPart(req, "in");
  if (in == nullptr) return Status::InvalidArgument("no part named in");
  if (in->data == "fail") return Status::InvalidArgument("cannot read it");
  if (in->data == "throw") throw std::runtime_error("boom");
  if (in->data == "big") return std::string(4096, 'b');
  return "echo:" + in->data;
}

// Runs ServeModel over `input` (closed after writing) and returns its exit code and all it wrote.
std::pair<int, std::string> Serve(const std::string& input, Limits limits = {}) {
  int in[2], out[2];
  EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  int rc = -1;
  std::thread model([&] {
    ServeOptions o;
    o.in_fd = in[0];
    o.out_fd = out[1];
    o.limits = limits;
    rc = ServeModel("{\"ready\":true}", Echo, o);
    close(out[1]);
  });
  std::thread feeder([&] {
    size_t at = 0;
    while (at < input.size()) {
      ssize_t n = write(in[1], input.data() + at, input.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    close(in[1]);
  });
  std::string got;
  char buf[65536];
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(n));
  feeder.join();
  model.join();
  close(in[0]);
  close(out[0]);
  return {rc, got};
}

std::vector<RawFrame> Frames(const std::string& bytes, Framing f = Framing::kV2) {
  ExecStreamDecoder dec(f);
  dec.Feed(bytes.data(), bytes.size());
  std::vector<RawFrame> out;
  for (;;) {
    auto next = dec.Next();
    if (!next.ok() || !next->has_value()) break;
    out.push_back(std::move(**next));
  }
  return out;
}

std::string Req(const std::string& key, const std::string& data) {
  std::string b;
  EXPECT_TRUE(EncodeRequest({key, {{"in", data}}}, {}, &b).ok());
  return b;
}

Response Resp(const RawFrame& f) {
  auto r = DecodeResponseBody(f.body, {});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Response{};
}

TEST(ExecModel, AnswersHelloThenEveryRequestInOrder) {
  std::string in;
  ASSERT_TRUE(EncodeHello("{\"framing\":2}", {}, &in).ok());
  in += Req("a", "one") + Req("b", "fail") + Req("c", "throw") + Req("d", "two");
  auto [rc, out] = Serve(in);
  EXPECT_EQ(rc, 0);
  auto f = Frames(out);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(DecodeHelloBody(f[0].body, {}).value(), "{\"ready\":true}");
  EXPECT_EQ(Resp(f[1]).data, "echo:one");
  EXPECT_FALSE(Resp(f[2]).ok);
  EXPECT_EQ(Resp(f[2]).key, "b");
  EXPECT_EQ(Resp(f[2]).data, "cannot read it");
  EXPECT_FALSE(Resp(f[3]).ok);
  EXPECT_NE(Resp(f[3]).data.find("boom"), std::string::npos);
  EXPECT_EQ(Resp(f[4]).key, "d");
  EXPECT_EQ(Resp(f[4]).data, "echo:two");
}

TEST(ExecModel, HelloComesFirstEvenWithoutTheWorkersAndOnlyOnce) {
  std::string hello;
  ASSERT_TRUE(EncodeHello("again", {}, &hello).ok());
  auto [rc, out] = Serve(Req("a", "x") + hello + Req("b", "y"));
  EXPECT_EQ(rc, 0);
  auto f = Frames(out);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(BodyType(f[0].body), Type::kHello);
  EXPECT_EQ(Resp(f[1]).key, "a");
  EXPECT_EQ(Resp(f[2]).key, "b");
}

TEST(ExecModel, AnAnswerOverTheLimitFailsTheItemNotTheStream) {
  Limits small;
  small.max_body_bytes = 1024;
  auto [rc, out] = Serve(Req("a", "big") + Req("b", "ok"), small);
  EXPECT_EQ(rc, 0);
  auto f = Frames(out);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_FALSE(Resp(f[1]).ok);
  EXPECT_EQ(Resp(f[1]).key, "a");
  EXPECT_EQ(Resp(f[2]).data, "echo:ok");
}

TEST(ExecModel, MalformedRequestIsAnsweredWithItsKey) {
  std::string bad = Req("k7", "data");
  bad[bad.size() - 5] = '\x7f';  // the data length now runs past the body
  auto [rc, out] = Serve(bad + Req("k8", "fine"));
  EXPECT_EQ(rc, 0);
  auto f = Frames(out);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_FALSE(Resp(f[1]).ok);
  EXPECT_EQ(Resp(f[1]).key, "k7");
  EXPECT_EQ(Resp(f[2]).data, "echo:fine");
}

TEST(ExecModel, EndOfInputInsideAFrameExitsOne) {
  const std::string r = Req("a", "x");
  EXPECT_EQ(Serve(r.substr(0, r.size() - 1)).first, 1);
  EXPECT_EQ(Serve("").first, 0);
}

TEST(ExecModel, V1RequestsGetV1AnswersAndFailuresAnswerEmpty) {
  std::string in;
  ASSERT_TRUE(EncodeV1("one", {}, &in).ok());
  ASSERT_TRUE(EncodeV1("fail", {}, &in).ok());
  ASSERT_TRUE(EncodeV1("", {}, &in).ok());
  auto [rc, out] = Serve(in);
  EXPECT_EQ(rc, 0);
  auto f = Frames(out, Framing::kV1);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].body, "echo:one");
  EXPECT_EQ(f[1].body, "");
  EXPECT_EQ(f[2].body, "echo:");
}

// The exec runtime's existing example (worker/examples/wordcount_model.cc, v1 only) reads
// EncodeV1 frames and its answers decode with ExecStreamDecoder as they always did.
TEST(ExecModel, TheV1ExampleModelSpeaksWithTheNewCodec) {
  modeltest::ModelProcess wc({JB_EXAMPLE_MODEL}, {}, {}, Framing::kAuto);
  std::string in;
  ASSERT_TRUE(EncodeV1("three small words", {}, &in).ok());
  ASSERT_TRUE(EncodeV1("", {}, &in).ok());
  ASSERT_TRUE(wc.Send(in));
  auto a = wc.Read();
  auto b = wc.Read();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->version, 1);
  EXPECT_EQ(a->body, "words=3 bytes=17");
  EXPECT_EQ(b->body, "words=0 bytes=0");
  wc.CloseInput();
  EXPECT_EQ(wc.Wait(), 0);
}

}  // namespace
}  // namespace jb::exec
