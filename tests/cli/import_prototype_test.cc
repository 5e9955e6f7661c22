// The generated manifests/vqa/ must reproduce every number of the VQA dataset. The dataset is
// parsed here with its own small CSV reader, independently of the importer.
#include "cli/import_prototype.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/manifest.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

const std::string kData = std::string(JB_SOURCE_DIR) + "/tests/data/vqa-medium";

std::vector<std::vector<std::string>> Csv(const std::string& file) {
  std::ifstream in(kData + "/" + file);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    size_t start = 0;
    while (true) {
      size_t c = line.find(',', start);
      cells.push_back(line.substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    rows.push_back(cells);
  }
  return rows;
}

struct Vqa {
  Workflow wf;
  Infrastructure inf;
  std::map<std::string, ModelProfile> profiles;
};

Vqa LoadManifests() {
  Vqa v;
  for (auto& d : LoadPath(std::string(JB_SOURCE_DIR) + "/manifests/vqa")) {
    EXPECT_TRUE(d.ok());
    if (auto* w = std::get_if<Workflow>(&*d.object)) v.wf = *w;
    if (auto* i = std::get_if<Infrastructure>(&*d.object)) v.inf = *i;
    if (auto* m = std::get_if<ModelProfile>(&*d.object)) v.profiles[m->metadata.name] = *m;
  }
  return v;
}

const Variant* FindVariant(const Vqa& v, const std::string& op, const std::string& variant) {
  for (const auto& o : v.wf.spec.operators)
    if (o.name == op)
      for (const auto& var : v.profiles.at(o.profile).spec.variants)
        if (var.name == variant) return &var;
  return nullptr;
}

TEST(ImportPrototype, ManifestsReproduceEveryNumberOfTheDataset) {
  Vqa v = LoadManifests();
  // Rates and source sizes.
  for (const auto& r : Csv("input_injection_rates.csv")) {
    bool found = false;
    for (const auto& s : v.wf.spec.sources)
      if (s.name == r[0]) {
        found = true;
        EXPECT_EQ(s.rate, std::stod(r[1]));
        EXPECT_EQ(s.tier, "edge");
      }
    EXPECT_TRUE(found) << r[0];
  }
  int sizes = 0;
  for (const auto& r : Csv("message_sizes.csv")) {
    double kib = std::stod(r[4]);
    bool source = false;
    for (const auto& s : v.wf.spec.sources)
      if (s.name == r[0]) {
        source = true;
        EXPECT_EQ(s.item_size_kib, kib) << r[0];
      }
    if (!source) {
      if (r[2] == "default") {
        for (const auto& o : v.wf.spec.operators) {
          if (o.name != r[0]) continue;
          for (const auto& var : v.profiles.at(o.profile).spec.variants) EXPECT_EQ(var.output_size_kib, kib);
        }
      } else {
        const Variant* var = FindVariant(v, r[0], r[2]);
        ASSERT_NE(var, nullptr) << r[2];
        EXPECT_EQ(var->output_size_kib, kib);
      }
    }
    ++sizes;
  }
  EXPECT_EQ(sizes, 8);
  // Workers: price and tier.
  auto workers = Csv("workers.csv");
  EXPECT_EQ(workers.size(), v.inf.spec.nodes.size());
  for (const auto& r : workers) {
    bool found = false;
    for (const auto& n : v.inf.spec.nodes)
      if (n.name == r[0]) {
        found = true;
        EXPECT_EQ(n.price_per_hour, std::stod(r[2]));
        EXPECT_EQ(n.tier, r[1] == "0" ? "edge" : "cloud");
      }
    EXPECT_TRUE(found) << r[0];
  }
  // Latencies of all three percentiles, every operator x worker x variant.
  int latencies = 0;
  for (const auto& [file, pct] :
       std::vector<std::pair<std::string, std::string>>{{"execution_profile_p50.csv", "p50"},
                                                        {"execution_profile_p75.csv", "p75"},
                                                        {"execution_profile_p90.csv", "p90"}}) {
    for (const auto& r : Csv(file)) {
      const Variant* var = FindVariant(v, r[0], r[2]);
      ASSERT_NE(var, nullptr) << r[0] << "/" << r[2];
      auto it = var->latency_ms.find(r[1]);
      ASSERT_NE(it, var->latency_ms.end()) << r[1];
      double want = std::stod(r[3]);
      double got = pct == "p50"   ? it->second.p50
                   : pct == "p75" ? it->second.p75.value_or(-1)
                                  : it->second.p90.value_or(-1);
      EXPECT_EQ(got, want) << r[0] << " " << r[1] << " " << r[2] << " " << pct;
      ++latencies;
    }
  }
  EXPECT_EQ(latencies, 3 * 72);
  // Link costs x 0.1: edge->cloud 1.0 -> 0.1, cloud->edge 10.0 -> 1.0.
  ASSERT_EQ(v.inf.spec.links.size(), 2u);
  for (const auto& l : v.inf.spec.links) {
    if (l.from == "edge")
      EXPECT_DOUBLE_EQ(l.cost_per_gib, 1.0 * 0.1);
    else
      EXPECT_DOUBLE_EQ(l.cost_per_gib, 10.0 * 0.1);
  }
  for (const auto& r : Csv("worker_links.csv")) {
    std::string from_tier, to_tier;
    for (const auto& n : v.inf.spec.nodes) {
      if (n.name == r[0]) from_tier = n.tier;
      if (n.name == r[1]) to_tier = n.tier;
    }
    for (const auto& l : v.inf.spec.links) {
      if (l.from == from_tier && l.to == to_tier) {
        EXPECT_DOUBLE_EQ(l.cost_per_gib, std::stod(r[2]) * 0.1);
      }
    }
  }
  // Accuracy table and threshold.
  ASSERT_TRUE(v.wf.spec.accuracy.table.has_value());
  const auto& t = *v.wf.spec.accuracy.table;
  auto acc = Csv("end_to_end_accuracy.csv");
  ASSERT_EQ(t.entries.size(), acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    EXPECT_EQ(t.entries[i].variants, (std::vector<std::string>{acc[i][0], acc[i][1]}));
    EXPECT_EQ(t.entries[i].accuracy, std::stod(acc[i][2]));
  }
  EXPECT_EQ(v.wf.spec.slo.min_accuracy, 56.0);
  EXPECT_EQ(v.wf.spec.options.percentile, "p75");
}

TEST(ImportPrototype, GeneratedManifestsAreUpToDate) {
  testing::TempDir out;
  auto r =
      testing::Run(testing::Jbctl() + " import jellybean-prototype tests/data/vqa-medium -o " + out.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"infrastructure.yaml", "modelprofiles.yaml", "workflow.yaml"}) {
    std::string got = testing::ReadFile(out.path() / f);
    std::string want = testing::ReadFile(std::string(JB_SOURCE_DIR) + "/manifests/vqa/" + f);
    EXPECT_EQ(got, want) << f << " differs: regenerate manifests/vqa with jbctl import";
  }
}

// The prototype's own folder has header-less CSVs, workers.csv without a tier column plus
// workers_partition.json, and execution_profile.csv as the only profile.
TEST(ImportPrototype, AcceptsTheHeaderlessPrototypeFormat) {
  testing::TempDir dir;
  for (const auto& e : fs::directory_iterator(kData)) {
    std::string name = e.path().filename().string();
    if (e.path().extension() == ".csv") {
      std::ifstream in(e.path());
      std::ofstream out(dir.path() / name);
      std::string line;
      std::getline(in, line);  // drop header
      while (std::getline(in, line)) {
        if (name == "workers.csv") {  // worker,tier,cost -> worker,cost
          auto a = line.find(','), b = line.find(',', a + 1);
          line = line.substr(0, a) + line.substr(b);
        }
        out << line << "\n";
      }
    } else if (name == "tiers.json") {
      fs::copy_file(e.path(), dir.path() / "workers_partition.json");
    } else if (name != "end_to_end_accuracy.csv") {
      fs::copy_file(e.path(), dir.path() / name);
    }
  }
  ImportOptions opts;
  opts.infrastructure_name = "vqa-medium";
  auto got = ImportPrototype(dir.path().string(), opts);
  ASSERT_TRUE(got.ok()) << got.status().message();
  auto want = ImportPrototype(kData, ImportOptions{});
  ASSERT_TRUE(want.ok()) << want.status().message();
  EXPECT_TRUE(got->infrastructure == want->infrastructure);
  EXPECT_TRUE(got->workflow == want->workflow);
  ASSERT_EQ(got->profiles.size(), want->profiles.size());
  for (size_t i = 0; i < got->profiles.size(); ++i) EXPECT_TRUE(got->profiles[i] == want->profiles[i]);
}

TEST(ImportPrototype, ErrorsNameTheFileAndLine) {
  testing::TempDir dir;
  fs::copy(kData, dir.path(), fs::copy_options::recursive);
  fs::permissions(dir.path() / "input_injection_rates.csv", fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(dir.path() / "input_injection_rates.csv") << "source,rate_items_per_s\nReadImage,forty\n";
  auto r = ImportPrototype(dir.path().string(), ImportOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("input_injection_rates.csv:2: \"forty\" is not a number"), std::string::npos)
      << r.status().message();
  fs::remove(dir.path() / "accuracy_profiles.json");
  fs::remove(dir.path() / "end_to_end_accuracy.csv");
  std::ofstream(dir.path() / "input_injection_rates.csv") << "ReadImage,40\nReadSpeech,40\n";
  std::ofstream(dir.path() / "nodes_accuracy_profiles.pkl") << "pickle";
  r = ImportPrototype(dir.path().string(), ImportOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("pickle"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace jb
