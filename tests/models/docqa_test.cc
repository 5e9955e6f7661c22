// The docqa models (models/docqa/) as exec processes over framing v2, on the labelled data set:
// every variant's accuracy and every pair's end-to-end accuracy equal the measured reference
// (models/docqa/reference/, docs/real-models.md: the models are deterministic), the join answers
// from two named parts, and malformed frames get error answers, not crashes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "api/value.h"
#include "models/docqa/qa.h"
#include "tests/models/model_process.h"

namespace jb {
namespace {

using modeltest::ModelProcess;
using std::chrono::duration;
using Clock = std::chrono::steady_clock;

const std::string kData = JB_DOCQA_DATA;
const std::string kReference = std::string(JB_SOURCE_DIR) + "/models/docqa/reference";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Rows of a CSV without quoting (the label and reference files), header first.
std::vector<std::vector<std::string>> Csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::istringstream cells(line);
    for (std::string c; std::getline(cells, c, ',');) row.push_back(c);
    if (!line.empty() && line.back() == ',') row.emplace_back();
    rows.push_back(row);
  }
  return rows;
}

struct Doc {
  std::string id, file, text;
  std::vector<std::pair<std::string, std::string>> fields;
};
struct Question {
  std::string id, text, file;
};
struct Item {
  std::string id, question, doc, answer;
};
struct Labels {
  std::vector<Doc> docs;
  std::vector<Question> questions;
  std::vector<Item> items;
  std::string error;
};

Labels LoadLabels() {
  Labels l;
  auto parsed = ParseYamlStream(ReadFile(kData + "/labels/documents.json"));
  if (parsed.size() != 1 || !parsed[0].error.ok() || !parsed[0].root.is_seq()) {
    l.error = "cannot read " + kData + "/labels/documents.json (make setup builds the data set)";
    return l;
  }
  for (const auto& d : parsed[0].root.items()) {
    Doc doc{d.Find("id")->as_string(), d.Find("file")->as_string(), d.Find("text")->as_string(), {}};
    for (const auto& f : d.Find("fields")->items())
      doc.fields.emplace_back(f.Find("key")->as_string(), f.Find("value")->as_string());
    l.docs.push_back(doc);
  }
  auto qs = Csv(kData + "/labels/questions.csv");
  for (size_t i = 1; i < qs.size(); ++i) l.questions.push_back({qs[i][0], qs[i][3], qs[i][4]});
  auto items = Csv(kData + "/labels/items.csv");
  for (size_t i = 1; i < items.size(); ++i) l.items.push_back({items[i][0], items[i][1], items[i][2], items[i][3]});
  return l;
}

struct Variant {
  std::string name, op;  // op: "OCR" or "SpeechRecognition"
  std::vector<std::string> argv;
};

std::vector<Variant> Variants() {
  std::vector<Variant> v;
  for (const char* s : {"0.5", "0.75", "1", "1.5"})
    v.push_back({std::string("tess-eng-x") + s, "OCR", {JB_DOCQA_OCR, "--scale", s}});
  const std::string gram = kData + "/labels/domain.gram";
  v.push_back({"ps-grammar-ds3", "SpeechRecognition", {JB_DOCQA_ASR, "-jsgf", gram, "-ds", "3"}});
  v.push_back({"ps-grammar-ds2", "SpeechRecognition", {JB_DOCQA_ASR, "-jsgf", gram, "-ds", "2"}});
  v.push_back({"ps-grammar", "SpeechRecognition", {JB_DOCQA_ASR, "-jsgf", gram}});
  return v;
}

struct VariantRun {
  std::map<std::string, std::string> out;  // doc or question id -> output
  std::vector<double> ms;                  // per-item round trip
  double startup_ms = 0;
};

double Quantile(std::vector<double> xs, double q) {
  std::sort(xs.begin(), xs.end());
  const double pos = q * static_cast<double>(xs.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, xs.size() - 1);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - static_cast<double>(lo));
}

// Every variant over every document or question, once each after one untimed warm-up item, one
// variant at a time (about 12 s of model time on an idle 2-core machine), then the checks.
class Docqa : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    labels_ = new Labels(LoadLabels());
    runs_ = new std::map<std::string, VariantRun>();
    if (!labels_->error.empty()) return;
    for (const auto& v : Variants()) {
      std::vector<std::pair<std::string, std::string>> inputs;  // id -> file
      if (v.op == "OCR")
        for (const auto& d : labels_->docs) inputs.emplace_back(d.id, d.file);
      else
        for (const auto& q : labels_->questions) inputs.emplace_back(q.id, q.file);
      const std::string part = v.op == "OCR" ? "ReadDocument" : "ReadQuestion";
      VariantRun& run = (*runs_)[v.name];
      auto t0 = Clock::now();
      ModelProcess p(v.argv);
      if (p.Hello().find("\"ready\":true") == std::string::npos) continue;
      run.startup_ms = duration<double, std::milli>(Clock::now() - t0).count();
      p.Call({"warm-up", {{part, ReadFile(kData + "/" + inputs[0].second)}}}).reset();
      for (const auto& [id, file] : inputs) {
        exec::Request req{id, {{part, ReadFile(kData + "/" + file)}}};
        auto t = Clock::now();
        auto r = p.Call(req);
        run.ms.push_back(duration<double, std::milli>(Clock::now() - t).count());
        if (r && r->ok && r->key == id) run.out[id] = r->data;
      }
      p.CloseInput();
      if (p.Wait() != 0) run.out.clear();  // a clean exit at end of input is part of the contract
    }
  }
  static void TearDownTestSuite() {
    delete labels_;
    delete runs_;
  }
  void SetUp() override { ASSERT_TRUE(labels_->error.empty()) << labels_->error; }

  // The reference figure `column` of a variant (models/docqa/reference/variants.csv).
  static double Reference(const std::string& variant, const std::string& column) {
    auto rows = Csv(kReference + "/variants.csv");
    const auto col = std::find(rows[0].begin(), rows[0].end(), column) - rows[0].begin();
    for (const auto& r : rows)
      if (r.size() > static_cast<size_t>(col) && r[1] == variant) return std::stod(r[static_cast<size_t>(col)]);
    return NAN;
  }
  const VariantRun& RunOf(const std::string& v) { return (*runs_)[v]; }
  void EachOcrScaleReadsTheFieldsTheNotesMeasured();
  void EachAsrSettingUnderstandsTheQuestionsTheNotesMeasured();
  void JoinProcessReproducesTheEndToEndTable();
  void LatencyBesideTheNotes();

  static Labels* labels_;
  static std::map<std::string, VariantRun>* runs_;
};
Labels* Docqa::labels_ = nullptr;
std::map<std::string, VariantRun>* Docqa::runs_ = nullptr;

void Docqa::EachOcrScaleReadsTheFieldsTheNotesMeasured() {
  for (const auto& v : Variants()) {
    if (v.op != "OCR") continue;
    const VariantRun& run = RunOf(v.name);
    ASSERT_EQ(run.out.size(), labels_->docs.size()) << v.name << ": a document got no answer";
    int ok = 0, n = 0;
    for (const auto& d : labels_->docs)
      for (const auto& [key, value] : d.fields) {
        ok += docqa::Normalise(docqa::Answer(key, run.out.at(d.id))) == docqa::Normalise(value);
        ++n;
      }
    const double want = Reference(v.name, "field_acc_pct");
    EXPECT_EQ(ok, static_cast<int>(std::lround(want * n / 100)))
        << v.name << ": fields read " << ok << "/" << n << ", the notes measured " << want << " %";
  }
}

void Docqa::EachAsrSettingUnderstandsTheQuestionsTheNotesMeasured() {
  std::map<std::string, const Doc*> docs;
  for (const auto& d : labels_->docs) docs[d.id] = &d;
  for (const auto& v : Variants()) {
    if (v.op != "SpeechRecognition") continue;
    const VariantRun& run = RunOf(v.name);
    ASSERT_EQ(run.out.size(), labels_->questions.size()) << v.name << ": a question got no answer";
    int ok = 0;
    for (const auto& it : labels_->items)
      ok += docqa::Normalise(docqa::Answer(run.out.at(it.question), docs[it.doc]->text)) == docqa::Normalise(it.answer);
    const double want = Reference(v.name, "question_acc_pct");
    const auto n = static_cast<double>(labels_->items.size());
    EXPECT_EQ(ok, static_cast<int>(std::lround(want * n / 100))) << v.name << ": " << ok << " understood";
  }
}

// The join process over all 288 items of every (OCR, ASR) pair, fed the two models' outputs as
// two named parts: the end-to-end table of the notes, cell for cell.
void Docqa::JoinProcessReproducesTheEndToEndTable() {
  ModelProcess join({JB_DOCQA_JOIN});
  ASSERT_NE(join.Hello().find("qa-join"), std::string::npos);
  auto table = Csv(kReference + "/end_to_end_accuracy.csv");
  int cells = 0;
  for (size_t i = 1; i < table.size(); ++i) {
    const std::string &ocr = table[i][0], &asr = table[i][1];
    if (!runs_->count(ocr) || !runs_->count(asr)) continue;  // a dominated variant this suite skips
    const VariantRun &o = RunOf(ocr), &a = RunOf(asr);
    ASSERT_FALSE(o.out.empty() || a.out.empty()) << ocr << " or " << asr << " did not run";
    int ok = 0, sent = 0;
    for (const auto& it : labels_->items) {
      // Parts in either order: the join reads them by name.
      exec::Request req{it.id, {{"SpeechRecognition", a.out.at(it.question)}, {"OCR", o.out.at(it.doc)}}};
      if (++sent % 2 == 0) std::swap(req.parts[0], req.parts[1]);
      auto r = join.Call(req);
      ASSERT_TRUE(r && r->ok && r->key == it.id) << it.id;
      ok += docqa::Normalise(r->data) == docqa::Normalise(it.answer);
    }
    const double want = std::stod(table[i][2]);
    const auto n = static_cast<double>(labels_->items.size());
    EXPECT_EQ(ok, static_cast<int>(std::lround(want * n / 100))) << ocr << " + " << asr;
    ++cells;
  }
  EXPECT_EQ(cells, 12);
  join.CloseInput();
  EXPECT_EQ(join.Wait(), 0);
}

// Measured here beside the notes' table (printed; the notes pinned each model to one idle core,
// this suite shares the machine, so only the order of the extremes is checked).
void Docqa::LatencyBesideTheNotes() {
  std::printf("%-16s %8s %8s %8s   %s\n", "variant", "p50 ms", "p75 ms", "p90 ms",
              "notes p50/p75/p90 ms, start-up ms here");
  for (const auto& v : Variants()) {
    const VariantRun& run = RunOf(v.name);
    ASSERT_FALSE(run.ms.empty()) << v.name;
    std::printf("%-16s %8.1f %8.1f %8.1f   %.1f/%.1f/%.1f, %.0f\n", v.name.c_str(), Quantile(run.ms, .5),
                Quantile(run.ms, .75), Quantile(run.ms, .9), Reference(v.name, "p50_ms"), Reference(v.name, "p75_ms"),
                Reference(v.name, "p90_ms"), run.startup_ms);
  }
  EXPECT_LT(Quantile(RunOf("tess-eng-x0.5").ms, .5), Quantile(RunOf("tess-eng-x1.5").ms, .5));
}

// One test, so that ctest (a process per test) runs the models over the data set once.
TEST_F(Docqa, VariantsAndPairsMatchTheNotesMeasurements) {
  EachOcrScaleReadsTheFieldsTheNotesMeasured();
  EachAsrSettingUnderstandsTheQuestionsTheNotesMeasured();
  JoinProcessReproducesTheEndToEndTable();
  LatencyBesideTheNotes();
}

std::string Jpeg(const std::string& id) { return ReadFile(kData + "/docs/" + id + ".jpg"); }

TEST(DocqaJoin, AnswersFromTwoNamedParts) {
  ModelProcess join({JB_DOCQA_JOIN});
  ASSERT_NE(join.Hello().find("\"ready\":true"), std::string::npos);
  auto r =
      join.Call({"q1", {{"OCR", "BOARDING PASS\nGate; E3\nSeat: 9E\n"}, {"SpeechRecognition", "what is the gate"}}});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->key, "q1");
  EXPECT_EQ(r->data, "E3");
  auto none = join.Call({"q2", {{"OCR", "Seat: 9E"}, {"SpeechRecognition", "what is the gate"}}});
  ASSERT_TRUE(none && none->ok);
  EXPECT_EQ(none->data, "");
  auto missing = join.Call({"q3", {{"OCR", "Seat: 9E"}}});
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->ok);
  EXPECT_EQ(missing->key, "q3");
  EXPECT_NE(missing->data.find("SpeechRecognition"), std::string::npos) << missing->data;
}

// Regression guard for the model-side loop: each malformed frame costs one error answer, the
// process goes on answering, and only a stream without the magic ends it (exit 3).
TEST(DocqaModels, MalformedFramesGetErrorAnswersNotACrash) {
  ModelProcess join({JB_DOCQA_JOIN});
  ASSERT_NE(join.Hello().find("qa-join"), std::string::npos);
  std::string good;
  ASSERT_TRUE(exec::EncodeRequest({"k", {{"OCR", "Gate: A1"}, {"SpeechRecognition", "gate"}}}, {}, &good).ok());
  std::string truncated = good.substr(0, good.size() - 3);  // the header claims 3 more bytes: fix it
  truncated[4] = static_cast<char>(truncated[4] - 3);
  std::string oversize("JBX\x02\x00\x00\x01\x01", 8);  // a body of 16 MiB + 64 KiB
  oversize += std::string((16u << 20) + (64u << 10), 'x');
  std::string version3("JBX\x03\x02\x00\x00\x00zz", 10);
  std::string answer_type;
  ASSERT_TRUE(exec::EncodeResponse({"k", true, "x"}, {}, &answer_type).ok());
  for (const std::string* bad : {&truncated, &oversize, &version3, &answer_type}) {
    ASSERT_TRUE(join.Send(*bad));
    auto f = join.Read();
    ASSERT_TRUE(f) << "no answer to a malformed frame";
    auto r = exec::DecodeResponseBody(f->body, {});
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_FALSE(r->data.empty());
    auto after = join.Call({"next", {{"OCR", "Gate: A1"}, {"SpeechRecognition", "what is the gate"}}});
    ASSERT_TRUE(after && after->ok) << "the process stopped answering after: " << r->data;
    EXPECT_EQ(after->data, "A1");
  }
  ASSERT_TRUE(join.Send(std::string("NOPE\x00\x00\x00\x00", 8)));
  auto lost = join.Read();
  ASSERT_TRUE(lost);
  EXPECT_FALSE(exec::DecodeResponseBody(lost->body, {})->ok);
  EXPECT_EQ(join.Wait(), 3);
}

TEST(DocqaModels, OcrAndAsrAnswerErrorsForInputsTheyCannotRead) {
  ModelProcess ocr({JB_DOCQA_OCR});
  ASSERT_NE(ocr.Hello().find("tesseract-eng"), std::string::npos);
  auto bad = ocr.Call({"d", {{"ReadDocument", "not an image"}}});
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->ok);
  auto two = ocr.Call({"d", {{"A", Jpeg("d00")}, {"B", Jpeg("d01")}}});
  ASSERT_TRUE(two);
  EXPECT_FALSE(two->ok) << "two parts and none named ReadDocument";
  auto good = ocr.Call({"d00", {{"ReadDocument", Jpeg("d00")}}});
  ASSERT_TRUE(good && good->ok);
  EXPECT_NE(good->data.find("Passenger: Lucas Lindqvist"), std::string::npos) << good->data;
  ModelProcess asr({JB_DOCQA_ASR, "-jsgf", kData + "/labels/domain.gram"});
  ASSERT_NE(asr.Hello().find("pocketsphinx"), std::string::npos);
  auto q = asr.Call({"q00", {{"ReadQuestion", ReadFile(kData + "/audio/q00.wav")}}});
  ASSERT_TRUE(q && q->ok);
  EXPECT_EQ(q->data, "tell me the order number");
  auto empty = asr.Call({"e", {{"ReadQuestion", ""}}});  // no samples: an empty hypothesis
  ASSERT_TRUE(empty && empty->ok);
}

// The exec runtime's v1 framing (a bare length and the payload) is still served: the same model
// binary answers a worker that has not moved to v2.
TEST(DocqaModels, V1FramingStillServed) {
  ModelProcess ocr({JB_DOCQA_OCR}, {}, {}, exec::Framing::kV1);
  std::string req;
  ASSERT_TRUE(exec::EncodeV1(Jpeg("d00"), {}, &req).ok());
  ASSERT_TRUE(ocr.Send(req));
  auto f = ocr.Read(std::chrono::seconds(60));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version, 1);
  EXPECT_NE(f->body.find("Passenger: Lucas Lindqvist"), std::string::npos) << f->body;
  ocr.CloseInput();
  EXPECT_EQ(ocr.Wait(), 0);
}

// The dataset-source indices list every item once for each source, with its key and label, both
// in the same order, and that order is not items.csv's (question by question, hardest first): it is
// shuffled so that the first answers a replay scores are a sample of the whole set.
TEST(DocqaData, IndicesListEveryItemForBothSourcesInOneShuffledOrder) {
  auto items = Csv(kData + "/labels/items.csv");
  ASSERT_EQ(items.size(), 289u);  // header + 288 items
  std::map<std::string, const std::vector<std::string>*> by_key;
  for (size_t i = 1; i < items.size(); ++i) by_key[items[i][0]] = &items[i];
  std::vector<std::vector<std::string>> orders;
  for (const char* index : {"documents.jsonl", "questions.jsonl"}) {
    std::istringstream in(ReadFile(kData + "/" + index));
    std::vector<std::string> keys;
    for (std::string line; std::getline(in, line) && keys.size() <= by_key.size();) {
      const size_t at = line.find("\"key\": \"");
      ASSERT_NE(at, std::string::npos) << index << ": " << line;
      const std::string key = line.substr(at + 8, line.find('"', at + 8) - (at + 8));
      ASSERT_TRUE(by_key.count(key)) << index << ": unknown key in " << line;
      const auto& it = *by_key[key];
      EXPECT_NE(line.find("\"label\": \"" + it[3] + "\""), std::string::npos) << index << ": " << line;
      const std::string file =
          std::string(index) == "documents.jsonl" ? "docs/" + it[2] + ".jpg" : "audio/" + it[1] + ".wav";
      EXPECT_NE(line.find("\"file\": \"" + file + "\""), std::string::npos) << index << ": " << line;
      keys.push_back(key);
    }
    EXPECT_EQ(keys.size(), 288u) << index;
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 288u) << index << ": a key twice";
    orders.push_back(keys);
  }
  EXPECT_EQ(orders[0], orders[1]) << "the two sources replay their parts in different orders";
  size_t in_place = 0;
  for (size_t i = 0; i < orders[0].size(); ++i) in_place += orders[0][i] == items[i + 1][0];
  EXPECT_LT(in_place, 20u) << "the indices keep items.csv's order";
}

std::string EnvironOf(pid_t pid) {
  std::string env = ReadFile("/proc/" + std::to_string(pid) + "/environ");
  std::replace(env.begin(), env.end(), '\0', '\n');
  return "\n" + env;
}

// Without OMP_THREAD_LIMIT, tesseract's OpenMP makes one image 5-7x slower on a shared 2-core
// machine (docs/real-models.md): the OCR process sets it itself, and keeps a value it is given.
TEST(DocqaModels, OcrProcessBoundsOpenMpWhenTheEnvironmentDoesNot) {
  ModelProcess unset({JB_DOCQA_OCR}, {"OMP_THREAD_LIMIT"});
  ASSERT_NE(unset.Hello().find("\"ready\":true"), std::string::npos);
  EXPECT_NE(EnvironOf(unset.pid()).find("\nOMP_THREAD_LIMIT=1\n"), std::string::npos);
  ModelProcess given({JB_DOCQA_OCR}, {"OMP_THREAD_LIMIT"}, {"OMP_THREAD_LIMIT=2"});
  ASSERT_NE(given.Hello().find("\"ready\":true"), std::string::npos);
  EXPECT_NE(EnvironOf(given.pid()).find("\nOMP_THREAD_LIMIT=2\n"), std::string::npos);
}

}  // namespace
}  // namespace jb
