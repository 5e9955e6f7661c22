// Semantic validation of a manifest set (ValidateSet, declared in api/manifest.h): names, ranges
// and cross-references that field-level decoding cannot see, reported as Diagnostics on the
// documents they concern.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "api/driver_settings.h"
#include "api/manifest.h"
#include "api/names.h"

namespace jb {

namespace {

struct Ctx {
  Document* doc;
  void Err(const std::string& path, std::string msg) {
    doc->AddDiagnostic(Diagnostic{doc->file, doc->MarkOf(path), path, std::move(msg)});
  }
  // "is empty" would only repeat a field-level error (missing, wrong type) already reported.
  void ErrIfEmpty(const std::string& path, bool empty, std::string msg) {
    if (!empty) return;
    for (const auto& d : doc->diagnostics)
      if (d.path == path) return;
    Err(path, std::move(msg));
  }
};

std::string Quote(const std::string& s) { return "\"" + Excerpt(s) + "\""; }

std::string At(const Document& d, const std::string& path) {
  Mark m = d.MarkOf(path);
  return d.file + (m.known() ? ":" + std::to_string(m.line) : "");
}

void CheckName(Ctx& c, const std::string& path, const std::string& name) {
  if (!name.empty() && !IsValidName(name)) c.Err(path, Quote(name) + " is not a valid name; expected " + kNameRule);
}

// Object, tier and node names follow Kubernetes' DNS-1123 rules (api/names.h): they become file,
// worker and VM names. An empty name is reported by the decoder (required field).
void CheckDnsName(Ctx& c, const std::string& path, const std::string& name, std::string (*rule)(std::string_view)) {
  if (name.empty()) return;
  if (std::string why = rule(name); !why.empty()) c.Err(path, Quote(name) + " is not a valid name: it " + why);
}

// The tier's settings against its driver's schema (api/driver_settings.h). An unknown type was
// reported by the decoder (the type's enum).
void ValidateDriverSettings(Ctx& c, const std::string& path, const DriverSpec& driver) {
  const DriverSettingsSchema* schema = FindDriverSettings(driver.type);
  if (schema == nullptr) return;
  // A setting the decoder already refused (not a string) is not judged again.
  std::map<std::string, std::string> settings = driver.settings;
  for (const auto& d : c.doc->diagnostics)
    if (d.path.rfind(path + ".settings.", 0) == 0) settings.erase(d.path.substr(path.size() + 10));
  std::vector<Diagnostic> diags;
  schema->validate(settings, path + ".settings", &c.doc->marks, c.doc->file, &diags);
  for (auto& d : diags) {
    if (!d.mark.known()) d.mark = c.doc->MarkOf(d.path);
    c.doc->AddDiagnostic(std::move(d));
  }
}

void ValidateInfrastructure(Ctx& c, const Infrastructure& inf) {
  const auto& s = inf.spec;
  std::map<std::string, size_t> tiers;
  c.ErrIfEmpty("spec.tiers", s.tiers.empty(), "is empty; expected at least one tier");
  for (size_t i = 0; i < s.tiers.size(); ++i) {
    std::string p = "spec.tiers[" + std::to_string(i) + "]";
    CheckDnsName(c, p + ".name", s.tiers[i].name, IsDns1123Label);
    if (!tiers.emplace(s.tiers[i].name, i).second)
      c.Err(p + ".name", "duplicate tier name " + Quote(s.tiers[i].name) + "; tier names must be unique");
    ValidateDriverSettings(c, p + ".driver", s.tiers[i].driver);
  }
  std::set<std::string> nodes;
  c.ErrIfEmpty("spec.nodes", s.nodes.empty(), "is empty; expected at least one node");
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    std::string p = "spec.nodes[" + std::to_string(i) + "]";
    const auto& n = s.nodes[i];
    CheckDnsName(c, p + ".name", n.name, IsDns1123Label);
    if (n.name.rfind(kIoWorkerPrefix, 0) == 0)
      c.Err(p + ".name", Quote(n.name) + " is reserved: names starting with \"" + std::string(kIoWorkerPrefix) +
                             "\" are those of the workers hosting each tier's sources and sink; rename the node");
    if (!nodes.insert(n.name).second)
      c.Err(p + ".name", "duplicate node name " + Quote(n.name) + "; node names must be unique");
    if (!n.tier.empty() && !tiers.count(n.tier))
      c.Err(p + ".tier", "refers to tier " + Quote(n.tier) + ", which is not defined in spec.tiers");
  }
  // Unreachable workers dial out (worker/dialout.h): across tiers, someone must be reachable.
  bool any_reachable = false;
  for (const auto& n : s.nodes) any_reachable |= NodeReachable(s, n.name);
  if (!s.nodes.empty() && !any_reachable && s.tiers.size() > 1)
    c.Err("spec.nodes",
          "every node is unreachable (reachable: false on its tier or itself): workers on different "
          "tiers could not connect to each other; leave at least one tier reachable");
  std::set<std::pair<std::string, std::string>> links;
  for (size_t i = 0; i < s.links.size(); ++i) {
    std::string p = "spec.links[" + std::to_string(i) + "]";
    const auto& l = s.links[i];
    bool known = true;
    for (const auto& [field, tier] : {std::pair<std::string, std::string>{"from", l.from}, {"to", l.to}}) {
      if (!tier.empty() && !tiers.count(tier)) {
        c.Err(p + "." + field, "refers to tier " + Quote(tier) + ", which is not defined in spec.tiers");
        known = false;
      }
    }
    if (!known || l.from.empty() || l.to.empty()) continue;
    long d = static_cast<long>(tiers[l.from]) - static_cast<long>(tiers[l.to]);
    if (d == 0) {
      c.Err(p + ".to",
            "links " + Quote(l.from) + " to itself; traffic within a tier is free, expected an adjacent tier");
    } else if (d != 1 && d != -1) {
      c.Err(p + ".to", "links non-adjacent tiers " + Quote(l.from) + " and " + Quote(l.to) +
                           "; expected adjacent tiers (traffic pays each tier boundary it crosses)");
    }
    if (!links.emplace(l.from, l.to).second)
      c.Err(p, "duplicate link " + l.from + " -> " + l.to + "; expected one entry per direction");
  }
}

void ValidateModelProfile(Ctx& c, const ModelProfile& mp) {
  const auto& s = mp.spec;
  c.ErrIfEmpty("spec.variants", s.variants.empty(), "is empty; expected at least one variant");
  std::set<std::string> names;
  for (size_t i = 0; i < s.variants.size(); ++i) {
    std::string p = "spec.variants[" + std::to_string(i) + "]";
    const auto& v = s.variants[i];
    if (!names.insert(v.name).second) c.Err(p + ".name", "duplicate variant name " + Quote(v.name));
    c.ErrIfEmpty(p + ".latencyMs", v.latency_ms.empty(),
                 "is empty; expected a latency for at least one hardware class");
    for (const auto& [hw, lat] : v.latency_ms) {
      std::string lp = p + ".latencyMs." + hw;
      if (lat.p75 && *lat.p75 < lat.p50)
        c.Err(lp + ".p75",
              FormatNumber(*lat.p75) + " is below p50 " + FormatNumber(lat.p50) + "; expected p50 <= p75 <= p90");
      double below = lat.p75 ? *lat.p75 : lat.p50;
      if (lat.p90 && *lat.p90 < below)
        c.Err(lp + ".p90", FormatNumber(*lat.p90) + " is below " + (lat.p75 ? "p75 " : "p50 ") + FormatNumber(below) +
                               "; expected p50 <= p75 <= p90");
    }
    if (v.runtime) {
      if (v.runtime->type == "exec" && v.runtime->command.empty())
        c.Err(p + ".runtime.command", "is empty; the exec runtime needs the model program's argv");
      if (v.runtime->type == "http" && !v.runtime->url)
        c.Err(p + ".runtime", "has no url; the http runtime needs the model server's base URL");
    }
  }
}

// An operator receives the minimum over its inputs of rate(from) x ratio (planner/problem.cc), so
// ratios multiply along paths: each within bounds, a chain of them can still ask the planner for
// 1e150 items/s. Requires an acyclic graph whose inputs all exist.
void CheckDerivedRates(Ctx& c, const WorkflowSpec& s, const std::map<std::string, size_t>& op_index) {
  std::map<std::string, double> rate;
  for (const auto& src : s.sources) rate.emplace(src.name, src.rate);
  for (const auto& op : s.operators) {
    if (op.inputs.empty()) return;  // reported already; its rate is undefined
    for (const auto& in : op.inputs)
      if (!rate.count(in.from) && !op_index.count(in.from)) return;
  }
  std::function<double(size_t)> rate_of = [&](size_t i) -> double {
    const auto& op = s.operators[i];
    if (auto it = rate.find(op.name); it != rate.end()) return it->second;
    double r = std::numeric_limits<double>::infinity();
    for (const auto& in : op.inputs) {
      auto src = rate.find(in.from);
      double from = src != rate.end() ? src->second : rate_of(op_index.at(in.from));
      r = std::min(r, from * in.ratio);
    }
    rate.emplace(op.name, r);
    return r;
  };
  for (size_t i = 0; i < s.operators.size(); ++i) {
    if (s.operators[i].inputs.empty()) continue;
    double r = rate_of(i);
    if (r < limits::kMinDerivedRate || r > limits::kMaxDerivedRate)
      c.Err("spec.operators[" + std::to_string(i) + "].inputs",
            "operator " + Quote(s.operators[i].name) + " would receive " + FormatNumber(r) +
                " items/s (source rates times the input ratios along the graph); expected a rate >= " +
                FormatNumber(limits::kMinDerivedRate) + " and <= " + FormatNumber(limits::kMaxDerivedRate));
  }
}

void ValidateWorkflowLocal(Ctx& c, const Workflow& wf) {
  const auto& s = wf.spec;
  std::map<std::string, std::string> kinds;  // name -> "source"/"operator"
  c.ErrIfEmpty("spec.sources", s.sources.empty(), "is empty; expected at least one source");
  c.ErrIfEmpty("spec.operators", s.operators.empty(), "is empty; expected at least one operator");
  for (size_t i = 0; i < s.sources.size(); ++i) {
    std::string p = "spec.sources[" + std::to_string(i) + "].name";
    CheckName(c, p, s.sources[i].name);
    if (!kinds.emplace(s.sources[i].name, "source").second)
      c.Err(p, "duplicate name " + Quote(s.sources[i].name) + "; source and operator names must be unique");
    const bool dataset = s.sources[i].type == "dataset";
    if (dataset != s.sources[i].index.has_value())
      c.Err("spec.sources[" + std::to_string(i) + "].index",
            dataset ? "is missing; a dataset source needs the path of its index"
                    : "is only for a source of type dataset");
  }
  for (size_t i = 0; i < s.operators.size(); ++i) {
    std::string p = "spec.operators[" + std::to_string(i) + "].name";
    CheckName(c, p, s.operators[i].name);
    if (!kinds.emplace(s.operators[i].name, "operator").second)
      c.Err(p, "duplicate name " + Quote(s.operators[i].name) + "; source and operator names must be unique");
  }
  std::map<std::string, size_t> op_index;
  for (size_t i = 0; i < s.operators.size(); ++i) op_index.emplace(s.operators[i].name, i);
  bool graph_ok = true;
  for (size_t i = 0; i < s.operators.size(); ++i) {
    const auto& op = s.operators[i];
    std::string p = "spec.operators[" + std::to_string(i) + "].inputs";
    c.ErrIfEmpty(p, op.inputs.empty(), "is empty; expected at least one source or operator");
    std::set<std::string> seen;
    for (size_t j = 0; j < op.inputs.size(); ++j) {
      std::string ip = p + "[" + std::to_string(j) + "].from";
      const auto& from = op.inputs[j].from;
      if (from.empty()) continue;
      if (!kinds.count(from)) {
        c.Err(ip, "refers to " + Quote(from) + ", which is neither a source nor an operator of this workflow");
        graph_ok = false;
      } else if (from == op.name) {
        c.Err(ip, "operator " + Quote(op.name) + " takes its own output; expected an acyclic graph");
        graph_ok = false;
      }
      if (!seen.insert(from).second) c.Err(ip, "duplicate input " + Quote(from));
    }
  }
  if (graph_ok) {
    // Cycle detection: DFS colouring over operator -> input edges.
    std::vector<int> colour(s.operators.size(), 0);
    std::vector<std::string> stack;
    std::set<std::string> reported;
    std::function<void(size_t)> dfs = [&](size_t i) {
      colour[i] = 1;
      stack.push_back(s.operators[i].name);
      for (const auto& in : s.operators[i].inputs) {
        auto it = op_index.find(in.from);
        if (it == op_index.end() || it->second == i) continue;
        if (colour[it->second] == 1) {
          auto start = std::find(stack.begin(), stack.end(), in.from);
          std::string cyc;
          for (auto k = start; k != stack.end(); ++k) cyc += *k + " <- ";
          cyc += in.from;
          if (reported.insert(in.from).second)
            c.Err("spec.operators[" + std::to_string(it->second) + "].inputs",
                  "cycle in the workflow graph (" + cyc + "); expected an acyclic graph");
        } else if (colour[it->second] == 0) {
          dfs(it->second);
        }
      }
      stack.pop_back();
      colour[i] = 2;
    };
    for (size_t i = 0; i < s.operators.size(); ++i)
      if (colour[i] == 0) dfs(i);
    // Only for otherwise valid documents: a rate or ratio that failed its own bound would be
    // reported twice.
    if (reported.empty() && c.doc->diagnostics.empty()) CheckDerivedRates(c, s, op_index);
  }
  if (s.accuracy.table) {
    const auto& t = *s.accuracy.table;
    std::set<std::string> ops;
    c.ErrIfEmpty("spec.accuracy.table.operators", t.operators.empty(),
                 "is empty; expected the operators the table covers");
    for (size_t i = 0; i < t.operators.size(); ++i) {
      std::string p = "spec.accuracy.table.operators[" + std::to_string(i) + "]";
      if (!op_index.count(t.operators[i]))
        c.Err(p, "refers to " + Quote(t.operators[i]) + ", which is not an operator of this workflow");
      if (!ops.insert(t.operators[i]).second) c.Err(p, "duplicate operator " + Quote(t.operators[i]));
    }
    c.ErrIfEmpty("spec.accuracy.table.entries", t.entries.empty(),
                 "is empty; expected at least one variant combination");
    std::set<std::vector<std::string>> combos;
    for (size_t i = 0; i < t.entries.size(); ++i) {
      std::string p = "spec.accuracy.table.entries[" + std::to_string(i) + "].variants";
      if (t.entries[i].variants.size() != t.operators.size()) {
        c.Err(p, "has " + std::to_string(t.entries[i].variants.size()) + " variants; expected " +
                     std::to_string(t.operators.size()) + ", one per table operator");
      } else if (!combos.insert(t.entries[i].variants).second) {
        c.Err(p, "duplicate variant combination");
      }
    }
  }
}

struct SetIndex {
  std::map<std::string, std::pair<const Infrastructure*, Document*>> infras;
  std::map<std::string, std::pair<const ModelProfile*, Document*>> profiles;
};

void ValidateWorkflowRefs(Ctx& c, const Workflow& wf, const SetIndex& idx) {
  const auto& s = wf.spec;
  const Infrastructure* inf = nullptr;
  if (!idx.infras.empty() && !s.infrastructure.empty()) {
    auto it = idx.infras.find(s.infrastructure);
    if (it == idx.infras.end())
      c.Err("spec.infrastructure", "refers to Infrastructure " + Quote(s.infrastructure) + ", which does not exist");
    else
      inf = it->second.first;
  }
  std::set<std::string> hardware;
  std::map<std::string, std::string> node_tier;
  std::set<std::string> tiers;
  if (inf != nullptr) {
    for (const auto& n : inf->spec.nodes) {
      hardware.insert(n.hardware);
      node_tier[n.name] = n.tier;
    }
    for (const auto& t : inf->spec.tiers) tiers.insert(t.name);
    for (size_t i = 0; i < s.sources.size(); ++i) {
      std::string p = "spec.sources[" + std::to_string(i) + "]";
      const auto& src = s.sources[i];
      if (!src.tier.empty() && !tiers.count(src.tier))
        c.Err(p + ".tier", "refers to tier " + Quote(src.tier) + ", which Infrastructure " + Quote(inf->metadata.name) +
                               " does not define");
      if (src.node) {
        auto it = node_tier.find(*src.node);
        if (it == node_tier.end())
          c.Err(p + ".node", "refers to node " + Quote(*src.node) + ", which Infrastructure " +
                                 Quote(inf->metadata.name) + " does not define");
        else if (it->second != src.tier)
          c.Err(p + ".node", "node " + Quote(*src.node) + " is in tier " + Quote(it->second) +
                                 ", not in the source's tier " + Quote(src.tier));
      }
    }
  }
  std::map<std::string, const ModelProfile*> op_profile;
  for (size_t i = 0; i < s.operators.size(); ++i) {
    const auto& op = s.operators[i];
    std::string p = "spec.operators[" + std::to_string(i) + "]";
    if (idx.profiles.empty() || op.profile.empty()) continue;
    auto it = idx.profiles.find(op.profile);
    if (it == idx.profiles.end()) {
      c.Err(p + ".profile", "refers to ModelProfile " + Quote(op.profile) + ", which does not exist");
      continue;
    }
    const ModelProfile* mp = it->second.first;
    op_profile[op.name] = mp;
    if (inf != nullptr) {
      bool runnable = false;
      for (const auto& v : mp->spec.variants)
        for (const auto& [hw, lat] : v.latency_ms) runnable = runnable || hardware.count(hw) > 0;
      if (!runnable)
        c.Err(p + ".profile", "no variant of ModelProfile " + Quote(op.profile) +
                                  " has a latency for any hardware class of Infrastructure " +
                                  Quote(inf->metadata.name) + "; expected at least one runnable variant");
    }
    if (!s.accuracy.table && mp->spec.variants.size() > 1) {
      for (const auto& v : mp->spec.variants) {
        if (!v.accuracy) {
          c.Err(p + ".profile",
                "variant " + Quote(v.name) + " of ModelProfile " + Quote(op.profile) +
                    " has no accuracy; without spec.accuracy.table the per-operator composition needs one");
          break;
        }
      }
    }
  }
  if (s.accuracy.table) {
    const auto& t = *s.accuracy.table;
    for (size_t i = 0; i < t.entries.size(); ++i) {
      if (t.entries[i].variants.size() != t.operators.size()) continue;
      for (size_t j = 0; j < t.operators.size(); ++j) {
        auto it = op_profile.find(t.operators[j]);
        if (it == op_profile.end()) continue;
        bool found = false;
        for (const auto& v : it->second->spec.variants) found = found || v.name == t.entries[i].variants[j];
        if (!found)
          c.Err("spec.accuracy.table.entries[" + std::to_string(i) + "].variants[" + std::to_string(j) + "]",
                Quote(t.entries[i].variants[j]) + " is not a variant of ModelProfile " +
                    Quote(it->second->metadata.name));
      }
    }
  }
}

}  // namespace

void ValidateSet(std::vector<Document>* docs) {
  SetIndex idx;
  std::map<std::pair<std::string, std::string>, Document*> seen;
  bool any_infra = false;
  for (auto& d : *docs) {
    if (!d.object) continue;
    Ctx c{&d};
    const auto& meta = MetaOf(*d.object);
    CheckDnsName(c, "metadata.name", meta.name, IsDns1123Subdomain);
    auto key = std::make_pair(KindOf(*d.object), meta.name);
    auto [it, inserted] = seen.emplace(key, &d);
    if (!inserted) {
      c.Err("metadata.name", "duplicate " + key.first + " name " + Quote(meta.name) + " (first defined at " +
                                 At(*it->second, "metadata.name") + ")");
      continue;
    }
    if (auto* inf = std::get_if<Infrastructure>(&*d.object)) {
      idx.infras[meta.name] = {inf, &d};
      any_infra = true;
      ValidateInfrastructure(c, *inf);
    } else if (auto* mp = std::get_if<ModelProfile>(&*d.object)) {
      idx.profiles[meta.name] = {mp, &d};
      ValidateModelProfile(c, *mp);
    } else if (auto* wf = std::get_if<Workflow>(&*d.object)) {
      ValidateWorkflowLocal(c, *wf);
    }
  }
  for (auto& d : *docs) {
    if (!d.object) continue;
    if (auto* wf = std::get_if<Workflow>(&*d.object)) {
      if (seen[{"Workflow", wf->metadata.name}] != &d) continue;
      Ctx c{&d};
      ValidateWorkflowRefs(c, *wf, idx);
    }
  }
  // Profile hardware classes must exist on some node of some Infrastructure in the set.
  std::set<std::string> hardware;
  for (const auto& [name, p] : idx.infras)
    for (const auto& n : p.first->spec.nodes) hardware.insert(n.hardware);
  // With no node at all (a broken Infrastructure) every class would be reported: say it once there.
  if (any_infra && !hardware.empty()) {
    for (const auto& [name, p] : idx.profiles) {
      Ctx c{p.second};
      for (size_t i = 0; i < p.first->spec.variants.size(); ++i)
        for (const auto& [hw, lat] : p.first->spec.variants[i].latency_ms)
          if (!hardware.count(hw))
            c.Err("spec.variants[" + std::to_string(i) + "].latencyMs." + hw,
                  "hardware class " + Quote(hw) +
                      " is not used by any node of any Infrastructure; expected one of the nodes' hardware classes");
    }
  }
}

}  // namespace jb
