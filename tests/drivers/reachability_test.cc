// Devices behind NAT (drivers/reachability.h): routes from another tier to an unreachable worker
// become dial-in, that worker learns its senders' addresses, workers of one tier connect directly,
// and two unreachable workers of different tiers exchanging items are refused, both named.
#include "drivers/reachability.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

InfrastructureSpec Infra(bool edge_reachable) {
  InfrastructureSpec s;
  s.tiers = {Tier{"device", DriverSpec{"agent", {}}, "loopback", false},
             Tier{"edge", DriverSpec{"ssh", {}}, "loopback", edge_reachable}};
  s.nodes = {Node{"dev-a", "device", 0, "cpu", 1, std::nullopt, std::nullopt, std::nullopt},
             Node{"dev-b", "device", 0, "cpu", 1, std::nullopt, std::nullopt, std::nullopt},
             Node{"e1", "edge", 0, "cpu", 1, std::nullopt, std::nullopt, std::nullopt},
             Node{"e2", "edge", 0, "cpu", 1, std::nullopt, std::nullopt, false}};
  return s;
}

WorkerConfig W(const std::string& name, const std::string& node, const std::string& tier,
               std::vector<WorkerRoute> routes) {
  WorkerConfig c;
  c.workflow = "wf";
  c.name = name;
  c.node = node;
  c.tier = tier;
  c.listen = "10.0.0." + std::to_string(name.size()) + ":17000";
  c.routes = std::move(routes);
  return c;
}

TEST(Reachability, SendersOfOtherTiersAreDialedByTheUnreachableWorker) {
  // io (dev-a) -> Detect on dev-a and dev-b (same tier: direct) -> Classify on e1 -> sink on io.
  std::vector<WorkerConfig> ws = {
      W("io-device", "dev-a", "device",
        {{"Detect", 0, 0.5, "dev-a", "", "device"}, {"Detect", 0.5, 1, "dev-b", "", "device"}}),
      W("dev-a", "dev-a", "device", {{"Classify", 0, 1, "e1", "", "edge"}}),
      W("dev-b", "dev-b", "device", {{"Classify", 0, 1, "e1", "", "edge"}}),
      W("e1", "e1", "edge", {{kSinkName, 0, 1, "io-device", "", "device"}})};
  ws[3].drain_routes = {{kSinkName, 0, 1, "io-device", "", "device"}};
  ASSERT_TRUE(DirectConnections(Infra(true), &ws).ok());
  EXPECT_FALSE(ws[0].reachable);
  EXPECT_FALSE(ws[1].reachable);
  EXPECT_TRUE(ws[3].reachable);
  EXPECT_FALSE(ws[0].routes[1].dial_in) << "same tier: dev-b is dialed directly";
  EXPECT_FALSE(ws[1].routes[0].dial_in) << "the edge is reachable";
  EXPECT_TRUE(ws[3].routes[0].dial_in);
  EXPECT_TRUE(ws[3].drain_routes[0].dial_in);
  ASSERT_EQ(ws[0].dial_out.size(), 1u) << "one peer, though named by two routes";
  EXPECT_EQ(ws[0].dial_out[0].worker, "e1");
  EXPECT_EQ(ws[0].dial_out[0].address, ws[3].listen);
  EXPECT_TRUE(ws[1].dial_out.empty());
  for (const auto& w : ws) EXPECT_TRUE(ValidateWorkerConfig(w).ok()) << w.name;
}

TEST(Reachability, TwoUnreachableWorkersOfDifferentTiersAreRefusedByName) {
  std::vector<WorkerConfig> ws = {W("io-device", "dev-a", "device", {{"Classify", 0, 1, "e2", "", "edge"}}),
                                  W("e2", "e2", "edge", {{kSinkName, 0, 1, "io-device", "", "device"}})};
  auto s = DirectConnections(Infra(true), &ws);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("io-device (tier device) and e2 (tier edge) are both unreachable"), std::string::npos)
      << s.message();
  ws = {W("io-device", "dev-a", "device", {{"Classify", 0, 1, "e1", "", "edge"}}),
        W("e1", "e1", "edge", {{kSinkName, 0, 1, "io-device", "", "device"}})};
  EXPECT_FALSE(DirectConnections(Infra(false), &ws).ok()) << "the edge tier unreachable too";
}

}  // namespace
}  // namespace jb
