// BuildDeployment (plan -> workers) and Summarize (worker reports -> observed status), on a small
// hand-written instance: two tiers, a source on the edge, Detect split across an edge node and a
// rented cloud pool, Answer on the cloud.
#include "reconciler/deployment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "planner/problem.h"

namespace jb {
namespace {

Infrastructure Infra() {
  Infrastructure inf;
  inf.metadata.name = "two-tier";
  inf.spec.tiers = {Tier{"edge", DriverSpec{}}, Tier{"cloud", DriverSpec{}}};
  inf.spec.nodes = {Node{"e1", "edge", 0.5, "hw-e", 1, {}, {}}, Node{"c1", "cloud", 2.0, "hw-c", 3, {}, {}}};
  inf.spec.links = {Link{"edge", "cloud", 0.1, {}, {}}, Link{"cloud", "edge", 0.2, {}, {}}};
  return inf;
}

std::vector<ModelProfile> Profiles() {
  ModelProfile detect;
  detect.metadata.name = "p-detect";
  Variant small;
  small.name = "small";
  small.accuracy = 80;
  small.output_size_kib = 20;
  small.latency_ms = {{"hw-e", Latency{10, 12, 15}}, {"hw-c", Latency{4, 5, 6}}};
  detect.spec.variants = {small};
  ModelProfile answer;
  answer.metadata.name = "p-answer";
  Variant base;
  base.name = "base";
  base.accuracy = 90;
  base.output_size_kib = 1;
  base.latency_ms = {{"hw-e", Latency{30, 35, 40}}, {"hw-c", Latency{8, 9, 11}}};
  answer.spec.variants = {base};
  return {detect, answer};
}

Workflow Wf() {
  Workflow wf;
  wf.metadata.name = "wf";
  wf.spec.infrastructure = "two-tier";
  wf.spec.sources = {Source{"Cam", 10, "edge", {}, 100, {}, 500, 12, {}, {}}};
  wf.spec.operators = {Operator{"Detect", "p-detect", {Input{"Cam", 1}}},
                       Operator{"Answer", "p-answer", {Input{"Detect", 0.5}}}};
  wf.spec.options.percentile = "p90";
  return wf;
}

Plan APlan() {
  Plan plan;
  plan.variants = {{"Detect", "small"}, {"Answer", "base"}};
  Placement d1{"Detect", "small", "e1", "edge", 1, 2.5, 0.5, KeyRange{0, 0.25}};
  Placement d2{"Detect", "small", "c1", "cloud", 1, 7.5, 0.5, KeyRange{0.25, 1}};
  Placement a{"Answer", "base", "c1", "cloud", 1, 5, 0.5, KeyRange{0, 1}};
  plan.placements = {d1, d2, a};
  plan.node_instances = {{"c1", 2}, {"e1", 1}};
  plan.cost.compute_per_hour = 4.5;
  return plan;
}

const WorkerConfig* Named(const std::vector<WorkerConfig>& ws, const std::string& name) {
  for (const auto& w : ws)
    if (w.name == name) return &w;
  return nullptr;
}

const WorkerInstance* Instance(const WorkerConfig& w, const std::string& name) {
  for (const auto& i : w.instances)
    if (i.name == name) return &i;
  return nullptr;
}

TEST(BuildDeployment, OneWorkerPerUsedNodePlusAnIoWorkerPerSourceTier) {
  DeploymentOptions opts;
  opts.window = 64;
  opts.join_timeout_s = 3;
  auto ws = BuildDeployment(Wf(), Profiles(), Infra(), APlan(), 7, opts);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  ASSERT_EQ(ws->size(), 3u);
  // The io workers first, then the node workers in name order.
  EXPECT_EQ((*ws)[0].name, "io-edge");
  EXPECT_EQ((*ws)[1].name, "c1");
  EXPECT_EQ((*ws)[2].name, "e1");
  for (const auto& w : *ws) {
    EXPECT_EQ(w.workflow, "wf");
    EXPECT_EQ(w.epoch, 7);
    EXPECT_EQ(w.window, 64);
    EXPECT_EQ(w.join_timeout_s, 3);
  }
}

// Regression: a node named "io-<tier>" got the name of that tier's io worker, so two workers wrote
// the same files. Validation refuses such node names (tests/golden/validate/names-io-prefix-reserved);
// BuildDeployment never returns two workers of one name even for an Infrastructure that bypassed it.
TEST(BuildDeployment, ANodeNamedLikeAnIoWorkerIsRefusedNotDeployedTwice) {
  Infrastructure inf = Infra();
  inf.spec.nodes[0].name = "io-edge";
  Plan plan = APlan();
  for (auto& pl : plan.placements)
    if (pl.node == "e1") pl.node = "io-edge";
  plan.node_instances = {{"c1", 2}, {"io-edge", 1}};
  auto ws = BuildDeployment(Wf(), Profiles(), inf, plan, 1);
  ASSERT_FALSE(ws.ok()) << "workers: " << ws->size();
  EXPECT_EQ(ws.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(ws.status().message().find("node io-edge has the name of the io worker of tier edge"), std::string::npos)
      << ws.status().message();
  // BuildDeployment refuses only a real clash (validation refuses the whole prefix).
  inf.spec.nodes[0].name = "io-edge-1";
  for (auto& pl : plan.placements)
    if (pl.node == "io-edge") pl.node = "io-edge-1";
  plan.node_instances = {{"c1", 2}, {"io-edge-1", 1}};
  ws = BuildDeployment(Wf(), Profiles(), inf, plan, 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  std::set<std::string> names;
  for (const auto& w : *ws) names.insert(w.name);
  EXPECT_EQ(names, (std::set<std::string>{"io-edge", "io-edge-1", "c1"}));
}

TEST(BuildDeployment, TheIoWorkerHostsTheSourcesAtTheirGeneratorRateAndTheSink) {
  auto ws = BuildDeployment(Wf(), Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerConfig* io = Named(*ws, "io-edge");
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->tier, "edge");
  EXPECT_EQ(io->node, "");
  ASSERT_EQ(io->instances.size(), 2u);
  const WorkerInstance* cam = Instance(*io, "Cam");
  ASSERT_NE(cam, nullptr);
  EXPECT_EQ(cam->kind, "source");
  EXPECT_EQ(cam->rate, 12) << "an emulated load change (generatorRate) is what the source emits";
  EXPECT_EQ(cam->item_kib, 100);
  EXPECT_EQ(cam->limit, 500);
  const WorkerInstance* sink = Instance(*io, kSinkName);
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->kind, "sink");
}

TEST(BuildDeployment, OperatorsRunEmulatedAtTheWorkflowPercentile) {
  auto ws = BuildDeployment(Wf(), Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerConfig* c1 = Named(*ws, "c1");
  const WorkerConfig* e1 = Named(*ws, "e1");
  ASSERT_TRUE(c1 && e1);
  EXPECT_EQ(c1->tier, "cloud");
  EXPECT_EQ(c1->node, "c1");
  EXPECT_EQ(c1->servers, 2) << "the rented pool instances of the plan";
  EXPECT_EQ(e1->servers, 1);
  const WorkerInstance* d = Instance(*c1, "Detect");
  const WorkerInstance* a = Instance(*c1, "Answer");
  ASSERT_TRUE(d && a);
  EXPECT_EQ(d->kind, "operator");
  EXPECT_EQ(d->variant, "small");
  EXPECT_EQ(d->runtime.type, "emulated");
  EXPECT_EQ(d->runtime.latency_ms, 6);  // p90 on hw-c
  EXPECT_EQ(d->runtime.output_kib, 20);
  EXPECT_EQ(a->runtime.latency_ms, 11);  // p90 on hw-c
  const WorkerInstance* de = Instance(*e1, "Detect");
  ASSERT_NE(de, nullptr);
  EXPECT_EQ(de->runtime.latency_ms, 15);  // p90 on hw-e
}

// The planner refuses a variant without the workflow's percentile; deployment used to fall back
// to p75 silently, so a worker emulated a latency the plan never assumed. One rule now.
TEST(BuildDeployment, AMissingPercentileIsAnErrorAsInThePlanner) {
  auto profiles = Profiles();
  for (auto& mp : profiles)
    for (auto& v : mp.spec.variants)
      for (auto& [hw, l] : v.latency_ms) l.p90.reset();
  auto ws = BuildDeployment(Wf(), profiles, Infra(), APlan(), 1);
  ASSERT_FALSE(ws.ok());
  EXPECT_NE(ws.status().message().find("no p90 latency"), std::string::npos) << ws.status().message();
}

TEST(BuildDeployment, EveryWorkerGetsAllEdgesAndTheRoutesWithThePlansKeyRanges) {
  auto ws = BuildDeployment(Wf(), Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  std::vector<WorkerEdge> edges = {{"Cam", "Detect", 1}, {"Detect", "Answer", 0.5}, {"Answer", kSinkName, 1}};
  std::vector<WorkerRoute> routes = {
      {"Detect", 0, 0.25, "e1", "", "edge"},
      {"Detect", 0.25, 1, "c1", "", "cloud"},
      {"Answer", 0, 1, "c1", "", "cloud"},
      {kSinkName, 0, 1, "io-edge", "", "edge"}};  // the way back is priced and counted: its tier
  for (const auto& w : *ws) {
    EXPECT_EQ(w.edges, edges) << w.name;
    EXPECT_EQ(w.routes, routes) << w.name;
  }
}

// The sink goes to the io worker of planner::SinkTier's tier, the one the plan prices the way back
// to: the first source's tier (here the cloud, though the edge's source sorts first by worker name).
TEST(BuildDeployment, TheSinkIsOnTheFirstSourcesTierWithItsTierOnTheRoute) {
  Workflow wf = Wf();
  wf.spec.sources.insert(wf.spec.sources.begin(), Source{"Mic", 10, "cloud", {}, 1, {}, {}, {}, {}, {}});
  wf.spec.operators[0].inputs.push_back(Input{"Mic", 1});
  auto ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerConfig* cloud_io = Named(*ws, "io-cloud");
  const WorkerConfig* edge_io = Named(*ws, "io-edge");
  ASSERT_TRUE(cloud_io && edge_io);
  EXPECT_NE(Instance(*cloud_io, kSinkName), nullptr);
  EXPECT_EQ(Instance(*edge_io, kSinkName), nullptr);
  EXPECT_EQ(planner::SinkTier(wf.spec), "cloud");
  for (const auto& w : *ws) EXPECT_EQ(w.routes.back(), (WorkerRoute{kSinkName, 0, 1, "io-cloud", "", "cloud"}));
}

TEST(BuildDeployment, AnExecVariantKeepsItsCommandAndEnvironment) {
  auto profiles = Profiles();
  profiles[1].spec.variants[0].runtime = RuntimeSpec{"exec", {"/bin/model", "--fast"}, {{"K", "v"}}, std::nullopt};
  auto ws = BuildDeployment(Wf(), profiles, Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerInstance* a = Instance(*Named(*ws, "c1"), "Answer");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->runtime.type, "exec");
  EXPECT_EQ(a->runtime.command, (std::vector<std::string>{"/bin/model", "--fast"}));
  EXPECT_EQ(a->runtime.env, (std::map<std::string, std::string>{{"K", "v"}}));
}

// A dataset source replays its index (looping; `count` is its limit), and the sink scores with the
// workflow's scorer and writes its results file.
TEST(BuildDeployment, ADatasetSourceReplaysItsIndexAndTheSinkScoresAndLogs) {
  Workflow wf = Wf();
  wf.spec.sources[0].type = "dataset";
  wf.spec.sources[0].index = "data/items.jsonl";
  wf.spec.accuracy.scorer = "exec";
  wf.spec.accuracy.scorer_command = {"/bin/judge", "-q"};
  wf.spec.results = ResultsSpec{"answers.jsonl"};
  auto ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerInstance* cam = Instance(*Named(*ws, "io-edge"), "Cam");
  ASSERT_NE(cam, nullptr);
  EXPECT_EQ(cam->type, "dataset");
  EXPECT_EQ(cam->dataset.value_or(""), "data/items.jsonl");
  EXPECT_TRUE(cam->loop);
  EXPECT_EQ(cam->limit, 500) << "count is the limit";
  const WorkerInstance* sink = Instance(*Named(*ws, "io-edge"), kSinkName);
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->scorer, "exec");
  EXPECT_EQ(sink->scorer_command, (std::vector<std::string>{"/bin/judge", "-q"}));
  EXPECT_EQ(sink->result_log.value_or(""), "answers.jsonl");
  // A generator stays a generator, and a workflow without results has no log.
  wf = Wf();
  ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok());
  EXPECT_EQ(Instance(*Named(*ws, "io-edge"), "Cam")->type, "generator");
  EXPECT_FALSE(Instance(*Named(*ws, "io-edge"), kSinkName)->result_log.has_value());
  EXPECT_EQ(Instance(*Named(*ws, "io-edge"), kSinkName)->scorer, "exact");
}

// Each input the builder cannot turn into workers is an InvalidArgument naming what is wrong.
TEST(BuildDeployment, RejectsWhatTheDataPlaneCannotRunWithAReason) {
  struct Case {
    std::string name, expect;
    Workflow wf;
    std::vector<ModelProfile> profiles;
    Plan plan;
  };
  std::vector<Case> cases;
  {
    Case c{"fan-out ratio", "ratio", Wf(), Profiles(), APlan()};
    c.wf.spec.operators[1].inputs[0].ratio = 2;
    cases.push_back(c);
  }
  {
    Case c{"unknown node", "unknown node", Wf(), Profiles(), APlan()};
    c.plan.placements[0].node = "nowhere";
    cases.push_back(c);
  }
  {
    Case c{"missing profile", "p-answer is missing", Wf(), Profiles(), APlan()};
    c.profiles.pop_back();
    cases.push_back(c);
  }
  {
    Case c{"unknown variant", "variant huge not in its profile", Wf(), Profiles(), APlan()};
    c.plan.placements[2].variant = "huge";
    cases.push_back(c);
  }
  {
    Case c{"no latency for the hardware", "no latency for hardware hw-c", Wf(), Profiles(), APlan()};
    c.profiles[0].spec.variants[0].latency_ms.erase("hw-c");
    cases.push_back(c);
  }
  {
    Case c{"http runtime", "http runtime is not implemented", Wf(), Profiles(), APlan()};
    c.profiles[1].spec.variants[0].runtime = RuntimeSpec{"http", {}, {}, "http://model"};
    cases.push_back(c);
  }
  {
    Case c{"no sources", "no sources", Wf(), Profiles(), APlan()};
    c.wf.spec.sources.clear();
    cases.push_back(c);
  }
  for (const auto& c : cases) {
    auto ws = BuildDeployment(c.wf, c.profiles, Infra(), c.plan, 1);
    ASSERT_FALSE(ws.ok()) << c.name;
    EXPECT_EQ(ws.status().code(), Status::Code::kInvalidArgument) << c.name;
    EXPECT_NE(ws.status().message().find(c.expect), std::string::npos) << c.name << ": " << ws.status().message();
  }
}

WorkerState Reported(const std::string& name, const std::string& tier, bool ready, int64_t restarts) {
  WorkerState s;
  s.name = name;
  s.tier = tier;
  s.ready = ready;
  s.restarts = restarts;
  WorkerMetrics m;
  m.worker = name;
  m.tier = tier;
  s.metrics = m;
  return s;
}

InstanceMetrics Inst(const std::string& kind, const std::string& name) {
  InstanceMetrics i;
  i.kind = kind;
  i.name = name;
  return i;
}

LinkMetrics LinkTo(const std::string& worker, const std::string& tier, double kibps) {
  LinkMetrics l;
  l.worker = worker;
  l.tier = tier;
  l.payload_kibps = kibps;
  return l;
}

// The planner's snapshot of the instance (at p75: the planner needs the percentile on every
// hardware, where the deployment falls back).
StatusOr<planner::Problem> ProblemOf() {
  Workflow wf = Wf();
  wf.spec.options.percentile = "p75";
  return planner::BuildProblem(wf, Profiles(), Infra());
}

TEST(Summarize, AddsUpTheWorkersReportsIntoTheObservedStatus) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  Plan plan = APlan();

  WorkerState io = Reported("io-edge", "edge", true, 0);
  auto cam = Inst("source", "Cam");
  cam.items_out = 400;
  auto sink = Inst("sink", kSinkName);
  sink.items_out = 190;
  sink.duplicates = 3;
  sink.rate = 4;
  sink.rate_complete = true;
  sink.p50_ms = 80;
  sink.p99_ms = 150;
  sink.dropped = {{"join-timeout", 2}};
  io.metrics->instances = {cam, sink};
  io.metrics->emulated = true;
  io.metrics->links = {LinkTo("c1", "cloud", 100), LinkTo("e1", "edge", 50)};  // the second crosses no tier

  WorkerState e1 = Reported("e1", "edge", true, 1);
  auto d = Inst("operator", "Detect");
  d.duplicates = 1;
  d.dropped = {{"model-failure", 5}};
  e1.metrics->instances = {d};
  e1.metrics->links = {LinkTo("c1", "cloud", 10)};

  WorkerState c1 = Reported("c1", "cloud", false, 2);
  c1.metrics->links = {LinkTo("io-edge", "edge", 4)};

  WorkerState silent;  // no report yet: counted, nothing else
  silent.name = "late";
  silent.tier = "edge";

  ObservedStatus o = Summarize(*p, plan, {io, e1, c1, silent});
  EXPECT_EQ(o.workers, 4);
  EXPECT_EQ(o.workers_ready, 2);
  EXPECT_EQ(o.restarts, 3);
  EXPECT_TRUE(o.emulated);
  EXPECT_EQ(o.emitted, 400);
  EXPECT_EQ(o.delivered, 190);
  EXPECT_EQ(o.duplicates, 4);
  EXPECT_EQ(o.dropped, 7);
  EXPECT_DOUBLE_EQ(o.throughput, 4);
  EXPECT_TRUE(o.throughput_complete);
  EXPECT_DOUBLE_EQ(o.latency_p50_ms, 80);
  EXPECT_DOUBLE_EQ(o.latency_p99_ms, 150);
  // Cross-tier: edge -> cloud 100 + 10, cloud -> edge 4; edge -> edge is not crossing.
  EXPECT_DOUBLE_EQ(o.cross_tier_kibps, 114);
  double network = (110 * 0.1 + 4 * 0.2) * planner::kKiBpsToGiBph;
  EXPECT_NEAR(o.network_cost_per_hour, network, 1e-12);
  EXPECT_NEAR(o.live_cost_per_hour, 4.5 + network, 1e-12);
  // The sink is expected at Answer's rate: Cam's 10/s thinned by half.
  EXPECT_DOUBLE_EQ(o.expected_throughput, 5);
  EXPECT_GT(o.predicted_cross_tier_kibps, 0);
  EXPECT_FALSE(o.time.empty());
}

// The way back: Answer runs on the cloud and the sink on the edge's io worker. The link to the sink
// carries the sink route's tier (BuildDeployment), so the observed traffic and network cost count
// the answers like any other link, and the prediction includes them: Cam's 750 KiB/s up to Detect
// on c1 [0.25,1), Detect's 5/s x 20 KiB x 0.25 = 25 KiB/s up from e1 to Answer, and Answer's 5/s x
// 1 KiB = 5 KiB/s of answers down to the sink (775 KiB/s before the way back was planned).
TEST(Summarize, TheLinkToTheSinkIsCountedAndPredictedLikeAnyOther) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto ws = BuildDeployment(Wf(), Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerRoute& to_sink = Named(*ws, "c1")->routes.back();
  ASSERT_EQ(to_sink.op, kSinkName);
  WorkerState c1 = Reported("c1", "cloud", true, 0);
  c1.metrics->links = {LinkTo(to_sink.worker, to_sink.tier, 5)};  // what the worker reports for it
  ObservedStatus o = Summarize(*p, APlan(), {c1});
  EXPECT_DOUBLE_EQ(o.cross_tier_kibps, 5);
  EXPECT_NEAR(o.network_cost_per_hour, 5 * 0.2 * planner::kKiBpsToGiBph, 1e-15);
  EXPECT_NEAR(o.live_cost_per_hour, 4.5 + o.network_cost_per_hour, 1e-12);
  EXPECT_NEAR(o.predicted_cross_tier_kibps, 750 + 25 + 5, 1e-9);
}

TEST(Summarize, LatencyAtTheSinkIsWeightedByEachSinksRate) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  WorkerState a = Reported("io-a", "edge", true, 0), b = Reported("io-b", "edge", true, 0);
  auto s1 = Inst("sink", kSinkName), s2 = Inst("sink", kSinkName);
  s1.rate = 3;
  s1.p50_ms = 10;
  s1.p99_ms = 20;
  s2.rate = 1;
  s2.p50_ms = 50;
  s2.p99_ms = 90;
  a.metrics->instances = {s1};
  b.metrics->instances = {s2};
  ObservedStatus o = Summarize(*p, APlan(), {a, b});
  EXPECT_DOUBLE_EQ(o.throughput, 4);
  EXPECT_DOUBLE_EQ(o.latency_p50_ms, (3 * 10 + 1 * 50) / 4.0);
  EXPECT_DOUBLE_EQ(o.latency_p99_ms, 90);  // the worst
}

TEST(Summarize, LabelledAnswersGiveTheObservedAccuracyBesideThePlannedOne) {
  Workflow wf = Wf();
  wf.spec.options.percentile = "p75";
  wf.spec.slo.min_accuracy = 60;
  auto p = planner::BuildProblem(wf, Profiles(), Infra());
  ASSERT_TRUE(p.ok()) << p.status().message();
  Plan plan = APlan();
  plan.accuracy = 72;
  WorkerState io = Reported("io-edge", "edge", true, 0);
  auto sink = Inst("sink", kSinkName);
  ObservedStatus unlabelled = Summarize(*p, plan, {io});
  EXPECT_FALSE(unlabelled.accuracy.has_value());
  sink.window_scored = 288;
  sink.window_correct = 182;
  sink.scored = 1288;
  io.metrics->instances = {sink};
  ObservedStatus o = Summarize(*p, plan, {io});
  ASSERT_TRUE(o.accuracy.has_value());
  EXPECT_NEAR(o.accuracy->accuracy, 63.194, 1e-3);
  EXPECT_NEAR(o.accuracy->low, 57.485, 1e-3);
  EXPECT_NEAR(o.accuracy->high, 68.557, 1e-3);
  EXPECT_EQ(o.accuracy->count, 288);
  EXPECT_EQ(o.accuracy->total, 1288);
  EXPECT_DOUBLE_EQ(o.accuracy->planned, 72);
  EXPECT_DOUBLE_EQ(o.accuracy->floor, 60);
}

TEST(Summarize, NoReportsMeansNothingObservedButTheCountsAndThePrediction) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  WorkerState w;
  w.name = "io-edge";
  ObservedStatus o = Summarize(*p, APlan(), {w});
  EXPECT_EQ(o.workers, 1);
  EXPECT_EQ(o.workers_ready, 0);
  EXPECT_EQ(o.delivered, 0);
  EXPECT_EQ(o.throughput, 0);
  EXPECT_EQ(o.latency_p50_ms, 0);
  EXPECT_EQ(o.cross_tier_kibps, 0);
  EXPECT_DOUBLE_EQ(o.live_cost_per_hour, 4.5);
}

// ---- ingress sources (worker/ingress_endpoint.h) --------------------------------------------------

TEST(BuildDeployment, AnIngressSourceGivesItsIoWorkerTheEndpointWithTheWorkflowsLimits) {
  Workflow wf = Wf();
  wf.spec.sources[0].type = "ingress";
  wf.spec.ingress = IngressSpec{5, 7};
  DeploymentOptions opts;
  opts.ingress_plain_http = true;
  auto ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1, opts);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerConfig* io = Named(*ws, "io-edge");
  ASSERT_NE(io, nullptr);
  ASSERT_TRUE(io->ingress.has_value());
  EXPECT_EQ(io->ingress->timeout_s, 5);
  EXPECT_EQ(io->ingress->max_inflight, 7);
  EXPECT_TRUE(io->ingress->plain_http);
  EXPECT_EQ(io->ingress->listen, "127.0.0.1:0");
  ASSERT_NE(Instance(*io, "Cam"), nullptr);
  EXPECT_EQ(Instance(*io, "Cam")->type, "ingress");
  EXPECT_NE(Instance(*io, kSinkName), nullptr);  // answered from the sink on the same worker
  for (const auto& w : *ws)
    if (w.name != "io-edge") {
      EXPECT_FALSE(w.ingress.has_value()) << w.name;
    }
}

TEST(BuildDeployment, ByDefaultTheIngressIsTlsWithATokenForTheDriverToIssue) {
  Workflow wf = Wf();
  wf.spec.sources[0].type = "ingress";
  auto ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerConfig* io = Named(*ws, "io-edge");
  ASSERT_NE(io, nullptr);
  ASSERT_TRUE(io->ingress.has_value());
  EXPECT_FALSE(io->ingress->plain_http);
  EXPECT_EQ(io->ingress->listen, "127.0.0.1:0");
  // The files are the driver's to fill (drivers/local/ingress_tls.h): the builder is pure.
  EXPECT_EQ(io->ingress->cert_file, "");
  EXPECT_EQ(io->ingress->token_file, "");
  DeploymentOptions opts;
  opts.ingress_host = "10.0.0.5";  // a non-loopback local host: TLS serves there
  ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1, opts);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ(Named(*ws, "io-edge")->ingress->listen, "10.0.0.5:0");
}

TEST(BuildDeployment, PlainHttpIngressOffLoopbackIsRefused) {
  Workflow wf = Wf();
  wf.spec.sources[0].type = "ingress";
  DeploymentOptions opts;
  opts.ingress_plain_http = true;
  opts.ingress_host = "10.0.0.5";
  auto ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1, opts);
  ASSERT_FALSE(ws.ok());
  EXPECT_NE(ws.status().message().find("10.0.0.5, which is not a loopback address"), std::string::npos)
      << ws.status().message();
  opts.ingress_host = "::1";
  ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1, opts);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ(Named(*ws, "io-edge")->ingress->listen, "::1:0");
  EXPECT_TRUE(Named(*ws, "io-edge")->ingress->plain_http);
}

TEST(BuildDeployment, IngressSourcesOnTwoTiersJoinByIdAndGetTheAnswersBack) {
  Workflow wf = Wf();
  wf.spec.sources[0].type = "ingress";  // the first ingress source's tier (edge) hosts the sink
  Source q = wf.spec.sources[0];
  q.name = "Q";
  q.tier = "cloud";
  wf.spec.sources.push_back(q);
  wf.spec.operators[0].inputs.push_back(Input{"Q", 1});
  DeploymentOptions opts;
  opts.ingress_plain_http = true;
  auto ws = BuildDeployment(wf, Profiles(), Infra(), APlan(), 1, opts);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  const WorkerConfig* edge = Named(*ws, "io-edge");
  const WorkerConfig* cloud = Named(*ws, "io-cloud");
  ASSERT_NE(edge, nullptr);
  ASSERT_NE(cloud, nullptr);
  ASSERT_TRUE(edge->ingress && cloud->ingress);
  // Each endpoint names the ingress sources of the other tier: ids are required, parts join by them.
  EXPECT_EQ(edge->ingress->joined_with, std::vector<std::string>{"Q"});
  EXPECT_EQ(cloud->ingress->joined_with, std::vector<std::string>{wf.spec.sources[0].name});
  // The sink stays on the edge; the terminal operator also feeds Q, routed to the cloud's io worker.
  bool sink_on_edge = false;
  for (const auto& i : edge->instances) sink_on_edge |= i.kind == "sink";
  EXPECT_TRUE(sink_on_edge);
  bool answers_back = false, routed = false;
  for (const auto& e : cloud->edges) answers_back |= e.to == "Q" && e.from == wf.spec.operators.back().name;
  for (const auto& r : cloud->routes) routed |= r.op == "Q" && r.worker == "io-cloud";
  EXPECT_TRUE(answers_back);
  EXPECT_TRUE(routed);
}

TEST(Summarize, TheIngressUrlComesFromTheIoWorkersReportedPort) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  WorkerState io = Reported("io-edge", "edge", true, 0);
  io.metrics->workflow = "wf";
  EXPECT_EQ(Summarize(*p, APlan(), {io}).ingress_url, "");
  io.metrics->ingress_port = 8123;
  EXPECT_EQ(Summarize(*p, APlan(), {io}).ingress_url, "http://127.0.0.1:8123/v2/models/wf");
  io.metrics->ingress_address = "https://127.0.0.1:8123";  // scheme and host as the worker serves them
  EXPECT_EQ(Summarize(*p, APlan(), {io}).ingress_url, "https://127.0.0.1:8123/v2/models/wf");
}

// #16: ingress sources on two tiers: the status carries both endpoints with their tiers, in the
// order of the cluster's tiers whatever order the workers report in; ingressUrl keeps the first.
TEST(Summarize, IngressOnTwoTiersListsEveryEndpointInTierOrder) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_GE(p->tiers.size(), 2u);
  WorkerState first = Reported("io-" + p->tiers[0], p->tiers[0], true, 0);
  WorkerState second = Reported("io-" + p->tiers[1], p->tiers[1], true, 0);
  first.metrics->workflow = second.metrics->workflow = "wf";
  first.metrics->ingress_address = "https://127.0.0.1:8123";
  second.metrics->ingress_address = "https://127.0.0.1:8124";
  ObservedStatus o = Summarize(*p, APlan(), {second, first});
  ASSERT_EQ(o.ingress_urls.size(), 2u);
  EXPECT_EQ(o.ingress_urls[0], (TierIngressUrl{p->tiers[0], "https://127.0.0.1:8123/v2/models/wf"}));
  EXPECT_EQ(o.ingress_urls[1], (TierIngressUrl{p->tiers[1], "https://127.0.0.1:8124/v2/models/wf"}));
  EXPECT_EQ(o.ingress_url, "https://127.0.0.1:8123/v2/models/wf");
  // A worker without an endpoint adds none.
  WorkerState plain = Reported("c1", p->tiers[1], true, 0);
  EXPECT_EQ(Summarize(*p, APlan(), {plain, first}).ingress_urls.size(), 1u);
}

// An inference endpoint delivers what clients send: an idle one is not "below its throughput
// target" (it was: SLOMet=False ThroughputBelowTarget at 0 requests/s against a plan of 5).
TEST(Summarize, AnEndpointIsExpectedToDeliverWhatArrivesUpToThePlan) {
  auto p = ProblemOf();
  ASSERT_TRUE(p.ok()) << p.status().message();
  const double planned = Summarize(*p, APlan(), {}).expected_throughput;
  ASSERT_GT(planned, 0);
  WorkerState io = Reported("io-edge", "edge", true, 0);
  io.metrics->workflow = "wf";
  InstanceMetrics cam = Inst("source", "Cam");
  cam.rate = 0.5;
  io.metrics->instances = {cam};
  EXPECT_EQ(Summarize(*p, APlan(), {io}).expected_throughput, planned);  // generators: the plan
  io.metrics->ingress_address = "https://127.0.0.1:8123";
  EXPECT_DOUBLE_EQ(Summarize(*p, APlan(), {io}).expected_throughput, std::min(planned, 0.5));
  io.metrics->instances[0].rate = 0;
  EXPECT_EQ(Summarize(*p, APlan(), {io}).expected_throughput, 0);
  io.metrics->instances[0].rate = 1e9;  // more than planned: the plan is the target
  EXPECT_EQ(Summarize(*p, APlan(), {io}).expected_throughput, planned);
}

}  // namespace
}  // namespace jb
