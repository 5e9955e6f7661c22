// jbctl profile (cli/profile.h, cli/profile_command.cc): on a seeded sample of the docqa data set
// the real models' profiles keep the notes' order by speed and accuracy, with latencies within a
// stated factor and accuracies within the sample's binomial noise; a second hardware class merges
// in without touching the first; bad inputs give errors that name what is wrong.
#include "cli/profile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "api/manifest.h"
#include "api/value.h"
#include "cli/commands.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

const std::string kData = JB_DOCQA_DATA;
const std::string kReference = std::string(JB_SOURCE_DIR) + "/models/docqa/reference";

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

// Rows of an unquoted CSV, header first.
std::vector<std::vector<std::string>> Csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadText(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::istringstream cells(line);
    for (std::string c; std::getline(cells, c, ',');) row.push_back(c);
    rows.push_back(row);
  }
  return rows;
}

// A fresh directory under the test's temp dir.
fs::path TempDir(const std::string& name) {
  fs::path d = fs::path(::testing::TempDir()) / ("jb-profile-test-" + std::to_string(getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Variant ExecVariant(const std::string& name, std::vector<std::string> command) {
  Variant v;
  v.name = name;
  v.runtime = RuntimeSpec{"exec", std::move(command), {{"OMP_THREAD_LIMIT", "1"}}, std::nullopt};
  return v;
}

ModelProfile Profile(const std::string& name, std::vector<Variant> vs) {
  ModelProfile p;
  p.metadata.name = name;
  p.spec.variants = std::move(vs);
  return p;
}

Source DatasetSource(const std::string& name, const std::string& index) {
  Source s;
  s.name = name;
  s.rate = 1;
  s.tier = "local";
  s.type = "dataset";
  s.index = index;
  return s;
}

// The docqa workflow over the built data set (as manifests/docqa/, with absolute paths).
Workflow DocqaWorkflow() {
  Workflow wf;
  wf.metadata.name = "docqa";
  wf.spec.infrastructure = "docqa-local";
  wf.spec.sources = {DatasetSource("ReadDocument", kData + "/documents.jsonl"),
                     DatasetSource("ReadQuestion", kData + "/questions.jsonl")};
  wf.spec.operators = {{"OCR", "docqa-ocr", {{"ReadDocument", 1}}},
                       {"SpeechRecognition", "docqa-asr", {{"ReadQuestion", 1}}},
                       {"AnswerQuestion", "docqa-answer", {{"OCR", 1}, {"SpeechRecognition", 1}}}};
  wf.spec.slo.min_accuracy = 60;
  return wf;
}

std::vector<ModelProfile> DocqaProfiles() {
  std::vector<Variant> ocr, asr;
  for (const char* s : {"0.5", "0.75", "1", "1.5"})
    ocr.push_back(ExecVariant(std::string("tess-eng-x") + s, {JB_DOCQA_OCR, "--scale", s}));
  const std::string gram = kData + "/labels/domain.gram";
  asr.push_back(ExecVariant("ps-grammar-ds3", {JB_DOCQA_ASR, "-jsgf", gram, "-ds", "3"}));
  asr.push_back(ExecVariant("ps-grammar-ds2", {JB_DOCQA_ASR, "-jsgf", gram, "-ds", "2"}));
  asr.push_back(ExecVariant("ps-grammar", {JB_DOCQA_ASR, "-jsgf", gram}));
  return {Profile("docqa-ocr", ocr), Profile("docqa-asr", asr),
          Profile("docqa-answer", {ExecVariant("default", {JB_DOCQA_JOIN})})};
}

// The operators' own labels (document text, question text) as inline-data indices, from labels/.
std::map<std::string, std::string> OperatorLabelIndices(const fs::path& dir) {
  auto docs = ParseYamlStream(ReadText(kData + "/labels/documents.json"));
  std::map<std::string, std::string> doc_text, question_text;
  if (docs.size() == 1 && docs[0].root.is_seq())
    for (const auto& d : docs[0].root.items()) doc_text[d.Find("id")->as_string()] = d.Find("text")->as_string();
  auto qs = Csv(kData + "/labels/questions.csv");
  for (size_t i = 1; i < qs.size(); ++i) question_text[qs[i][0]] = qs[i][3];
  std::string ocr, asr;
  auto items = Csv(kData + "/labels/items.csv");
  for (size_t i = 1; i < items.size(); ++i) {
    const auto& it = items[i];
    auto line = [&](const std::string& label) {
      Value v = Value::Map();
      v.Set("key", Value::String(it[0]));
      v.Set("data", Value::String(""));
      v.Set("label", Value::String(label));
      return ToJson(v) + "\n";
    };
    ocr += line(doc_text[it[2]]);
    asr += line(question_text[it[1]]);
  }
  WriteText(dir / "ocr-labels.jsonl", ocr);
  WriteText(dir / "asr-labels.jsonl", asr);
  return {{"OCR", (dir / "ocr-labels.jsonl").string()}, {"SpeechRecognition", (dir / "asr-labels.jsonl").string()}};
}

// The notes' figure `column` of `variant` (models/docqa/reference/variants.csv).
double Reference(const std::string& variant, const std::string& column) {
  auto rows = Csv(kReference + "/variants.csv");
  const auto col = static_cast<size_t>(std::find(rows[0].begin(), rows[0].end(), column) - rows[0].begin());
  for (const auto& r : rows)
    if (r.size() > col && r[1] == variant && !r[col].empty()) return std::stod(r[col]);
  return NAN;
}

// The notes' own-label accuracy of a variant: "fields" for OCR, "question understood" for ASR.
double ReferenceAccuracy(const profile::VariantResult& v) {
  return Reference(v.variant, v.op == "OCR" ? "field_acc_pct" : "question_acc_pct");
}

// Binomial standard deviation (percentage points) of a share p (%) measured on n items.
double Sigma(double p, size_t n) { return 100 * std::sqrt(p / 100 * (1 - p / 100) / static_cast<double>(n)); }

class ProfileDocqa : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ReadText(kData + "/documents.jsonl").empty()) return;
    dir_ = new fs::path(TempDir("docqa"));
    profile::ProfileOptions o;
    o.hardware = "test-cpu";
    o.items = kItems;
    o.seed = 7;
    o.warmup = 2;
    o.data = OperatorLabelIndices(*dir_);
    auto r = profile::Run(DocqaWorkflow(), DocqaProfiles(), o);
    error_ = new std::string(r.ok() ? "" : r.status().message());
    if (r.ok()) result_ = new profile::ProfileResult(std::move(*r));
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) fs::remove_all(*dir_);
    delete dir_;
    delete result_;
    delete error_;
  }
  void SetUp() override {
    ASSERT_NE(error_, nullptr) << "no data set in " << kData << " (make setup builds it)";
    ASSERT_TRUE(error_->empty()) << *error_;
  }
  static const profile::VariantResult& Of(const std::string& variant) {
    for (const auto& v : result_->variants)
      if (v.variant == variant) return v;
    ADD_FAILURE() << "no result for " << variant;
    return result_->variants.front();
  }

  static constexpr size_t kItems = 24;
  static fs::path* dir_;
  static profile::ProfileResult* result_;
  static std::string* error_;
};
fs::path* ProfileDocqa::dir_ = nullptr;
profile::ProfileResult* ProfileDocqa::result_ = nullptr;
std::string* ProfileDocqa::error_ = nullptr;

const std::vector<std::vector<std::string>> kOrder = {
    {"tess-eng-x0.5", "tess-eng-x0.75", "tess-eng-x1", "tess-eng-x1.5"},
    {"ps-grammar-ds3", "ps-grammar-ds2", "ps-grammar"}};

// Latency: every variant's p50 within x5 of the notes' (either way). The notes pinned each model to
// an idle core; this machine is shared (load 6-10 on 2 cores measured 2.2-3.1x the notes for every
// variant, docs/real-models.md), so x5 leaves room for a busier moment without accepting a wrong
// variant (the fastest and slowest OCR differ by 3.1x, ASR by 1.9x, and a wrong --scale or -ds
// would still land in range: hence the order checks too). Order: a pair the notes separate by
// x1.5 or more keeps its order; closer pairs (x0.75/x1/x1.5, ds3/ds2) may swap under load, which
// the notes' own round-to-round drift (up to 20 % for x1.5) already allows.
TEST_F(ProfileDocqa, SampleLatenciesKeepTheNotesOrderWithinFactorFive) {
  for (const auto& order : kOrder)
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& v = Of(order[i]);
      const double ref = Reference(order[i], "p50_ms");
      EXPECT_LT(v.latency.p50, 5 * ref) << order[i] << " p50 " << v.latency.p50 << " ms, notes " << ref;
      EXPECT_GT(v.latency.p50, ref / 5) << order[i] << " p50 " << v.latency.p50 << " ms, notes " << ref;
      EXPECT_LE(v.latency.p50, *v.latency.p75);
      EXPECT_LE(*v.latency.p75, *v.latency.p90);
      std::printf("%-16s p50 %7.1f ms (notes %6.1f, x%.1f)  accuracy %5.1f %% (%zu/%zu; notes %.1f)\n",
                  order[i].c_str(), v.latency.p50, ref, v.latency.p50 / ref, v.accuracy.value_or(-1), v.correct,
                  v.items, ReferenceAccuracy(v));
      for (size_t j = i + 1; j < order.size(); ++j)
        if (Reference(order[j], "p50_ms") >= 1.5 * ref) {
          EXPECT_LT(v.latency.p50, Of(order[j]).latency.p50) << order[i] << " should be faster than " << order[j];
        }
    }
  EXPECT_GT(Of("tess-eng-x0.5").output_kib, 0);
  EXPECT_LT(Of("tess-eng-x0.5").output_kib, Of("tess-eng-x1.5").output_kib);  // it reads fewer characters
}

// Accuracy: each variant's own-label accuracy within 3 binomial sigmas of the notes' (24 items:
// sigma is 6-10 points), and no pair the notes order is inverted by more than 2 sigmas of the
// difference; pairs the notes separate by 20 points or more are strictly ordered.
TEST_F(ProfileDocqa, SampleAccuraciesWithinBinomialNoiseOfTheNotes) {
  for (const auto& order : kOrder)
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& v = Of(order[i]);
      ASSERT_TRUE(v.accuracy.has_value()) << order[i];
      ASSERT_EQ(v.items, kItems);
      const double ref = ReferenceAccuracy(v);
      EXPECT_NEAR(*v.accuracy, ref, 3 * Sigma(ref, kItems) + 0.5) << order[i];
      for (size_t j = i + 1; j < order.size(); ++j) {
        const auto& w = Of(order[j]);
        const double ref_w = ReferenceAccuracy(w);
        const double sd = std::hypot(Sigma(ref, kItems), Sigma(ref_w, kItems));
        EXPECT_LT(*v.accuracy - *w.accuracy, 2 * sd) << order[i] << " vs " << order[j];
        if (ref_w - ref >= 20) {
          EXPECT_LT(*v.accuracy, *w.accuracy) << order[i] << " vs " << order[j];
        }
      }
    }
  EXPECT_EQ(*Of("default").accuracy, 100);  // the join on the labelled texts
}

// The end-to-end table has every combination, each within 3 sigmas of the notes' table, and the
// composition beside it.
TEST_F(ProfileDocqa, EndToEndTableCoversEveryCombinationNearTheNotes) {
  ASSERT_EQ(result_->table_operators, (std::vector<std::string>{"OCR", "SpeechRecognition", "AnswerQuestion"}));
  ASSERT_EQ(result_->cells.size(), 12u);
  std::map<std::pair<std::string, std::string>, double> notes;
  for (const auto& r : Csv(kReference + "/end_to_end_accuracy.csv"))
    if (r.size() == 3 && r[0] != "OCR") notes[{r[0], r[1]}] = std::stod(r[2]);
  for (const auto& c : result_->cells) {
    ASSERT_EQ(c.variants.size(), 3u);
    const double ref = notes.at({c.variants[0], c.variants[1]});
    EXPECT_NEAR(c.accuracy, ref, 3 * Sigma(ref, kItems) + 0.5) << c.variants[0] << " + " << c.variants[1];
    ASSERT_TRUE(c.composed.has_value());
    EXPECT_NEAR(*c.composed, c.accuracy, 3 * Sigma(ref, kItems) + 0.5);
  }
  // The written Workflow validates with its table, and so do the profiles with the new class.
  auto profiles = profile::UpdateProfiles(DocqaProfiles(), {}, *result_, "test-cpu");
  std::string text = profile::WorkflowYaml(profile::WithAccuracyTable(DocqaWorkflow(), *result_), *result_, "# test\n");
  EXPECT_NE(text.find("composition"), std::string::npos);
  for (const auto& p : profiles) text += "---\n" + ObjectToYaml(p);
  auto docs = DecodeText(text, "generated.yaml");
  ValidateSet(&docs);
  for (const auto& line : FormatDiagnostics(docs)) ADD_FAILURE() << line;
  EXPECT_EQ(docs.size(), 4u);
}

// ---- the command on a tiny workflow: the join alone over inline data (fast) -------------------
struct Tiny {
  fs::path dir;
  std::string manifests;
};

// Two inline sources (question words, document text) joined by jb-docqa-join; `command` replaces
// the join's command when given; labels on the question source unless `labels` is false.
Tiny MakeTiny(const std::string& name, std::vector<std::string> command = {}, bool labels = true) {
  Tiny t{TempDir(name), ""};
  std::string q, d;
  for (int i = 0; i < 6; ++i) {
    const std::string key = "k" + std::to_string(i), value = "V" + std::to_string(i);
    q += "{\"key\": \"" + key + "\", \"data\": \"what is the gate\"" +
         (labels ? ", \"label\": \"" + value + "\"" : "") + "}\n";
    d += "{\"key\": \"" + key + "\", \"data\": \"Gate: " + value + "\\nSeat: 1A\"}\n";
  }
  WriteText(t.dir / "questions.jsonl", q);
  WriteText(t.dir / "documents.jsonl", d);
  Workflow wf;
  wf.metadata.name = "tiny";
  wf.spec.infrastructure = "local";
  wf.spec.sources = {DatasetSource("Q", (t.dir / "questions.jsonl").string()),
                     DatasetSource("D", (t.dir / "documents.jsonl").string())};
  wf.spec.operators = {{"Answer", "tiny-join", {{"Q", 1}, {"D", 1}}}};
  wf.spec.slo.min_accuracy = 50;
  if (command.empty()) command = {JB_DOCQA_JOIN, "--question", "Q", "--document", "D"};
  fs::create_directories(t.dir / "in");
  WriteText(t.dir / "in" / "wf.yaml",
            ObjectToYaml(wf) + "---\n" + ObjectToYaml(Profile("tiny-join", {ExecVariant("default", command)})));
  t.manifests = (t.dir / "in").string();
  return t;
}

int RunCommand(const std::vector<std::string>& args, std::string* out, std::string* err) {
  std::ostringstream o, e;
  int rc = ProfileCommand(args, o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

ModelProfile LoadProfile(const fs::path& file) {
  auto docs = LoadPath(file.string());
  EXPECT_EQ(docs.size(), 1u);
  if (docs.empty() || !docs[0].object) return {};
  return std::get<ModelProfile>(*docs[0].object);
}

TEST(ProfileCommand, SecondHardwareClassMergesInAndKeepsTheFirst) {
  Tiny t = MakeTiny("merge");
  const std::string out_dir = (t.dir / "out").string();
  std::string out, err;
  ASSERT_EQ(RunCommand({"-f", t.manifests, "-o", out_dir, "--hardware", "machine-a"}, &out, &err), 0) << err;
  EXPECT_EQ(err, "");  // no progress line when stderr is not a terminal and --progress is absent
  auto a = LoadProfile(fs::path(out_dir) / "modelprofile-tiny-join.yaml");
  ASSERT_EQ(a.spec.variants.size(), 1u);
  ASSERT_EQ(a.spec.variants[0].latency_ms.count("machine-a"), 1u);
  const Latency first = a.spec.variants[0].latency_ms.at("machine-a");
  ASSERT_EQ(RunCommand({"-f", t.manifests, "-o", out_dir, "--hardware", "machine-b", "--progress"}, &out, &err), 0)
      << err;
  EXPECT_NE(err.find("6/6 requests"), std::string::npos) << err;
  auto b = LoadProfile(fs::path(out_dir) / "modelprofile-tiny-join.yaml");
  ASSERT_EQ(b.spec.variants.size(), 1u);
  EXPECT_EQ(b.spec.variants[0].latency_ms.size(), 2u);
  EXPECT_EQ(b.spec.variants[0].latency_ms.at("machine-a"), first);  // untouched
  EXPECT_EQ(b.spec.variants[0].latency_ms.count("machine-b"), 1u);
  // The workflow file carries the table: the join answers every item right.
  auto docs = LoadPath((fs::path(out_dir) / "workflow-tiny.yaml").string());
  ASSERT_EQ(docs.size(), 1u);
  const auto& wf = std::get<Workflow>(*docs[0].object);
  ASSERT_TRUE(wf.spec.accuracy.table.has_value());
  ASSERT_EQ(wf.spec.accuracy.table->entries.size(), 1u);
  EXPECT_EQ(wf.spec.accuracy.table->entries[0].accuracy, 100);
  fs::remove_all(t.dir);
}

TEST(ProfileCommand, MissingDataFileIsAClearError) {
  Tiny t = MakeTiny("missing");
  std::string out, err;
  const std::string missing = (t.dir / "nope.jsonl").string();
  EXPECT_EQ(RunCommand({"-f", t.manifests, "-o", (t.dir / "out").string(), "--data", "Q=" + missing}, &out, &err), 1);
  EXPECT_NE(err.find("dataset index " + missing + " cannot be opened"), std::string::npos) << err;
  // A file an index names that is not there: the source, the item and the path.
  WriteText(t.dir / "files.jsonl", "{\"key\": \"k0\", \"file\": \"gone.wav\", \"label\": \"V0\"}\n");
  EXPECT_EQ(
      RunCommand({"-f", t.manifests, "-o", (t.dir / "out").string(), "--data", "Q=" + (t.dir / "files.jsonl").string()},
                 &out, &err),
      1);
  EXPECT_NE(err.find("source \"Q\", item \"k0\": "), std::string::npos) << err;
  EXPECT_NE(err.find("gone.wav cannot be read"), std::string::npos) << err;
  // --data for a name the workflow does not have.
  EXPECT_EQ(RunCommand({"-f", t.manifests, "-o", (t.dir / "out").string(), "--data", "Nope=" + missing}, &out, &err),
            1);
  EXPECT_NE(err.find("no source or operator \"Nope\""), std::string::npos) << err;
  fs::remove_all(t.dir);
}

TEST(ProfileCommand, VariantWhoseCommandFailsIsAClearError) {
  Tiny t = MakeTiny("fails", {"/bin/sh", "-c", "echo model weights missing >&2; exit 7"});
  std::string out, err;
  EXPECT_EQ(RunCommand({"-f", t.manifests, "-o", (t.dir / "out").string()}, &out, &err), 1);
  EXPECT_NE(err.find("Answer/default"), std::string::npos) << err;
  EXPECT_NE(err.find("exited with code 7"), std::string::npos) << err;
  EXPECT_NE(err.find("model weights missing"), std::string::npos) << err;
  fs::remove_all(t.dir);
  Tiny u = MakeTiny("nocommand", {"/nonexistent/jb-model"});
  EXPECT_EQ(RunCommand({"-f", u.manifests, "-o", (u.dir / "out").string()}, &out, &err), 1);
  EXPECT_NE(err.find("cannot start model process \"/nonexistent/jb-model\""), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(u.dir / "out"));
  fs::remove_all(u.dir);
}

TEST(ProfileCommand, LabellessSetIsAClearError) {
  Tiny t = MakeTiny("nolabels", {}, /*labels=*/false);
  std::string out, err;
  EXPECT_EQ(RunCommand({"-f", t.manifests, "-o", (t.dir / "out").string()}, &out, &err), 1);
  EXPECT_NE(err.find("the data has no labels"), std::string::npos) << err;
  fs::remove_all(t.dir);
}

// The index is read by ingress::Dataset (tests/ingress/dataset_test.cc has its rules); its
// "PATH:LINE: ..." errors reach the user as they are.
TEST(ProfileIndex, MalformedLinesNameFileAndLine) {
  Tiny t = MakeTiny("index");
  std::string out, err;
  auto run = [&](const std::string& index) {
    return RunCommand({"-f", t.manifests, "-o", (t.dir / "out").string(), "--data", "Q=" + index}, &out, &err);
  };
  WriteText(t.dir / "a.jsonl", "{\"key\": \"a\", \"data\": \"x\"}\n\n{\"key\": \"b\", \"file\": \"../etc/passwd\"}\n");
  EXPECT_EQ(run((t.dir / "a.jsonl").string()), 1);
  EXPECT_NE(err.find("a.jsonl:3: item 'b'"), std::string::npos) << err;
  WriteText(t.dir / "b.jsonl", "{\"key\": \"a\", \"data\": \"x\", \"label\": 4}\n{\"key\": \"a\", \"data\": \"y\"}\n");
  EXPECT_EQ(run((t.dir / "b.jsonl").string()), 1);
  EXPECT_NE(err.find("b.jsonl:2: key 'a' appears twice"), std::string::npos) << err;
  fs::remove_all(t.dir);
  EXPECT_EQ(profile::Quantile({1, 2, 3, 4, 5}, 0.75), 4);
}

}  // namespace
}  // namespace jb

namespace jb {
namespace {

// The api hunk for dataset sources: `type: dataset` needs an `index`, and only it may have one.
TEST(ProfileManifests, DatasetSourceNeedsAnIndexAndOnlyItHasOne) {
  auto check = [](const std::string& extra) {
    std::string text =
        "apiVersion: jellybean.dev/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n"
        "  infrastructure: i\n  sources:\n  - {name: s, rate: 1, tier: t, itemSizeKiB: 1" +
        extra +
        "}\n"
        "  operators:\n  - {name: o, profile: p, inputs: [{from: s}]}\n  slo: {minAccuracy: 0}\n";
    auto docs = DecodeText(text, "w.yaml");
    ValidateSet(&docs);
    std::string all;
    for (const auto& line : FormatDiagnostics(docs)) all += line + "\n";
    return all;
  };
  EXPECT_EQ(check(", type: dataset, index: data/items.jsonl"), "");
  EXPECT_EQ(check(""), "");
  EXPECT_NE(check(", type: dataset").find("spec.sources[0].index: is missing"), std::string::npos)
      << check(", type: dataset");
  EXPECT_NE(check(", index: x.jsonl").find("is only for a source of type dataset"), std::string::npos);
  EXPECT_NE(check(", type: camera").find("spec.sources[0].type"), std::string::npos);
}

}  // namespace
}  // namespace jb
