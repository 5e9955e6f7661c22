#include "reconciler/observed_truth.h"

#include <algorithm>
#include <set>

#include "api/names.h"
#include "base/format.h"
#include "base/rfc3339.h"

namespace jb {

namespace {

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string WallOf(const Clock& clock) { return FormatRfc3339(std::chrono::system_clock::to_time_t(clock.WallNow())); }

}  // namespace

FilledReports ReportCache::Fill(const std::string& workflow, const std::vector<WorkerState>& observed) {
  const auto now = clock_->Now();
  FilledReports out;
  out.workers = observed;
  MutexLock l(&mu_);
  WorkflowReports& wr = state_[workflow];
  std::set<std::string> present, reported;
  for (auto& w : out.workers) {
    present.insert(w.name);
    const bool current = w.metrics && !w.control_link_lost;
    if (current) {
      wr.last[w.name] = Last{*w.metrics, now, WallOf(*clock_)};
      // Items acknowledged on every link this reachable worker reports.
      for (const auto& link : w.metrics->links) {
        const std::string key = w.name + "->" + link.worker;
        reported.insert(key);
        auto& samples = wr.links[key];
        samples.push_back(Sample{now, link.items - link.inflight});
        while (samples.size() > 2 && Seconds(now - samples[1].at) >= kRateWindowS) samples.pop_front();
      }
      continue;
    }
    auto last = wr.last.find(w.name);
    if (!w.control_link_lost && last == wr.last.end()) continue;  // never reported: starting up
    StaleReporter s;
    s.reason = w.control_link_lost ? "control link to node " + w.node + " lost (" + w.message + ")"
                                   : "worker " + w.name + " stopped reporting (" + w.message + ")";
    if (last != wr.last.end()) {
      s.last = last->second.metrics;
      s.last_observed = last->second.wall;
      s.age_s = Seconds(now - last->second.at);
      w.metrics = last->second.metrics;
    }
    out.stale.emplace(w.name, std::move(s));
  }
  for (auto it = wr.last.begin(); it != wr.last.end();)
    it = present.count(it->first) ? std::next(it) : wr.last.erase(it);
  for (auto it = wr.links.begin(); it != wr.links.end();)
    it = reported.count(it->first) ? std::next(it) : wr.links.erase(it);
  // Acknowledged items per destination worker, over the window (a link needs 2 s of samples).
  for (const auto& [key, samples] : wr.links) {
    const std::string from = key.substr(0, key.find("->")), to = key.substr(key.find("->") + 2);
    const double dt = Seconds(samples.back().at - samples.front().at);
    if (dt < 2) continue;
    const double rate = static_cast<double>(samples.back().acked - samples.front().acked) / dt;
    out.acked_rate[to] += std::max(0.0, rate);
    auto& by = out.acked_by[to];
    by += (by.empty() ? "" : ", ") + from;
  }
  return out;
}

void ReportCache::Forget(const std::string& workflow) {
  MutexLock l(&mu_);
  state_.erase(workflow);
}

namespace {

// The ObservedStatus figures a worker's report contributes to.
std::vector<std::string> FiguresOf(const WorkerState& w, const std::optional<WorkerMetrics>& m) {
  std::set<std::string> f;
  const bool io = w.name.rfind(kIoWorkerPrefix, 0) == 0;
  if (!m) {  // never reported: what its kind of worker reports
    if (io) f = {"throughput", "latencyP50Ms", "latencyP99Ms", "delivered", "emitted", "accuracy"};
    f.insert({"dropped", "duplicates", "crossTierKiBps", "networkCostPerHour", "liveCostPerHour"});
    return {f.begin(), f.end()};
  }
  for (const auto& in : m->instances) {
    if (in.kind == "sink") f.insert({"throughput", "latencyP50Ms", "latencyP99Ms", "delivered", "duplicates"});
    if (in.kind == "sink" && in.scored > 0) f.insert("accuracy");
    if (in.kind == "source") f.insert("emitted");
    if (in.kind == "operator") f.insert("duplicates");
    if (!in.dropped.empty()) f.insert("dropped");
  }
  for (const auto& l : m->links)
    if (l.tier != m->tier) f.insert({"crossTierKiBps", "networkCostPerHour", "liveCostPerHour"});
  return {f.begin(), f.end()};
}

bool HostsSink(const WorkerState& w, const std::optional<WorkerMetrics>& m) {
  if (!m) return w.name.rfind(kIoWorkerPrefix, 0) == 0;
  for (const auto& in : m->instances)
    if (in.kind == "sink") return true;
  return false;
}

// The sink rate a (stale) report contributed to the summary.
double SinkRate(const std::optional<WorkerMetrics>& m) {
  double r = 0;
  if (m)
    for (const auto& in : m->instances)
      if (in.kind == "sink") r += in.rate;
  return r;
}

}  // namespace

void MarkUnobservable(const FilledReports& filled, ObservedStatus* o) {
  std::map<std::string, UnknownFigure> unknown;
  std::string relayed_from;
  for (const auto& w : filled.workers) {
    auto s = filled.stale.find(w.name);
    if (s == filled.stale.end()) continue;
    const StaleReporter& r = s->second;
    // A cut-off sink's throughput: what its worker acknowledged, per the peers that send to it.
    bool sink_relayed = false;
    if (HostsSink(w, r.last)) {
      auto rate = filled.acked_rate.find(w.name);
      if (rate != filled.acked_rate.end()) {
        sink_relayed = true;
        o->throughput += rate->second - SinkRate(r.last);  // the fresh figure instead of the stale one
        relayed_from += (relayed_from.empty() ? "" : "; ") + std::string("items acknowledged by ") + w.name +
                        " per the reports of " + filled.acked_by.at(w.name) + " (" + w.name +
                        " does not report: " + r.reason + ")";
      }
    }
    for (const auto& f : FiguresOf(w, r.last)) {
      if (f == "throughput" && sink_relayed) continue;
      auto [it, fresh] = unknown.try_emplace(f, UnknownFigure{f, r.reason, r.last_observed, r.age_s});
      if (!fresh && r.age_s > it->second.age_s) it->second = UnknownFigure{f, r.reason, r.last_observed, r.age_s};
    }
  }
  if (!relayed_from.empty()) {
    o->throughput = std::max(0.0, o->throughput);
    o->throughput_source = relayed_from;
  }
  o->unknown.clear();
  for (auto& [f, u] : unknown) o->unknown.push_back(std::move(u));
}

std::string UnknownNote(const ObservedStatus& o, const std::string& figure) {
  const UnknownFigure* u = FindUnknownFigure(o, figure);
  if (u == nullptr) return "";
  return "Unknown (" + u->reason +
         (u->age_s < 0 ? "; never observed)" : "; last observed " + FormatFixed(u->age_s, 1) + " s ago)");
}

}  // namespace jb
