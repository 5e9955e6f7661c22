// Infer responses and error replies (ingress/oip_reply.h) against the bytes clients parse
// (docs/oip-v2.md sections 1-3).
#include "ingress/oip_reply.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "ingress/oip_request.h"

namespace jb::oip {
namespace {

const std::string kHelloWorldBin = std::string("\x05\x00\x00\x00hello\x05\x00\x00\x00world", 18);

InferRequest ParseOk(const std::string& body, std::optional<std::string> header = std::nullopt) {
  RequestView v{body, std::nullopt};
  if (header) v.header_length = *header;
  auto r = ParseInferRequest(v, {});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : InferRequest{};
}

Tensor Fp32(std::string name, std::vector<uint64_t> shape, std::vector<float> v) {
  std::string raw(v.size() * 4, '\0');
  std::memcpy(raw.data(), v.data(), raw.size());
  auto t = MakeTensor(std::move(name), Datatype::kFp32, std::move(shape), raw);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? *t : Tensor{};
}

TEST(OipReply, BinaryResponseIsByteForByteWhatTritonSends) {
  const std::string j =
      R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":18}}],)"
      R"("outputs":[{"name":"OUT","parameters":{"binary_data":true}}]})";
  InferRequest req = ParseOk(j + kHelloWorldBin, std::to_string(j.size()));
  InferResponse resp{"echo", "1", "", {BytesTensor("OUT", {"hello", "world"})}};
  HttpReply r = EncodeInferResponse(resp, req);
  const std::string json =
      R"({"model_name":"echo","model_version":"1","outputs":[{"name":"OUT","datatype":"BYTES","shape":[2],)"
      R"("parameters":{"binary_data_size":18}}]})";
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.Header("Inference-Header-Content-Length"), "136");
  EXPECT_EQ(json.size(), 136u);
  EXPECT_EQ(r.body, json + kHelloWorldBin);
  EXPECT_EQ(r.body.size(), 154u);  // the Content-Length of the notes' example
}

TEST(OipReply, JsonResponseForTheFp32ExampleAndIdEchoed) {
  InferRequest req =
      ParseOk(R"({"id":"42","inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32","data":[[1.0,2.0,3.0,4.0]]}],)"
              R"("outputs":[{"name":"OUTPUT0"}]})");
  InferResponse resp{"add", "1", req.id, {Fp32("OUTPUT0", {1, 4}, {2, 3, 4, 5})}};
  HttpReply r = EncodeInferResponse(resp, req);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.Header("Inference-Header-Content-Length"), "");
  EXPECT_EQ(r.body,
            R"({"model_name":"add","model_version":"1","id":"42","outputs":[{"name":"OUTPUT0","datatype":"FP32",)"
            R"("shape":[1,4],"data":[2.0,3.0,4.0,5.0]}]})");
  // Same content as the notes' example (which orders shape before datatype).
  EXPECT_EQ(nlohmann::json::parse(r.body),
            nlohmann::json::parse(R"({"model_name":"add","model_version":"1","id":"42","outputs":[{"name":"OUTPUT0",)"
                                  R"("shape":[1,4],"datatype":"FP32","data":[2.0,3.0,4.0,5.0]}]})"));
}

TEST(OipReply, BytesJsonExampleWithoutVersionOrId) {
  InferRequest req = ParseOk(R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","data":["hello","world"]}]})");
  HttpReply r = EncodeInferResponse({"echo", std::nullopt, "", {BytesTensor("OUT", {"hello", "world"})}}, req);
  EXPECT_EQ(
      r.body,
      R"({"model_name":"echo","outputs":[{"name":"OUT","datatype":"BYTES","shape":[2],"data":["hello","world"]}]})");
}

TEST(OipReply, BinaryDataOutputAppliesOnlyToOutputsNotNamed) {
  InferRequest req = ParseOk(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}],)"
                             R"("parameters":{"binary_data_output":true},"outputs":[{"name":"J"}]})");
  HttpReply r = EncodeInferResponse({"m", std::nullopt, "", {BytesTensor("J", {"j"}), BytesTensor("B", {"b"})}}, req);
  const std::string json = R"({"model_name":"m","outputs":[{"name":"J","datatype":"BYTES","shape":[1],"data":["j"]},)"
                           R"({"name":"B","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}}]})";
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.Header("Inference-Header-Content-Length"), std::to_string(json.size()));
  EXPECT_EQ(r.body, json + std::string("\x01\x00\x00\x00"
                                       "b",
                                       5));
}

TEST(OipReply, NonUtf8BytesAndFp16AreSentBinaryEvenWhenJsonWasAsked) {
  InferRequest req = ParseOk(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}]})");
  HttpReply r = EncodeInferResponse({"m", std::nullopt, "", {BytesTensor("O", {std::string("\xff\xfe", 2)})}}, req);
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_NE(r.body.find(R"("parameters":{"binary_data_size":6})"), std::string::npos);
  auto h = MakeTensor("H", Datatype::kFp16, {1}, std::string("\x00\x3c", 2));
  ASSERT_TRUE(h.ok());
  r = EncodeInferResponse({"m", std::nullopt, "", {*h}}, req);
  EXPECT_EQ(r.Header("Inference-Header-Content-Length"), std::to_string(r.body.size() - 2));
}

TEST(OipReply, NanAndInfinityAreSentBinaryBecauseJsonCannotCarryThem) {
  InferRequest req = ParseOk(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}]})");
  HttpReply r = EncodeInferResponse(
      {"m", std::nullopt, "", {Fp32("O", {2}, {1.0f, std::numeric_limits<float>::quiet_NaN()})}}, req);
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.body.find("null"), std::string::npos);
  EXPECT_NE(r.body.find(R"("parameters":{"binary_data_size":8})"), std::string::npos);
}

TEST(OipReply, EmptyBinaryOutputGivesPlainJsonLikeTriton) {
  InferRequest req = ParseOk(
      R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}],"parameters":{"binary_data_output":true}})");
  auto t = MakeTensor("O", Datatype::kFp32, {0}, "");
  ASSERT_TRUE(t.ok());
  HttpReply r = EncodeInferResponse({"m", std::nullopt, "", {*t}}, req);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.Header("Inference-Header-Content-Length"), "");
  EXPECT_EQ(
      r.body,
      R"({"model_name":"m","outputs":[{"name":"O","datatype":"FP32","shape":[0],"parameters":{"binary_data_size":0}}]})");
}

TEST(OipReply, IntegerAndBoolOutputsAsJson) {
  InferRequest req = ParseOk(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}]})");
  auto i = MakeTensor("I", Datatype::kInt16, {2}, std::string("\xff\xff\x02\x00", 4));
  auto b = MakeTensor("B", Datatype::kBool, {2}, std::string("\x01\x00", 2));
  ASSERT_TRUE(i.ok() && b.ok());
  HttpReply r = EncodeInferResponse({"m", std::nullopt, "", {*i, *b}}, req);
  EXPECT_EQ(r.body, R"({"model_name":"m","outputs":[{"name":"I","datatype":"INT16","shape":[2],"data":[-1,2]},)"
                    R"({"name":"B","datatype":"BOOL","shape":[2],"data":[true,false]}]})");
}

TEST(OipReply, MakeTensorChecksBytesAgainstTheShape) {
  EXPECT_FALSE(MakeTensor("x", Datatype::kFp32, {2}, std::string(4, '\0')).ok());
  EXPECT_FALSE(MakeTensor("x", Datatype::kBytes, {2},
                          std::string("\x01\x00\x00\x00"
                                      "a",
                                      5))
                   .ok());
  EXPECT_TRUE(MakeTensor("x", Datatype::kBytes, {1},
                         std::string("\x01\x00\x00\x00"
                                     "a",
                                     5))
                  .ok());
}

TEST(OipReply, ErrorRepliesAreJsonWithExactContentType) {
  HttpReply e = ErrorReply(Status::InvalidArgument("input 'x': bad"));
  EXPECT_EQ(e.status, 400);
  ASSERT_EQ(e.headers.size(), 1u);
  EXPECT_EQ(e.headers[0].first, "Content-Type");
  EXPECT_EQ(e.headers[0].second, "application/json");
  EXPECT_EQ(e.body, R"({"error":"input 'x': bad"})");
  EXPECT_EQ(ErrorReply(Status::NotFound("m")).status, 404);
  EXPECT_EQ(ErrorReply(Status::Infeasible("big")).status, 413);
  EXPECT_EQ(ErrorReply(Status::Unavailable("not ready")).status, 503);
  EXPECT_EQ(ErrorReply(Status::DeadlineExceeded("late")).status, 504);
  EXPECT_EQ(ErrorReply(Status::Internal("x")).status, 500);
  HttpReply busy = TooManyRequestsReply("workflow 'w' is at its queue limit", 2);
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.Header("Retry-After"), "2");
  EXPECT_EQ(busy.body, R"({"error":"workflow 'w' is at its queue limit"})");
  EXPECT_EQ(TooManyRequestsReply("x", 0).Header("Retry-After"), "1");
  // A message with quotes and invalid UTF-8 still makes valid JSON.
  HttpReply q = ErrorReply(400, std::string("say \"hi\" \xff", 10));
  auto parsed = nlohmann::json::parse(q.body, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed["error"].get<std::string>().substr(0, 9), "say \"hi\" ");
}

}  // namespace
}  // namespace jb::oip
