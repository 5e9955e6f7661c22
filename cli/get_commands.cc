// jbctl get: the daemon's objects as tables, YAML/JSON, names, JSONPath and custom columns, with
// label selectors; `get all` and `get events`.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/jsonpath.h"
#include "cli/remote.h"
#include "daemon/label_selector.h"
#include "reconciler/observed_accuracy.h"

namespace jb::cli {

namespace {

using Rows = std::vector<std::vector<std::string>>;

const Condition* Cond(const Workflow& wf, const std::string& type) {
  for (const auto& c : wf.status.conditions)
    if (c.type == type) return &c;
  return nullptr;
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
    // The sink's worker cut off from the daemon: Unknown, with the age of the last figure (#22).
    const UnknownFigure* u = obs ? FindUnknownFigure(*obs, "accuracy") : nullptr;
    row.insert(row.end(),
               {u && a ? "Unknown(" + FormatFixed(std::max(0.0, u->age_s), 0) + "s)"
                : a    ? FormatFixed(a->accuracy, 1)
                       : "-",
                a ? FormatFixed(a->low, 1) + "-" + FormatFixed(a->high, 1) : "-", a ? std::to_string(a->count) : "-"});
    // Every inference endpoint, comma-separated (one per ingress tier).
    std::string ingress;
    if (obs)
      for (const auto& e : obs->ingress_urls) ingress += (ingress.empty() ? "" : ",") + e.url;
    if (ingress.empty() && obs) ingress = obs->ingress_url;  // a status from before ingressUrls
    row.push_back(ingress.empty() ? "-" : ingress);
  }
  return row;
}

// custom-columns=HEADER:expr,...: the rows of `values`; InvalidArgument for a bad spec.
StatusOr<Rows> CustomColumns(const std::string& spec, const std::vector<Value>& values) {
  std::vector<std::pair<std::string, std::string>> cols;
  std::stringstream ss(spec);
  for (std::string c; std::getline(ss, c, ',');) {
    auto colon = c.find(':');
    if (colon == std::string::npos || colon == 0)
      return Status::InvalidArgument("custom-columns: expected HEADER:JSONPATH, got \"" + c + "\"");
    std::string expr = c.substr(colon + 1);
    if (expr.size() >= 2 && expr.front() == '{' && expr.back() == '}') expr = expr.substr(1, expr.size() - 2);
    cols.emplace_back(c.substr(0, colon), expr);
  }
  if (cols.empty()) return Status::InvalidArgument("custom-columns: expected HEADER:JSONPATH[,...]");
  Rows rows(1);
  for (const auto& c : cols) rows[0].push_back(c.first);
  for (const auto& v : values) {
    std::vector<std::string> row;
    for (const auto& c : cols) {
      auto sel = JsonPathSelect(v, c.second);
      if (!sel.ok()) return sel.status();
      std::string cell;
      for (size_t i = 0; i < sel->size(); ++i) cell += (i ? "," : "") + JsonPathText((*sel)[i]);
      row.push_back(cell.empty() ? "<none>" : cell);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Value ListOf(std::vector<Value> items) {
  Value list = Value::Map();
  list.Set("apiVersion", Value::String("v1"));
  list.Set("kind", Value::String("List"));
  Value seq = Value::Seq();
  for (auto& v : items) seq.Append(std::move(v));
  list.Set("items", std::move(seq));
  return list;
}

// Prints `values` (encoded objects or events) in a structured format: json, yaml, jsonpath=,
// custom-columns=. `single`: one named object, printed bare instead of as a List.
int PrintStructured(const std::string& output, std::vector<Value> values, bool single, bool no_headers,
                    std::ostream& out, std::ostream& err) {
  Value root = single && values.size() == 1 ? values[0] : ListOf(values);
  if (output == "json") {
    out << ToJson(root, true) << "\n";
    return 0;
  }
  if (output == "yaml") {
    out << ToYaml(root);
    return 0;
  }
  if (output.rfind("jsonpath=", 0) == 0) {
    auto text = JsonPathRender(root, output.substr(9));
    if (!text.ok()) {
      err << "jbctl get: " << text.status().message() << "\n";
      return 1;
    }
    out << *text;
    return 0;
  }
  auto rows = CustomColumns(output.substr(15), values);
  if (!rows.ok()) {
    err << "jbctl get: " << rows.status().message() << "\n";
    return 1;
  }
  if (no_headers) rows->erase(rows->begin());
  PrintTable(out, *rows, 3);
  return 0;
}

bool Structured(const std::string& output) {
  return output == "json" || output == "yaml" || output.rfind("jsonpath=", 0) == 0 ||
         output.rfind("custom-columns=", 0) == 0;
}

// GET a path; the body on success, else nullopt with the error on `err`.
std::optional<HttpResponse> GetOk(const Remote& r, const std::string& path, std::ostream& err) {
  auto resp = HttpCall(r.http, "GET", path);
  if (!resp.ok()) {
    err << "jbctl get: " << resp.status().message() << "\n";
    return std::nullopt;
  }
  if (resp->status != 200) {
    err << "jbctl get: " << ErrorOf(*resp) << "\n";
    return std::nullopt;
  }
  return *resp;
}

int GetEvents(const Remote& r, const GetOptions& o, std::ostream& out, std::ostream& err) {
  std::string path = kApiPath + "events";
  if (!o.for_object.empty()) {
    std::string plural, name;
    if (!ResolveTarget({o.for_object}, &plural, &name, "jbctl get events --for", err)) return 1;
    path += "/" +
            KindOf(plural == "workflows"       ? Object{Workflow{}}
                   : plural == "modelprofiles" ? Object{ModelProfile{}}
                                               : Object{Infrastructure{}}) +
            "/" + name;
  }
  auto resp = GetOk(r, path, err);
  if (!resp) return 1;
  auto docs = ParseYamlStream(resp->body);
  const Value* items = docs.empty() || !docs[0].error.ok() ? nullptr : docs[0].root.Find("items");
  if (items == nullptr) {
    err << "jbctl get: malformed event list from the server\n";
    return 1;
  }
  if (Structured(o.output)) return PrintStructured(o.output, items->items(), false, o.no_headers, out, err);
  if (!o.output.empty() && o.output != "wide") {
    err << "jbctl get events: output format \"" << o.output << "\" does not apply to events\n";
    return 1;
  }
  if (items->items().empty()) {
    err << "No resources found\n";
    return 0;
  }
  Rows rows = {{"LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"}};
  for (const auto& e : items->items()) {
    auto str = [&](const char* k) { return e.Find(k) && e.Find(k)->is_string() ? e.Find(k)->as_string() : ""; };
    rows.push_back({str("time"), str("type"), str("reason"), str("object"),
                    e.Find("count") ? FormatNumber(e.Find("count")->as_number()) : "1", str("message")});
  }
  if (o.no_headers) rows.erase(rows.begin());
  PrintTable(out, rows, 3);
  return 0;
}

}  // namespace

Rows ObjectTable(const std::string& plural, const std::vector<Object>& objects, bool wide, bool prefix) {
  Rows rows;
  const std::string pre = prefix ? SingularOf(plural) + "/" : "";
  if (plural == "workflows") {
    rows.push_back({"NAME", "PLANNED", "READY", "SLOMET", "COST $/h", "ACCURACY"});
    if (wide)
      rows[0].insert(rows[0].end(),
                     {"COMPUTE", "NETWORK", "GAP", "GENERATION", "OBSERVED", "OBS-ACCURACY", "95%", "N", "INGRESS"});
    for (const auto& o : objects) {
      rows.push_back(WorkflowRow(std::get<Workflow>(o), wide));
      rows.back()[0] = pre + rows.back()[0];
    }
  } else if (plural == "modelprofiles") {
    rows.push_back({"NAME", "VARIANTS", "GENERATION"});
    for (const auto& o : objects) {
      const auto& mp = std::get<ModelProfile>(o);
      std::string vars;
      for (const auto& v : mp.spec.variants) vars += (vars.empty() ? "" : ",") + v.name;
      rows.push_back({pre + mp.metadata.name, wide ? vars : std::to_string(mp.spec.variants.size()),
                      std::to_string(mp.metadata.generation.value_or(0))});
    }
  } else {
    rows.push_back({"NAME", "TIERS", "NODES", "GENERATION"});
    for (const auto& o : objects) {
      const auto& inf = std::get<Infrastructure>(o);
      std::string tiers;
      for (const auto& t : inf.spec.tiers) tiers += (tiers.empty() ? "" : ",") + t.name;
      rows.push_back({pre + inf.metadata.name, tiers, std::to_string(inf.spec.nodes.size()),
                      std::to_string(inf.metadata.generation.value_or(0))});
    }
  }
  return rows;
}

int Get(const Remote& r, const GetOptions& o, std::ostream& out, std::ostream& err) {
  const std::string& output = o.output;
  if (!output.empty() && output != "wide" && output != "name" && !Structured(output)) {
    err << "jbctl get: unknown output format \"" << output
        << "\"; expected json, yaml, wide, name, jsonpath=TEMPLATE or custom-columns=SPEC\n";
    return 1;
  }
  if (o.positionals.empty()) {
    err << "jbctl get: expected a kind: workflows, modelprofiles, infrastructures, all or events "
           "(see jbctl get --help)\n";
    return 1;
  }
  // Checked here (a bad one fails before any request) and applied to named objects too, which the
  // server's ?labelSelector= does not filter.
  auto selector = LabelSelector::Parse(o.selector);
  if (!selector.ok()) {
    err << "jbctl get: " << selector.status().message() << "\n";
    return 1;
  }
  std::string first = o.positionals[0];
  std::string lower;
  for (char c : first) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "events" || lower == "event" || lower == "ev") return GetEvents(r, o, out, err);
  // (plural, names) to fetch; names empty = the whole collection.
  std::vector<std::pair<std::string, std::vector<std::string>>> wanted;
  if (lower == "all") {
    for (const char* p : {"infrastructures", "modelprofiles", "workflows"}) wanted.push_back({p, {}});
  } else if (first.find('/') != std::string::npos) {
    for (const auto& p : o.positionals) {
      std::string plural, name;
      if (!ResolveTarget({p}, &plural, &name, "jbctl get", err)) return 1;
      wanted.push_back({plural, {name}});
    }
  } else {
    std::string plural = PluralOf(first);
    if (plural.empty()) {
      err << "jbctl get: unknown kind \"" << first
          << "\"; expected workflows, modelprofiles, infrastructures, all or events\n";
      return 1;
    }
    wanted.push_back({plural, {o.positionals.begin() + 1, o.positionals.end()}});
  }
  const bool named = !wanted[0].second.empty();
  std::vector<std::pair<std::string, std::vector<Object>>> found;  // per plural, in order
  int rc = 0;
  for (const auto& [plural, names] : wanted) {
    std::vector<Object> objects;
    if (names.empty()) {
      auto resp =
          GetOk(r, kApiPath + plural + (o.selector.empty() ? "" : "?labelSelector=" + UrlEncode(o.selector)), err);
      if (!resp) return 1;
      auto list = DecodeList(*resp);
      if (!list.ok()) {
        err << "jbctl get: " << list.status().message() << "\n";
        return 1;
      }
      objects = std::move(*list);
    }
    for (const auto& name : names) {
      auto resp = GetOk(r, kApiPath + plural + "/" + name, err);
      if (!resp) {
        rc = 1;  // kubectl: print what exists, fail for what does not
        continue;
      }
      auto obj = DecodeResponse(*resp);
      if (!obj.ok()) {
        err << "jbctl get: malformed object from the server: " << obj.status().message() << "\n";
        return 1;
      }
      objects.push_back(*obj);
    }
    std::erase_if(objects, [&](const Object& x) { return !selector->Matches(MetaOf(x).labels); });
    if (!found.empty() && found.back().first == plural)
      for (auto& x : objects) found.back().second.push_back(std::move(x));
    else
      found.emplace_back(plural, std::move(objects));
  }
  size_t total = 0;
  for (const auto& f : found) total += f.second.size();
  if (Structured(output)) {
    std::vector<Value> values;
    for (const auto& f : found)
      for (const auto& x : f.second) values.push_back(EncodeObject(x));
    bool single = named && o.positionals.size() <= 2 && wanted.size() == 1 && wanted[0].second.size() == 1;
    return PrintStructured(output, std::move(values), single, o.no_headers, out, err) | rc;
  }
  if (output == "name") {
    for (const auto& f : found)
      for (const auto& x : f.second) out << SingularOf(f.first) << "/" << MetaOf(x).name << "\n";
    return rc;
  }
  if (total == 0) {
    if (rc == 0) err << "No resources found\n";
    return rc;
  }
  bool blank = false;
  for (const auto& [plural, objects] : found) {
    if (objects.empty()) continue;
    Rows rows = ObjectTable(plural, objects, output == "wide", lower == "all");
    if (o.no_headers) rows.erase(rows.begin());
    if (blank) out << "\n";
    PrintTable(out, rows, 3);
    blank = true;
  }
  return rc;
}

int CompleteNames(const Remote& r, const std::string& kind, std::ostream& out, std::ostream& err) {
  const bool prefixed = !kind.empty() && kind.back() == '/';
  const std::string k = prefixed ? kind.substr(0, kind.size() - 1) : kind;
  const std::string plural = PluralOf(k);
  if (plural.empty()) {
    err << "jbctl __complete: unknown kind \"" << k << "\"\n";
    return 1;
  }
  auto resp = GetOk(r, kApiPath + plural, err);
  if (!resp) return 1;
  auto list = DecodeList(*resp);
  if (!list.ok()) {
    err << "jbctl __complete: " << list.status().message() << "\n";
    return 1;
  }
  for (const auto& o : *list) out << (prefixed ? kind : "") << MetaOf(o).name << "\n";
  return 0;
}

}  // namespace jb::cli
