// jbctl get and describe: the daemon's objects as tables, YAML/JSON and a workflow's full status.
#include <filesystem>
#include <map>
#include <set>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/remote.h"
#include "reconciler/observed_accuracy.h"

namespace jb::cli {
namespace fs = std::filesystem;

namespace {

const Condition* Cond(const Workflow& wf, const std::string& type) {
  for (const auto& c : wf.status.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

// The observed accuracy beside the planned one, e.g. "observed 63.2% (95% 57.1-68.9%, n=288),
// planned 63.9%, floor 60.0%"; "below the floor" is added when the interval lies wholly below it.
std::string AccuracyLine(const ObservedAccuracy& a) {
  return "observed " + FormatObservedAccuracy(a) + ", planned " + FormatFixed(a.planned, 1) + "%, floor " +
         FormatFixed(a.floor, 1) + "%" + (a.high < a.floor ? " [below the floor]" : "");
}

// One row of `jbctl get workflows` (wide: the extra columns).
std::vector<std::string> WorkflowRow(const Workflow& wf, bool wide) {
  auto st = [&](const char* t) { return Cond(wf, t) ? Cond(wf, t)->status : "Unknown"; };
  const auto& plan = wf.status.plan;
  std::vector<std::string> row = {wf.metadata.name,
                                  st("Planned"),
                                  st("Ready"),
                                  st("SLOMet"),
                                  plan ? FormatFixed(plan->cost.total_per_hour, 4) : "-",
                                  plan ? FormatFixed(plan->accuracy, 2) : "-"};
  if (wide)
    row.insert(row.end(),
               {plan ? FormatFixed(plan->cost.compute_per_hour, 4) : "-",
                plan ? FormatFixed(plan->cost.network_per_hour, 4) : "-",
                plan ? FormatFixed(100 * plan->gap, 3) + "%" : "-", std::to_string(wf.metadata.generation.value_or(0)),
                std::to_string(wf.status.observed_generation.value_or(0))});
  if (wide) {
    const auto& obs = wf.status.observed;
    const ObservedAccuracy* a = obs && obs->accuracy ? &*obs->accuracy : nullptr;
    row.insert(row.end(),
               {a ? FormatFixed(a->accuracy, 1) : "-", a ? FormatFixed(a->low, 1) + "-" + FormatFixed(a->high, 1) : "-",
                a ? std::to_string(a->count) : "-"});
  }
  return row;
}

}  // namespace

int Get(const Remote& r, std::ostream& out, std::ostream& err) {
  std::string kind, name, output;
  for (size_t i = 0; i < r.rest.size(); ++i) {
    if (r.rest[i] == "-o" && i + 1 < r.rest.size())
      output = r.rest[++i];
    else if (kind.empty())
      kind = r.rest[i];
    else if (name.empty())
      name = r.rest[i];
    else {
      err << "jbctl get: unexpected argument \"" << r.rest[i] << "\"\n";
      return 1;
    }
  }
  std::string plural = PluralOf(kind);
  if (plural.empty()) {
    err << "jbctl get: unknown kind \"" << kind << "\"; expected workflows, modelprofiles or infrastructures\n";
    return 1;
  }
  if (!output.empty() && output != "yaml" && output != "json" && output != "wide" && output != "name") {
    err << "jbctl get: unknown output format \"" << output << "\"; expected yaml, json, wide or name\n";
    return 1;
  }
  auto resp = HttpCall(r.http, "GET", kApiPath + plural + (name.empty() ? "" : "/" + name));
  if (!resp.ok()) {
    err << "jbctl get: " << resp.status().message() << "\n";
    return 1;
  }
  if (resp->status != 200) {
    err << "jbctl get: " << ErrorOf(*resp) << "\n";
    return 1;
  }
  std::vector<Object> objects;
  if (name.empty()) {
    auto docs = ParseYamlStream(resp->body);
    if (docs.empty() || !docs[0].error.ok() || !docs[0].root.Find("items")) {
      err << "jbctl get: malformed list from the server\n";
      return 1;
    }
    for (const auto& item : docs[0].root.Find("items")->items()) {
      Document d;
      d.file = "server response";
      DecodeDocument(item, &d);
      if (d.object) objects.push_back(*d.object);
    }
  } else {
    auto obj = DecodeResponse(*resp);
    if (!obj.ok()) {
      err << "jbctl get: malformed object from the server: " << obj.status().message() << "\n";
      return 1;
    }
    objects.push_back(*obj);
  }
  if (output == "yaml") {
    for (size_t i = 0; i < objects.size(); ++i) out << (i ? "---\n" : "") << ObjectToYaml(objects[i]);
    return 0;
  }
  if (output == "json") {
    if (objects.size() == 1 && !name.empty())
      out << ObjectToJson(objects[0], true) << "\n";
    else
      out << resp->body;
    return 0;
  }
  if (output == "name") {
    for (const auto& o : objects) out << plural.substr(0, plural.size() - 1) << "/" << MetaOf(o).name << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (plural == "workflows") {
    rows.push_back({"NAME", "PLANNED", "READY", "SLOMET", "COST $/h", "ACCURACY"});
    if (output == "wide")
      rows[0].insert(rows[0].end(),
                     {"COMPUTE", "NETWORK", "GAP", "GENERATION", "OBSERVED", "OBS-ACCURACY", "95%", "N"});
    for (const auto& o : objects) rows.push_back(WorkflowRow(std::get<Workflow>(o), output == "wide"));
  } else if (plural == "modelprofiles") {
    rows.push_back({"NAME", "VARIANTS", "GENERATION"});
    for (const auto& o : objects) {
      const auto& mp = std::get<ModelProfile>(o);
      std::string vars;
      for (const auto& v : mp.spec.variants) vars += (vars.empty() ? "" : ",") + v.name;
      rows.push_back({mp.metadata.name, output == "wide" ? vars : std::to_string(mp.spec.variants.size()),
                      std::to_string(mp.metadata.generation.value_or(0))});
    }
  } else {
    rows.push_back({"NAME", "TIERS", "NODES", "GENERATION"});
    for (const auto& o : objects) {
      const auto& inf = std::get<Infrastructure>(o);
      std::string tiers;
      for (const auto& t : inf.spec.tiers) tiers += (tiers.empty() ? "" : ",") + t.name;
      rows.push_back({inf.metadata.name, tiers, std::to_string(inf.spec.nodes.size()),
                      std::to_string(inf.metadata.generation.value_or(0))});
    }
  }
  PrintTable(out, rows, 3);
  return 0;
}

int Describe(const Remote& r, std::ostream& out, std::ostream& err) {
  if (r.rest.size() != 2 || PluralOf(r.rest[0]) != "workflows") {
    err << "jbctl describe: usage: jbctl describe workflow NAME\n";
    return 1;
  }
  auto fetched = FetchWorkflow(r, r.rest[1], "jbctl describe", err);
  if (!fetched) return 1;
  const Workflow& wf = *fetched;
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
    out << "  Throughput:  " << FormatFixed(o.throughput, 2) << " items/s at the sink (plan "
        << FormatFixed(o.expected_throughput, 2) << ")"
        << (o.throughput_complete ? "" : " [first window still filling]") << "\n";
    out << "  Latency:     p50 " << FormatFixed(o.latency_p50_ms, 1) << " ms, p99 " << FormatFixed(o.latency_p99_ms, 1)
        << " ms (source to sink)\n";
    // A join makes one request of one part per source: the sources emit parts, the sink delivers requests.
    bool join = false;
    for (const auto& op : wf.spec.operators) join |= op.inputs.size() > 1;
    const size_t k = std::max<size_t>(1, wf.spec.sources.size());
    out << "  Items:       "
        << (join ? std::to_string(o.emitted) + " parts emitted by " + std::to_string(k) + " sources (" +
                       std::to_string(o.emitted / static_cast<int64_t>(k)) + " requests), " +
                       std::to_string(o.delivered) + " requests delivered, "
                 : std::to_string(o.emitted) + " emitted by the sources, " + std::to_string(o.delivered) + " delivered, ")
        << o.dropped << " dropped, " << o.duplicates << " duplicate(s) discarded\n";
    if (o.accuracy) out << "  Accuracy:    " << AccuracyLine(*o.accuracy) << "\n";
    out << "  Cross-tier:  " << FormatFixed(o.cross_tier_kibps, 1) << " KiB/s (plan "
        << FormatFixed(o.predicted_cross_tier_kibps, 1) << ")\n";
    out << "  Live cost:   " << FormatFixed(o.live_cost_per_hour, 4) << " $/h (rent "
        << FormatFixed(o.live_cost_per_hour - o.network_cost_per_hour, 4) << " + observed network "
        << FormatFixed(o.network_cost_per_hour, 4) << ")\n";
  } else {
    out << "\nObserved:  nothing yet (no worker has reported)\n";
  }
  // The inference endpoint; its CA and token are files on the daemon's machine (never the token).
  if (wf.status.observed && !wf.status.observed->ingress_url.empty()) {
    const std::string& url = wf.status.observed->ingress_url;
    out << "Ingress:   " << url;
    if (url.rfind("https://", 0) == 0)
      out << " (CA: " << (fs::path(r.state_dir) / "tls/ca.crt").string()
          << ", token: " << (fs::path(r.state_dir) / "ingress" / (wf.metadata.name + ".token")).string() << ")";
    out << "\n";
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
  auto ev = HttpCall(r.http, "GET", kApiPath + "events/Workflow/" + r.rest[1]);
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
  return 0;
}

}  // namespace jb::cli
