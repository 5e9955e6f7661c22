// The join buffer's contract (worker.h guarantees 3 and 4): incomplete requests are dropped at the
// join, and only true repeats are discarded (and counted) as duplicates.
#include "worker/join_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace jb {
namespace {

using namespace std::chrono_literals;

class JoinBufferTest : public ::testing::Test {
 protected:
  Task Part(const std::string& producer, uint64_t seq, int64_t trace, const std::string& payload, uint64_t ack_id) {
    Task t;
    t.item.set_op(producer);
    t.item.set_source(producer == "a" ? "cam" : "mic");
    t.item.set_seq(seq);
    t.item.set_key(0.25);
    t.item.set_payload(payload);
    t.item.add_trace_ns(trace);
    t.hold = ledger_.New(0);
    ledger_.AddAck(t.hold, AckRef{0, 1, ack_id});
    return t;
  }
  std::vector<uint64_t> acked_;
  HoldLedger ledger_{[this](const AckRef& a) { acked_.push_back(a.id); }, [](const std::string&) {}};
  JoinBuffer buf_{{"a", "b"}, &ledger_};
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::time_point(1000s);
};

TEST_F(JoinBufferTest, PartsBecomeOneItemWithSortedSourcesEarliestTraceAndNamedParts) {
  Task joined;
  Task b = Part("b", 7, 100, "world", 2);
  Task a = Part("a", 7, 200, "hello", 1);
  EXPECT_EQ(buf_.Offer(b, &joined, t0_), JoinBuffer::Offered::kWaiting);
  EXPECT_EQ(buf_.parts_waiting(), 1);
  EXPECT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kJoined);
  EXPECT_EQ(buf_.parts_waiting(), 0);
  EXPECT_EQ(joined.item.source(), "cam+mic");
  EXPECT_EQ(joined.item.seq(), 7u);
  EXPECT_EQ(joined.item.trace_ns(0), 100);
  ASSERT_EQ(joined.parts.size(), 2u);  // in input order, not arrival order
  EXPECT_EQ(joined.parts[0].name, "a");
  EXPECT_EQ(joined.parts[0].payload, "hello");
  EXPECT_EQ(joined.parts[1].payload, "world");
  ledger_.Unref(joined.hold);  // processed
  EXPECT_TRUE(acked_.empty()) << "the buffer keeps the joined item until Completed";
  buf_.Completed(7);
  EXPECT_EQ(acked_, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(ledger_.size(), 0);
}

TEST_F(JoinBufferTest, ARepeatedPartIsARepeatAndIsAcknowledgedWithTheOriginal) {
  Task joined;
  Task a = Part("a", 3, 1, "x", 1), again = Part("a", 3, 1, "x", 9);
  EXPECT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kWaiting);
  EXPECT_EQ(buf_.Offer(again, &joined, t0_), JoinBuffer::Offered::kRepeat);
  EXPECT_TRUE(acked_.empty());
  EXPECT_EQ(buf_.parts_waiting(), 1);
  auto expired = buf_.Expire(t0_);
  ASSERT_EQ(expired.size(), 1u);
  ledger_.Unref(expired[0].hold);  // dropped by the caller
  EXPECT_EQ(acked_, (std::vector<uint64_t>{1, 9}));
}

TEST_F(JoinBufferTest, APartOfAJoinedRequestIsARepeatNotANewJoin) {
  Task joined;
  Task a = Part("a", 5, 1, "x", 1), b = Part("b", 5, 1, "y", 2);
  ASSERT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kWaiting);
  ASSERT_EQ(buf_.Offer(b, &joined, t0_), JoinBuffer::Offered::kJoined);
  Task again = Part("b", 5, 1, "y", 3);
  EXPECT_EQ(buf_.Offer(again, &joined, t0_), JoinBuffer::Offered::kRepeat);  // outputs pending
  ledger_.Unref(joined.hold);
  buf_.Completed(5);
  EXPECT_EQ(acked_, (std::vector<uint64_t>{1, 2, 3}));
  Task late = Part("a", 5, 1, "x", 4);
  EXPECT_EQ(buf_.Offer(late, &joined, t0_), JoinBuffer::Offered::kRepeat);  // completed and safe
  EXPECT_EQ(acked_.back(), 4u);
  EXPECT_EQ(buf_.parts_waiting(), 0);
}

// Was: the late part of a timed-out join was discarded as a duplicate (counted, not dropped).
TEST_F(JoinBufferTest, ALatePartOfAnExpiredRequestIsLateNotARepeat) {
  Task joined;
  Task a = Part("a", 8, 1, "x", 1);
  ASSERT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kWaiting);
  EXPECT_TRUE(buf_.Expire(t0_ - 1s).empty()) << "not due yet";
  auto expired = buf_.Expire(t0_ + 10s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].item.op(), "a");
  ledger_.Unref(expired[0].hold);
  Task b = Part("b", 8, 1, "y", 2);
  EXPECT_EQ(buf_.Offer(b, &joined, t0_ + 11s), JoinBuffer::Offered::kLate);
  EXPECT_EQ(ledger_.refs(b.hold), 1) << "a late part stays with the caller, to be dropped";
  ledger_.Unref(b.hold);
}

TEST_F(JoinBufferTest, AJoinedItemTakesThePartsRequestKeyAndTheFirstLabel) {
  Task joined;
  Task a = Part("a", 4, 1, "img", 1), b = Part("b", 4, 1, "question", 2);
  a.item.set_request_key("q00-d03");
  b.item.set_request_key("q00-d03");
  b.item.set_label("17 Jun 2024");  // only one part carries the label
  ASSERT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kWaiting);
  ASSERT_EQ(buf_.Offer(b, &joined, t0_), JoinBuffer::Offered::kJoined);
  EXPECT_EQ(joined.item.request_key(), "q00-d03");
  EXPECT_EQ(joined.item.label(), "17 Jun 2024");
  ledger_.Unref(joined.hold);
  buf_.Completed(4);
  // A generated part (no key) joins a keyed one.
  Task c = Part("a", 6, 1, "x", 3), d = Part("b", 6, 1, "y", 4);
  d.item.set_request_key("k6");
  ASSERT_EQ(buf_.Offer(c, &joined, t0_), JoinBuffer::Offered::kWaiting);
  ASSERT_EQ(buf_.Offer(d, &joined, t0_), JoinBuffer::Offered::kJoined);
  EXPECT_EQ(joined.item.request_key(), "k6");
  EXPECT_EQ(joined.item.label(), "");
  ledger_.Unref(joined.hold);
  buf_.Completed(6);
}

TEST_F(JoinBufferTest, PartsWithDifferentRequestKeysAreDroppedNotJoined) {
  Task joined;
  Task a = Part("a", 9, 1, "x", 1), b = Part("b", 9, 1, "y", 2);
  a.item.set_request_key("q00-d01");
  b.item.set_request_key("q00-d02");
  ASSERT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kWaiting);
  ASSERT_EQ(buf_.Offer(b, &joined, t0_), JoinBuffer::Offered::kMismatch);
  auto dropped = buf_.TakeMismatched();
  ASSERT_EQ(dropped.size(), 2u) << "every part of the request, for the caller to drop";
  EXPECT_TRUE(buf_.TakeMismatched().empty());
  EXPECT_EQ(buf_.parts_waiting(), 0);
  for (auto& t : dropped) ledger_.Unref(t.hold);
  EXPECT_EQ(acked_, (std::vector<uint64_t>{1, 2}));
  // A re-sent part of it is dropped the same way, not joined nor taken for a duplicate.
  Task again = Part("a", 9, 1, "x", 3);
  again.item.set_request_key("q00-d01");
  EXPECT_EQ(buf_.Offer(again, &joined, t0_), JoinBuffer::Offered::kMismatch);
  auto late = buf_.TakeMismatched();
  ASSERT_EQ(late.size(), 1u);
  ledger_.Unref(late[0].hold);
  EXPECT_EQ(acked_.back(), 3u);
}

}  // namespace
}  // namespace jb
