// Rollout phases (reconciler/rollout.h) as a pure function: start the new workers first, switch with
// the old routes kept for the old epoch, drain by held items, then stop the old workers.
#include "reconciler/rollout.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace jb {
namespace {

WorkerConfig Io(int64_t epoch, const std::string& worker_for_a) {
  WorkerConfig c;
  c.workflow = "w";
  c.name = "io-edge";
  c.tier = "edge";
  c.epoch = epoch;
  WorkerInstance src;
  src.kind = "source";
  src.name = "S";
  src.rate = 10;
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  c.instances = {src, sink};
  c.edges = {{"S", "A", 1}, {"A", kSinkName, 1}};
  c.routes = {{"A", 0, 1, worker_for_a, "", "cloud"}, {kSinkName, 0, 1, "io-edge", "", ""}};
  return c;
}

WorkerConfig Node(const std::string& node, int64_t epoch, const std::string& variant) {
  WorkerConfig c = Io(epoch, node);
  c.name = node;
  c.node = node;
  c.tier = "cloud";
  WorkerInstance a;
  a.kind = "operator";
  a.name = "A";
  a.variant = variant;
  c.instances = {a};
  return c;
}

WorkerState Ready(const std::string& name, std::map<std::string, int64_t> held = {}) {
  WorkerState s;
  s.name = name;
  s.ready = true;
  WorkerMetrics m;
  m.worker = name;
  m.held_by_epoch = std::move(held);
  s.metrics = m;
  return s;
}

std::set<std::string> Names(const std::vector<WorkerConfig>& cs) {
  std::set<std::string> out;
  for (const auto& c : cs) out.insert(c.name);
  return out;
}

const WorkerConfig& Named(const std::vector<WorkerConfig>& cs, const std::string& name) {
  for (const auto& c : cs)
    if (c.name == name) return c;
  static WorkerConfig none;
  ADD_FAILURE() << "no worker " << name;
  return none;
}

TEST(Rollout, FirstDeploymentIsAppliedAsIs) {
  auto step = NextRolloutStep({}, {Io(1, "n1"), Node("n1", 1, "v1")}, {}, 1, -1);
  EXPECT_TRUE(step.done);
  EXPECT_EQ(Names(step.apply), (std::set<std::string>{"io-edge", "n1"}));
}

TEST(Rollout, MovesThroughStartSwitchDrainAndStop) {
  // Epoch 1 runs A on n1; epoch 2 moves it to n2.
  std::vector<WorkerConfig> cur = {Io(1, "n1"), Node("n1", 1, "v1")};
  std::vector<WorkerConfig> target = {Io(2, "n2"), Node("n2", 2, "v1")};
  EXPECT_EQ(RolloutChurn(cur, target, 2), 2);  // n2 starts, n1 stops

  // Starting: n2 starts beside everything of epoch 1, which is left untouched.
  auto s1 = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1")}, 2, -1);
  EXPECT_EQ(s1.phase, "Starting");
  EXPECT_EQ(Names(s1.apply), (std::set<std::string>{"io-edge", "n1", "n2"}));
  EXPECT_EQ(Named(s1.apply, "io-edge").epoch, 1);
  EXPECT_FALSE(s1.switched);

  // Still starting while n2 is not ready.
  cur = s1.apply;
  auto s2 = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1")}, 2, -1);
  EXPECT_EQ(s2.phase, "Starting");

  // Switching: n2 ready; every target worker gets epoch 2 and keeps epoch 1's routes to drain.
  auto s3 = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1"), Ready("n2")}, 2, -1);
  EXPECT_EQ(s3.phase, "Switching");
  const auto& io = Named(s3.apply, "io-edge");
  EXPECT_EQ(io.epoch, 2);
  EXPECT_EQ(io.drain_epoch, 1);
  ASSERT_FALSE(io.drain_routes.empty());
  EXPECT_EQ(io.drain_routes[0].worker, "n1");
  EXPECT_EQ(io.routes[0].worker, "n2");
  EXPECT_EQ(Named(s3.apply, "n1").epoch, 1);  // the old worker keeps its own config

  // Draining: an epoch-1 item is still held somewhere.
  cur = s3.apply;
  auto s4 = NextRolloutStep(cur, target,
                            {Ready("io-edge", {{"1", 3}, {"2", 10}}), Ready("n1", {{"1", 2}}), Ready("n2")}, 2, 0.5);
  EXPECT_EQ(s4.phase, "Draining");
  EXPECT_TRUE(s4.switched);
  EXPECT_EQ(Names(s4.apply), (std::set<std::string>{"io-edge", "n1", "n2"}));

  // Drained: n1 stops, drain routes go.
  auto s5 = NextRolloutStep(cur, target, {Ready("io-edge", {{"2", 10}}), Ready("n1"), Ready("n2")}, 2, 0.6);
  EXPECT_TRUE(s5.done);
  EXPECT_EQ(Names(s5.apply), (std::set<std::string>{"io-edge", "n2"}));
  EXPECT_EQ(Named(s5.apply, "io-edge").drain_epoch, 0);
  EXPECT_TRUE(Named(s5.apply, "io-edge").drain_routes.empty());
}

TEST(Rollout, DrainTimeoutStopsTheOldWorkersAnyway) {
  std::vector<WorkerConfig> cur = {Io(1, "n1"), Node("n1", 1, "v1")};
  std::vector<WorkerConfig> target = {Io(2, "n2"), Node("n2", 2, "v1")};
  cur = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1"), Ready("n2")}, 2, -1).apply;  // Starting
  cur = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1"), Ready("n2")}, 2, -1).apply;  // Switching
  std::vector<WorkerState> stuck = {Ready("io-edge", {{"1", 1}}), Ready("n1", {{"1", 1}}), Ready("n2")};
  EXPECT_EQ(NextRolloutStep(cur, target, stuck, 2, 5).phase, "Draining");
  auto late = NextRolloutStep(cur, target, stuck, 2, 31);
  EXPECT_TRUE(late.done);
  EXPECT_NE(late.message.find("drain timeout"), std::string::npos);
}

TEST(Rollout, AnUnchangedWorkerIsReusedInPlace) {
  // n1 keeps the same instances: same name, no new process, just new routes.
  std::vector<WorkerConfig> cur = {Io(1, "n1"), Node("n1", 1, "v1")};
  std::vector<WorkerConfig> target = {Io(2, "n1"), Node("n1", 2, "v1")};
  EXPECT_EQ(RolloutChurn(cur, target, 2), 0);
  auto s = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1")}, 2, -1);
  EXPECT_EQ(s.phase, "Switching");  // nothing to start
  EXPECT_EQ(Names(s.apply), (std::set<std::string>{"io-edge", "n1"}));
}

TEST(Rollout, AWorkerOnAnUnreachableNodeIsReusedAndItsNewEpochWorkerNotStartedAgain) {
  // The driver's copy says reachable: false (the dispatcher derives it); the planned target does not
  // carry it. The unchanged worker is reused, and the new one started in the first pass is the one
  // waited for in the next (it used to get a new name, "n1~e2.1", "n1~e2.2", ..., on every pass).
  std::vector<WorkerConfig> cur = {Io(1, "n1"), Node("n1", 1, "v1")};
  for (auto& c : cur) c.reachable = false;
  std::vector<WorkerConfig> target = {Io(2, "n1"), Node("n1", 2, "v2")};
  EXPECT_EQ(RolloutChurn(cur, target, 2), 2);  // n1~e2 started, n1 stopped; io-edge reused
  auto s = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1")}, 2, -1);
  EXPECT_EQ(s.phase, "Starting");
  EXPECT_EQ(Names(s.apply), (std::set<std::string>{"io-edge", "n1", "n1~e2"}));
  auto deployed = s.apply;
  for (auto& c : deployed) c.reachable = false;
  auto again = NextRolloutStep(deployed, target, {Ready("io-edge"), Ready("n1")}, 2, -1);
  EXPECT_EQ(again.phase, "Starting");
  EXPECT_EQ(Names(again.apply), (std::set<std::string>{"io-edge", "n1", "n1~e2"}));
  auto sw = NextRolloutStep(deployed, target, {Ready("io-edge"), Ready("n1"), Ready("n1~e2")}, 2, -1);
  EXPECT_EQ(sw.phase, "Switching");
  EXPECT_EQ(Names(sw.apply), (std::set<std::string>{"io-edge", "n1", "n1~e2"}));
}

TEST(Rollout, AChangedNodeGetsASecondWorkerBesideTheOld) {
  // n1 switches variant: its epoch-2 worker starts beside the epoch-1 one under another name.
  std::vector<WorkerConfig> cur = {Io(1, "n1"), Node("n1", 1, "v1")};
  std::vector<WorkerConfig> target = {Io(2, "n1"), Node("n1", 2, "v2")};
  auto s = NextRolloutStep(cur, target, {Ready("io-edge"), Ready("n1")}, 2, -1);
  EXPECT_EQ(s.phase, "Starting");
  EXPECT_EQ(Names(s.apply), (std::set<std::string>{"io-edge", "n1", "n1~e2"}));
  EXPECT_EQ(Named(s.apply, "n1~e2").instances[0].variant, "v2");
  auto sw = NextRolloutStep(s.apply, target, {Ready("io-edge"), Ready("n1"), Ready("n1~e2")}, 2, -1);
  EXPECT_EQ(Named(sw.apply, "io-edge").routes[0].worker, "n1~e2");  // routes renamed too
}

TEST(Rollout, ADownOldWorkerIsNotDrainedThrough) {
  // n1 stopped reporting (its node failed): switch without drain routes and finish at once; the
  // senders re-route what they held for it.
  std::vector<WorkerConfig> cur = {Io(1, "n1"), Node("n1", 1, "v1")};
  std::vector<WorkerConfig> target = {Io(2, "n2"), Node("n2", 2, "v1")};
  WorkerState down = Ready("n1", {{"1", 40}});
  down.ready = false;
  cur = NextRolloutStep(cur, target, {Ready("io-edge"), down}, 2, -1).apply;
  auto sw = NextRolloutStep(cur, target, {Ready("io-edge"), down, Ready("n2")}, 2, -1);
  EXPECT_EQ(sw.phase, "Switching");
  EXPECT_EQ(Named(sw.apply, "io-edge").drain_epoch, 0);
  auto done = NextRolloutStep(sw.apply, target, {Ready("io-edge", {{"1", 5}}), down, Ready("n2")}, 2, 0.1);
  EXPECT_TRUE(done.done);
  EXPECT_EQ(Names(done.apply), (std::set<std::string>{"io-edge", "n2"}));
}

}  // namespace
}  // namespace jb
