// Infer request parsing (ingress/oip_request.h) on the exact bytes real clients send
// (docs/oip-v2.md: tritonclient Python and C++, KServe's InferenceRESTClient, curl), and every
// class of error with its HTTP status and message.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ingress/oip_reply.h"
#include "ingress/oip_request.h"

namespace jb::oip {
namespace {

const std::string kHelloWorldBin = std::string("\x05\x00\x00\x00hello\x05\x00\x00\x00world", 18);

StatusOr<InferRequest> Parse(const std::string& body, std::optional<std::string> header = std::nullopt,
                             RequestLimits limits = {}) {
  RequestView v{body, std::nullopt};
  if (header) v.header_length = *header;
  return ParseInferRequest(v, limits);
}

std::vector<std::string> Strings(const Tensor& t) {
  auto split = SplitBytesElements(t.raw, t.elements, 1 << 20);
  EXPECT_TRUE(split.ok()) << split.status().message();
  std::vector<std::string> out;
  if (split.ok()) {
    for (auto s : *split) out.emplace_back(s);
  }
  return out;
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> out(t.raw.size() / 4);
  std::memcpy(out.data(), t.raw.data(), out.size() * 4);
  return out;
}

// Expects a parse failure with `status` whose message contains every one of `parts`.
void ExpectError(const StatusOr<InferRequest>& r, int status, std::initializer_list<const char*> parts) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(HttpStatusFor(r.status()), status) << r.status().message();
  for (const char* p : parts) EXPECT_NE(r.status().message().find(p), std::string::npos) << r.status().message();
}

// ---- tritonclient Python (geventhttpclient), binary by default ------------------------------

TEST(OipWire, TritonPythonBytesInputWithRequestedBinaryOutputParses) {
  const std::string json =
      R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":18}}],)"
      R"("outputs":[{"name":"OUT","parameters":{"binary_data":true}}]})";
  ASSERT_EQ(json.size(), 157u);  // the Inference-Header-Content-Length the client sends
  const std::string body = json + kHelloWorldBin;
  ASSERT_EQ(body.size(), 175u);  // its Content-Length
  auto r = Parse(body, "157");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].name, "TEXT");
  EXPECT_EQ(r->inputs[0].datatype, Datatype::kBytes);
  EXPECT_EQ(r->inputs[0].shape, std::vector<uint64_t>{2});
  EXPECT_EQ(r->inputs[0].raw, kHelloWorldBin);
  EXPECT_EQ(Strings(r->inputs[0]), (std::vector<std::string>{"hello", "world"}));
  EXPECT_TRUE(r->binary_request);
  EXPECT_TRUE(r->id.empty());
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_TRUE(r->WantsBinary("OUT"));
}

TEST(OipWire, TritonPythonWithoutOutputsAsksForBinaryOutputs) {
  const std::string json =
      R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":18}}],)"
      R"("parameters":{"binary_data_output":true}})";
  ASSERT_EQ(json.size(), 137u);
  auto r = Parse(json + kHelloWorldBin, "137");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->binary_data_output);
  EXPECT_TRUE(r->outputs.empty());
  EXPECT_TRUE(r->WantsBinary("anything"));
  EXPECT_EQ(Strings(r->inputs[0]), (std::vector<std::string>{"hello", "world"}));
}

TEST(OipWire, TritonPythonFp32BinaryInputKeepsItsBytes) {
  const std::string json =
      R"({"inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],)"
      R"("parameters":{"binary_data_output":true}})";
  const std::string bin("\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40", 16);
  auto r = Parse(json + bin, std::to_string(json.size()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].shape, (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(Floats(r->inputs[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(OipWire, TritonPythonJsonInputsWithTimeoutAndSequenceParameters) {
  // binary_data=False: flattened 1-D JSON data; request parameters the client sets.
  const std::string body =
      R"({"id":"req-1","inputs":[{"name":"INPUT0","shape":[2,2],"datatype":"INT32","data":[1,-2,3,2147483647]}],)"
      R"("outputs":[{"name":"OUTPUT0","parameters":{"binary_data":false}}],)"
      R"("parameters":{"sequence_id":7,"sequence_start":true,"priority":1,"timeout":250000}})";
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "req-1");
  ASSERT_TRUE(r->timeout_us.has_value());
  EXPECT_EQ(*r->timeout_us, 250000);
  EXPECT_FALSE(r->WantsBinary("OUTPUT0"));
  EXPECT_FALSE(r->binary_request);
  EXPECT_EQ(r->inputs[0].raw, std::string("\x01\x00\x00\x00\xfe\xff\xff\xff\x03\x00\x00\x00\xff\xff\xff\x7f", 16));
}

TEST(OipWire, TritonCppSendsTheHeaderEvenForAJsonOnlyBody) {
  const std::string body = R"({"inputs":[{"name":"TEXT","shape":[1],"datatype":"BYTES","data":["x"]}]})";
  auto r = Parse(body, std::to_string(body.size()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Strings(r->inputs[0]), std::vector<std::string>{"x"});
  EXPECT_FALSE(r->binary_request);
}

TEST(OipWire, TritonCppMixedJsonAndBinaryInputsTakeChunksInInputOrder) {
  const std::string json =
      R"({"inputs":[{"name":"A","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}},)"
      R"({"name":"B","shape":[2],"datatype":"UINT8","data":[7,255]},)"
      R"({"name":"C","shape":[2],"datatype":"INT16","parameters":{"binary_data_size":4}}],)"
      R"("parameters":{"binary_data_output":true}})";
  const std::string bin = std::string("\x02\x00\x00\x00hi", 6) + std::string("\x01\x00\xff\xff", 4);
  auto r = Parse(json + bin, std::to_string(json.size()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Strings(r->inputs[0]), std::vector<std::string>{"hi"});
  EXPECT_EQ(r->inputs[1].raw, std::string("\x07\xff", 2));
  EXPECT_EQ(r->inputs[2].raw, std::string("\x01\x00\xff\xff", 4));
}

// ---- KServe InferenceRESTClient (protocol v2) ------------------------------------------------

TEST(OipWire, KServeClientJsonWithModelNameAndUuidIdParses) {
  // to_rest() adds model_name and a uuid4 id; Python's json.dumps separators.
  const std::string body =
      R"({"id": "9c1d4a3e-0b7f-4a7e-9d65-2f1e3c4b5a69", "model_name": "echo", "inputs": [{"name": "TEXT", )"
      R"("shape": [2], "datatype": "BYTES", "data": ["hello", "world"]}]})";
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "9c1d4a3e-0b7f-4a7e-9d65-2f1e3c4b5a69");
  EXPECT_EQ(Strings(r->inputs[0]), (std::vector<std::string>{"hello", "world"}));
}

TEST(OipWire, KServeClientBinaryWithLowercaseHeaderName) {
  const std::string json =
      R"({"id": "1", "inputs": [{"name": "TEXT", "shape": [2], "datatype": "BYTES", "parameters": )"
      R"({"binary_data_size": 18}}], "model_name": "echo"})";
  Headers headers = {{"content-type", "application/octet-stream"},
                     {"inference-header-content-length", std::to_string(json.size())}};
  auto hl = FindHeader(headers, "Inference-Header-Content-Length");
  ASSERT_TRUE(hl.has_value());
  auto r = ParseInferRequest({json + kHelloWorldBin, hl}, {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Strings(r->inputs[0]), (std::vector<std::string>{"hello", "world"}));
}

// ---- curl (docs/oip-v2.md "curl checks") -----------------------------------------------------

TEST(OipWire, CurlJsonWithId) {
  auto r = Parse(R"({"id":"7","inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","data":["hello","world"]}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "7");
}

TEST(OipWire, CurlNestedDataIsReadRowMajor) {
  auto r = Parse(R"({"inputs":[{"name":"TEXT","shape":[1,2],"datatype":"BYTES","data":[["hello","world"]]}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Strings(r->inputs[0]), (std::vector<std::string>{"hello", "world"}));
  auto f =
      Parse(R"({"id":"42","inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32","data":[[1.0,2.0,3.0,4.0]]}],)"
            R"("outputs":[{"name":"OUTPUT0"}]})");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(Floats(f->inputs[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_FALSE(f->WantsBinary("OUTPUT0"));
}

TEST(OipWire, CurlBinaryRequestFromTheNotes) {
  const std::string j =
      R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":18}}],)"
      R"("outputs":[{"name":"OUT","parameters":{"binary_data":true}}]})";
  auto r = Parse(j + kHelloWorldBin, " " + std::to_string(j.size()) + " ");  // header value whitespace
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Strings(r->inputs[0]), (std::vector<std::string>{"hello", "world"}));
}

TEST(OipWire, UnknownMembersAndParametersAreIgnored) {
  auto r =
      Parse(R"({"model_name":"echo","future":{"x":[1,2]},"parameters":{"custom":"v","triton_x":1},)"
            R"("inputs":[{"name":"B","shape":[3],"datatype":"BOOL","data":[true,false,true],"extra":1,)"
            R"("parameters":{"content_type":"str"}}],"outputs":[{"name":"O","parameters":{"classification":2}}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].raw, std::string("\x01\x00\x01", 3));
}

TEST(OipWire, EveryFixedSizeDatatypeEncodesLittleEndian) {
  auto r = Parse(R"({"inputs":[{"name":"a","shape":[1],"datatype":"UINT64","data":[18446744073709551615]},)"
                 R"({"name":"b","shape":[1],"datatype":"INT64","data":[-9223372036854775808]},)"
                 R"({"name":"c","shape":[1],"datatype":"FP64","data":[0.5]},)"
                 R"({"name":"d","shape":[2],"datatype":"INT8","data":[-128,127]},)"
                 R"({"name":"e","shape":[],"datatype":"UINT16","data":513}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].raw, std::string(8, '\xff'));
  EXPECT_EQ(r->inputs[1].raw, std::string("\x00\x00\x00\x00\x00\x00\x00\x80", 8));
  EXPECT_EQ(r->inputs[2].raw, std::string("\x00\x00\x00\x00\x00\x00\xe0\x3f", 8));
  EXPECT_EQ(r->inputs[3].raw, std::string("\x80\x7f", 2));
  EXPECT_EQ(r->inputs[4].raw, std::string("\x01\x02", 2));  // rank 0: one element
}

TEST(OipWire, EmptyTensorsAreAccepted) {
  const std::string j = R"({"inputs":[{"name":"a","shape":[0],"datatype":"BYTES","parameters":{"binary_data_size":0}},)"
                        R"({"name":"b","shape":[2,0],"datatype":"FP32","data":[[],[]]}]})";
  auto r = Parse(j, std::to_string(j.size()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].elements, 0u);
  EXPECT_EQ(r->inputs[1].elements, 0u);
}

// ---- errors ----------------------------------------------------------------------------------

TEST(OipErrors, MalformedJsonIs400WithThePosition) {
  ExpectError(Parse("{not json"), 400, {"malformed JSON", "line 1, column 3", "expected string literal"});
  ExpectError(Parse(R"({"inputs":[]} trailing)"), 400, {"malformed JSON"});
  ExpectError(Parse("[1,2]"), 400, {"the request is an array, expected a JSON object"});
  ExpectError(Parse(""), 400, {"malformed JSON"});
}

TEST(OipErrors, WrongDatatypeNamesTheInputAndTheExpectation) {
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FLOAT32","data":[1]}]})"), 400,
              {"input 'x'", "unknown datatype 'FLOAT32'", "FP32"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"two"]}]})"), 400,
              {"input 'x'", "data element 1 is a string, expected a number for FP32"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1.5]}]})"), 400,
              {"input 'x'", "expected an integer for INT32"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[256]}]})"), 400,
              {"input 'x'", "(256) is out of range for UINT8"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[-129]}]})"), 400,
              {"out of range for INT8"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[1]}]})"), 400,
              {"expected true or false for BOOL"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP16","data":[1.0]}]})"), 400,
              {"input 'x'", "FP16 data cannot be sent as JSON"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e300]}]})"), 400,
              {"out of range for FP32"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":[5]}]})"), 400,
              {"expected a string for BYTES"});
}

TEST(OipErrors, ShapeDataMismatchSaysHowManyWereExpected) {
  ExpectError(Parse(R"({"inputs":[{"name":"TEXT","shape":[3],"datatype":"BYTES","data":["a"]}]})"), 400,
              {"input 'TEXT'", "shape [3] needs 3 elements, data has 1"});
  ExpectError(Parse(R"({"inputs":[{"name":"TEXT","shape":[1],"datatype":"BYTES","data":["a","b"]}]})"), 400,
              {"input 'TEXT'", "needs 1 elements, data has more"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]})"), 400,
              {"input 'x'", "shape dimension -1 is not a non-negative integer"});
  ExpectError(Parse(R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})"), 400,
              {"input 'x'", "missing \"shape\""});
}

TEST(OipErrors, BinaryChunksMustMatchTheDeclaredSizes) {
  const std::string j2 =
      R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":18}}]})";
  // Truncated body: the chunk is shorter than binary_data_size.
  ExpectError(Parse(j2 + kHelloWorldBin.substr(0, 10), std::to_string(j2.size())), 400,
              {"input 'TEXT'", "binary_data_size is 18 but only 10 bytes"});
  // Bytes left over after the last chunk.
  ExpectError(Parse(j2 + kHelloWorldBin + "zz", std::to_string(j2.size())), 400, {"2 bytes of binary data after"});
  // An element's length prefix runs past the chunk.
  std::string bad = kHelloWorldBin;
  bad[9] = '\x06';
  ExpectError(Parse(j2 + bad, std::to_string(j2.size())), 400, {"input 'TEXT'", "BYTES element 1 declares 6 bytes"});
  // FP32 chunk of the wrong size for the shape.
  const std::string jf =
      R"({"inputs":[{"name":"f","shape":[4],"datatype":"FP32","parameters":{"binary_data_size":12}}]})";
  ExpectError(Parse(jf + std::string(12, '\0'), std::to_string(jf.size())), 400, {"input 'f'", "needs 4 x 4 bytes"});
  // Both data and binary_data_size; binary without the header; bad header values.
  ExpectError(
      Parse(
          R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"],"parameters":{"binary_data_size":5}}]})"),
      400, {"input 'a'", "exactly one of"});
  ExpectError(Parse(j2), 400, {"no Inference-Header-Content-Length header"});
  ExpectError(Parse(j2 + kHelloWorldBin, "abc"), 400, {"Inference-Header-Content-Length is 'abc'"});
  ExpectError(Parse(j2 + kHelloWorldBin, "999"), 400, {"more than the body's 114 bytes"});
  ExpectError(Parse(j2 + kHelloWorldBin, "0"), 400, {"raw binary request"});
  const std::string jbool =
      R"({"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}]})";
  ExpectError(Parse(jbool + std::string("\x01\x02", 2), std::to_string(jbool.size())), 400,
              {"input 'b'", "BOOL element 1 is byte 2, expected 0 or 1"});
  ExpectError(
      Parse(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","parameters":{"shared_memory_region":"r"}}]})"),
      400, {"shared memory inputs are not supported"});
}

TEST(OipErrors, OversizeBodyIs413AndOtherLimitsAre400) {
  RequestLimits small;
  small.max_body_bytes = 64;
  const std::string body = R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","data":["hello","world"]}]})";
  ExpectError(Parse(body, std::nullopt, small), 413, {"over the limit of 64"});

  RequestLimits lim;
  lim.max_string_bytes = 4;
  ExpectError(Parse(body, std::nullopt, lim), 400, {"input 'TEXT'", "data element 0 is 5 bytes, over the limit of 4"});
  const std::string jb =
      R"({"inputs":[{"name":"TEXT","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":18}}]})";
  ExpectError(Parse(jb + kHelloWorldBin, std::to_string(jb.size()), lim), 400,
              {"input 'TEXT'", "5 bytes, over the limit of 4"});
  lim = {};
  lim.max_inputs = 1;
  ExpectError(
      Parse(
          R"({"inputs":[{"name":"a","shape":[0],"datatype":"BYTES","data":[]},{"name":"b","shape":[0],"datatype":"BYTES","data":[]}]})",
          std::nullopt, lim),
      400, {"\"inputs\" has 2 entries, over the limit of 1"});
  lim = {};
  lim.max_rank = 2;
  ExpectError(
      Parse(R"({"inputs":[{"name":"a","shape":[1,1,1],"datatype":"BYTES","data":[[["x"]]]}]})", std::nullopt, lim), 400,
      {"input 'a'", "shape has 3 dimensions, over the limit of 2"});
  ExpectError(Parse(R"({"inputs":[{"name":"a","shape":[4294967296,4294967296,2],"datatype":"BOOL","data":[]}]})"), 400,
              {"input 'a'", "more than 16777216 elements"});
  lim = {};
  lim.max_json_depth = 4;
  ExpectError(
      Parse(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":[[[["x"]]]]}]})", std::nullopt, lim), 400,
      {"nested deeper than 4"});
  lim = {};
  lim.max_json_values = 5;
  ExpectError(
      Parse(R"({"inputs":[{"name":"a","shape":[6],"datatype":"INT8","data":[1,2,3,4,5,6]}]})", std::nullopt, lim), 400,
      {"more than 5 values"});
}

TEST(OipErrors, MissingOrMalformedFieldsNameWhatWasExpected) {
  ExpectError(Parse(R"({"id":"1"})"), 400, {"missing \"inputs\""});
  ExpectError(Parse(R"({"inputs":[]})"), 400, {"\"inputs\" is empty"});
  ExpectError(Parse(R"({"inputs":[{"shape":[1],"datatype":"BYTES","data":["x"]}]})"), 400,
              {"inputs[0]: missing \"name\""});
  ExpectError(Parse(R"({"id":7,"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}]})"), 400,
              {"\"id\" is an integer, expected a string"});
  ExpectError(
      Parse(
          R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]},{"name":"a","shape":[1],"datatype":"BYTES","data":["y"]}]})"),
      400, {"input 'a' appears twice"});
  ExpectError(
      Parse(R"({"parameters":{"timeout":-5},"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}]})"),
      400, {"parameter timeout is -5, expected a non-negative integer (microseconds)"});
  ExpectError(
      Parse(
          R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}],"outputs":[{"name":"o","parameters":{"binary_data":"yes"}}]})"),
      400, {"output 'o': binary_data is a string"});
}

TEST(OipHeaders, FindHeaderIgnoresCase) {
  Headers h = {{"Content-Type", "a"}, {"INFERENCE-HEADER-CONTENT-LENGTH", "12"}};
  EXPECT_EQ(FindHeader(h, "inference-header-content-length").value_or(""), "12");
  EXPECT_EQ(FindHeader(h, "content-type").value_or(""), "a");
  EXPECT_FALSE(FindHeader(h, "content-length").has_value());
}

}  // namespace
}  // namespace jb::oip
