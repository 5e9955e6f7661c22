// Sources: the absolute schedule and limit, and the sequence reservation's contract (no seq is
// used unless reserved on disk, so a restarted source worker continues above its predecessor).
#include "worker/source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "testing/util.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

WorkerInstance Src(double rate, int64_t limit) {
  WorkerInstance in;
  in.kind = "source";
  in.name = "cam";
  in.rate = rate;
  in.limit = limit;
  in.item_kib = 1;
  return in;
}

TEST(Source, EmitsOnAnAbsoluteScheduleUpToItsLimit) {
  auto t0 = std::chrono::steady_clock::time_point(100s);
  auto s = Source::Create(Src(10, 3), t0);
  ASSERT_TRUE(s.ok());
  (*s)->SetFirstSeq(41);
  EXPECT_EQ((*s)->NextDue(), t0);
  wire::Item a = (*s)->Next(0, 123);
  EXPECT_EQ(a.seq(), 41u);
  EXPECT_EQ(a.source(), "cam");
  EXPECT_EQ(a.payload().size(), 1024u);
  EXPECT_EQ(a.trace_ns(0), 123);
  EXPECT_EQ(a.epoch(), 0u);
  EXPECT_EQ((*s)->NextDue(), t0 + 100ms);
  EXPECT_EQ((*s)->Next(5, 0).epoch(), 5u);
  (*s)->Next(0, 0);
  EXPECT_FALSE((*s)->NextDue().has_value()) << "limit 3 reached";
  (*s)->SetRate(20, 0, t0 + 1s);
  EXPECT_EQ((*s)->NextDue(), t0 + 1s) << "re-anchored: the next item is due now";
}

TEST(Source, AFilesSourceWithoutFilesIsRefused) {
  WorkerInstance in = Src(1, 0);
  in.files = (std::filesystem::temp_directory_path() / ("jb-empty-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(*in.files);
  auto s = Source::Create(in, std::chrono::steady_clock::now());
  EXPECT_FALSE(s.ok());
  std::filesystem::remove_all(*in.files);
}

// A data set of `keys` (index order as given) with file or inline items, labelled "L-<key>".
std::string WriteIndex(const std::filesystem::path& dir, const std::string& name,
                       const std::vector<std::string>& keys) {
  std::ofstream idx(dir / name);
  for (const auto& k : keys) {
    if (k.front() == 'f') {  // file items
      std::filesystem::create_directories(dir / "files");
      std::ofstream(dir / "files" / k) << "bytes of " << k;
      idx << "{\"key\": \"" << k << "\", \"file\": \"files/" << k << "\", \"label\": \"L-" << k << "\"}\n";
    } else {
      idx << "{\"key\": \"" << k << "\", \"data\": \"data of " << k << "\""
          << (k == "nolabel" ? "" : ", \"label\": \"L-" + k + "\"") << "}\n";
    }
  }
  return (dir / name).string();
}

WorkerInstance DatasetSrc(const std::string& name, const std::string& index, bool loop, int64_t limit = 0) {
  WorkerInstance in = Src(1000, limit);
  in.name = name;
  in.type = "dataset";
  in.dataset = index;
  in.loop = loop;
  return in;
}

TEST(Source, ADatasetReplaysItsItemsInKeyOrderWithKeyAndLabelLooping) {
  testing::TempDir dir;
  auto s = Source::Create(DatasetSrc("Doc", WriteIndex(dir.path(), "i.jsonl", {"k2", "f1", "k0", "nolabel"}), true),
                          std::chrono::steady_clock::now());
  ASSERT_TRUE(s.ok()) << s.status().message();
  (*s)->SetFirstSeq(11);
  std::vector<std::string> keys, labels, payloads;
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE((*s)->NextDue().has_value()) << "a looping data set has no end";
    Status err;
    wire::Item it = (*s)->Next(0, 0, &err);
    ASSERT_TRUE(err.ok()) << err.message();
    EXPECT_EQ(it.seq(), static_cast<uint64_t>(11 + i));
    EXPECT_EQ(it.source(), "Doc");
    keys.push_back(it.request_key());
    labels.push_back(it.label());
    payloads.push_back(it.payload());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"f1", "k0", "k2", "nolabel", "f1", "k0", "k2", "nolabel", "f1"}));
  EXPECT_EQ(labels[0], "L-f1");
  EXPECT_EQ(labels[3], "") << "an item without a label carries none";
  EXPECT_EQ(payloads[0], "bytes of f1") << "a file item's payload is the file";
  EXPECT_EQ(payloads[1], "data of k0") << "an inline item's payload is its data";
  EXPECT_EQ(payloads[8], "bytes of f1");
}

TEST(Source, ADatasetThatDoesNotLoopStopsAfterItsItemsOrItsLimit) {
  testing::TempDir dir;
  std::string idx = WriteIndex(dir.path(), "i.jsonl", {"a", "b", "c"});
  auto once = Source::Create(DatasetSrc("D", idx, false), std::chrono::steady_clock::now());
  ASSERT_TRUE(once.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*once)->NextDue().has_value()) << i;
    (*once)->Next(0, 0);
  }
  EXPECT_FALSE((*once)->NextDue().has_value()) << "once: N items";
  auto limited = Source::Create(DatasetSrc("D", idx, false, 2), std::chrono::steady_clock::now());
  ASSERT_TRUE(limited.ok());
  (*limited)->Next(0, 0);
  (*limited)->Next(0, 0);
  EXPECT_FALSE((*limited)->NextDue().has_value()) << "a limit below N comes first";
  auto looped = Source::Create(DatasetSrc("D", idx, true, 5), std::chrono::steady_clock::now());
  ASSERT_TRUE(looped.ok());
  std::string last;
  for (int i = 0; i < 5; ++i) last = (*looped)->Next(0, 0).request_key();
  EXPECT_EQ(last, "b") << "looping, the limit may exceed N";
  EXPECT_FALSE((*looped)->NextDue().has_value());
}

TEST(Source, ADatasetFileThatCannotBeReadSkipsItsItemWithAnError) {
  testing::TempDir dir;
  std::string idx = WriteIndex(dir.path(), "i.jsonl", {"f1", "f2"});
  auto s = Source::Create(DatasetSrc("D", idx, true), std::chrono::steady_clock::now());
  ASSERT_TRUE(s.ok());
  std::filesystem::remove(dir.path() / "files" / "f2");  // a small set is cached at Create
  Status err;
  (*s)->Next(0, 0, &err);
  EXPECT_EQ((*s)->Next(0, 0, &err).payload(), "bytes of f2");
  EXPECT_TRUE(err.ok()) << err.message();
  // A set whose file vanishes before Create's cache: read per item, and the error names the item.
  auto t = Source::Create(DatasetSrc("D", idx, true), std::chrono::steady_clock::now());
  ASSERT_TRUE(t.ok());
  (*t)->Next(0, 0, &err);
  ASSERT_TRUE(err.ok());
  (*t)->Next(0, 0, &err);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.message().find("source D: "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("i.jsonl:2: item 'f2'"), std::string::npos) << err.message();
}

TEST(Source, DatasetSourcesOfOneWorkerMustReplayTheSameKeys) {
  testing::TempDir dir;
  auto now = std::chrono::steady_clock::now();
  auto a = Source::Create(DatasetSrc("Doc", WriteIndex(dir.path(), "a.jsonl", {"k1", "k2", "k3"}), true), now);
  auto b = Source::Create(DatasetSrc("Q", WriteIndex(dir.path(), "b.jsonl", {"k3", "k1", "k2"}), true), now);
  auto c = Source::Create(DatasetSrc("Odd", WriteIndex(dir.path(), "c.jsonl", {"k1", "k2", "k9"}), true), now);
  auto gen = Source::Create(Src(1, 0), now);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && gen.ok());
  EXPECT_TRUE(Source::CheckSameKeys({a->get(), b->get(), gen->get()}, "io-edge").ok())
      << "same keys in another index order; generators take no part";
  Status s = Source::CheckSameKeys({a->get(), c->get()}, "io-edge");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("worker io-edge: dataset sources Doc and Odd replay different keys"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("key 'k3' is in Doc's index"), std::string::npos) << s.message();
}

TEST(Source, ADatasetSourceWithoutAUsableIndexIsRefused) {
  testing::TempDir dir;
  auto missing =
      Source::Create(DatasetSrc("D", (dir.path() / "none.jsonl").string(), true), std::chrono::steady_clock::now());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("source D: dataset index"), std::string::npos);
  WorkerInstance no_path = DatasetSrc("D", "", true);
  no_path.dataset.reset();
  EXPECT_FALSE(Source::Create(no_path, std::chrono::steady_clock::now()).ok());
}

#ifndef JB_DOCQA_DATA
#define JB_DOCQA_DATA ""
#endif

// The docqa data set's two indices (models/docqa/data): one worker's two dataset sources pass the
// key check, and a pass replays every item once, both parts of a seq with the same key and label.
TEST(Source, TheDocqaSetsTwoSourcesReplayTheSameKeyAtEverySeq) {
  const std::filesystem::path dir = JB_DOCQA_DATA;
  if (dir.empty() || !std::filesystem::exists(dir / "documents.jsonl"))
    GTEST_SKIP() << "the docqa data set is not built (make setup builds it into build/docqa-data)";
  auto now = std::chrono::steady_clock::now();
  auto doc = Source::Create(DatasetSrc("ReadDocument", (dir / "documents.jsonl").string(), false), now);
  auto q = Source::Create(DatasetSrc("ReadQuestion", (dir / "questions.jsonl").string(), false), now);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  ASSERT_TRUE(q.ok()) << q.status().message();
  ASSERT_TRUE(Source::CheckSameKeys({doc->get(), q->get()}, "io").ok());
  std::set<std::string> keys;
  while ((*doc)->NextDue()) {
    Status e1, e2;
    wire::Item d = (*doc)->Next(0, 0, &e1), a = (*q)->Next(0, 0, &e2);
    ASSERT_TRUE(e1.ok() && e2.ok()) << e1.message() << e2.message();
    ASSERT_EQ(d.request_key(), a.request_key());
    EXPECT_EQ(d.label(), a.label());
    EXPECT_FALSE(d.label().empty());
    EXPECT_EQ(d.payload().substr(0, 2), "\xff\xd8") << "a JPEG";
    EXPECT_EQ(a.payload().substr(0, 4), "RIFF") << "a WAV";
    keys.insert(d.request_key());
  }
  EXPECT_EQ(keys.size(), 288u);
  EXPECT_FALSE((*q)->NextDue().has_value());
}

TEST(SeqReserver, ARestartedSourceWorkerContinuesAboveEverySeqItUsed) {
  auto dir = std::filesystem::temp_directory_path() / ("jb-seq-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "w.seq").string();
  uint64_t last = 0;
  {
    auto r = SeqReservation::Open(path);
    ASSERT_TRUE(r.ok()) << r.status().message();
    SeqReserver seqs(std::move(*r), 100, "w");
    EXPECT_EQ(seqs.first(), 1u);
    for (uint64_t seq = 1; seq <= 2000; ++seq) ASSERT_TRUE(seqs.Reserve(seq)) << seq;  // crosses several blocks
    last = 2000;
  }
  auto r = SeqReservation::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->first(), last);
  std::filesystem::remove_all(dir);
}

TEST(SeqReserver, AReservationThatCannotBeWrittenPausesTheSource) {
  auto dir = std::filesystem::temp_directory_path() / ("jb-seq-ro-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto r = SeqReservation::Open((dir / "w.seq").string());
  ASSERT_TRUE(r.ok());
  std::filesystem::remove_all(dir);  // the directory is gone: the first block cannot be written
  SeqReserver seqs(std::move(*r), 1, "w");
  EXPECT_FALSE(seqs.Reserve(1));
}

}  // namespace
}  // namespace jb
