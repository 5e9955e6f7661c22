#include "api/worker_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "api/value.h"
#include "base/file.h"

namespace jb {
namespace {

template <class T>
StatusOr<T> DecodeStrict(const std::string& text, const std::string& file) {
  auto docs = ParseYamlStream(text);
  if (docs.size() != 1)
    return Status::InvalidArgument(file + ": expected exactly one document, found " + std::to_string(docs.size()));
  const auto& d = docs[0];
  if (!d.error.ok())
    return Status::InvalidArgument(file + ":" + std::to_string(d.error_mark.line) + ":" +
                                   std::to_string(d.error_mark.column) + ": " + d.error.message());
  std::vector<Diagnostic> diags;
  std::unordered_map<std::string, Mark> marks;
  Decoder dec(file, &diags, &marks);
  T out;
  dec.DecodeInto(d.root, out, "");
  if (!diags.empty()) {
    std::string msg;
    for (const auto& diag : diags) msg += (msg.empty() ? "" : "\n") + diag.ToString();
    return Status::InvalidArgument(msg);
  }
  return out;
}

}  // namespace

Status ValidateWorkerConfig(const WorkerConfig& c, const std::string& file) {
  std::vector<std::string> errors;
  std::set<std::string> hosted, names;
  for (const auto& in : c.instances) {
    if (!names.insert(in.name).second) errors.push_back("instances: \"" + in.name + "\" appears twice");
    if (in.kind == "source" && in.rate <= 0)
      errors.push_back("instances." + in.name + ".rate: a source needs a rate > 0");
    if (in.kind == "operator" && in.runtime.type == "exec" && in.runtime.command.empty())
      errors.push_back("instances." + in.name + ".runtime.command: the exec runtime needs a command");
    if (in.kind == "sink" && in.name != kSinkName)
      errors.push_back("instances." + in.name + ": the sink must be named \"sink\"");
    hosted.insert(in.name);
  }
  // Every consumer must be reachable: routed (key ranges covering [0,1)) or hosted here.
  std::map<std::string, std::vector<std::pair<double, double>>> cover;
  for (const auto& r : c.drain_routes)
    if (!(r.lo < r.hi))
      errors.push_back("drainRoutes: " + r.op + " range [" + FormatNumber(r.lo) + "," + FormatNumber(r.hi) +
                       ") is empty");
  if (c.drain_epoch > 0 && c.drain_epoch >= c.epoch)
    errors.push_back("drainEpoch: must be older than epoch " + std::to_string(c.epoch));
  for (const auto& r : c.routes) {
    if (!(r.lo < r.hi))
      errors.push_back("routes: " + r.op + " range [" + FormatNumber(r.lo) + "," + FormatNumber(r.hi) + ") is empty");
    cover[r.op].emplace_back(r.lo, r.hi);
  }
  for (auto& [op, ranges] : cover) {
    std::sort(ranges.begin(), ranges.end());
    double at = 0;
    for (const auto& [lo, hi] : ranges) {
      if (lo > at + 1e-9)
        errors.push_back("routes: keys [" + FormatNumber(at) + "," + FormatNumber(lo) + ") of " + op + " go nowhere");
      at = std::max(at, hi);
    }
    if (at < 1 - 1e-9) errors.push_back("routes: keys [" + FormatNumber(at) + ",1) of " + op + " go nowhere");
  }
  for (const auto& e : c.edges) {
    if (hosted.count(e.from) != 0 && cover.count(e.to) == 0)
      errors.push_back("edges: " + e.from + " -> " + e.to + ": no route for " + e.to);
  }
  if (c.reachable && !c.dial_out.empty())
    errors.push_back("dialOut: only an unreachable worker (reachable: false) dials out to its senders");
  if (errors.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + file + ": " + e;
  return Status::InvalidArgument(msg);
}

StatusOr<WorkerConfig> ParseWorkerConfig(const std::string& text, const std::string& file) {
  auto c = DecodeStrict<WorkerConfig>(text, file);
  if (!c.ok()) return c.status();
  if (auto s = ValidateWorkerConfig(*c, file); !s.ok()) return s;
  return c;
}

bool SameInstances(const WorkerConfig& a, const WorkerConfig& b) {
  if (a.workflow != b.workflow || a.name != b.name || a.servers != b.servers || a.window != b.window ||
      a.edges != b.edges || a.reachable != b.reachable || a.instances.size() != b.instances.size())
    return false;
  for (size_t i = 0; i < a.instances.size(); ++i) {
    WorkerInstance x = a.instances[i], y = b.instances[i];
    if (x.kind == "source" && y.kind == "source") {
      x.rate = y.rate;
      x.limit = y.limit;
    }
    if (!(x == y)) return false;
  }
  return true;
}

Status WriteInlineIngressFiles(WorkerConfig& c, const std::string& base) {
  if (!c.ingress || c.ingress->cert_pem.empty()) return Status::Ok();
  WorkerIngress& in = *c.ingress;
  in.cert_file = base + ".ingress.crt";
  in.key_file = base + ".ingress.key";
  in.token_file = base + ".ingress.token";
  for (const auto& [path, data] : {std::pair{in.cert_file, in.cert_pem}, std::pair{in.key_file, in.key_pem},
                                   std::pair{in.token_file, in.token + "\n"}})
    if (auto s = WriteFileAtomic(path, data, 0600); !s.ok()) return s;
  return Status::Ok();
}

std::string WorkerTlsUri(const std::string& workflow, const std::string& worker, int64_t epoch) {
  return "jellybean://" + workflow + "/" + worker + "?epoch=" + std::to_string(epoch);
}

std::string WorkflowOfTlsUri(const std::string& uri) {
  const std::string scheme = "jellybean://";
  if (uri.compare(0, scheme.size(), scheme) != 0) return "";
  auto slash = uri.find('/', scheme.size());
  if (slash == std::string::npos || slash == scheme.size()) return "";
  return uri.substr(scheme.size(), slash - scheme.size());
}

std::string WorkerOfTlsUri(const std::string& uri) {
  if (WorkflowOfTlsUri(uri).empty()) return "";
  auto slash = uri.find('/', std::string("jellybean://").size());
  auto end = uri.find('?', slash);
  return uri.substr(slash + 1, end == std::string::npos ? std::string::npos : end - slash - 1);
}

std::string WorkerConfigToYaml(const WorkerConfig& c) { return ToYaml(Encoder::Encode(c)); }

StatusOr<WorkerMetrics> ParseWorkerMetrics(const std::string& text, const std::string& file) {
  return DecodeStrict<WorkerMetrics>(text, file);
}

std::string WorkerMetricsToJson(const WorkerMetrics& m) { return ToJson(Encoder::Encode(m)); }

}  // namespace jb

namespace jb {

namespace {

// Binds a loopback TCP socket to `port` (0: any) and returns the port it got, or 0.
int BindLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(sa);
  int got = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    got = ntohs(sa.sin_port);
  close(fd);
  return got;
}

}  // namespace

// A port from the kernel's ephemeral range (what bind(0) hands out) may be taken a moment later as
// the local port of any outgoing connection on the host, and the worker that was to listen there
// fails with "Address already in use" (seen in CI under load). So the port is chosen at random
// below that range (ip_local_port_range, default 32768-60999), where the kernel never picks one,
// and checked by binding it; bind(0) only when 64 tries found nothing free there.
StatusOr<int> PickFreePort() {
  int low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  if (int lo = 0, hi = 0; range >> lo >> hi && lo > 2048) low = lo;
  const int first = std::max(1024, low - 16384);
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(first, low - 1);
  for (int i = 0; i < 64; ++i)
    if (int p = BindLoopback(pick(rng)); p > 0) return p;
  if (int p = BindLoopback(0); p > 0) return p;
  return Status::Unavailable("cannot bind a loopback port");
}

}  // namespace jb
