// The hold ledger's contract (worker.h guarantee 2): an item is acknowledged upstream exactly once,
// and only when everything that still needs it has let go.
#include "worker/hold_ledger.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace jb {
namespace {

struct Acks {
  std::vector<uint64_t> ids;
  std::vector<std::string> sources;
  HoldLedger ledger{[this](const AckRef& a) { ids.push_back(a.id); },
                    [this](const std::string& s) { sources.push_back(s); }};
};

TEST(HoldLedger, AStreamItemIsAcknowledgedOnlyWhenItsLastReferenceIsReleased) {
  Acks a;
  HoldId h = a.ledger.New(1);
  a.ledger.AddAck(h, AckRef{0, 7, 42});
  a.ledger.Ref(h);  // e.g. an output waiting on a link
  a.ledger.Ref(h);  // and another
  a.ledger.Unref(h);
  a.ledger.Unref(h);
  EXPECT_TRUE(a.ids.empty());
  EXPECT_EQ(a.ledger.size(), 1);
  a.ledger.Unref(h);
  EXPECT_EQ(a.ids, std::vector<uint64_t>{42});
  EXPECT_EQ(a.ledger.size(), 0);
  EXPECT_EQ(a.ledger.refs(h), 0);
}

TEST(HoldLedger, ALocalHopReleasesItsParentOnceWhenItIsReleased) {
  Acks a;
  HoldId parent = a.ledger.New(1);
  a.ledger.AddAck(parent, AckRef{0, 1, 5});
  HoldId child = a.ledger.New(1);
  a.ledger.Ref(parent);
  a.ledger.AddParent(child, parent);
  a.ledger.Unref(parent);  // the task that produced the child is done
  EXPECT_TRUE(a.ids.empty()) << "the child still needs the parent";
  a.ledger.Unref(child);
  EXPECT_EQ(a.ids, std::vector<uint64_t>{5});
  EXPECT_EQ(a.ledger.size(), 0);
}

TEST(HoldLedger, AJoinedItemReleasesEveryPartWhenItIsReleased) {
  Acks a;
  HoldId p1 = a.ledger.New(3), p2 = a.ledger.New(3);
  a.ledger.AddAck(p1, AckRef{0, 1, 1});
  a.ledger.AddAck(p2, AckRef{1, 1, 2});
  HoldId joined = a.ledger.New(3);
  a.ledger.AddParent(joined, p1);  // the parts' references pass to the joined item
  a.ledger.AddParent(joined, p2);
  EXPECT_TRUE(a.ids.empty());
  a.ledger.Unref(joined);
  EXPECT_EQ(a.ids, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(a.ledger.by_epoch().empty());
}

TEST(HoldLedger, ARepeatFoldedIntoAPendingHoldIsAcknowledgedWithItNotBefore) {
  Acks a;
  HoldId original = a.ledger.New(1);
  a.ledger.AddAck(original, AckRef{0, 1, 10});
  HoldId repeat = a.ledger.New(1);
  a.ledger.AddAck(repeat, AckRef{1, 1, 20});
  a.ledger.MoveOrigins(repeat, original);
  a.ledger.Unref(repeat);
  EXPECT_TRUE(a.ids.empty()) << "the repeat is safe only when the original is";
  a.ledger.Unref(original);
  EXPECT_EQ(a.ids, (std::vector<uint64_t>{10, 20}));
}

TEST(HoldLedger, CountsHoldsByEpochAndReportsTheSourceOfASourceItem) {
  Acks a;
  HoldId s = a.ledger.New(4, "camera");
  HoldId t = a.ledger.New(5);
  EXPECT_EQ(a.ledger.by_epoch().at(4), 1);
  EXPECT_EQ(a.ledger.by_epoch().at(5), 1);
  a.ledger.Unref(s);
  EXPECT_EQ(a.sources, std::vector<std::string>{"camera"});
  EXPECT_EQ(a.ledger.by_epoch().count(4), 0u);
  a.ledger.Unref(t);
  EXPECT_EQ(a.sources.size(), 1u);
  EXPECT_EQ(a.ledger.size(), 0);
}

TEST(HoldLedger, TheIdOfAReleasedHoldDoesNotReachTheNextHoldInItsPlace) {
  Acks a;
  HoldId first = a.ledger.New(1);
  a.ledger.Unref(first);
  HoldId second = a.ledger.New(1);  // reuses the released hold's slot
  EXPECT_NE(first, second);
  EXPECT_EQ(a.ledger.refs(first), 0);
  EXPECT_EQ(a.ledger.refs(second), 1);
  EXPECT_EQ(a.ledger.size(), 1);
}

}  // namespace
}  // namespace jb
