// Router and non-infer endpoints (ingress/oip_endpoints.h), against what the clients check
// (docs/oip-v2.md section 1 and its compatibility checklist).
#include "ingress/oip_endpoints.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace jb::oip {
namespace {

ServerState State() {
  ServerState s;
  s.version = "0.9.0";
  s.ready = true;
  ModelInfo echo;
  echo.name = "echo";
  echo.inputs = {{"TEXT", "BYTES", {-1}}};
  echo.outputs = {{"OUT", "BYTES", {-1}}};
  echo.ready = true;
  s.models.push_back(echo);
  ModelInfo cold;
  cold.name = "cold model";
  s.models.push_back(cold);
  return s;
}

TEST(OipRouter, MapsEveryStandardPath) {
  EXPECT_EQ(RouteRequest("GET", "/v2/health/live").endpoint, Endpoint::kServerLive);
  EXPECT_EQ(RouteRequest("GET", "/v2/health/ready").endpoint, Endpoint::kServerReady);
  EXPECT_EQ(RouteRequest("GET", "/v2").endpoint, Endpoint::kServerMetadata);
  EXPECT_EQ(RouteRequest("GET", "/v2/").endpoint, Endpoint::kServerMetadata);
  Route m = RouteRequest("GET", "/v2/models/echo");
  EXPECT_EQ(m.endpoint, Endpoint::kModelMetadata);
  EXPECT_EQ(m.model, "echo");
  EXPECT_FALSE(m.version.has_value());
  Route mv = RouteRequest("GET", "/v2/models/echo/versions/1");
  EXPECT_EQ(mv.endpoint, Endpoint::kModelMetadata);
  EXPECT_EQ(mv.version.value_or(""), "1");
  EXPECT_EQ(RouteRequest("GET", "/v2/models/echo/ready").endpoint, Endpoint::kModelReady);
  EXPECT_EQ(RouteRequest("GET", "/v2/models/echo/versions/v10/ready").version.value_or(""), "v10");
  Route inf = RouteRequest("POST", "/v2/models/echo/versions/1/infer?x=1");
  EXPECT_EQ(inf.endpoint, Endpoint::kInfer);
  EXPECT_EQ(inf.model, "echo");
  EXPECT_EQ(RouteRequest("POST", "/v2/models/echo/infer").endpoint, Endpoint::kInfer);
  EXPECT_EQ(RouteRequest("GET", "/v2/models/echo/results").endpoint, Endpoint::kResults);
}

TEST(OipRouter, DecodesPercentEncodedModelNames) {
  Route r = RouteRequest("GET", "/v2/models/cold%20model/ready");
  EXPECT_EQ(r.endpoint, Endpoint::kModelReady);
  EXPECT_EQ(r.model, "cold model");
  EXPECT_EQ(RouteRequest("GET", "/v2/models/a%2/ready").endpoint, Endpoint::kBadPath);
  EXPECT_EQ(RouteRequest("GET", "/v2/models/a%zz").endpoint, Endpoint::kBadPath);
}

TEST(OipRouter, UnknownPathsAre404AndWrongMethods405) {
  for (const char* p : {"/", "/v1/models/echo", "/v2/models/", "/v2/models/echo/", "/v2/models/echo/stats",
                        "/v2/models//infer", "/v2/health", "/v2/models/echo/versions/1/results", "/v2x"}) {
    EXPECT_EQ(RouteRequest("GET", p).endpoint, Endpoint::kNotFound) << p;
  }
  Route get_infer = RouteRequest("GET", "/v2/models/echo/infer");
  EXPECT_EQ(get_infer.endpoint, Endpoint::kMethodNotAllowed);
  HttpReply r = Answer(State(), get_infer);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"error":"Method Not Allowed"})");
  EXPECT_EQ(r.Header("Allow"), "POST");
  EXPECT_EQ(RouteRequest("POST", "/v2/health/live").endpoint, Endpoint::kMethodNotAllowed);
  HttpReply nf = Answer(State(), RouteRequest("GET", "/nope"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body, R"({"error":"Not Found"})");
  EXPECT_EQ(nf.Header("Content-Type"), "application/json");
}

TEST(OipEndpoints, HealthBodiesSatisfyKServeAndTritonClients) {
  ServerState s = State();
  HttpReply live = Answer(s, RouteRequest("GET", "/v2/health/live"));
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, R"({"live":true})");
  EXPECT_EQ(live.Header("Content-Type"), "application/json");
  HttpReply ready = Answer(s, RouteRequest("GET", "/v2/health/ready"));
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, R"({"ready":true})");
  HttpReply mr = Answer(s, RouteRequest("GET", "/v2/models/echo/versions/1/ready"));
  EXPECT_EQ(mr.status, 200);
  EXPECT_EQ(mr.body, R"({"name":"echo","ready":true})");

  s.ready = false;
  s.live = false;
  HttpReply nl = Answer(s, RouteRequest("GET", "/v2/health/live"));
  EXPECT_EQ(nl.status, 503);
  EXPECT_EQ(nl.body, R"({"error":"server is not live"})");
  EXPECT_EQ(Answer(s, RouteRequest("GET", "/v2/health/ready")).status, 503);
  HttpReply cold = Answer(s, RouteRequest("GET", "/v2/models/cold%20model/ready"));
  EXPECT_EQ(cold.status, 503);
  EXPECT_EQ(cold.body, R"({"error":"model 'cold model' is not ready"})");
  HttpReply unknown = Answer(s, RouteRequest("GET", "/v2/models/nope/ready"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"error":"unknown model 'nope'"})");
}

TEST(OipEndpoints, ServerAndModelMetadata) {
  ServerState s = State();
  HttpReply sm = Answer(s, RouteRequest("GET", "/v2"));
  EXPECT_EQ(sm.body, R"({"name":"jellybean","version":"0.9.0","extensions":["binary_tensor_data"]})");
  HttpReply mm = Answer(s, RouteRequest("GET", "/v2/models/echo"));
  EXPECT_EQ(mm.status, 200);
  EXPECT_EQ(mm.body, R"({"name":"echo","versions":["1"],"platform":"jellybean",)"
                     R"("inputs":[{"name":"TEXT","datatype":"BYTES","shape":[-1]}],)"
                     R"("outputs":[{"name":"OUT","datatype":"BYTES","shape":[-1]}]})");
  HttpReply nf = Answer(s, RouteRequest("GET", "/v2/models/nope"));
  EXPECT_EQ(nf.status, 404);
  HttpReply nv = Answer(s, RouteRequest("GET", "/v2/models/echo/versions/2"));
  EXPECT_EQ(nv.status, 404);
  EXPECT_EQ(nv.body, R"j({"error":"model 'echo' has no version '2' (versions: 1)"})j");
}

Source Src(const char* name) {
  Source s;
  s.name = name;
  return s;
}

Operator Op(const char* name, std::vector<std::string> from) {
  Operator o;
  o.name = name;
  o.profile = "p";
  for (auto& f : from) o.inputs.push_back({f, 1});
  return o;
}

TEST(OipEndpoints, WorkflowIsServedWithSourcesAsInputsAndLastOperatorsAsOutputs) {
  WorkflowSpec spec;
  spec.sources = {Src("cam"), Src("mic")};
  spec.operators = {Op("detect", {"cam"}), Op("join", {"detect", "mic"})};
  ModelInfo m = ModelInfoFromWorkflow("wf", spec);
  ASSERT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.inputs[0].name, "cam");
  EXPECT_EQ(m.inputs[1].name, "mic");
  ASSERT_EQ(m.outputs.size(), 1u);
  EXPECT_EQ(m.outputs[0].name, "join");
  EXPECT_EQ(m.outputs[0].datatype, "BYTES");
}

InferRequest Req(const std::string& body) {
  auto r = ParseInferRequest({body, std::nullopt}, {});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : InferRequest{};
}

TEST(OipEndpoints, RequestsAreCheckedAgainstTheModel) {
  WorkflowSpec spec;
  spec.sources = {Src("a"), Src("b")};
  spec.operators = {Op("j", {"a", "b"})};
  ModelInfo m = ModelInfoFromWorkflow("wf", spec);
  EXPECT_TRUE(ValidateAgainstModel(Req(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]},)"
                                       R"({"name":"b","shape":[1],"datatype":"BYTES","data":["y"]}]})"),
                                   m)
                  .ok());
  Status missing =
      ValidateAgainstModel(Req(R"({"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":["x"]}]})"), m);
  EXPECT_EQ(HttpStatusFor(missing), 400);
  EXPECT_EQ(missing.message(), "missing input 'b': model 'wf' takes a, b");
  Status unknown =
      ValidateAgainstModel(Req(R"({"inputs":[{"name":"c","shape":[1],"datatype":"BYTES","data":["x"]}]})"), m);
  EXPECT_EQ(unknown.message(), "unknown input 'c': model 'wf' takes a, b");
  Status dtype = ValidateAgainstModel(Req(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},)"
                                          R"({"name":"b","shape":[1],"datatype":"BYTES","data":["y"]}]})"),
                                      m);
  EXPECT_EQ(dtype.message(), "input 'a': datatype FP32, expected BYTES");
  Status shape = ValidateAgainstModel(Req(R"({"inputs":[{"name":"a","shape":[2],"datatype":"BYTES","data":["x","y"]},)"
                                          R"({"name":"b","shape":[1],"datatype":"BYTES","data":["y"]}]})"),
                                      m);
  EXPECT_EQ(shape.message(), "input 'a': shape [2], expected [1] (-1: any size)");
}

TEST(OipEndpoints, UnknownModelResolvesTo404) {
  ServerState s = State();
  auto r = ResolveModel(s, RouteRequest("POST", "/v2/models/nope/infer"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(HttpStatusFor(r.status()), 404);
  auto ok = ResolveModel(s, RouteRequest("POST", "/v2/models/echo/versions/1/infer"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->name, "echo");
}

}  // namespace
}  // namespace jb::oip
