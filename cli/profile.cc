#include "cli/profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "api/manifest.h"
#include "base/format.h"
#include "cli/profile_process.h"
#include "ingress/accuracy.h"
#include "ingress/dataset.h"

namespace jb::profile {
namespace {

// Answers are scored as the sink's "normalized" scorer does (ingress/accuracy.h), so a profiled
// accuracy and an observed one count the same answers right.
bool Correct(const std::string& answer, const std::string& label) {
  return ingress::NormalizedScorer::Same(answer, label);
}

// `d` to `digits` decimals, as the shortest double that prints so (no 25.185000000000002).
double Round(double d, int digits) { return std::strtod(FormatFixed(d, digits).c_str(), nullptr); }

// Measurements of one process run over the items.
struct Outputs {
  std::map<std::string, std::string> by_key;
  std::vector<double> ms;
  double bytes = 0;
};

// What Run shares between its steps.
struct Job {
  const ProfileOptions* opts = nullptr;
  std::vector<std::string> keys;
  std::map<std::string, std::string> labels;                               // key -> end-to-end label
  std::map<std::string, std::map<std::string, std::string>> source_bytes;  // source -> key -> bytes
  std::map<std::string, std::map<std::string, std::string>> op_labels;     // operator -> key -> label
  size_t done = 0, total = 0;
};

StatusOr<std::pair<const ModelProfile*, std::vector<const Variant*>>> VariantsOf(
    const Operator& op, const std::vector<ModelProfile>& profiles) {
  for (const auto& p : profiles) {
    if (p.metadata.name != op.profile) continue;
    std::vector<const Variant*> vs;
    for (const auto& v : p.spec.variants) {
      if (!v.runtime || v.runtime->type != "exec" || v.runtime->command.empty())
        return Status::InvalidArgument("variant \"" + v.name + "\" of ModelProfile \"" + p.metadata.name +
                                       "\" has no exec runtime with a command; jbctl profile runs exec processes");
      vs.push_back(&v);
    }
    if (vs.empty()) return Status::InvalidArgument("ModelProfile \"" + p.metadata.name + "\" has no variants");
    return std::make_pair(&p, vs);
  }
  return Status::NotFound("operator \"" + op.name + "\" names ModelProfile \"" + op.profile +
                          "\", which the given manifests do not hold");
}

// Runs one variant's process over `requests(key)` for every item, after the warm-up.
StatusOr<Outputs> RunProcess(
    Job& job, const Variant& v, const std::string& what,
    const std::vector<std::pair<std::string, std::function<exec::Request(const std::string&)>>>& passes) {
  ExecProcess p;
  if (auto s = p.Start(v.runtime->command, v.runtime->env, job.opts->hello_timeout_s); !s.ok())
    return Status(Status::Unavailable(what + ": " + s.message()));
  auto fail = [&](const Status& s) { return Status::Unavailable(what + ": " + s.message()); };
  const auto& first = passes.front().second;
  for (size_t i = 0; i < job.opts->warmup && !job.keys.empty(); ++i) {
    exec::Request req = first(job.keys[i % job.keys.size()]);
    req.key = "warm-up-" + std::to_string(i);
    if (auto r = p.Call(req, job.opts->request_timeout_s); !r.ok()) return fail(r.status());
  }
  Outputs out;
  for (const auto& [prefix, make] : passes) {
    for (const auto& key : job.keys) {
      exec::Request req = make(key);
      const auto t0 = std::chrono::steady_clock::now();
      auto r = p.Call(req, job.opts->request_timeout_s);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!r.ok()) return fail(r.status());
      out.ms.push_back(ms);
      out.bytes += static_cast<double>(r->data.size());
      out.by_key[prefix + key] = std::move(r->data);
      ++job.done;
      if (job.opts->progress) job.opts->progress(job.done, job.total, what);
    }
  }
  if (auto s = p.Finish(10); !s.ok()) return fail(s);
  return out;
}

Latency LatencyOf(const std::vector<double>& ms) {
  auto q = [&](double x) { return std::max(limits::kMinLatencyMs, Round(Quantile(ms, x), 3)); };
  Latency l;
  l.p50 = q(0.5);
  l.p75 = q(0.75);
  l.p90 = q(0.9);
  return l;
}

// Loads the items: keys every source has, each label, the sources' bytes, operator labels.
Status LoadData(const Workflow& wf, const ProfileOptions& opts, Job* job) {
  std::set<std::string> names;
  for (const auto& s : wf.spec.sources) names.insert(s.name);
  for (const auto& o : wf.spec.operators) names.insert(o.name);
  for (const auto& [name, path] : opts.data)
    if (!names.count(name))
      return Status::InvalidArgument("--data " + name + "=" + path + ": the workflow has no source or operator \"" +
                                     name + "\"");
  std::map<std::string, std::shared_ptr<const ingress::Dataset>> sets;               // source -> its data set
  std::map<std::string, std::map<std::string, const ingress::DatasetEntry*>> items;  // source -> key -> item
  std::optional<std::set<std::string>> common;
  for (const auto& s : wf.spec.sources) {
    auto it = opts.data.find(s.name);
    std::string path = it != opts.data.end() ? it->second : s.index.value_or("");
    if (path.empty())
      return Status::InvalidArgument("source \"" + s.name + "\" has no labelled data: give --data " + s.name +
                                     "=INDEX or make it `type: dataset` with an `index`");
    auto index = ingress::Dataset::Open(path);
    if (!index.ok()) return index.status();
    sets[s.name] = *index;
    std::set<std::string> keys;
    for (const auto& i : (*index)->entries()) {
      keys.insert(i.key);
      items[s.name][i.key] = &i;
    }
    if (!common)
      common = keys;
    else {
      std::set<std::string> both;
      std::set_intersection(common->begin(), common->end(), keys.begin(), keys.end(), std::inserter(both, both.end()));
      common = both;
    }
  }
  if (!common || common->empty()) return Status::InvalidArgument("the sources' indices have no item key in common");
  job->keys.assign(common->begin(), common->end());
  for (const auto& key : job->keys)
    for (const auto& s : wf.spec.sources)
      if (const auto& l = items[s.name][key]->label; l && !job->labels.count(key)) job->labels[key] = *l;
  if (job->labels.empty())
    return Status::InvalidArgument(
        "the data has no labels: no source index gives a \"label\" for any item, and "
        "jbctl profile scores accuracy against them");
  if (opts.items > 0 && opts.items < job->keys.size()) {
    std::mt19937_64 rng(opts.seed);
    std::shuffle(job->keys.begin(), job->keys.end(), rng);
    job->keys.resize(opts.items);
    std::sort(job->keys.begin(), job->keys.end());
  }
  for (const auto& key : job->keys)
    if (!job->labels.count(key))
      return Status::InvalidArgument("item \"" + key + "\" has no label in any source index");
  for (const auto& s : wf.spec.sources)
    for (const auto& key : job->keys) {
      auto bytes = sets[s.name]->ReadData(*items[s.name][key]);
      if (!bytes.ok())
        return Status::NotFound("source \"" + s.name + "\", item \"" + key + "\": " + bytes.status().message());
      job->source_bytes[s.name][key] = std::move(*bytes);
    }
  for (const auto& o : wf.spec.operators) {
    auto it = opts.data.find(o.name);
    if (it == opts.data.end()) continue;
    auto index = ingress::Dataset::Open(it->second);
    if (!index.ok()) return index.status();
    for (const auto& i : (*index)->entries())
      if (i.label) job->op_labels[o.name][i.key] = *i.label;
    for (const auto& key : job->keys)
      if (!job->op_labels[o.name].count(key))
        return Status::InvalidArgument(it->second + ": operator \"" + o.name + "\" has no label for item \"" + key +
                                       "\"");
  }
  return Status::Ok();
}

}  // namespace

double Quantile(std::vector<double> xs, double q) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const double pos = q * static_cast<double>(xs.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, xs.size() - 1);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - static_cast<double>(lo));
}

// The shape jbctl profile handles: one last operator; every other operator reads sources only.
struct Shape {
  std::set<std::string> sources;
  std::vector<const Operator*> inner;
  const Operator* sink = nullptr;
};

StatusOr<Shape> ShapeOf(const Workflow& wf) {
  Shape shape;
  std::set<std::string> read;
  std::set<std::string>& sources = shape.sources;
  std::vector<const Operator*>& inner = shape.inner;
  const Operator*& sink = shape.sink;
  for (const auto& s : wf.spec.sources) sources.insert(s.name);
  for (const auto& o : wf.spec.operators)
    for (const auto& in : o.inputs) read.insert(in.from);
  for (const auto& o : wf.spec.operators) {
    if (read.count(o.name))
      inner.push_back(&o);
    else if (sink != nullptr)
      return Status::InvalidArgument("Workflow \"" + wf.metadata.name + "\" has two last operators (\"" + sink->name +
                                     "\", \"" + o.name + "\"); jbctl profile scores one end-to-end answer");
    else
      sink = &o;
  }
  if (sink == nullptr) return Status::InvalidArgument("Workflow \"" + wf.metadata.name + "\" has no last operator");
  for (const auto* o : inner)
    for (const auto& in : o->inputs)
      if (!sources.count(in.from))
        return Status::InvalidArgument(
            "operator \"" + o->name + "\" reads operator \"" + in.from +
            "\"; jbctl profile supports operators that read sources, joined by one last operator");
  return shape;
}

// Every combination of the inner operators' variants (an odometer, the last operator fastest).
std::vector<std::vector<const Variant*>> Combinations(const std::vector<const Operator*>& inner,
                                                      std::map<std::string, std::vector<const Variant*>>& variants,
                                                      size_t combos) {
  std::vector<std::vector<const Variant*>> combo_list;
  std::vector<size_t> at(inner.size(), 0);
  for (size_t c = 0; c < combos; ++c) {
    std::vector<const Variant*> combo;
    for (size_t i = 0; i < inner.size(); ++i) combo.push_back(variants[inner[i]->name][at[i]]);
    combo_list.push_back(combo);
    for (size_t i = inner.size(); i-- > 0;)
      if (++at[i] < variants[inner[i]->name].size())
        break;
      else
        at[i] = 0;
  }
  return combo_list;
}

// Composition: the product of the operators' own accuracies, for each cell where every one has one.
void Compose(ProfileResult* result_ptr) {
  ProfileResult& result = *result_ptr;
  for (auto& cell : result.cells) {
    double p = 1;
    bool all = true;
    for (size_t i = 0; i < cell.variants.size(); ++i) {
      auto it = std::find_if(result.variants.begin(), result.variants.end(), [&](const VariantResult& v) {
        return v.op == result.table_operators[i] && v.variant == cell.variants[i];
      });
      if (it == result.variants.end() || !it->accuracy)
        all = false;
      else
        p *= *it->accuracy / 100;
    }
    if (all) cell.composed = 100 * p;
  }
}

// The inner operators' variants: latency, output size, and their own accuracy where labelled.
void AddInnerResults(const std::vector<const Operator*>& inner,
                     std::map<std::string, std::vector<const Variant*>>& variants,
                     std::map<std::string, std::string>& profile_of,
                     std::map<std::string, std::map<std::string, Outputs>>& outs, const Job& job,
                     std::map<std::string, std::map<std::string, std::pair<size_t, size_t>>>& own, size_t n,
                     ProfileResult* result) {
  for (const auto* o : inner)
    for (const auto* v : variants[o->name]) {
      const Outputs& out = outs[o->name][v->name];
      VariantResult vr{
          o->name, profile_of[o->name], v->name, LatencyOf(out.ms), out.bytes / static_cast<double>(n) / 1024, {}, 0,
          0};
      if (job.op_labels.count(o->name) && own.count(o->name)) {
        auto [ok, cnt] = own[o->name][v->name];
        vr.correct = ok;
        vr.items = cnt;
        vr.accuracy = 100.0 * static_cast<double>(ok) / static_cast<double>(cnt);
      }
      result->variants.push_back(vr);
    }
  for (const auto* o : inner) result->table_operators.push_back(o->name);
}

// Each inner operator's variants, one process at a time, over the sources' items.
Status RunInnerOperators(const std::vector<const Operator*>& inner,
                         std::map<std::string, std::vector<const Variant*>>& variants, Job& job,
                         std::map<std::string, std::map<std::string, Outputs>>* outs) {
  for (const auto* o : inner)
    for (const auto* v : variants[o->name]) {
      auto make = [&, o](const std::string& key) {
        exec::Request req{key, {}};
        for (const auto& in : o->inputs) req.parts.push_back({in.from, job.source_bytes[in.from][key]});
        return req;
      };
      auto r = RunProcess(job, *v, o->name + "/" + v->name, {{"", make}});
      if (!r.ok()) return r.status();
      (*outs)[o->name][v->name] = std::move(*r);
    }
  return Status::Ok();
}

// Each operator's variants and the name of its ModelProfile.
Status CollectVariants(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                       std::map<std::string, std::vector<const Variant*>>* variants,
                       std::map<std::string, std::string>* profile_of) {
  for (const auto& o : wf.spec.operators) {
    auto vs = VariantsOf(o, profiles);
    if (!vs.ok()) return vs.status();
    (*variants)[o.name] = vs->second;
    (*profile_of)[o.name] = vs->first->metadata.name;
  }
  return Status::Ok();
}

StatusOr<ProfileResult> Run(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                            const ProfileOptions& options) {
  if (options.hardware.empty()) return Status::InvalidArgument("no hardware class to profile for");
  auto shape = ShapeOf(wf);
  if (!shape.ok()) return shape.status();
  const std::set<std::string>& sources = shape->sources;
  const std::vector<const Operator*>& inner = shape->inner;
  const Operator* sink = shape->sink;
  std::map<std::string, std::vector<const Variant*>> variants;
  std::map<std::string, std::string> profile_of;
  if (auto s = CollectVariants(wf, profiles, &variants, &profile_of); !s.ok()) return s;
  Job job{};
  job.opts = &options;
  if (auto s = LoadData(wf, options, &job); !s.ok()) return s;
  const size_t n = job.keys.size();
  // Which operators get their own accuracy: labelled, and the last operator's other operator
  // inputs labelled too.
  std::vector<std::string> sink_ops;
  for (const auto& in : sink->inputs)
    if (!sources.count(in.from)) sink_ops.push_back(in.from);
  const bool all_labelled =
      !sink_ops.empty() &&
      std::all_of(sink_ops.begin(), sink_ops.end(), [&](const std::string& o) { return job.op_labels.count(o) > 0; });
  size_t combos = 1;
  for (const auto* o : inner) combos *= variants[o->name].size();
  if (combos > limits::kMaxTableEntries) return Status::InvalidArgument("too many variant combinations for one table");
  for (const auto* o : inner) job.total += variants[o->name].size() * n;
  size_t label_passes = all_labelled ? 1 : 0;
  for (const auto& op : sink_ops) label_passes += all_labelled ? variants[op].size() : 0;
  job.total += variants[sink->name].size() * (combos + label_passes) * n;

  ProfileResult result;
  result.items = n;
  std::map<std::string, std::map<std::string, Outputs>> outs;  // op -> variant -> outputs
  if (auto s = RunInnerOperators(inner, variants, job, &outs); !s.ok()) return s;

  // The last operator over every combination (odometer over the inner operators' variants), then
  // over the labels with one operator's variant at a time.
  const std::vector<std::vector<const Variant*>> combo_list = Combinations(inner, variants, combos);
  auto part_of = [&](const std::string& from, const std::string& key,
                     const std::map<std::string, const Variant*>& chosen, bool labels,
                     const std::string& real) -> std::string {
    if (sources.count(from)) return job.source_bytes[from][key];
    if (labels && from != real) return job.op_labels[from][key];
    return outs[from][chosen.at(from)->name].by_key.at(key);
  };
  std::map<std::string, std::map<std::string, std::pair<size_t, size_t>>> own;  // op -> variant -> (ok, n)
  for (const auto* sv : variants[sink->name]) {
    using Pass = std::pair<std::string, std::function<exec::Request(const std::string&)>>;
    std::vector<Pass> passes;
    for (size_t c = 0; c < combo_list.size(); ++c) {
      std::map<std::string, const Variant*> chosen;
      for (size_t i = 0; i < inner.size(); ++i) chosen[inner[i]->name] = combo_list[c][i];
      passes.push_back({"c" + std::to_string(c) + "/", [&, chosen](const std::string& key) {
                          exec::Request req{key, {}};
                          for (const auto& in : sink->inputs)
                            req.parts.push_back({in.from, part_of(in.from, key, chosen, false, "")});
                          return req;
                        }});
    }
    auto r = RunProcess(job, *sv, sink->name + "/" + sv->name, passes);
    if (!r.ok()) return r.status();
    for (size_t c = 0; c < combo_list.size(); ++c) {
      size_t ok = 0;
      for (const auto& key : job.keys)
        ok += Correct(r->by_key.at("c" + std::to_string(c) + "/" + key), job.labels[key]);
      CellResult cell;
      for (const auto* v : combo_list[c]) cell.variants.push_back(v->name);
      cell.variants.push_back(sv->name);
      cell.accuracy = 100.0 * static_cast<double>(ok) / static_cast<double>(n);
      result.cells.push_back(cell);
    }
    VariantResult vr{sink->name,
                     profile_of[sink->name],
                     sv->name,
                     LatencyOf(r->ms),
                     r->bytes / static_cast<double>(r->ms.size()) / 1024,
                     {},
                     0,
                     0};
    if (all_labelled) {
      // The labels alone (the last operator's own accuracy), then each labelled inner operator's
      // variants with the other inputs from their labels.
      std::vector<Pass> lp;
      lp.push_back({"labels/", [&](const std::string& key) {
                      exec::Request req{key, {}};
                      for (const auto& in : sink->inputs)
                        req.parts.push_back({in.from, part_of(in.from, key, {}, true, "")});
                      return req;
                    }});
      for (const auto& op : sink_ops)
        for (const auto* v : variants[op]) {
          std::map<std::string, const Variant*> chosen{{op, v}};
          lp.push_back({op + "/" + v->name + "/", [&, chosen, op](const std::string& key) {
                          exec::Request req{key, {}};
                          for (const auto& in : sink->inputs)
                            req.parts.push_back({in.from, part_of(in.from, key, chosen, true, op)});
                          return req;
                        }});
        }
      auto lr = RunProcess(job, *sv, sink->name + "/" + sv->name + " (labels)", lp);
      if (!lr.ok()) return lr.status();
      for (const auto& [prefix, make] : lp) {
        size_t ok = 0;
        for (const auto& key : job.keys) ok += Correct(lr->by_key.at(prefix + key), job.labels[key]);
        if (prefix == "labels/")
          vr.correct = ok, vr.items = n;
        else {
          auto slash = prefix.find('/');
          own[prefix.substr(0, slash)][prefix.substr(slash + 1, prefix.size() - slash - 2)] = {ok, n};
        }
      }
      vr.accuracy = 100.0 * static_cast<double>(vr.correct) / static_cast<double>(n);
    }
    result.variants.push_back(vr);
  }
  AddInnerResults(inner, variants, profile_of, outs, job, own, n, &result);
  result.table_operators.push_back(sink->name);
  Compose(&result);
  return result;
}

std::vector<ModelProfile> UpdateProfiles(const std::vector<ModelProfile>& profiles,
                                         const std::vector<ModelProfile>& existing, const ProfileResult& result,
                                         const std::string& hardware) {
  std::vector<ModelProfile> out;
  std::set<std::string> touched;
  for (const auto& r : result.variants) touched.insert(r.profile);
  for (const auto& p : profiles) {
    if (!touched.count(p.metadata.name)) continue;
    ModelProfile mp = p;
    const ModelProfile* old = nullptr;
    for (const auto& e : existing)
      if (e.metadata.name == p.metadata.name) old = &e;
    for (auto& v : mp.spec.variants) {
      if (old != nullptr) {
        v.latency_ms.clear();
        for (const auto& ov : old->spec.variants)
          if (ov.name == v.name) v.latency_ms = ov.latency_ms;
      }
      for (const auto& r : result.variants) {
        if (r.profile != p.metadata.name || r.variant != v.name) continue;
        v.latency_ms[hardware] = r.latency;
        v.output_size_kib = Round(r.output_kib, 4);
        if (r.accuracy) v.accuracy = Round(*r.accuracy, 2);
      }
    }
    out.push_back(std::move(mp));
  }
  return out;
}

Workflow WithAccuracyTable(const Workflow& wf, const ProfileResult& result) {
  Workflow out = wf;
  out.status = WorkflowStatus{};
  AccuracyTable t;
  t.operators = result.table_operators;
  for (const auto& c : result.cells) t.entries.push_back({c.variants, Round(c.accuracy, 2)});
  out.spec.accuracy.table = t;
  // The table was scored with the normalized rule: the sink must score served answers the same way.
  out.spec.accuracy.scorer = "normalized";
  return out;
}

std::string ProfilesYaml(const std::vector<ModelProfile>& profiles, const std::string& header) {
  std::string s = header;
  for (size_t i = 0; i < profiles.size(); ++i) s += (i ? "---\n" : "") + ObjectToYaml(profiles[i]);
  return s;
}

std::string WorkflowYaml(const Workflow& wf, const ProfileResult& result, const std::string& header) {
  std::string s =
      header + "# End-to-end accuracy over " + std::to_string(result.items) +
      " items (the table below) beside the per-operator composition (product of the variants' own accuracies):\n";
  double sum = 0, worst = 0;
  size_t counted = 0;
  for (const auto& c : result.cells) {
    std::string combo;
    for (const auto& v : c.variants) combo += (combo.empty() ? "" : " + ") + v;
    s += "#   " + combo + ": table " + FormatFixed(c.accuracy, 2);
    if (c.composed) {
      const double e = *c.composed - c.accuracy;
      s += ", composition " + FormatFixed(*c.composed, 2) + " (error " + (e >= 0 ? "+" : "") + FormatFixed(e, 2) + ")";
      sum += e;
      worst = std::max(worst, std::fabs(e));
      ++counted;
    }
    s += "\n";
  }
  if (counted > 0)
    s += "# Composition error against the table: mean " + FormatFixed(sum / static_cast<double>(counted), 2) +
         " points, worst " + FormatFixed(worst, 2) + " points.\n";
  else
    s += "# No composition: not every operator has its own label (--data OPERATOR=INDEX).\n";
  return s + ObjectToYaml(WithAccuracyTable(wf, result));
}

}  // namespace jb::profile
