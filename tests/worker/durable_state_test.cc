#include "worker/durable_state.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "tests/test_util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

TEST(StatePath, SitsNextToTheMetricsFile) {
  EXPECT_EQ(StatePath("/s/workers/vqa/io-edge.metrics.json", ".seq"), "/s/workers/vqa/io-edge.seq");
  EXPECT_EQ(StatePath("m.json", ".delivered"), "m.json.delivered");
  EXPECT_EQ(StatePath("", ".seq"), "");
}

TEST(SeqReservation, ANewProcessContinuesAboveEveryReservedNumber) {
  testing::TempDir dir;
  std::string path = (dir.path() / "io.seq").string();
  auto first = SeqReservation::Open(path);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->first(), 1u);
  EXPECT_FALSE(first->Covers(1)) << "nothing may be used before it is on disk";
  ASSERT_TRUE(first->Reserve(300).ok());
  EXPECT_TRUE(first->Covers(299));
  EXPECT_FALSE(first->Covers(300));
  ASSERT_TRUE(first->Reserve(200).ok());  // never goes back
  EXPECT_TRUE(first->Covers(299));
  auto second = SeqReservation::Open(path);  // the process restarted (it may have used up to 299)
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->first(), 300u);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(SeqReservation, AnUnreadableReservationRefusesToStartInsteadOfNumberingFromOne) {
  testing::TempDir dir;
  std::string path = (dir.path() / "io.seq").string();
  std::ofstream(path) << "12x\n";
  auto r = SeqReservation::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("reuse request identities"), std::string::npos) << r.status().message();
}

TEST(SeqReservation, WithoutAFileNumbersStartAtOneAndAreNotLimited) {
  auto v = SeqReservation::Volatile();
  EXPECT_EQ(v.first(), 1u);
  EXPECT_TRUE(v.Covers(1u << 30));
  EXPECT_TRUE(v.Reserve(5).ok());
}

std::vector<DeliveryRecord::Entry> Load(const std::string& path, int64_t max_bytes, int64_t* skipped,
                                        std::unique_ptr<DeliveryRecord>* keep = nullptr) {
  std::vector<DeliveryRecord::Entry> got;
  auto r = DeliveryRecord::Open(
      path, max_bytes, [&](const DeliveryRecord::Entry& e) { got.push_back(e); }, skipped);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (r.ok() && keep != nullptr) *keep = std::move(*r);
  return got;
}

TEST(DeliveryRecord, WhatWasFlushedIsReadBackInOrder) {
  testing::TempDir dir;
  std::string path = (dir.path() / "io.delivered").string();
  int64_t skipped = -1;
  std::unique_ptr<DeliveryRecord> rec;
  EXPECT_TRUE(Load(path, 1 << 20, &skipped, &rec).empty());
  EXPECT_EQ(skipped, 0);
  rec->Add("A+B", 7, 1000);
  rec->Add("A+B", 9, 2000);
  EXPECT_FALSE(rec->empty());
  ASSERT_TRUE(rec->Flush().ok());
  EXPECT_TRUE(rec->empty());
  rec->Add("C", 1, 3000);  // buffered only: the destructor writes it
  rec.reset();
  auto got = Load(path, 1 << 20, &skipped);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].source, "A+B");
  EXPECT_EQ(got[0].seq, 7u);
  EXPECT_EQ(got[0].emitted_ns, 1000);
  EXPECT_EQ(got[0].pid, static_cast<int64_t>(getpid()));
  EXPECT_EQ(got[1].seq, 9u);
  EXPECT_EQ(got[2].source, "C");
}

TEST(DeliveryRecord, ALineCutShortIsSkippedAndTheNextEntryStaysWhole) {
  testing::TempDir dir;
  std::string path = (dir.path() / "io.delivered").string();
  std::ofstream(path) << "A 1 10 5\nA 2 1";  // the write of the second line was interrupted
  int64_t skipped = 0;
  std::unique_ptr<DeliveryRecord> rec;
  auto got = Load(path, 1 << 20, &skipped, &rec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(skipped, 1);
  rec->Add("A", 3, 30);
  ASSERT_TRUE(rec->Flush().ok());
  rec.reset();
  got = Load(path, 1 << 20, &skipped);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].seq, 3u);
  EXPECT_EQ(skipped, 1);
}

TEST(DeliveryRecord, RotatesAtItsLimitAndReadsBothFilesBack) {
  testing::TempDir dir;
  std::string path = (dir.path() / "io.delivered").string();
  int64_t skipped = 0;
  std::unique_ptr<DeliveryRecord> rec;
  Load(path, 100, &skipped, &rec);
  for (uint64_t seq = 1; seq <= 12; ++seq) {
    rec->Add("Src", seq, 1);
    ASSERT_TRUE(rec->Flush().ok());
  }
  rec.reset();
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_LE(fs::file_size(path), 100u);
  auto got = Load(path, 100, &skipped);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().seq, 12u);
  for (size_t i = 1; i < got.size(); ++i)
    EXPECT_EQ(got[i].seq, got[i - 1].seq + 1) << "oldest first, nothing in between lost";
}

}  // namespace
}  // namespace jb
