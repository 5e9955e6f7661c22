#include "cli/import_prototype.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "api/manifest.h"
#include "base/file.h"

namespace jb {

namespace fs = std::filesystem;

namespace {

std::string Trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string Where(const std::string& path, int line) { return path + ":" + std::to_string(line); }

StatusOr<double> ParseDouble(const std::string& s, const std::string& where) {
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(d))
    return Status::InvalidArgument(where + ": \"" + s + "\" is not a number");
  return d;
}

std::string Kebab(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool upper = std::isupper(static_cast<unsigned char>(c));
    if (upper && i > 0) {
      bool prev_lower =
          std::islower(static_cast<unsigned char>(s[i - 1])) || std::isdigit(static_cast<unsigned char>(s[i - 1]));
      bool next_lower = i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]));
      bool prev_upper = std::isupper(static_cast<unsigned char>(s[i - 1]));
      if (prev_lower || (prev_upper && next_lower)) out += '-';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Parses a JSON/YAML file into a Value (JSON is read by the YAML parser).
StatusOr<Value> ReadTree(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto docs = ParseYamlStream(*text);
  if (docs.size() != 1) return Status::InvalidArgument(path + ": expected one JSON/YAML document");
  if (!docs[0].error.ok())
    return Status::InvalidArgument(path + ":" + std::to_string(docs[0].error_mark.line) + ": " +
                                   docs[0].error.message());
  return docs[0].root;
}

// First existing file among `names` in `dir`, or "".
std::string FindFile(const std::string& dir, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    fs::path p = fs::path(dir) / n;
    if (fs::exists(p)) return p.string();
  }
  return "";
}

const Value* Dig(const Value& v, std::initializer_list<const char*> keys) {
  const Value* cur = &v;
  for (const char* k : keys) {
    cur = cur->Find(k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

}  // namespace

StatusOr<std::vector<CsvRow>> ReadPrototypeCsv(const std::string& path, const std::string& first_header) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot read file");
  std::vector<CsvRow> rows;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (Trim(line).empty()) continue;
    CsvRow row{lineno, {}};
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) row.cells.push_back(Trim(cell));
    while (!row.cells.empty() && row.cells.back().empty()) row.cells.pop_back();
    if (rows.empty() && lineno == 1 && !row.cells.empty() && row.cells[0] == first_header) continue;  // header
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

// One import: the folder's files read in a fixed order (the first error found is the one
// reported), each step filling part of `res` and the tables the later steps need.
class Importer {
 public:
  Importer(const std::string& dir, const ImportOptions& opts) : dir_(dir), opts_(opts) {}

  StatusOr<ImportResult> Run() {
    for (Status (Importer::*step)() :
         {&Importer::ReadConfig, &Importer::ReadWorkers, &Importer::BuildInfrastructure, &Importer::ReadLinks,
          &Importer::ReadGraph, &Importer::PlaceSources, &Importer::ReadMessageSizes, &Importer::ReadProfiles,
          &Importer::BuildOperators, &Importer::ReadAccuracy, &Importer::ReadRequirement})
      if (Status st = (this->*step)(); !st.ok()) return st;
    if (latency_ratio_ != 1.0)
      res_.notes.push_back("latencies multiplied by LATENCY_OVERESTIMATE_RATIO " + FormatNumber(latency_ratio_));
    return std::move(res_);
  }

 private:
  using CsvFile = std::pair<std::string, std::vector<CsvRow>>;  // path, rows

  // The first of `names` that exists in the folder; NotFound naming the first when none does.
  StatusOr<std::string> Need(std::initializer_list<const char*> names) const {
    std::string f = FindFile(dir_, names);
    if (f.empty()) return Status::NotFound(dir_ + ": missing " + *names.begin());
    return f;
  }

  // A required CSV file whose rows all have at least `min_cols` cells.
  StatusOr<CsvFile> Csv(std::initializer_list<const char*> names, const std::string& header, size_t min_cols) const {
    auto f = Need(names);
    if (!f.ok()) return f.status();
    auto rows = ReadPrototypeCsv(*f, header);
    if (!rows.ok()) return rows.status();
    for (const auto& r : *rows)
      if (r.cells.size() < min_cols)
        return Status::InvalidArgument(Where(*f, r.line) + ": expected " + std::to_string(min_cols) +
                                       " columns, found " + std::to_string(r.cells.size()));
    return std::make_pair(*f, std::move(*rows));
  }

  // Config: link cost scaling and latency over-estimation.
  Status ReadConfig() {
    if (std::string cfg = FindFile(dir_, {"optimizer_config.json", "config.yaml", "config.yml"}); !cfg.empty()) {
      auto tree = ReadTree(cfg);
      if (!tree.ok()) return tree.status();
      const Value* root = tree->Find("config") ? tree->Find("config") : &*tree;
      if (const Value* v = Dig(*root, {"INPUT", "COMM_COST_SCALING_FACTOR"}); v && v->is_number())
        comm_scale_ = v->as_number();
      if (const Value* v = Dig(*root, {"INPUT", "LATENCY_OVERESTIMATE_RATIO"}); v && v->is_number())
        latency_ratio_ = v->as_number();
      res_.notes.push_back("link costs scaled by COMM_COST_SCALING_FACTOR " + FormatNumber(comm_scale_) + " from " +
                           fs::path(cfg).filename().string());
    } else {
      res_.notes.push_back("no optimizer config found: link costs taken unscaled");
    }
    if (!(latency_ratio_ >= 1.0)) return Status::InvalidArgument(dir_ + ": LATENCY_OVERESTIMATE_RATIO must be >= 1");
    return Status::Ok();
  }

  // Workers, their prices and tiers (a tier column, else workers_partition.json).
  Status ReadWorkers() {
    auto workers = Csv({"workers.csv"}, "worker", 2);
    if (!workers.ok()) return workers.status();
    for (const auto& r : workers->second) {
      bool has_tier = r.cells.size() >= 3;
      auto price = ParseDouble(r.cells[has_tier ? 2 : 1], Where(workers->first, r.line));
      if (!price.ok()) return price.status();
      worker_price_.emplace_back(r.cells[0], *price);
      if (has_tier) {
        auto t = ParseDouble(r.cells[1], Where(workers->first, r.line));
        if (!t.ok()) return t.status();
        worker_tier_[r.cells[0]] = static_cast<int>(*t);
      }
    }
    if (worker_tier_.empty())
      if (Status st = ReadWorkerPartition(); !st.ok()) return st;
    for (const auto& [w, price] : worker_price_) {
      auto it = worker_tier_.find(w);
      if (it == worker_tier_.end()) return Status::InvalidArgument(dir_ + ": worker " + w + " has no tier");
      num_tiers_ = std::max(num_tiers_, it->second + 1);
    }
    if (num_tiers_ == 2)
      tier_names_ = {"edge", "cloud"};
    else if (num_tiers_ == 3)
      tier_names_ = {"device", "edge", "cloud"};
    else
      for (int i = 0; i < num_tiers_; ++i) tier_names_.push_back("tier-" + std::to_string(i));
    return Status::Ok();
  }

  // workers_partition.json (or tiers.json): a list of worker lists, of {tier, workers}, or a map
  // tier -> workers.
  Status ReadWorkerPartition() {
    auto f = Need({"workers_partition.json", "tiers.json"});
    if (!f.ok())
      return Status::NotFound(dir_ + ": workers.csv has no tier column and there is no workers_partition.json");
    auto tree = ReadTree(*f);
    if (!tree.ok()) return tree.status();
    const Value* tiers = tree->Find("tiers") ? tree->Find("tiers") : &*tree;
    auto add = [&](int tier, const Value& list) {
      for (const auto& w : list.items())
        if (w.is_string()) worker_tier_[w.as_string()] = tier;
    };
    if (tiers->is_seq()) {
      for (size_t i = 0; i < tiers->items().size(); ++i) {
        const Value& t = tiers->items()[i];
        if (t.is_seq())
          add(static_cast<int>(i), t);
        else if (const Value* w = t.Find("workers")) {
          const Value* idx = t.Find("tier");
          add(idx && idx->is_number() ? static_cast<int>(idx->as_number()) : static_cast<int>(i), *w);
        }
      }
    } else if (tiers->is_map()) {
      for (const auto& e : tiers->entries()) {
        auto t = ParseDouble(e.key, *f);
        if (t.ok() && e.value.is_seq()) add(static_cast<int>(*t), e.value);
      }
    }
    return Status::Ok();
  }

  Status BuildInfrastructure() {
    auto& inf = res_.infrastructure;
    inf.metadata.name = opts_.infrastructure_name.empty() ? fs::path(dir_).lexically_normal().filename().string()
                                                          : opts_.infrastructure_name;
    if (inf.metadata.name.empty())
      inf.metadata.name = fs::path(dir_).lexically_normal().parent_path().filename().string();
    for (const auto& t : tier_names_) inf.spec.tiers.push_back(Tier{t, DriverSpec{"local", {}}});
    for (const auto& [w, price] : worker_price_) {
      Node n;
      n.name = w;
      n.tier = tier_names_[static_cast<size_t>(worker_tier_[w])];
      n.price_per_hour = price;
      n.hardware = w;  // every prototype worker has its own latency profile
      inf.spec.nodes.push_back(n);
    }
    return Status::Ok();
  }

  // Link costs: must be uniform per (tier, tier) pair to become tier links.
  Status ReadLinks() {
    auto links = Csv({"worker_links.csv"}, "from_worker", 3);
    if (!links.ok()) return links.status();
    std::map<std::pair<int, int>, std::pair<double, int>> tier_cost;  // cost, line of first
    for (const auto& r : links->second) {
      auto a = worker_tier_.find(r.cells[0]);
      auto b = worker_tier_.find(r.cells[1]);
      if (a == worker_tier_.end() || b == worker_tier_.end())
        return Status::InvalidArgument(Where(links->first, r.line) + ": unknown worker");
      auto c = ParseDouble(r.cells[2], Where(links->first, r.line));
      if (!c.ok()) return c.status();
      if (a->second == b->second) {
        if (*c != 0)
          return Status::InvalidArgument(Where(links->first, r.line) +
                                         ": traffic within a tier must be free in our model");
        continue;
      }
      if (std::abs(a->second - b->second) != 1)
        return Status::InvalidArgument(Where(links->first, r.line) +
                                       ": link between non-adjacent tiers is not supported");
      auto key = std::make_pair(a->second, b->second);
      auto [it, inserted] = tier_cost.emplace(key, std::make_pair(*c, r.line));
      if (!inserted && it->second.first != *c)
        return Status::InvalidArgument(Where(links->first, r.line) + ": cost " + r.cells[2] + " differs from " +
                                       FormatNumber(it->second.first) + " on line " +
                                       std::to_string(it->second.second) +
                                       " for the same pair of tiers; per-worker link costs are not supported");
    }
    for (const auto& [key, cost] : tier_cost) {
      Link l;
      l.from = tier_names_[static_cast<size_t>(key.first)];
      l.to = tier_names_[static_cast<size_t>(key.second)];
      l.cost_per_gib = cost.first * comm_scale_;
      res_.infrastructure.spec.links.push_back(l);
    }
    return Status::Ok();
  }

  // Workflow graph, source rates, throughput ratios.
  Status ReadGraph() {
    auto graph = Csv({"logical_graph.csv"}, "from_node", 2);
    if (!graph.ok()) return graph.status();
    auto rates = Csv({"input_injection_rates.csv"}, "source", 2);
    if (!rates.ok()) return rates.status();
    if (std::string f = FindFile(dir_, {"throughput_normalization_ratios.csv"}); !f.empty()) {
      auto rr = Csv({"throughput_normalization_ratios.csv"}, "from_node", 3);
      if (!rr.ok()) return rr.status();
      for (const auto& r : rr->second) {
        auto v = ParseDouble(r.cells[2], Where(rr->first, r.line));
        if (!v.ok()) return v.status();
        ratio_[r.cells[0] + "->" + r.cells[1]] = *v;
      }
    }
    auto& wf = res_.workflow;
    wf.spec.infrastructure = res_.infrastructure.metadata.name;
    for (const auto& r : rates->second) {
      auto v = ParseDouble(r.cells[1], Where(rates->first, r.line));
      if (!v.ok()) return v.status();
      Source s;
      s.name = r.cells[0];
      s.rate = *v;
      source_idx_[s.name] = wf.spec.sources.size();
      wf.spec.sources.push_back(s);
    }
    for (const auto& r : graph->second) {
      for (const auto& n : {r.cells[0], r.cells[1]}) {
        if (!source_idx_.count(n) && std::find(op_order_.begin(), op_order_.end(), n) == op_order_.end())
          op_order_.push_back(n);
      }
      op_inputs_[r.cells[1]].push_back(r.cells[0]);
      if (source_idx_.count(r.cells[1]))
        return Status::InvalidArgument(Where(graph->first, r.line) + ": a source cannot have inputs");
    }
    return Status::Ok();
  }

  // Sources' tier: the lowest tier whose workers receive source data for free.
  Status PlaceSources() {
    auto src_links = Csv({"source_links.csv"}, "source", 3);
    if (!src_links.ok()) return src_links.status();
    std::map<std::string, std::set<int>> paid_tiers;
    for (const auto& r : src_links->second) {
      auto t = worker_tier_.find(r.cells[1]);
      if (t == worker_tier_.end())
        return Status::InvalidArgument(Where(src_links->first, r.line) + ": unknown worker " + r.cells[1]);
      auto c = ParseDouble(r.cells[2], Where(src_links->first, r.line));
      if (!c.ok()) return c.status();
      if (*c > 0) paid_tiers[r.cells[0]].insert(t->second);
    }
    for (auto& s : res_.workflow.spec.sources) {
      int tier = 0;
      while (tier < num_tiers_ && paid_tiers[s.name].count(tier)) ++tier;
      s.tier = tier_names_[static_cast<size_t>(std::min(tier, num_tiers_ - 1))];
    }
    return Status::Ok();
  }

  // Message sizes: a source's item size, an operator's output size per variant (or default).
  Status ReadMessageSizes() {
    auto sizes = Csv({"message_sizes.csv"}, "from_node", 5);
    if (!sizes.ok()) return sizes.status();
    for (const auto& r : sizes->second) {
      auto v = ParseDouble(r.cells[4], Where(sizes->first, r.line));
      if (!v.ok()) return v.status();
      if (r.cells[3] != "default")
        return Status::InvalidArgument(Where(sizes->first, r.line) +
                                       ": sizes that depend on the receiver's variant are not supported");
      if (auto it = source_idx_.find(r.cells[0]); it != source_idx_.end()) {
        auto& src = res_.workflow.spec.sources[it->second];
        if (src.item_size_kib != 0 && src.item_size_kib != *v)
          return Status::InvalidArgument(Where(sizes->first, r.line) + ": source " + src.name +
                                         " sends different sizes to different operators");
        src.item_size_kib = *v;
      } else {
        auto& m = out_size_[r.cells[0]];
        if (m.count(r.cells[2]) && m[r.cells[2]] != *v)
          return Status::InvalidArgument(Where(sizes->first, r.line) + ": operator " + r.cells[0] +
                                         " sends different sizes to different operators");
        m[r.cells[2]] = *v;
      }
    }
    return Status::Ok();
  }

  // Execution profiles per percentile; the p75 one is required.
  Status ReadProfiles() {
    struct ProfileFile {
      const char* pct;
      std::initializer_list<const char*> names;
    };
    bool have[3] = {false, false, false};
    const ProfileFile files[] = {{"p50", {"execution_profile_p50.csv"}},
                                 {"p75", {"execution_profile_p75.csv", "execution_profile.csv"}},
                                 {"p90", {"execution_profile_p90.csv"}}};
    for (int k = 0; k < 3; ++k) {
      std::string f = FindFile(dir_, files[k].names);
      if (f.empty()) continue;
      have[k] = true;
      auto rows = ReadPrototypeCsv(f, "operator");
      if (!rows.ok()) return rows.status();
      for (const auto& r : *rows) {
        if (r.cells.size() < 4) return Status::InvalidArgument(Where(f, r.line) + ": expected 4 columns");
        auto v = ParseDouble(r.cells[3], Where(f, r.line));
        if (!v.ok()) return v.status();
        if (!worker_tier_.count(r.cells[1]))
          return Status::InvalidArgument(Where(f, r.line) + ": unknown worker " + r.cells[1]);
        auto& vars = op_variants_[r.cells[0]];
        if (std::find(vars.begin(), vars.end(), r.cells[2]) == vars.end()) vars.push_back(r.cells[2]);
        Latency& lat = prof_[r.cells[0]][r.cells[2]][r.cells[1]];
        double ms = *v * latency_ratio_;
        if (k == 0) lat.p50 = ms;
        if (k == 1) lat.p75 = ms;
        if (k == 2) lat.p90 = ms;
      }
    }
    if (!have[1]) return Status::NotFound(dir_ + ": missing execution_profile.csv (the p75 profile)");
    if (!have[0]) {
      // Only one percentile known: use it as the median too, and say so.
      for (auto& [op, vars] : prof_)
        for (auto& [var, ws] : vars)
          for (auto& [w, lat] : ws) lat.p50 = *lat.p75;
      res_.notes.push_back("no p50 profile: p50 set equal to the p75 profile");
    }
    if (opts_.percentile == "p90" && !have[2]) return Status::InvalidArgument(dir_ + ": no p90 profile to plan with");
    return Status::Ok();
  }

  // A ModelProfile and an Operator per operator of the graph.
  Status BuildOperators() {
    for (const auto& op : op_order_) {
      ModelProfile mp;
      mp.metadata.name = Kebab(op);
      if (!op_variants_.count(op))
        return Status::InvalidArgument(dir_ + ": operator " + op + " has no execution profile");
      for (const auto& var : op_variants_[op]) {
        Variant v;
        v.name = var;
        auto& m = out_size_[op];
        v.output_size_kib = m.count(var) ? m[var] : (m.count("default") ? m["default"] : 0.0);
        v.latency_ms = prof_[op][var];
        mp.spec.variants.push_back(v);
      }
      Operator o;
      o.name = op;
      o.profile = mp.metadata.name;
      for (const auto& in : op_inputs_[op]) {
        Input i;
        i.from = in;
        auto it = ratio_.find(in + "->" + op);
        i.ratio = it == ratio_.end() ? 1.0 : it->second;
        o.inputs.push_back(i);
      }
      res_.workflow.spec.operators.push_back(o);
      res_.profiles.push_back(std::move(mp));
    }
    return Status::Ok();
  }

  // The end-to-end accuracy table: accuracy_profiles.json, else end_to_end_accuracy.csv.
  Status ReadAccuracy() {
    AccuracyTable table;
    if (std::string f = FindFile(dir_, {"accuracy_profiles.json"}); !f.empty()) {
      if (Status st = ReadAccuracyJson(f, table); !st.ok()) return st;
    } else if (std::string fc = FindFile(dir_, {"end_to_end_accuracy.csv"}); !fc.empty()) {
      if (Status st = ReadAccuracyCsv(fc, table); !st.ok()) return st;
    } else if (!FindFile(dir_, {"nodes_accuracy_profiles.pkl"}).empty()) {
      return Status::InvalidArgument(dir_ +
                                     ": nodes_accuracy_profiles.pkl is a Python pickle; decode it to "
                                     "accuracy_profiles.json first (see tests/data/vqa-medium/README.md)");
    } else {
      return Status::NotFound(dir_ + ": missing accuracy_profiles.json or end_to_end_accuracy.csv");
    }
    res_.workflow.spec.accuracy.table = table;
    return Status::Ok();
  }

  static Status ReadAccuracyJson(const std::string& f, AccuracyTable& table) {
    auto tree = ReadTree(f);
    if (!tree.ok()) return tree.status();
    const Value* e2e = tree->Find("end_to_end");
    const Value* ops = e2e ? e2e->Find("operators") : nullptr;
    const Value* entries = e2e ? e2e->Find("entries") : nullptr;
    if (!ops || !entries) return Status::InvalidArgument(f + ": expected end_to_end.operators and end_to_end.entries");
    for (const auto& o : ops->items()) table.operators.push_back(o.as_string());
    for (const auto& e : entries->items()) {
      AccuracyEntry ae;
      const Value* vars = e.Find("variants");
      const Value* acc = e.Find("accuracy");
      if (!vars || !acc || !acc->is_number())
        return Status::InvalidArgument(f + ":" + std::to_string(e.mark().line) + ": malformed entry");
      for (const auto& o : table.operators) {
        const Value* v = vars->Find(o);
        if (!v)
          return Status::InvalidArgument(f + ":" + std::to_string(e.mark().line) + ": entry has no variant for " + o);
        ae.variants.push_back(v->as_string());
      }
      ae.accuracy = acc->as_number();
      table.entries.push_back(ae);
    }
    return Status::Ok();
  }

  static Status ReadAccuracyCsv(const std::string& fc, AccuracyTable& table) {
    std::ifstream in(fc);
    std::string header;
    std::getline(in, header);
    std::stringstream hs(header);
    std::string cell;
    while (std::getline(hs, cell, ',')) table.operators.push_back(Trim(cell));
    if (table.operators.size() < 2) return Status::InvalidArgument(fc + ":1: expected a header naming the operators");
    table.operators.pop_back();  // accuracy column
    auto rows = ReadPrototypeCsv(fc, table.operators[0]);
    if (!rows.ok()) return rows.status();
    for (const auto& r : *rows) {
      if (r.cells.size() != table.operators.size() + 1)
        return Status::InvalidArgument(Where(fc, r.line) + ": wrong column count");
      AccuracyEntry ae;
      ae.variants.assign(r.cells.begin(), r.cells.end() - 1);
      auto a = ParseDouble(r.cells.back(), Where(fc, r.line));
      if (!a.ok()) return a.status();
      ae.accuracy = *a;
      table.entries.push_back(ae);
    }
    return Status::Ok();
  }

  // The accuracy floor and the sink (the workflow's default name), and the workflow's options.
  Status ReadRequirement() {
    auto& wf = res_.workflow;
    auto req = Need({"accuracy_requirement.json"});
    if (!req.ok()) return req.status();
    auto req_tree = ReadTree(*req);
    if (!req_tree.ok()) return req_tree.status();
    const Value* thr = req_tree->Find("threshold");
    const Value* sink = req_tree->Find("sink");
    if (!thr || !thr->is_number()) return Status::InvalidArgument(*req + ": expected a numeric threshold");
    wf.spec.slo.min_accuracy = thr->as_number();
    std::string sink_name = sink && sink->is_string() ? sink->as_string() : op_order_.back();
    wf.metadata.name = opts_.workflow_name.empty() ? Kebab(sink_name) : opts_.workflow_name;
    wf.spec.options.percentile = opts_.percentile;
    wf.spec.options.headroom = 1.0;
    wf.spec.options.exclusive = false;
    return Status::Ok();
  }

  const std::string dir_;
  const ImportOptions& opts_;
  ImportResult res_;
  double comm_scale_ = 1.0, latency_ratio_ = 1.0;
  std::map<std::string, int> worker_tier_;
  std::vector<std::pair<std::string, double>> worker_price_;
  int num_tiers_ = 0;
  std::vector<std::string> tier_names_;
  std::map<std::string, double> ratio_;                            // "from->to" -> throughput ratio
  std::map<std::string, size_t> source_idx_;                       // source -> index in the workflow
  std::vector<std::string> op_order_;                              // operators in graph order
  std::map<std::string, std::vector<std::string>> op_inputs_;      // operator -> its inputs
  std::map<std::string, std::map<std::string, double>> out_size_;  // op -> variant|default -> KiB
  // op -> variant -> worker -> {p50, p75, p90}
  std::map<std::string, std::map<std::string, std::map<std::string, Latency>>> prof_;
  std::map<std::string, std::vector<std::string>> op_variants_;  // op -> variants in file order
};

}  // namespace

StatusOr<ImportResult> ImportPrototype(const std::string& dir, const ImportOptions& opts) {
  if (!fs::is_directory(dir)) return Status::NotFound(dir + ": not a directory");
  return Importer(dir, opts).Run();
}

}  // namespace jb
