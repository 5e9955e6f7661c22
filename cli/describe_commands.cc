// jbctl describe: every kind in prose and tables, with its recent events.
#include <algorithm>
#include <filesystem>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/remote.h"
#include "reconciler/observed_accuracy.h"

namespace jb::cli {
namespace fs = std::filesystem;

namespace {

// The observed accuracy beside the planned one, e.g. "observed 63.2% (95% 57.1-68.9%, n=288),
// planned 63.9%, floor 60.0%"; "below the floor" is added when the interval lies wholly below it.
std::string AccuracyLine(const ObservedAccuracy& a) {
  return "observed " + FormatObservedAccuracy(a) + ", planned " + FormatFixed(a.planned, 1) + "%, floor " +
         FormatFixed(a.floor, 1) + "%" + (a.high < a.floor ? " [below the floor]" : "");
}

// Everything describe shows of a workflow but its events.
void DescribeWorkflow(const Remote& r, const Workflow& wf, std::ostream& out) {
  out << "Name:           " << wf.metadata.name << "\n";
  out << "Infrastructure: " << wf.spec.infrastructure << "\n";
  out << "Generation:     " << wf.metadata.generation.value_or(0) << " (observed "
      << wf.status.observed_generation.value_or(0) << ")\n";
  out << "SLO:            accuracy >= " << FormatFixed(wf.spec.slo.min_accuracy, 2) << ", sources:";
  for (const auto& s : wf.spec.sources) out << " " << s.name << " " << FormatFixed(s.rate, 1) << "/s";
  out << "\n";
  if (wf.metadata.deletion_timestamp) out << "Deleting since: " << *wf.metadata.deletion_timestamp << "\n";
  out << "\nConditions:\n";
  std::vector<std::vector<std::string>> rows = {{"  TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"}};
  for (const auto& c : wf.status.conditions)
    rows.push_back({"  " + c.type, c.status, c.reason, c.last_transition_time, c.message});
  PrintTable(out, rows, 3);
  if (wf.status.plan) {
    const auto& p = *wf.status.plan;
    out << "\nPlan:\n";
    std::vector<std::vector<std::string>> t = {
        {"  OPERATOR", "VARIANT", "NODE", "TIER", "RATE/s", "KEYS", "UTILISATION"}};
    for (const auto& pl : p.placements)
      t.push_back({"  " + pl.op, pl.variant, pl.node, pl.tier, FormatFixed(pl.rate, 2),
                   "[" + FormatFixed(pl.keys.lo, 3) + "," + FormatFixed(pl.keys.hi, 3) + ")",
                   FormatFixed(100 * pl.utilisation, 1) + "%"});
    PrintTable(out, t, 3);
    out << "\nCost:      " << FormatFixed(p.cost.total_per_hour, 4) << " $/h (compute "
        << FormatFixed(p.cost.compute_per_hour, 4) << " + network " << FormatFixed(p.cost.network_per_hour, 4) << ")\n";
    out << "Accuracy:  " << FormatFixed(p.accuracy, 2)
        << (wf.status.accuracy_floor ? " (planned at a floor raised to " + FormatFixed(*wf.status.accuracy_floor, 1) +
                                           "% after observed accuracy drift)"
                                     : "")
        << "\n";
    out << "Solver:    " << p.solver << ", "
        << (p.optimal ? "proven optimal" : "gap " + FormatFixed(100 * p.gap, 3) + "%") << ", "
        << FormatFixed(p.solve_ms, 1) << " ms\n";
  } else {
    out << "\nPlan:      none\n";
  }
  if (wf.status.observed) {
    const auto& o = *wf.status.observed;
    out << "\nObserved (" << o.time << (o.emulated ? ", EMULATED runtime: profiled latencies, synthetic payloads" : "")
        << "):\n";
    out << "  Workers:     " << o.workers_ready << "/" << o.workers << " ready, " << o.restarts << " restart(s)\n";
    // A figure whose reporter is cut off from the daemon is Unknown, with why and the last value's age.
    auto unknown = [&](const char* figure) { return FindUnknownFigure(o, figure); };
    auto note = [](const UnknownFigure& u, const std::string& last) {
      return "Unknown (" + u.reason +
             (u.age_s < 0 ? "; never observed)"
                          : "; last observed " + FormatFixed(u.age_s, 1) + " s ago: " + last + ")");
    };
    out << "  Throughput:  "
        << (unknown("throughput") ? note(*unknown("throughput"), FormatFixed(o.throughput, 2) + " items/s")
                                  : FormatFixed(o.throughput, 2) + " items/s at the sink")
        << " (plan " << FormatFixed(o.expected_throughput, 2) << ")"
        << (o.throughput_complete ? "" : " [first window still filling]") << "\n";
    if (!o.throughput_source.empty()) out << "               from " << o.throughput_source << "\n";
    const std::string latency =
        "p50 " + FormatFixed(o.latency_p50_ms, 1) + " ms, p99 " + FormatFixed(o.latency_p99_ms, 1) + " ms";
    out << "  Latency:     " << (unknown("latencyP99Ms") ? note(*unknown("latencyP99Ms"), latency) : latency)
        << " (source to sink)\n";
    // A join makes one request of one part per source: the sources emit parts, the sink delivers requests.
    bool join = false;
    for (const auto& op : wf.spec.operators) join |= op.inputs.size() > 1;
    const size_t k = std::max<size_t>(1, wf.spec.sources.size());
    out << "  Items:       "
        << (join ? std::to_string(o.emitted) + " parts emitted by " + std::to_string(k) + " sources (" +
                       std::to_string(o.emitted / static_cast<int64_t>(k)) + " requests), " +
                       std::to_string(o.delivered) + " requests delivered, "
                 : std::to_string(o.emitted) + " emitted by the sources, " + std::to_string(o.delivered) +
                       " delivered, ")
        << o.dropped << " dropped, " << o.duplicates << " duplicate(s) discarded"
        << (unknown("delivered") || unknown("emitted") || unknown("dropped") || unknown("duplicates")
                ? " [as last reported: a reporter is cut off]"
                : "")
        << "\n";
    if (o.accuracy)
      out << "  Accuracy:    "
          << (unknown("accuracy") ? note(*unknown("accuracy"), AccuracyLine(*o.accuracy)) : AccuracyLine(*o.accuracy))
          << "\n";
    const std::string kibps = FormatFixed(o.cross_tier_kibps, 1) + " KiB/s";
    out << "  Cross-tier:  " << (unknown("crossTierKiBps") ? note(*unknown("crossTierKiBps"), kibps) : kibps)
        << " (plan " << FormatFixed(o.predicted_cross_tier_kibps, 1) << ")\n";
    const std::string cost = FormatFixed(o.live_cost_per_hour, 4) + " $/h (rent " +
                             FormatFixed(o.live_cost_per_hour - o.network_cost_per_hour, 4) + " + observed network " +
                             FormatFixed(o.network_cost_per_hour, 4) + ")";
    out << "  Live cost:   " << (unknown("liveCostPerHour") ? note(*unknown("liveCostPerHour"), cost) : cost) << "\n";
  } else {
    out << "\nObserved:  nothing yet (no worker has reported)\n";
  }
  // The inference endpoint; its CA and token are files on the daemon's machine (never the token).
  // With ingress sources on several tiers, one line per tier (each tier's io worker serves its own).
  if (wf.status.observed) {
    std::vector<TierIngressUrl> endpoints = wf.status.observed->ingress_urls;
    if (endpoints.empty() && !wf.status.observed->ingress_url.empty())  // a status from before ingressUrls
      endpoints.push_back({"", wf.status.observed->ingress_url});
    bool tls = false;
    for (const auto& e : endpoints) tls |= e.url.rfind("https://", 0) == 0;
    const std::string files = "CA: " + (fs::path(r.state_dir) / "tls/ca.crt").string() + ", token: " +
                              (fs::path(r.state_dir) / "ingress" / (wf.metadata.name + ".token")).string();
    // One endpoint: "Ingress:   URL (CA: …, token: …)" on one line (the README's curl example reads it).
    if (endpoints.size() == 1) out << "Ingress:   " << endpoints[0].url << (tls ? " (" + files + ")" : "") << "\n";
    for (size_t i = 0; endpoints.size() > 1 && i < endpoints.size(); ++i)
      out << (i == 0 ? "Ingress:   " : "           ") << endpoints[i].tier << ": " << endpoints[i].url << "\n";
    if (endpoints.size() > 1 && tls) out << "           " << files << "\n";
  }
  if (wf.status.rollout) {
    const auto& ro = *wf.status.rollout;
    out << "\nRollout:   epoch " << ro.from_epoch << " -> " << ro.to_epoch << ", phase " << ro.phase << ", trigger "
        << ro.trigger << " at " << ro.triggered << (ro.switched.empty() ? "" : ", switched at " + ro.switched) << "\n";
  }
  for (const auto& o : wf.status.unavailable_nodes)
    out << "Node out:  " << o.node << " since " << o.since << ": " << o.reason << "\n";
  if (!wf.status.history.empty()) {
    const auto& h = wf.status.history.back();
    out << "History:   " << wf.status.history.size() << " plan(s); the last, epoch " << h.epoch << ", trigger "
        << h.trigger << (h.serving_s ? ", serving after " + FormatFixed(*h.serving_s, 2) + " s" : "")
        << " (jbctl rollout history workflow " << wf.metadata.name << ")\n";
  }
}

// The last ten events of KIND/NAME as describe's "Events:" section.
void DescribeEvents(const Remote& r, const std::string& kind, const std::string& name, std::ostream& out) {
  auto ev = HttpCall(r.http, "GET", kApiPath + "events/" + kind + "/" + name);
  out << "\nEvents:\n";
  if (ev.ok() && ev->status == 200) {
    auto docs = ParseYamlStream(ev->body);
    std::vector<std::vector<std::string>> events = {{"  TIME", "TYPE", "REASON", "COUNT", "MESSAGE"}};
    if (!docs.empty() && docs[0].error.ok() && docs[0].root.Find("items")) {
      const auto& items = docs[0].root.Find("items")->items();
      for (size_t i = items.size() > 10 ? items.size() - 10 : 0; i < items.size(); ++i) {
        const Value& e = items[i];
        auto str = [&](const char* k) { return e.Find(k) && e.Find(k)->is_string() ? e.Find(k)->as_string() : ""; };
        events.push_back({"  " + str("time"), str("type"), str("reason"),
                          e.Find("count") ? FormatNumber(e.Find("count")->as_number()) : "1", str("message")});
      }
    }
    if (events.size() == 1)
      out << "  <none>\n";
    else
      PrintTable(out, events, 3);
  } else {
    out << "  <unavailable>\n";
  }
}

std::string Labels(const ObjectMeta& m) {
  std::string s;
  for (const auto& [k, v] : m.labels) s += (s.empty() ? "" : ",") + k + "=" + v;
  return s.empty() ? "<none>" : s;
}

void DescribeModelProfile(const ModelProfile& mp, std::ostream& out) {
  out << "Name:           " << mp.metadata.name << "\n";
  out << "Kind:           ModelProfile\n";
  out << "Labels:         " << Labels(mp.metadata) << "\n";
  out << "Generation:     " << mp.metadata.generation.value_or(0) << "\n";
  out << "\nVariants:\n";
  std::vector<std::vector<std::string>> rows = {{"  NAME", "ACCURACY", "OUTPUT KiB", "HARDWARE (latency ms)"}};
  for (const auto& v : mp.spec.variants) {
    std::string hw;
    for (const auto& [h, lat] : v.latency_ms) hw += (hw.empty() ? "" : ", ") + h;
    rows.push_back({"  " + v.name, v.accuracy ? FormatFixed(*v.accuracy, 2) : "-", FormatFixed(v.output_size_kib, 1),
                    hw.empty() ? "-" : hw});
  }
  PrintTable(out, rows, 3);
}

void DescribeInfrastructure(const Infrastructure& inf, std::ostream& out) {
  out << "Name:           " << inf.metadata.name << "\n";
  out << "Kind:           Infrastructure\n";
  out << "Labels:         " << Labels(inf.metadata) << "\n";
  out << "Generation:     " << inf.metadata.generation.value_or(0) << "\n";
  out << "Tiers:          ";
  for (size_t i = 0; i < inf.spec.tiers.size(); ++i) out << (i ? " < " : "") << inf.spec.tiers[i].name;
  out << "\n\nNodes:\n";
  std::vector<std::vector<std::string>> rows = {{"  NAME", "TIER", "HARDWARE", "COUNT", "$/h", "ADDRESS"}};
  for (const auto& n : inf.spec.nodes)
    rows.push_back({"  " + n.name, n.tier, n.hardware, std::to_string(n.count), FormatFixed(n.price_per_hour, 4),
                    n.address.value_or("-")});
  PrintTable(out, rows, 3);
  out << "Links:          " << inf.spec.links.size() << "\n";
}

}  // namespace

int Describe(const Remote& r, const DescribeOptions& o, std::ostream& out, std::ostream& err) {
  std::string plural, name;
  if (!ResolveTarget(o.positionals, &plural, &name, "jbctl describe", err)) return 1;
  auto resp = HttpCall(r.http, "GET", kApiPath + plural + "/" + name);
  if (!resp.ok() || resp->status != 200) {
    err << "jbctl describe: " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
    return 1;
  }
  auto obj = DecodeResponse(*resp);
  if (!obj.ok()) {
    err << "jbctl describe: malformed object from the server: " << obj.status().message() << "\n";
    return 1;
  }
  if (const auto* wf = std::get_if<Workflow>(&*obj)) DescribeWorkflow(r, *wf, out);
  if (const auto* mp = std::get_if<ModelProfile>(&*obj)) DescribeModelProfile(*mp, out);
  if (const auto* inf = std::get_if<Infrastructure>(&*obj)) DescribeInfrastructure(*inf, out);
  DescribeEvents(r, KindOf(*obj), name, out);
  return 0;
}

}  // namespace jb::cli
