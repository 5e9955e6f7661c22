// The router: keys, thinning, key ranges, and the epoch rule (an item keeps a draining epoch's
// table; a source decides by seq).
#include "worker/router.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

WorkerRoute Route(const std::string& op, double lo, double hi, const std::string& worker) {
  WorkerRoute r;
  r.op = op;
  r.lo = lo;
  r.hi = hi;
  r.worker = worker;
  r.address = worker + ":1";
  return r;
}

WorkerConfig Config() {
  WorkerConfig c;
  c.name = "w0";
  c.epoch = 2;
  c.routes = {Route("op", 0.5, 1, "w2"), Route("op", 0, 0.5, "w1")};
  return c;
}

Router Make() { return Router("w0", {WorkerEdge{"src", "op", 1}, WorkerEdge{"op", "sink", 0.5}}); }

TEST(Router, KeysSpreadOverTheUnitIntervalAndRatiosThinDeterministically) {
  int low = 0, passed = 0;
  for (uint64_t seq = 1; seq <= 1000; ++seq) {
    double k = KeyOf(seq);
    ASSERT_GE(k, 0);
    ASSERT_LT(k, 1);
    if (k < 0.5) ++low;
    if (Passes(seq, 0.25)) ++passed;
  }
  EXPECT_NEAR(low, 500, 5);
  EXPECT_EQ(passed, 250);
  EXPECT_TRUE(Passes(17, 1));
}

TEST(Router, LooksUpTheRangeOfAKeyAndTakesTheLastRangeForKeyOne) {
  Router r = Make();
  r.SetTables(Config());
  EXPECT_EQ(r.Lookup("op", 0.2, 2)->worker, "w1");
  EXPECT_EQ(r.Lookup("op", 0.7, 2)->worker, "w2");
  EXPECT_EQ(r.Lookup("op", 1.0, 2)->worker, "w2");
  EXPECT_EQ(r.Lookup("sink", 0.2, 2), nullptr);
  EXPECT_EQ(r.Consumers("op"), std::vector<std::string>{"sink"});
  EXPECT_TRUE(r.Consumers("sink").empty());
  EXPECT_FALSE(r.PassesEdge("op", "sink", 1));
  EXPECT_TRUE(r.PassesEdge("op", "sink", 2));
}

TEST(Router, AnItemOfTheDrainingEpochKeepsItsTableAndNewItemsTakeTheCurrentOne) {
  Router r = Make();
  WorkerConfig c = Config();
  r.SetTables(c);
  r.SwitchEpochAt(100);
  c.epoch = 3;
  c.drain_epoch = 2;
  c.drain_routes = c.routes;
  c.routes = {Route("op", 0, 1, "w9")};
  r.SetTables(c);
  EXPECT_EQ(r.EpochFor(2), 2u);
  EXPECT_EQ(r.Lookup("op", 0.2, 2)->worker, "w1");
  EXPECT_EQ(r.EpochFor(0), 3u);
  EXPECT_EQ(r.EpochFor(1), 3u) << "an epoch that is not draining takes the current table";
  EXPECT_EQ(r.Lookup("op", 0.2, 3)->worker, "w9");
  EXPECT_EQ(r.SourceEpoch(99), 2u) << "seqs below the switch belong to the draining epoch";
  EXPECT_EQ(r.SourceEpoch(100), 0u);
  auto remote = r.RemoteWorkersByProducer();
  EXPECT_EQ(remote["src"], (std::set<std::string>{"w1", "w2", "w9"}));
  EXPECT_EQ(r.NamedWorkers(), (std::set<std::string>{"w1", "w2", "w9"}));
}

TEST(Router, RoutesToItselfAreNotRemoteWorkers) {
  Router r = Make();
  WorkerConfig c = Config();
  c.routes = {Route("op", 0, 1, "w0")};
  r.SetTables(c);
  EXPECT_TRUE(r.RemoteWorkersByProducer().empty());
  EXPECT_EQ(r.NamedWorkers(), std::set<std::string>{"w0"});
}

}  // namespace
}  // namespace jb
