// WorkerConfig: everything one jellybean-worker process needs — the operator instances it hosts,
// the workflow's edges and the routing table of the current plan epoch. Drivers write it as a
// YAML/JSON file; the worker reads it at start and again on SIGHUP (a new epoch's routes).
// WorkerMetrics: what a worker reports (written as JSON to `metricsFile`, read by the drivers).
// Both are plain value types described once with Describe() (api/fields.h), like the resources.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/fields.h"
#include "base/status.h"

namespace jb {

inline constexpr const char* kSinkName = "sink";

struct WorkerRuntime {
  std::string type = "emulated";     // emulated | exec
  double latency_ms = 0;             // emulated: time spent per item (the profiled latency on this hardware)
  double output_kib = 0;             // emulated: payload size of each output item
  std::vector<std::string> command;  // exec: argv of the persistent model process
  std::map<std::string, std::string> env;
  int64_t framing = 2;  // exec: framing version the model process speaks (docs/exec-framing.md): 2, or 1 (legacy)
  bool operator==(const WorkerRuntime&) const = default;
};
template <class V>
void Describe(V& v, WorkerRuntime& o) {
  v.Field("type", o.type, Opt().Required().Enum({"emulated", "exec"}));
  v.Field("latencyMs", o.latency_ms, Opt().Min(0));
  v.Field("outputKiB", o.output_kib, Opt().Min(0));
  v.Field("command", o.command, Opt());
  v.Field("env", o.env, Opt());
  v.Field("framing", o.framing, Opt().Min(1).Max(2));
}

// One instance hosted by the worker.
struct WorkerInstance {
  std::string kind;                         // source | operator | sink
  std::string name;                         // operator or source name; "sink" for the sink
  std::string variant;                      // operator: chosen variant
  WorkerRuntime runtime;                    // operator
  double rate = 0;                          // source: items/s
  double item_kib = 0;                      // source: synthetic payload size
  std::optional<std::string> files;         // source: send the files of this directory (round robin)
  int64_t limit = 0;                        // source: stop after this many items (0 = never)
  std::string type = "generator";           // source: generator | dataset | ingress
  std::optional<std::string> dataset;       // source of type dataset: path of its JSON-lines index (ingress/dataset.h)
  bool loop = true;                         // dataset: start over after the last item (false: once)
  std::string scorer = "exact";             // sink: how labelled answers are scored: exact | normalized | exec
  std::vector<std::string> scorer_command;  // sink, scorer exec: argv of the scoring command
  std::optional<std::string> result_log;    // sink: also append every answer to this JSON-lines file
  int64_t accuracy_window = 1000;           // sink: observed accuracy over the last this many scored answers
  bool operator==(const WorkerInstance&) const = default;
};
template <class V>
void Describe(V& v, WorkerInstance& o) {
  v.Field("kind", o.kind, Opt().Required().Enum({"source", "operator", "sink"}));
  v.Field("name", o.name, Opt().Required().Min(1));
  v.Field("variant", o.variant, Opt());
  v.Field("runtime", o.runtime, Opt());
  v.Field("rate", o.rate, Opt().Min(0));
  v.Field("itemKiB", o.item_kib, Opt().Min(0));
  v.Field("files", o.files, Opt());
  v.Field("limit", o.limit, Opt().Min(0));
  v.Field("type", o.type, Opt().Enum({"generator", "dataset", "ingress"}));
  v.Field("dataset", o.dataset, Opt());
  v.Field("loop", o.loop, Opt());
  v.Field("scorer", o.scorer, Opt().Enum({"exact", "normalized", "exec"}));
  v.Field("scorerCommand", o.scorer_command, Opt());
  v.Field("resultLog", o.result_log, Opt());
  v.Field("accuracyWindow", o.accuracy_window, Opt().Min(1).Max(1000000));
}

// The Open Inference Protocol endpoint of an io worker that hosts ingress sources (ingress/,
// docs/ingress.md). TLS with a bearer token unless plainHttp (loopback only).
struct WorkerIngress {
  std::string listen = "127.0.0.1:0";  // host:port of the HTTP(S) endpoint
  std::string cert_file;               // PEM certificate (signed by the daemon's CA) and key
  std::string key_file;
  std::string token_file;  // bearer token, a file with mode 0600
  // The same materials inline (remote drivers: ssh, agent, cloud deliver them in the config, which
  // they write 0600); the worker writes them beside its config (0600) and serves those files.
  std::string cert_pem, key_pem, token;
  bool plain_http = false;
  int64_t max_inflight = 256;         // accepted requests not yet answered; beyond: 429
  double timeout_s = 30;              // default request deadline (Triton's `timeout` parameter overrides)
  int64_t max_body_bytes = 16 << 20;  // beyond: 413
  // The workflow's ingress sources on other io workers (other tiers). Not empty: a request carries
  // only this worker's parts, its `id` is required, and its parts join theirs by that id (the seq of
  // every part is IngressSeqOf(id), worker/ingress_endpoint.h).
  std::vector<std::string> joined_with;
  bool operator==(const WorkerIngress&) const = default;
};
template <class V>
void Describe(V& v, WorkerIngress& o) {
  v.Field("listen", o.listen, Opt().Min(1));
  v.Field("certFile", o.cert_file, Opt());
  v.Field("keyFile", o.key_file, Opt());
  v.Field("tokenFile", o.token_file, Opt());
  v.Field("certPem", o.cert_pem, Opt());
  v.Field("keyPem", o.key_pem, Opt());
  v.Field("token", o.token, Opt());
  v.Field("plainHttp", o.plain_http, Opt());
  v.Field("maxInflight", o.max_inflight, Opt().Min(1).Max(1 << 20));
  v.Field("timeoutS", o.timeout_s, Opt().Gt(0).Max(3600));
  v.Field("maxBodyBytes", o.max_body_bytes, Opt().Min(1024).Max(int64_t{1} << 30));
  v.Field("joinedWith", o.joined_with, Opt());
}

// Mutual TLS on the worker's links (worker/tls.h): a certificate the daemon's CA issued for this
// worker and plan epoch (URI SAN jellybean://WORKFLOW/WORKER?epoch=N, client and server use),
// its key and the CA that peers' certificates must come from. Delivered inline in the config,
// which drivers therefore write 0600. `mode` is the worker's tier setting; `tierModes` those of
// the tiers it sends to (a link uses TLS when either end's mode asks for it).
//   on        TLS on every link, loopback included
//   loopback  TLS on every link but loopback-to-loopback ones (the default)
//   off       plain TCP (TLS still accepted from a peer that asks for it)
struct WorkerTls {
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
  std::string mode = "loopback";
  std::map<std::string, std::string> tier_modes;  // tier -> mode
  bool operator==(const WorkerTls&) const = default;
};
template <class V>
void Describe(V& v, WorkerTls& o) {
  v.Field("certPem", o.cert_pem, Opt().Required().Min(1));
  v.Field("keyPem", o.key_pem, Opt().Required().Min(1));
  v.Field("caPem", o.ca_pem, Opt().Required().Min(1));
  v.Field("mode", o.mode, Opt().Enum({"on", "loopback", "off"}));
  v.Field("tierModes", o.tier_modes, Opt());
}

// The URI SAN of a worker's link certificate: "jellybean://WORKFLOW/WORKER?epoch=N".
std::string WorkerTlsUri(const std::string& workflow, const std::string& worker, int64_t epoch);
// The workflow such a URI names ("" when `uri` is not of that form).
std::string WorkflowOfTlsUri(const std::string& uri);
// The worker such a URI names ("" when `uri` is not of that form).
std::string WorkerOfTlsUri(const std::string& uri);

// A workflow edge: items of `from` (source or operator) feed `to` (operator or "sink").
struct WorkerEdge {
  std::string from;
  std::string to;
  double ratio = 1;  // fraction of `from`'s items that `to` receives (deterministic thinning by seq)
  bool operator==(const WorkerEdge&) const = default;
};
template <class V>
void Describe(V& v, WorkerEdge& o) {
  v.Field("from", o.from, Opt().Required().Min(1));
  v.Field("to", o.to, Opt().Required().Min(1));
  v.Field("ratio", o.ratio, Opt().Gt(0).Max(1));
}

// Items for operator `op` whose key lies in [lo, hi) go to worker `worker` at `address`.
struct WorkerRoute {
  std::string op;
  double lo = 0;
  double hi = 1;
  std::string worker;
  std::string address;  // host:port
  std::string tier;
  bool dial_in = false;  // `worker` is unreachable: it dials in (worker/dialout.h), this worker never dials it
  bool operator==(const WorkerRoute&) const = default;
};
template <class V>
void Describe(V& v, WorkerRoute& o) {
  v.Field("op", o.op, Opt().Required().Min(1));
  v.Field("lo", o.lo, Opt().Required().Min(0).Max(1));
  v.Field("hi", o.hi, Opt().Required().Min(0).Max(1));
  v.Field("worker", o.worker, Opt().Required().Min(1));
  v.Field("address", o.address, Opt().Required().Min(1));
  v.Field("tier", o.tier, Opt());
  v.Field("dialIn", o.dial_in, Opt());
}

// An unreachable worker's upstream sender: the worker dials `address` and asks `worker` to send
// its stream over that connection (worker/dialout.h).
struct WorkerPeer {
  std::string worker;
  std::string address;  // host:port
  std::string tier;     // the sender's tier (its TLS mode also decides whether the dial uses TLS)
  bool operator==(const WorkerPeer&) const = default;
};
template <class V>
void Describe(V& v, WorkerPeer& o) {
  v.Field("worker", o.worker, Opt().Required().Min(1));
  v.Field("address", o.address, Opt().Required().Min(1));
  v.Field("tier", o.tier, Opt());
}

struct WorkerConfig {
  std::string workflow;
  std::string name;  // unique per workflow: the node name, or "io" for sources and sinks
  std::string node;
  std::string tier;
  std::string listen = "127.0.0.1:0";  // host:port to accept items on
  int64_t epoch = 1;
  // Make-before-break: while an older epoch drains, its items (stamped with drainEpoch) keep
  // following that epoch's routes, so joins still meet; new items take `routes`. 0 = none.
  int64_t drain_epoch = 0;
  std::vector<WorkerRoute> drain_routes;
  int64_t servers = 1;   // parallel emulated executors (pool instances of the node)
  int64_t window = 256;  // unacknowledged items a sender may have in flight per connection
  double join_timeout_s = 10;
  double metrics_interval_s = 0.5;
  std::string metrics_file;  // "" = none
  std::vector<WorkerInstance> instances;
  std::vector<WorkerEdge> edges;
  std::vector<WorkerRoute> routes;
  std::optional<WorkerIngress> ingress;  // io worker with ingress sources: its OIP endpoint
  std::optional<WorkerTls> tls;          // none: plain TCP on every link
  bool reachable = true;                 // false: never listens for peers; dials out to `dialOut` instead
  std::vector<WorkerPeer> dial_out;      // unreachable worker: the workers that send it items
  bool operator==(const WorkerConfig&) const = default;
};
template <class V>
void Describe(V& v, WorkerConfig& o) {
  v.Field("workflow", o.workflow, Opt().Required().Min(1));
  v.Field("name", o.name, Opt().Required().Min(1));
  v.Field("node", o.node, Opt());
  v.Field("tier", o.tier, Opt());
  v.Field("listen", o.listen, Opt().Min(1));
  v.Field("epoch", o.epoch, Opt().Min(0));
  v.Field("drainEpoch", o.drain_epoch, Opt().Min(0));
  v.Field("drainRoutes", o.drain_routes, Opt());
  v.Field("servers", o.servers, Opt().Min(1).Max(100000));
  v.Field("window", o.window, Opt().Min(1).Max(1 << 20));
  v.Field("joinTimeoutS", o.join_timeout_s, Opt().Gt(0));
  v.Field("metricsIntervalS", o.metrics_interval_s, Opt().Gt(0));
  v.Field("metricsFile", o.metrics_file, Opt());
  v.Field("instances", o.instances, Opt());
  v.Field("edges", o.edges, Opt());
  v.Field("routes", o.routes, Opt());
  v.Field("ingress", o.ingress, Opt());
  v.Field("tls", o.tls, Opt());
  v.Field("reachable", o.reachable, Opt());
  v.Field("dialOut", o.dial_out, Opt());
}

// ---- metrics ------------------------------------------------------------------------------------
// A latency histogram in milliseconds, since the worker process started: counts[i] observations fell
// in (bounds[i-1], bounds[i]]; counts has one entry more than bounds (the last: above every bound).
// Not cumulative. The daemon's /metrics exposes it in seconds, summed over a workflow's workers.
struct HistogramMetrics {
  std::vector<double> bounds;
  std::vector<int64_t> counts;
  double sum = 0;
  bool operator==(const HistogramMetrics&) const = default;
};
template <class V>
void Describe(V& v, HistogramMetrics& o) {
  v.Field("boundsMs", o.bounds, Opt().Required());
  v.Field("counts", o.counts, Opt().Required());
  v.Field("sumMs", o.sum, Opt());
}

struct InstanceMetrics {
  std::string kind;
  std::string name;
  std::string runtime;     // "emulated" | "exec" | "" (sources, sinks)
  int64_t items_in = 0;    // operator: items started; sink: items received (incl. duplicates)
  int64_t items_out = 0;   // source: emitted; operator: outputs; sink: delivered once
  int64_t duplicates = 0;  // duplicates discarded: repeats of a delivered request (sink) or joined part (joins); never
                           // counted as dropped
  int64_t acked = 0;       // source: items whose every effect reached the sink or a counted drop
  int64_t first_seq = 0;   // source: the first request seq of this process (earlier processes used lower ones)
  std::map<std::string, int64_t> dropped;  // reason -> count
  int64_t queue = 0;                       // items waiting to run
  double rate = 0;             // items_out per second over the last 5 s (sink: by emission time, see SinkRate)
  bool rate_complete = false;  // sink: the rate's window lies after the first delivery (it is a full measurement)
  double p50_ms = 0;           // operator: processing time; sink: end-to-end latency
  double p99_ms = 0;
  std::string variant;  // operator: the variant it runs
  double p75_ms = 0;    // operator: processing time percentiles (closed-loop profiles)
  double p90_ms = 0;
  double output_bytes = 0;                   // operator: mean output size over the recent window
  int64_t scored = 0;                        // sink: labelled answers scored (ever, this process)
  int64_t correct = 0;                       // sink: of which correct
  int64_t window_scored = 0;                 // sink: scored answers in the window (the last accuracyWindow)
  int64_t window_correct = 0;                // sink: of which correct
  int64_t score_errors = 0;                  // sink: answers the scorer could not judge (not counted either way)
  std::map<std::string, int64_t> responses;  // ingress source: HTTP answers by status code ("200", "429", ...)
  int64_t inflight = 0;                      // ingress source: accepted requests not yet answered
  // operator: service time; sink: source-to-sink latency (every item since the process started)
  std::optional<HistogramMetrics> latency_histogram;
  bool operator==(const InstanceMetrics&) const = default;
};
template <class V>
void Describe(V& v, InstanceMetrics& o) {
  v.Field("kind", o.kind, Opt().Required());
  v.Field("name", o.name, Opt().Required());
  v.Field("runtime", o.runtime, Opt());
  v.Field("itemsIn", o.items_in, Opt());
  v.Field("itemsOut", o.items_out, Opt());
  v.Field("duplicates", o.duplicates, Opt());
  v.Field("acked", o.acked, Opt());
  v.Field("firstSeq", o.first_seq, Opt());
  v.Field("dropped", o.dropped, Opt());
  v.Field("queue", o.queue, Opt());
  v.Field("rate", o.rate, Opt());
  v.Field("rateComplete", o.rate_complete, Opt());
  v.Field("p50Ms", o.p50_ms, Opt());
  v.Field("p99Ms", o.p99_ms, Opt());
  v.Field("variant", o.variant, Opt());
  v.Field("p75Ms", o.p75_ms, Opt());
  v.Field("p90Ms", o.p90_ms, Opt());
  v.Field("outputBytes", o.output_bytes, Opt());
  v.Field("scored", o.scored, Opt());
  v.Field("correct", o.correct, Opt());
  v.Field("windowScored", o.window_scored, Opt());
  v.Field("windowCorrect", o.window_correct, Opt());
  v.Field("scoreErrors", o.score_errors, Opt());
  v.Field("responses", o.responses, Opt());
  v.Field("inflight", o.inflight, Opt());
  v.Field("latencyHistogram", o.latency_histogram, Opt());
}

struct LinkMetrics {
  std::string worker;  // destination worker
  std::string tier;    // destination tier
  bool connected = false;
  int64_t items = 0;          // items sent (first transmissions)
  int64_t resent = 0;         // re-transmissions after a broken connection
  int64_t payload_bytes = 0;  // payload bytes of first transmissions
  double payload_kibps = 0;   // payload KiB/s over the last 5 s
  int64_t wire_bytes = 0;     // framed bytes written, re-sends included
  int64_t inflight = 0;       // sent, not yet acknowledged
  int64_t pending = 0;        // waiting for window
  bool tls = false;           // the current (or last) connection is mutual TLS (worker/tls.h)
  bool operator==(const LinkMetrics&) const = default;
};
template <class V>
void Describe(V& v, LinkMetrics& o) {
  v.Field("worker", o.worker, Opt().Required());
  v.Field("tier", o.tier, Opt());
  v.Field("connected", o.connected, Opt());
  v.Field("items", o.items, Opt());
  v.Field("resent", o.resent, Opt());
  v.Field("payloadBytes", o.payload_bytes, Opt());
  v.Field("payloadKiBps", o.payload_kibps, Opt());
  v.Field("wireBytes", o.wire_bytes, Opt());
  v.Field("inflight", o.inflight, Opt());
  v.Field("pending", o.pending, Opt());
  v.Field("tls", o.tls, Opt());
}

struct WorkerMetrics {
  std::string workflow;
  std::string worker;
  std::string tier;
  int64_t pid = 0;
  int64_t epoch = 0;
  int64_t port = 0;
  bool emulated = false;  // true when any instance uses the emulated runtime
  double uptime_s = 0;
  std::string time;            // RFC 3339, when written
  int64_t held_items = 0;      // items in memory (queues, join buffers, unacknowledged outputs)
  int64_t max_held_items = 0;  // the bound the window implies
  std::map<std::string, int64_t>
      held_by_epoch;  // plan epoch -> items held (an epoch has drained when it is absent everywhere)
  std::vector<InstanceMetrics> instances;
  std::vector<LinkMetrics> links;
  int64_t ingress_port = 0;     // the OIP endpoint's port (0: none)
  std::string ingress_address;  // "https://HOST:PORT" (or http:// when plainHttp) of that endpoint
  int64_t tls_refused = 0;      // connections refused by the TLS peer check (worker/tls.h), since start
  bool operator==(const WorkerMetrics&) const = default;
};
template <class V>
void Describe(V& v, WorkerMetrics& o) {
  v.Field("workflow", o.workflow, Opt().Required());
  v.Field("worker", o.worker, Opt().Required());
  v.Field("tier", o.tier, Opt());
  v.Field("pid", o.pid, Opt());
  v.Field("epoch", o.epoch, Opt());
  v.Field("port", o.port, Opt());
  v.Field("emulated", o.emulated, Opt());
  v.Field("uptimeS", o.uptime_s, Opt());
  v.Field("time", o.time, Opt());
  v.Field("heldItems", o.held_items, Opt());
  v.Field("maxHeldItems", o.max_held_items, Opt());
  v.Field("heldByEpoch", o.held_by_epoch, Opt());
  v.Field("instances", o.instances, Opt());
  v.Field("links", o.links, Opt());
  v.Field("ingressPort", o.ingress_port, Opt());
  v.Field("ingressAddress", o.ingress_address, Opt());
  v.Field("tlsRefused", o.tls_refused, Opt());
}

// Writes inline ingress materials (certPem, keyPem, token) as `base`.ingress.{crt,key,token}
// (0600) and points certFile, keyFile and tokenFile at them; nothing to do without them.
Status WriteInlineIngressFiles(WorkerConfig& c, const std::string& base);

// Parses a WorkerConfig (YAML or JSON) strictly and checks its consistency (edges name hosted or
// routed operators, routes cover [0,1) per routed operator, ...). Errors carry file:line:col.
// The consistency checks of ParseWorkerConfig, for configs built in code.
Status ValidateWorkerConfig(const WorkerConfig& c, const std::string& file = "config");
StatusOr<WorkerConfig> ParseWorkerConfig(const std::string& text, const std::string& file);
std::string WorkerConfigToYaml(const WorkerConfig& c);
StatusOr<WorkerMetrics> ParseWorkerMetrics(const std::string& text, const std::string& file);
std::string WorkerMetricsToJson(const WorkerMetrics& m);

// True when `a` and `b` host the same instances and differ only in what a running worker can take
// on through Reconfigure (routes, epochs, drain routes, join timeout, source rates and limits, and
// the driver-filled listen address, metrics file and interval).
bool SameInstances(const WorkerConfig& a, const WorkerConfig& b);

// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range. Drivers
// give each worker a fixed port this way, so a restarted worker comes back where its senders look.
StatusOr<int> PickFreePort();

}  // namespace jb
