#include "reconciler/deployment.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/names.h"
#include "planner/scorer.h"
#include "reconciler/observed_accuracy.h"
#include "reconciler/replan.h"
#include "reconciler/store.h"

namespace jb {

namespace {

// The operator instance of one placement: its variant's runtime (exec, or emulated at the
// workflow's latency percentile on the node's hardware).
StatusOr<WorkerInstance> OperatorInstance(const Workflow& wf, const Operator& op, const Placement& pl,
                                          const Variant* var, const Node& node, const Latency& latency) {
  WorkerInstance wi;
  wi.kind = "operator";
  wi.name = pl.op;
  wi.variant = pl.variant;
  if (var->runtime && var->runtime->type == "exec") {
    wi.runtime.type = "exec";
    wi.runtime.command = var->runtime->command;
    wi.runtime.env = var->runtime->env;
  } else if (var->runtime && var->runtime->type == "http") {
    return Status::InvalidArgument("variant " + pl.variant + ": the http runtime is not implemented by the worker yet");
  } else {
    wi.runtime.type = "emulated";
    // The planner's rule (planner::LatencyAtPercentile): missing percentile data is an error.
    StatusOr<double> ms = planner::LatencyAtPercentile(latency, wf.spec.options.percentile);
    if (!ms.ok())
      return Status::InvalidArgument("ModelProfile " + op.profile + " variant " + pl.variant + " has " +
                                     ms.status().message() + " for hardware " + node.hardware);
    wi.runtime.latency_ms = *ms;
    wi.runtime.output_kib = var->output_size_kib;
  }
  return wi;
}

// The instance of one source: the built-in generator, or a dataset replayed by the worker.
StatusOr<WorkerInstance> SourceInstance(const Source& s) {
  WorkerInstance wi;
  wi.kind = "source";
  wi.name = s.name;
  wi.rate = s.generator_rate.value_or(s.rate);
  wi.item_kib = s.item_size_kib;
  wi.files = s.files;
  wi.limit = s.count.value_or(0);
  if (s.type.value_or("generator") == "dataset") {
    // The index path goes to the worker as written: a relative one resolves against the worker's
    // working directory, which the local driver leaves as the daemon's (as for `files`). A
    // dataset loops forever unless `count` is set: then it replays `count` items (looping over the
    // set when count exceeds it), so count stays the one limit a source has.
    wi.type = "dataset";
    wi.dataset = s.index;
    wi.loop = true;
  }
  return wi;
}

// The inference endpoint of the io worker of tier `s.tier` hosting ingress source `s`. The io worker
// of the sink's tier (planner::SinkTier: the first ingress source's tier) answers from the sink;
// those of other tiers from the answers sent back to them (BuildDeployment), and every part joins
// the others by the request id (`joinedWith`: the ingress sources of the other tiers). TLS and a
// bearer token by default: the driver fills in the files (a certificate signed by the daemon's CA,
// the workflow's 0600 token); plain HTTP only when the daemon allows it, and only on a loopback address.
StatusOr<WorkerIngress> IngressSettings(const Workflow& wf, const Source& s, const DeploymentOptions& opts) {
  const std::string& host = opts.ingress_host;
  bool loopback = host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
  if (opts.ingress_plain_http && !loopback)
    return Status::InvalidArgument("source " + s.name + ": the ingress would listen on " + host +
                                   ", which is not a loopback address, and plain HTTP (ingressPlainHttp) is only "
                                   "allowed on loopback; drop ingressPlainHttp to serve it with TLS and a token");
  WorkerIngress in;
  in.listen = host + ":0";  // the worker splits at the last ':' (an IPv6 host needs no brackets)
  in.plain_http = opts.ingress_plain_http;
  if (wf.spec.ingress) {
    in.timeout_s = wf.spec.ingress->timeout_s;
    in.max_inflight = wf.spec.ingress->max_inflight;
  }
  for (const auto& o : wf.spec.sources)
    if (o.type.value_or("generator") == "ingress" && o.tier != s.tier) in.joined_with.push_back(o.name);
  return in;
}

// The way back to the io worker of every other ingress tier (planner::OtherIngressTiers, priced as
// results to that tier): each terminal operator (not in `has_consumer`) also feeds that worker's
// first ingress source, whose io worker answers its callers from those items.
void AddWaysBack(const Workflow& wf, const std::set<std::string>& has_consumer, std::vector<WorkerEdge>& edges,
                 std::vector<WorkerRoute>& routes) {
  for (const auto& tier : planner::OtherIngressTiers(wf.spec))
    for (const auto& s : wf.spec.sources) {
      if (s.tier != tier || s.type.value_or("generator") != "ingress") continue;
      for (const auto& op : wf.spec.operators)
        if (has_consumer.count(op.name) == 0) edges.push_back(WorkerEdge{op.name, s.name, 1});
      routes.push_back(WorkerRoute{s.name, 0, 1, std::string(kIoWorkerPrefix) + tier, "", tier});
      break;
    }
}

// The inference endpoint an io worker reports serving, "" when it serves none.
std::string IngressUrlOf(const WorkerMetrics& m) {
  if (!m.ingress_address.empty())  // scheme://host:port, as the worker serves it
    return m.ingress_address + "/v2/models/" + m.workflow;
  if (m.ingress_port > 0)  // a worker from before ingressAddress: plain HTTP on loopback
    return "http://127.0.0.1:" + std::to_string(m.ingress_port) + "/v2/models/" + m.workflow;
  return "";
}

}  // namespace

StatusOr<std::vector<WorkerConfig>> BuildDeployment(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                                                    const Infrastructure& inf, const Plan& plan, int64_t epoch,
                                                    const DeploymentOptions& opts) {
  const std::string& name = wf.metadata.name;
  std::map<std::string, const Node*> nodes;
  for (const auto& n : inf.spec.nodes) nodes[n.name] = &n;
  std::map<std::string, const ModelProfile*> profile_of;
  for (const auto& mp : profiles) profile_of[mp.metadata.name] = &mp;
  std::map<std::string, const Operator*> ops;
  for (const auto& op : wf.spec.operators) ops[op.name] = &op;

  auto base = [&](const std::string& worker, const std::string& node, const std::string& tier) {
    WorkerConfig c;
    c.workflow = name;
    c.name = worker;
    c.node = node;
    c.tier = tier;
    c.epoch = epoch;
    c.window = opts.window;
    c.join_timeout_s = opts.join_timeout_s;
    return c;
  };

  // Edges, and the terminal operators (no consumers) that feed the sink.
  std::vector<WorkerEdge> edges;
  std::set<std::string> has_consumer;
  for (const auto& op : wf.spec.operators)
    for (const auto& in : op.inputs) {
      if (in.ratio > 1)
        return Status::InvalidArgument("operator " + op.name + ": input ratio " + FormatNumber(in.ratio) +
                                       " > 1 is not supported by the data plane (it thins, it does not fan out)");
      edges.push_back(WorkerEdge{in.from, op.name, in.ratio});
      has_consumer.insert(in.from);
    }
  for (const auto& op : wf.spec.operators)
    if (has_consumer.count(op.name) == 0) edges.push_back(WorkerEdge{op.name, kSinkName, 1});

  // Operator workers, one per used node.
  std::map<std::string, WorkerConfig> by_node;
  std::vector<WorkerRoute> routes;
  for (const auto& pl : plan.placements) {
    auto n = nodes.find(pl.node);
    auto op = ops.find(pl.op);
    if (n == nodes.end() || op == ops.end())
      return Status::InvalidArgument("plan names unknown node " + pl.node + " or operator " + pl.op);
    auto mp = profile_of.find(op->second->profile);
    if (mp == profile_of.end()) return Status::InvalidArgument("ModelProfile " + op->second->profile + " is missing");
    const Variant* var = nullptr;
    for (const auto& v : mp->second->spec.variants)
      if (v.name == pl.variant) var = &v;
    if (var == nullptr)
      return Status::InvalidArgument("operator " + pl.op + ": variant " + pl.variant + " not in its profile");
    auto lat = var->latency_ms.find(n->second->hardware);
    if (lat == var->latency_ms.end())
      return Status::InvalidArgument("variant " + pl.variant + " has no latency for hardware " + n->second->hardware);
    auto [it, fresh] = by_node.try_emplace(pl.node, base(pl.node, pl.node, pl.tier));
    WorkerConfig& w = it->second;
    if (fresh) {
      auto inst = plan.node_instances.find(pl.node);
      w.servers = std::max<int64_t>(1, inst == plan.node_instances.end() ? 1 : inst->second);
    }
    auto wi = OperatorInstance(wf, *op->second, pl, var, *n->second, lat->second);
    if (!wi.ok()) return wi.status();
    w.instances.push_back(*wi);
    routes.push_back(WorkerRoute{pl.op, pl.keys.lo, pl.keys.hi, pl.node, "", pl.tier});
  }

  // Source workers, one per source tier; the one of the sink's tier (planner::SinkTier, as the
  // plan prices the way back) hosts the sink.
  std::map<std::string, WorkerConfig> io;
  const std::string sink_tier = planner::SinkTier(wf.spec);
  const std::string sink_worker = std::string(kIoWorkerPrefix) + sink_tier;
  for (const auto& s : wf.spec.sources) {
    auto wi = SourceInstance(s);
    if (!wi.ok()) return wi.status();
    std::string wname = std::string(kIoWorkerPrefix) + s.tier;
    auto [it, fresh] = io.try_emplace(wname, base(wname, s.node.value_or(""), s.tier));
    if (s.type.value_or("generator") == "ingress") {
      auto ing = IngressSettings(wf, s, opts);
      if (!ing.ok()) return ing.status();
      it->second.ingress = *ing;
      wi->type = "ingress";
    }
    it->second.instances.push_back(*wi);
  }
  if (io.count(sink_worker) == 0) return Status::InvalidArgument("the workflow has no sources");
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  sink.scorer = wf.spec.accuracy.scorer.value_or("exact");
  sink.scorer_command = wf.spec.accuracy.scorer_command;
  // A relative results file resolves against the worker's working directory, as the index does.
  if (wf.spec.results) sink.result_log = wf.spec.results->file;
  io[sink_worker].instances.push_back(sink);
  routes.push_back(WorkerRoute{kSinkName, 0, 1, sink_worker, "", sink_tier});
  AddWaysBack(wf, has_consumer, edges, routes);

  // Validation reserves the prefix for io workers; an Infrastructure that bypassed it must not
  // yield two workers of one name (they would write the same files).
  for (const auto& [n, w] : io)
    if (by_node.count(n) != 0)
      return Status::InvalidArgument("node " + n + " has the name of the io worker of tier " + w.tier +
                                     "; node names starting with \"" + std::string(kIoWorkerPrefix) +
                                     "\" are reserved");
  std::vector<WorkerConfig> out;
  for (auto* group : {&io, &by_node})
    for (auto& [n, w] : *group) {
      w.edges = edges;
      w.routes = routes;
      out.push_back(std::move(w));
    }
  return out;
}

std::string DriversOfPlan(const Workflow& wf, const Infrastructure& inf, const Plan& plan) {
  std::set<std::string> types;
  for (const auto& t : inf.spec.tiers) {
    bool used = false;
    for (const auto& pl : plan.placements) used |= pl.tier == t.name;
    for (const auto& s : wf.spec.sources) used |= s.tier == t.name;
    if (used) types.insert(t.driver.type);
  }
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : "+") + t;
  return out;
}

ObservedStatus Summarize(const planner::Problem& p, const Plan& plan, const std::vector<WorkerState>& workers) {
  ObservedStatus o;
  o.time = NowRfc3339();
  std::map<std::string, int> tier_index;
  for (size_t t = 0; t < p.tiers.size(); ++t) tier_index[p.tiers[t]] = static_cast<int>(t);
  std::set<std::string> consumers;
  for (const auto& e : p.edges) consumers.insert(p.ops[static_cast<size_t>(e.to)].name);
  std::set<std::string> producers;
  for (const auto& e : p.edges)
    if (!e.from_source) producers.insert(p.ops[static_cast<size_t>(e.from)].name);
  for (const auto& op : p.ops)
    if (producers.count(op.name) == 0) o.expected_throughput += op.rate;
  // Predicted traffic at the rates of `p` (the offered load), with the plan's key shares; like the
  // observed links below, it includes the answers' way back to the sink.
  auto score = planner::ScorePlan(p, AtProblemRates(p, plan));
  for (const auto& [t, v] : score.boundary_up_kibps) o.predicted_cross_tier_kibps += v;
  for (const auto& [t, v] : score.boundary_down_kibps) o.predicted_cross_tier_kibps += v;

  double p50_weighted = 0, p99 = 0, sink_rate = 0;
  // Requests/s arriving at an inference endpoint (each request is one item of every ingress
  // source): the sink can deliver no more than that, so it is what the SLO expects of an endpoint,
  // up to the planned rate. -1: no endpoint.
  double offered = -1;
  for (const auto& w : workers) {
    ++o.workers;
    if (w.ready) ++o.workers_ready;
    o.restarts += w.restarts;
    if (!w.metrics) continue;
    const auto& m = *w.metrics;
    o.emulated |= m.emulated;
    o.tls_refused += m.tls_refused;
    if (std::string url = IngressUrlOf(m); !url.empty()) o.ingress_urls.push_back({m.tier, url});
    const bool endpoint = m.ingress_port > 0 || !m.ingress_address.empty();
    for (const auto& in : m.instances) {
      for (const auto& [reason, n] : in.dropped) o.dropped += n;
      if (in.kind == "source") o.emitted += in.items_out;
      if (in.kind == "source" && endpoint)
        offered = offered < 0 ? std::max(0.0, in.rate) : std::min(offered, std::max(0.0, in.rate));
      if (in.kind == "sink") {
        o.delivered += in.items_out;
        o.duplicates += in.duplicates;
        o.throughput += in.rate;
        o.throughput_complete = in.rate_complete;
        sink_rate += in.rate;
        p50_weighted += in.p50_ms * std::max(in.rate, 1e-9);
        p99 = std::max(p99, in.p99_ms);
      }
      if (in.kind == "operator") o.duplicates += in.duplicates;
    }
    auto from = tier_index.find(m.tier);
    for (const auto& l : m.links) {
      auto to = tier_index.find(l.tier);
      if (from == tier_index.end() || to == tier_index.end() || from->second == to->second) continue;
      int crossed = std::abs(from->second - to->second);
      o.cross_tier_kibps += l.payload_kibps * crossed;
      o.network_cost_per_hour += l.payload_kibps * planner::kKiBpsToGiBph * p.PathCost(from->second, to->second);
    }
  }
  // Every endpoint in the order of the cluster's tiers; ingressUrl keeps the first for older readers.
  auto rank = [&](const TierIngressUrl& e) {
    auto t = tier_index.find(e.tier);
    return t == tier_index.end() ? static_cast<int>(tier_index.size()) : t->second;
  };
  std::stable_sort(o.ingress_urls.begin(), o.ingress_urls.end(),
                   [&](const TierIngressUrl& a, const TierIngressUrl& b) { return rank(a) < rank(b); });
  if (!o.ingress_urls.empty()) o.ingress_url = o.ingress_urls.front().url;
  if (offered >= 0) o.expected_throughput = std::min(o.expected_throughput, offered);
  o.latency_p50_ms = sink_rate > 0 ? p50_weighted / std::max(sink_rate, 1e-9) : 0;
  o.latency_p99_ms = p99;
  o.live_cost_per_hour = plan.cost.compute_per_hour + o.network_cost_per_hour;
  o.accuracy = SummarizeAccuracy(workers, plan.accuracy, p.min_accuracy);
  return o;
}

}  // namespace jb
