// jbctl commands that talk to jellybeand: apply, get, describe, delete, diff.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "base/file.h"
#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "daemon/http.h"
#include "planner/solver.h"
#include "reconciler/deployment.h"
#include "reconciler/replan.h"
#include "reconciler/rollout.h"

namespace fs = std::filesystem;

namespace jb {

namespace {

const std::string kApiPath = "/apis/jellybean.dev/v1alpha1/";

// The file's content without trailing whitespace; "" when it cannot be read.
std::string ReadTrimmed(const std::string& path) {
  std::string s = ReadFileOrEmpty(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string PluralOf(const std::string& kind) {
  std::string k;
  for (char c : kind) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (k == "workflow" || k == "workflows" || k == "wf") return "workflows";
  if (k == "modelprofile" || k == "modelprofiles" || k == "mp") return "modelprofiles";
  if (k == "infrastructure" || k == "infrastructures" || k == "infra") return "infrastructures";
  return "";
}

// Connection settings: flags, then ~/.config/jellybean/config, then the local daemon's state dir.
struct Remote {
  HttpClientOptions http;
  std::vector<std::string> rest;  // arguments left after the connection flags
};

StatusOr<Remote> Connect(const std::vector<std::string>& args) {
  Remote r;
  std::string server, token_file, ca, state_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    auto take = [&](std::string* out) {
      if (i + 1 < args.size()) *out = args[++i];
    };
    if (args[i] == "--server") take(&server);
    else if (args[i] == "--token-file") take(&token_file);
    else if (args[i] == "--ca") take(&ca);
    else if (args[i] == "--state-dir") take(&state_dir);
    else r.rest.push_back(args[i]);
  }
  const char* home = std::getenv("HOME");
  fs::path user_cfg = fs::path(home ? home : "/root") / ".config/jellybean/config";
  if (fs::exists(user_cfg)) {
    auto docs = ParseYamlStream(ReadTrimmed(user_cfg.string()));
    if (!docs.empty() && docs[0].error.ok() && docs[0].root.is_map()) {
      auto str = [&](const char* key, std::string* out) {
        const Value* v = docs[0].root.Find(key);
        if (out->empty() && v && v->is_string()) *out = v->as_string();
      };
      str("server", &server);
      str("tokenFile", &token_file);
      str("ca", &ca);
      str("stateDir", &state_dir);
    }
  }
  if (state_dir.empty()) {
    const char* env = std::getenv("JB_STATE_DIR");
    state_dir = env && *env ? env : "/var/lib/jellybean";
  }
  if (server.empty()) {
    server = ReadTrimmed((fs::path(state_dir) / "endpoint").string());
    if (server.empty())
      return Status::Unavailable("no server: pass --server, or --state-dir of a running jellybeand (none found at " + state_dir + ")");
  }
  if (token_file.empty()) token_file = (fs::path(state_dir) / "token").string();
  if (ca.empty() && server.rfind("https://", 0) == 0) ca = (fs::path(state_dir) / "tls/ca.crt").string();
  r.http.server = server;
  r.http.ca_file = ca;
  r.http.token = ReadTrimmed(token_file);
  if (r.http.token.empty()) return Status::Unavailable("cannot read the token file " + token_file);
  return r;
}

// Error message of a non-2xx response (the Status body's message and causes).
std::string ErrorOf(const HttpResponse& resp) {
  auto docs = ParseYamlStream(resp.body);
  std::string msg = "HTTP " + std::to_string(resp.status);
  if (docs.empty() || !docs[0].error.ok() || !docs[0].root.is_map()) return msg;
  if (const Value* m = docs[0].root.Find("message"); m && m->is_string()) msg += ": " + m->as_string();
  if (const Value* d = docs[0].root.Find("details"))
    if (const Value* c = d->Find("causes"))
      for (const auto& cause : c->items()) msg += "\n  " + cause.as_string();
  return msg;
}

StatusOr<Object> DecodeResponse(const HttpResponse& resp) {
  std::vector<Diagnostic> diags;
  return ObjectFromText(resp.body, "server response", &diags);
}

int Apply(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (size_t i = 0; i < r.rest.size(); ++i)
    if ((r.rest[i] == "-f" || r.rest[i] == "--filename") && i + 1 < r.rest.size()) paths.push_back(r.rest[++i]);
    else {
      err << "jbctl apply: unexpected argument \"" << r.rest[i] << "\"\n";
      return 1;
    }
  if (paths.empty()) {
    err << "jbctl apply: expected -f FILE|DIR\n";
    return 1;
  }
  std::vector<Document> docs;
  if (LoadManifests(paths, err, &docs) > 0) {
    err << "jbctl apply: nothing applied: the manifests are invalid\n";
    return 1;
  }
  int rc = 0;
  for (const auto& d : docs) {
    Object obj = *d.object;
    std::string path = kApiPath + PluralOf(KindOf(obj)) + "/" + MetaOf(obj).name;
    auto resp = HttpCall(r.http, "PUT", path, ObjectToJson(obj), "application/json");
    std::string what = PluralOf(KindOf(obj)).substr(0, PluralOf(KindOf(obj)).size() - 1) + "/" + MetaOf(obj).name;
    if (!resp.ok()) {
      err << "jbctl apply: " << what << ": " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 201) out << what << " created\n";
    else if (resp->status == 200) out << what << " configured\n";
    else {
      err << "jbctl apply: " << d.file << ": " << what << ": " << ErrorOf(*resp) << "\n";
      rc = 1;
    }
  }
  return rc;
}

const Condition* Cond(const Workflow& wf, const std::string& type) {
  for (const auto& c : wf.status.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

int Get(const Remote& r, std::ostream& out, std::ostream& err) {
  std::string kind, name, output;
  for (size_t i = 0; i < r.rest.size(); ++i) {
    if (r.rest[i] == "-o" && i + 1 < r.rest.size()) output = r.rest[++i];
    else if (kind.empty()) kind = r.rest[i];
    else if (name.empty()) name = r.rest[i];
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
    if (objects.size() == 1 && !name.empty()) out << ObjectToJson(objects[0], true) << "\n";
    else out << resp->body;
    return 0;
  }
  if (output == "name") {
    for (const auto& o : objects) out << plural.substr(0, plural.size() - 1) << "/" << MetaOf(o).name << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (plural == "workflows") {
    rows.push_back({"NAME", "PLANNED", "READY", "SLOMET", "COST $/h", "ACCURACY"});
    if (output == "wide") rows[0].insert(rows[0].end(), {"COMPUTE", "NETWORK", "GAP", "GENERATION", "OBSERVED"});
    for (const auto& o : objects) {
      const auto& wf = std::get<Workflow>(o);
      auto st = [&](const char* t) { return Cond(wf, t) ? Cond(wf, t)->status : "Unknown"; };
      const auto& plan = wf.status.plan;
      std::vector<std::string> row = {wf.metadata.name, st("Planned"), st("Ready"), st("SLOMet"),
                                      plan ? FormatFixed(plan->cost.total_per_hour, 4) : "-", plan ? FormatFixed(plan->accuracy, 2) : "-"};
      if (output == "wide")
        row.insert(row.end(), {plan ? FormatFixed(plan->cost.compute_per_hour, 4) : "-", plan ? FormatFixed(plan->cost.network_per_hour, 4) : "-",
                               plan ? FormatFixed(100 * plan->gap, 3) + "%" : "-", std::to_string(wf.metadata.generation.value_or(0)),
                               std::to_string(wf.status.observed_generation.value_or(0))});
      rows.push_back(row);
    }
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

// GET workflows/NAME; errors go to `err` prefixed with `what`.
std::optional<Workflow> FetchWorkflow(const Remote& r, const std::string& name, const std::string& what, std::ostream& err) {
  auto resp = HttpCall(r.http, "GET", kApiPath + "workflows/" + name);
  if (!resp.ok() || resp->status != 200) {
    err << what << ": " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
    return std::nullopt;
  }
  auto obj = DecodeResponse(*resp);
  if (!obj.ok() || !std::holds_alternative<Workflow>(*obj)) {
    err << what << ": malformed object from the server\n";
    return std::nullopt;
  }
  return std::get<Workflow>(*obj);
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
  out << "Generation:     " << wf.metadata.generation.value_or(0) << " (observed " << wf.status.observed_generation.value_or(0) << ")\n";
  out << "SLO:            accuracy >= " << FormatFixed(wf.spec.slo.min_accuracy, 2) << ", sources:";
  for (const auto& s : wf.spec.sources) out << " " << s.name << " " << FormatFixed(s.rate, 1) << "/s";
  out << "\n";
  if (wf.metadata.deletion_timestamp) out << "Deleting since: " << *wf.metadata.deletion_timestamp << "\n";
  out << "\nConditions:\n";
  std::vector<std::vector<std::string>> rows = {{"  TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"}};
  for (const auto& c : wf.status.conditions) rows.push_back({"  " + c.type, c.status, c.reason, c.last_transition_time, c.message});
  PrintTable(out, rows, 3);
  if (wf.status.plan) {
    const auto& p = *wf.status.plan;
    out << "\nPlan:\n";
    std::vector<std::vector<std::string>> t = {{"  OPERATOR", "VARIANT", "NODE", "TIER", "RATE/s", "KEYS", "UTILISATION"}};
    for (const auto& pl : p.placements)
      t.push_back({"  " + pl.op, pl.variant, pl.node, pl.tier, FormatFixed(pl.rate, 2), "[" + FormatFixed(pl.keys.lo, 3) + "," + FormatFixed(pl.keys.hi, 3) + ")",
                   FormatFixed(100 * pl.utilisation, 1) + "%"});
    PrintTable(out, t, 3);
    out << "\nCost:      " << FormatFixed(p.cost.total_per_hour, 4) << " $/h (compute " << FormatFixed(p.cost.compute_per_hour, 4) << " + network "
        << FormatFixed(p.cost.network_per_hour, 4) << ")\n";
    out << "Accuracy:  " << FormatFixed(p.accuracy, 2) << "\n";
    out << "Solver:    " << p.solver << ", " << (p.optimal ? "proven optimal" : "gap " + FormatFixed(100 * p.gap, 3) + "%") << ", "
        << FormatFixed(p.solve_ms, 1) << " ms\n";
  } else {
    out << "\nPlan:      none\n";
  }
  if (wf.status.observed) {
    const auto& o = *wf.status.observed;
    out << "\nObserved (" << o.time << (o.emulated ? ", EMULATED runtime: profiled latencies, synthetic payloads" : "") << "):\n";
    out << "  Workers:     " << o.workers_ready << "/" << o.workers << " ready, " << o.restarts << " restart(s)\n";
    out << "  Throughput:  " << FormatFixed(o.throughput, 2) << " items/s at the sink (plan " << FormatFixed(o.expected_throughput, 2) << ")"
        << (o.throughput_complete ? "" : " [first window still filling]") << "\n";
    out << "  Latency:     p50 " << FormatFixed(o.latency_p50_ms, 1) << " ms, p99 " << FormatFixed(o.latency_p99_ms, 1) << " ms (source to sink)\n";
    out << "  Items:       " << o.emitted << " emitted by the sources, " << o.delivered << " delivered, " << o.dropped << " dropped, "
        << o.duplicates << " duplicate(s) discarded\n";
    out << "  Cross-tier:  " << FormatFixed(o.cross_tier_kibps, 1) << " KiB/s (plan " << FormatFixed(o.predicted_cross_tier_kibps, 1) << ")\n";
    out << "  Live cost:   " << FormatFixed(o.live_cost_per_hour, 4) << " $/h (rent " << FormatFixed(o.live_cost_per_hour - o.network_cost_per_hour, 4)
        << " + observed network " << FormatFixed(o.network_cost_per_hour, 4) << ")\n";
  } else {
    out << "\nObserved:  nothing yet (no worker has reported)\n";
  }
  if (wf.status.rollout) {
    const auto& ro = *wf.status.rollout;
    out << "\nRollout:   epoch " << ro.from_epoch << " -> " << ro.to_epoch << ", phase " << ro.phase << ", trigger " << ro.trigger
        << " at " << ro.triggered << (ro.switched.empty() ? "" : ", switched at " + ro.switched) << "\n";
  }
  for (const auto& o : wf.status.unavailable_nodes)
    out << "Node out:  " << o.node << " since " << o.since << ": " << o.reason << "\n";
  if (!wf.status.history.empty()) {
    const auto& h = wf.status.history.back();
    out << "History:   " << wf.status.history.size() << " plan(s); the last, epoch " << h.epoch << ", trigger " << h.trigger
        << (h.serving_s ? ", serving after " + FormatFixed(*h.serving_s, 2) + " s" : "") << " (jbctl rollout history workflow " << wf.metadata.name
        << ")\n";
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
    if (events.size() == 1) out << "  <none>\n";
    else PrintTable(out, events, 3);
  } else {
    out << "  <unavailable>\n";
  }
  return 0;
}

// jbctl rollout history|undo workflow NAME [--to-epoch N]
int Rollout(const Remote& r, std::ostream& out, std::ostream& err) {
  const char* usage = "jbctl rollout: usage: jbctl rollout history workflow NAME | jbctl rollout undo workflow NAME [--to-epoch N]\n";
  if (r.rest.size() < 3 || PluralOf(r.rest[1]) != "workflows" || (r.rest[0] != "history" && r.rest[0] != "undo")) {
    err << usage;
    return 1;
  }
  const std::string& name = r.rest[2];
  if (r.rest[0] == "undo") {
    std::string body;
    for (size_t i = 3; i < r.rest.size(); ++i) {
      if (r.rest[i] == "--to-epoch" && i + 1 < r.rest.size()) {
        body = "{\"epoch\": " + r.rest[++i] + "}";
      } else {
        err << usage;
        return 1;
      }
    }
    auto resp = HttpCall(r.http, "POST", kApiPath + "workflows/" + name + "/rollback", body);
    if (!resp.ok() || resp->status >= 300) {
      err << "jbctl rollout undo: " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
      return 1;
    }
    auto docs = ParseYamlStream(resp->body);
    const Value* msg = docs.empty() ? nullptr : docs[0].root.Find("message");
    out << (msg && msg->is_string() ? msg->as_string() : "rollback accepted") << "\n";
    return 0;
  }
  if (r.rest.size() != 3) {
    err << usage;
    return 1;
  }
  auto fetched = FetchWorkflow(r, name, "jbctl rollout history", err);
  if (!fetched) return 1;
  const Workflow& wf = *fetched;
  std::vector<std::vector<std::string>> rows = {
      {"EPOCH", "TIME", "TRIGGER", "OLD $/h", "NEW $/h", "ACCURACY", "MOVED", "SERVING s", "REASON"}};
  for (const auto& h : wf.status.history) {
    std::string acc = h.old_accuracy > 0 ? FormatFixed(h.old_accuracy, 2) + "->" + FormatFixed(h.new_accuracy, 2) : FormatFixed(h.new_accuracy, 2);
    rows.push_back({std::to_string(h.epoch) + (wf.status.plan_epoch && *wf.status.plan_epoch == h.epoch ? "*" : ""), h.time, h.trigger,
                    h.old_cost > 0 ? FormatFixed(h.old_cost, 4) : "-", FormatFixed(h.new_cost, 4), acc, std::to_string(h.workers_moved),
                    h.serving_s ? FormatFixed(*h.serving_s, 3) : "-", h.reason});
  }
  if (rows.size() == 1) out << "no plan has been adopted yet\n";
  else PrintTable(out, rows, 3);
  return 0;
}

// Operators and rates per node of a plan: "Op variant rate/s, ...".
std::map<std::string, std::string> HostedByNode(const Plan& p) {
  std::map<std::string, std::string> out;
  for (const auto& pl : p.placements) {
    auto& s = out[pl.node];
    s += (s.empty() ? "" : ", ") + pl.op + " " + pl.variant + " " + FormatFixed(pl.rate, 2) + "/s";
  }
  return out;
}

int WhatIf(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (size_t i = 0; i < r.rest.size(); ++i) {
    if ((r.rest[i] == "-f" || r.rest[i] == "--filename") && i + 1 < r.rest.size()) paths.push_back(r.rest[++i]);
    else {
      err << "jbctl plan --what-if: unexpected argument \"" << r.rest[i] << "\"; usage: jbctl plan --what-if -f FILE|DIR\n";
      return 1;
    }
  }
  if (paths.empty()) {
    err << "jbctl plan --what-if: expected -f FILE|DIR\n";
    return 1;
  }
  // The daemon's objects, with the local ones in place of those of the same kind and name.
  std::map<std::pair<std::string, std::string>, Object> objects;
  for (const char* plural : {"infrastructures", "modelprofiles", "workflows"}) {
    auto resp = HttpCall(r.http, "GET", kApiPath + plural);
    if (!resp.ok() || resp->status != 200) {
      err << "jbctl plan --what-if: " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
      return 1;
    }
    auto docs = ParseYamlStream(resp->body);
    const Value* items = docs.empty() ? nullptr : docs[0].root.Find("items");
    if (items == nullptr) continue;
    for (const auto& item : items->items()) {
      Document d;
      d.file = std::string("server ") + plural;
      DecodeDocument(item, &d);
      if (d.object) objects[{KindOf(*d.object), MetaOf(*d.object).name}] = *d.object;
    }
  }
  std::set<std::pair<std::string, std::string>> changed;
  for (const auto& p : paths) {
    if (!fs::exists(p)) {
      err << "jbctl plan --what-if: " << p << ": no such file or directory\n";
      return 1;
    }
    for (auto& d : LoadPath(p)) {
      if (!d.diagnostics.empty() || !d.object) {
        for (const auto& diag : d.diagnostics) err << diag.ToString() << "\n";
        if (d.diagnostics.empty()) err << d.file << ": could not be decoded\n";
        return 1;
      }
      auto key = std::make_pair(KindOf(*d.object), MetaOf(*d.object).name);
      Object obj = *d.object;
      if (auto* w = std::get_if<Workflow>(&obj); w != nullptr && objects.count(key) != 0)
        w->status = std::get<Workflow>(objects[key]).status;  // keep what the daemon knows (plan, outages, load)
      objects[key] = std::move(obj);
      changed.insert(key);
    }
  }
  std::vector<Document> all;
  for (const auto& [key, obj] : objects) {
    Document d;
    d.file = (changed.count(key) != 0 ? "local " : "server ") + key.first + "/" + key.second;
    d.object = obj;
    all.push_back(std::move(d));
  }
  ValidateSet(&all);
  auto errors = FormatDiagnostics(all);
  if (!errors.empty()) {
    for (const auto& e : errors) err << e << "\n";
    err << "jbctl plan --what-if: the combined objects are invalid (" << errors.size() << " error(s)); nothing was applied\n";
    return 1;
  }
  int shown = 0;
  for (const auto& [key, obj] : objects) {
    if (key.first != "Workflow") continue;
    const auto& wf = std::get<Workflow>(obj);
    bool affected = changed.count(key) != 0 || changed.count({"Infrastructure", wf.spec.infrastructure}) != 0;
    std::vector<ModelProfile> profiles;
    for (const auto& op : wf.spec.operators) {
      affected |= changed.count({"ModelProfile", op.profile}) != 0;
      auto it = objects.find({"ModelProfile", op.profile});
      if (it != objects.end() && std::find_if(profiles.begin(), profiles.end(), [&](const ModelProfile& m) {
                                   return m.metadata.name == op.profile;
                                 }) == profiles.end())
        profiles.push_back(std::get<ModelProfile>(it->second));
    }
    if (!affected) continue;
    ++shown;
    // The trigger the daemon would record: the kind of a changed input, first in the order it checks.
    std::string trigger = changed.count({"Infrastructure", wf.spec.infrastructure}) != 0 ? "Infrastructure"
                          : changed.count(key) == 0                                    ? "ModelProfile"  // affected, so by a profile
                                                                                        : "Workflow";
    const auto& infra = std::get<Infrastructure>(objects.at({"Infrastructure", wf.spec.infrastructure}));
    auto problem = ProblemForStatus(wf, profiles, infra, wf.status);  // as the daemon would plan it
    if (!problem.ok()) {
      err << "jbctl plan --what-if: workflow " << wf.metadata.name << ": " << problem.status().message() << "\n";
      return 1;
    }
    auto solved = planner::Solve(*problem, planner::SolverOptions{"auto", 10});
    out << "Workflow " << wf.metadata.name << ":\n";
    // No plan meets the SLO: the daemon deploys the best degraded plan (the same search).
    std::optional<Plan> degraded;
    Condition why;
    if (!solved.ok() && solved.status().code() == Status::Code::kInfeasible) {
      planner::SolveLimits limits;
      limits.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      degraded = BestDegradedPlan(wf, profiles, infra, wf.status, limits, 10, &why);
    }
    if (!solved.ok() && !degraded) {
      out << "  would not be planned: " << solved.status().message() << "\n";
      continue;
    }
    if (degraded) out << "  no plan meets the SLO (" << solved.status().message() << "); degraded (" << why.reason << "): " << why.message << "\n";
    const Plan& next = degraded ? *degraded : solved->plan;
    if (!wf.status.plan) {
      out << "  not planned yet; would cost " << FormatFixed(next.cost.total_per_hour, 4) << " $/h at accuracy " << FormatFixed(next.accuracy, 2) << "\n";
      continue;
    }
    // The daemon's decision (ProposeReplan, as its reconciler calls it), with the default damping:
    // the running plan rescored under the changed inputs, the churn against the running workers.
    int64_t epoch = wf.status.plan_epoch.value_or(1);
    auto running = BuildDeployment(wf, profiles, infra, *wf.status.plan, epoch);
    ReplanCandidate candidate{next, std::nullopt};
    if (auto target = BuildDeployment(wf, profiles, infra, next, epoch + 1); target.ok() && running.ok()) candidate.workers = std::move(*target);
    const double now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const ReplanProposal proposal = ProposeReplan(*problem, wf.status, running.ok() ? *running : std::vector<WorkerConfig>{}, candidate,
                                                  ReplanContext{trigger, now_s, DampingOptions{}});
    const Rescored& cur = proposal.current;
    double before = wf.status.plan->cost.total_per_hour, now = cur.plan.cost.total_per_hour, after = next.cost.total_per_hour;
    out << "  running (epoch " << wf.status.plan_epoch.value_or(0) << "): " << FormatFixed(before, 4) << " $/h, accuracy " << FormatFixed(wf.status.plan->accuracy, 2)
        << "; under the changed inputs it would cost " << FormatFixed(now, 4) << " $/h" << (cur.violations.empty() ? "" : " and is invalid: " + cur.violations.front()) << "\n";
    double delta = std::fabs(after - now) < 5e-5 ? 0 : after - now;
    out << "  what-if plan:       " << FormatFixed(after, 4) << " $/h (" << (delta >= 0 ? "+" : "") << FormatFixed(delta, 4) << ", "
        << (now > 0 ? FormatFixed(100 * delta / now, 1) : "0") << "% against the running plan under the changed inputs), accuracy "
        << FormatFixed(next.accuracy, 2) << " (" << (next.accuracy - cur.plan.accuracy >= 0 ? "+" : "") << FormatFixed(next.accuracy - cur.plan.accuracy, 2) << ")\n";
    std::string variants;
    for (const auto& [op, v] : next.variants) {
      auto old = wf.status.plan->variants.find(op);
      if (old == wf.status.plan->variants.end() || old->second != v)
        variants += "\n    " + op + ": " + (old == wf.status.plan->variants.end() ? "-" : old->second) + " -> " + v;
    }
    out << "  variants:" << (variants.empty() ? " unchanged" : variants) << "\n";
    auto a = HostedByNode(*wf.status.plan), b = HostedByNode(next);
    std::set<std::string> nodes;
    for (const auto& [n, s] : a) nodes.insert(n);
    for (const auto& [n, s] : b) nodes.insert(n);
    int moved = 0;
    std::vector<std::vector<std::string>> rows = {{"    ", "NODE", "NOW", "WHAT-IF"}};
    for (const auto& n : nodes) {
      auto x = a.find(n), y = b.find(n);
      std::string was = x == a.end() ? "-" : x->second, will = y == b.end() ? "-" : y->second;
      if (was == will) continue;
      ++moved;
      rows.push_back({x == a.end() ? "    +" : y == b.end() ? "    -" : "    ~", n, was, will});
    }
    out << "  nodes changed: " << moved << (moved == 0 ? "" : " (+ started, - stopped, ~ re-assigned)") << "\n";
    if (moved > 0) PrintTable(out, rows, 2);
    // Churn as the daemon counts it: worker processes the rollout would start or stop.
    out << "  workers started or stopped: " << (candidate.workers ? std::to_string(proposal.churn) : "unknown") << "\n";
    const ReplanDecision& d = proposal.decision;
    if (d.action == ReplanAction::kKeep) out << "  the daemon would keep the running plan: " << d.reason << "\n";
    else if (d.action == ReplanAction::kAdopt) out << "  the daemon would roll this plan out: " << d.reason << "\n";
    else out << "  the daemon would roll this plan out in " << FormatFixed(d.retry_after_s, 1) << " s (with the default damping): " << d.reason << "\n";
  }
  if (shown == 0) out << "no Workflow is affected by these manifests\n";
  out << "nothing was applied\n";
  return 0;
}

int Delete(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::pair<std::string, std::string>> targets;  // plural, name
  if (r.rest.size() >= 2 && (r.rest[0] == "-f" || r.rest[0] == "--filename")) {
    for (size_t i = 0; i + 1 < r.rest.size(); i += 2) {
      for (const auto& d : LoadPath(r.rest[i + 1]))
        if (d.object) targets.emplace_back(PluralOf(KindOf(*d.object)), MetaOf(*d.object).name);
    }
  } else if (r.rest.size() == 2 && !PluralOf(r.rest[0]).empty()) {
    targets.emplace_back(PluralOf(r.rest[0]), r.rest[1]);
  } else {
    err << "jbctl delete: usage: jbctl delete KIND NAME | jbctl delete -f FILE|DIR\n";
    return 1;
  }
  int rc = 0;
  for (const auto& [plural, name] : targets) {
    auto resp = HttpCall(r.http, "DELETE", kApiPath + plural + "/" + name);
    std::string what = plural.substr(0, plural.size() - 1) + "/" + name;
    if (!resp.ok()) {
      err << "jbctl delete: " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 200) out << what << " deleted\n";
    else {
      err << "jbctl delete: " << what << ": " << ErrorOf(*resp) << "\n";
      rc = 1;
    }
  }
  return rc;
}

// Line diff (LCS) of two texts, unified-style without context trimming.
std::string LineDiff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& s) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    std::string l;
    while (std::getline(ss, l)) v.push_back(l);
    return v;
  };
  auto x = lines(a), y = lines(b);
  std::vector<std::vector<int>> L(x.size() + 1, std::vector<int>(y.size() + 1, 0));
  for (size_t i = x.size(); i-- > 0;)
    for (size_t j = y.size(); j-- > 0;) L[i][j] = x[i] == y[j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
  std::string out;
  size_t i = 0, j = 0;
  while (i < x.size() || j < y.size()) {
    if (i < x.size() && j < y.size() && x[i] == y[j]) {
      out += "  " + x[i++] + "\n";
      ++j;
    } else if (j < y.size() && (i == x.size() || L[i][j + 1] >= L[i + 1][j])) {
      out += "+ " + y[j++] + "\n";
    } else {
      out += "- " + x[i++] + "\n";
    }
  }
  return out;
}

int Diff(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (size_t i = 0; i + 1 < r.rest.size(); i += 2)
    if (r.rest[i] == "-f" || r.rest[i] == "--filename") paths.push_back(r.rest[i + 1]);
  if (paths.empty()) {
    err << "jbctl diff: usage: jbctl diff -f FILE|DIR\n";
    return 2;
  }
  std::vector<Document> docs;
  if (LoadManifests(paths, err, &docs) > 0) return 2;
  bool differs = false;
  for (const auto& d : docs) {
    std::string plural = PluralOf(KindOf(*d.object));
    auto resp = HttpCall(r.http, "GET", kApiPath + plural + "/" + MetaOf(*d.object).name);
    if (!resp.ok()) {
      err << "jbctl diff: " << resp.status().message() << "\n";
      return 2;
    }
    std::string local = ObjectToYaml(UserView(*d.object));
    std::string remote;
    if (resp->status == 200) {
      auto obj = DecodeResponse(*resp);
      if (!obj.ok()) {
        err << "jbctl diff: malformed object from the server\n";
        return 2;
      }
      remote = ObjectToYaml(UserView(*obj));
    } else if (resp->status != 404) {
      err << "jbctl diff: " << ErrorOf(*resp) << "\n";
      return 2;
    }
    if (local == remote) continue;
    differs = true;
    out << "--- server " << d.Describe() << (remote.empty() ? " (absent)" : "") << "\n+++ " << d.file << "\n"
        << LineDiff(remote, local);
  }
  return differs ? 1 : 0;
}

}  // namespace

int RemoteCommand(const std::string& verb, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto r = Connect(args);
  if (!r.ok()) {
    err << "jbctl " << verb << ": " << r.status().message() << "\n";
    return verb == "diff" ? 2 : 1;
  }
  if (verb == "apply") return Apply(*r, out, err);
  if (verb == "get") return Get(*r, out, err);
  if (verb == "describe") return Describe(*r, out, err);
  if (verb == "delete") return Delete(*r, out, err);
  if (verb == "diff") return Diff(*r, out, err);
  if (verb == "rollout") return Rollout(*r, out, err);
  if (verb == "what-if") return WhatIf(*r, out, err);
  err << "jbctl: unknown command \"" << verb << "\"\n";
  return 1;
}

}  // namespace jb
