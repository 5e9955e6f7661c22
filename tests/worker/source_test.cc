// Sources: the absolute schedule and limit, and the sequence reservation's contract (no seq is
// used unless reserved on disk, so a restarted source worker continues above its predecessor).
#include "worker/source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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
