// The join buffer's contract (worker.h guarantees 3 and 4): incomplete requests are dropped at the
// join, and only true repeats are discarded (and counted) as duplicates.
#include "worker/join_buffer.h"

#include <gtest/gtest.h>

#include <set>
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
  auto expired = buf_.Expire(t0_, 0s);
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
  EXPECT_TRUE(buf_.Expire(t0_ + 9s, 10s).empty()) << "not due yet";
  auto expired = buf_.Expire(t0_ + 10s, 10s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].item.op(), "a");
  ledger_.Unref(expired[0].hold);
  Task b = Part("b", 8, 1, "y", 2);
  EXPECT_EQ(buf_.Offer(b, &joined, t0_ + 11s), JoinBuffer::Offered::kLate);
  EXPECT_EQ(ledger_.refs(b.hold), 1) << "a late part stays with the caller, to be dropped";
  ledger_.Unref(b.hold);
}

// Was: a request whose other branch was only behind (a backlog after a re-plan on a CPU-starved
// host) was dropped after the 10-s join timeout, although its part was still on its way.
TEST_F(JoinBufferTest, ARequestWaitsForABranchThatIsBehindUpToTheCap) {
  Task joined;
  Task a = Part("a", 10, 1, "x", 1);
  ASSERT_EQ(buf_.Offer(a, &joined, t0_), JoinBuffer::Offered::kWaiting);
  // Input b's sender (stream 3) delivers requests older than 10: it has not reached 10 yet.
  uint64_t seq = 1, id = 100;
  auto b_delivers = [&](uint64_t s, std::chrono::seconds at) {
    Task b = Part("b", s, 1, "y", id++);
    b.via = 3;
    auto got = buf_.Offer(b, &joined, t0_ + at);
    if (got == JoinBuffer::Offered::kWaiting) return;  // its `a` part never comes: it waits
    ADD_FAILURE() << "seq " << s << ": " << static_cast<int>(got);
  };
  // What Expire gives up at `at`: b's own parts go after one timeout (a's sender fell silent at t0).
  auto expire = [&](std::chrono::seconds at) {
    std::set<uint64_t> seqs;
    for (auto& t : buf_.Expire(t0_ + at, 10s)) seqs.insert(t.item.seq()), ledger_.Unref(t.hold);
    return seqs;
  };
  b_delivers(seq++, 9s);
  EXPECT_EQ(expire(10s).count(10), 0u) << "b is behind: request 10 may still come";
  b_delivers(seq++, 15s);
  EXPECT_EQ(expire(24s).count(10), 0u);
  // b keeps delivering older requests: request 10 waits, but no longer than kLaggingCap timeouts.
  for (int at = 30; at < 60; at += 5) b_delivers(seq++, std::chrono::seconds(at));
  EXPECT_EQ(expire(59s).count(10), 0u) << "given up before the cap";
  EXPECT_EQ(expire(60s).count(10), 1u) << "kept past the cap";
}

TEST_F(JoinBufferTest, ABranchThatFellSilentOrPassedTheRequestNoLongerHoldsIt) {
  Task joined;
  Task a10 = Part("a", 10, 1, "x", 1), a20 = Part("a", 20, 1, "x", 2);
  ASSERT_EQ(buf_.Offer(a10, &joined, t0_), JoinBuffer::Offered::kWaiting);
  ASSERT_EQ(buf_.Offer(a20, &joined, t0_), JoinBuffer::Offered::kWaiting);
  // Two senders of b: stream 3 has passed both requests (their parts were lost with a dead
  // source); stream 4 is behind request 20 only, and falls silent after t0 + 6 s.
  Task b30 = Part("b", 30, 1, "y", 3), b15 = Part("b", 15, 1, "y", 4);
  b30.via = 3;
  b15.via = 4;
  ASSERT_EQ(buf_.Offer(b30, &joined, t0_ + 5s), JoinBuffer::Offered::kWaiting);
  ASSERT_EQ(buf_.Offer(b15, &joined, t0_ + 6s), JoinBuffer::Offered::kWaiting);
  auto expire = [&](std::chrono::seconds at) {
    std::vector<uint64_t> seqs;
    for (auto& t : buf_.Expire(t0_ + at, 10s)) seqs.push_back(t.item.seq()), ledger_.Unref(t.hold);
    return seqs;
  };
  EXPECT_EQ(expire(10s), (std::vector<uint64_t>{10})) << "every sender of b passed request 10";
  // 30 waits for `a`, whose only sender fell silent at t0: given up after one timeout.
  EXPECT_EQ(expire(15s), (std::vector<uint64_t>{30}));
  // 15 likewise; 20 is still held by stream 4, heard within the last timeout.
  EXPECT_EQ(expire(16s), (std::vector<uint64_t>{15}));
  EXPECT_EQ(expire(17s), (std::vector<uint64_t>{20})) << "stream 4 silent for the timeout: 20 is given up";
  EXPECT_EQ(buf_.parts_waiting(), 0);
  EXPECT_EQ(ledger_.size(), 0);
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
