// jbctl describe and get -o wide (cli/get_commands.cc) against the API server over plain HTTP on
// loopback (port 0): the observed accuracy beside the planned one.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/remote.h"
#include "daemon/api_server.h"
#include "reconciler/memory_store.h"
#include "testing/util.h"
#include "tests/planner/planner_fixtures.h"

namespace jb::cli {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

class GetCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto in = testing::LoadInstance("manifests/vqa");
    ASSERT_TRUE(store_.Put(in.wf).ok());
    auto s = StartHttpServer(HttpServerOptions{}, [this](const HttpRequest& r) { return api_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    remote_.http.server = "http://127.0.0.1:" + std::to_string(server_->port());
    remote_.http.token = kToken;
    remote_.http.timeout_s = 10;
  }
  void SetStatus(const WorkflowStatus& st) { ASSERT_TRUE(store_.PutStatus("vqa", st).ok()); }
  std::string Run(int (*command)(const Remote&, std::ostream&, std::ostream&), std::vector<std::string> args) {
    Remote r = remote_;
    r.rest = std::move(args);
    std::ostringstream out, err;
    EXPECT_EQ(command(r, out, err), 0) << err.str();
    return out.str();
  }
  static WorkflowStatus Observed(std::optional<ObservedAccuracy> acc) {
    WorkflowStatus st;
    st.plan = Plan{};
    st.plan->accuracy = 56.59;
    st.observed = ObservedStatus{};
    st.observed->accuracy = acc;
    return st;
  }

  MemoryStore store_;
  ApiServer api_{&store_, nullptr, kToken};
  std::unique_ptr<HttpServer> server_;
  Remote remote_;
};

TEST_F(GetCommandsTest, DescribeShowsTheObservedAccuracyBesideThePlannedOne) {
  SetStatus(Observed(ObservedAccuracy{63.194, 57.485, 68.557, 288, 288, 63.9, 60}));
  const std::string out = Run(Describe, {"workflow", "vqa"});
  EXPECT_NE(out.find("  Accuracy:    observed 63.2% (95% 57.5-68.6%, n=288), planned 63.9%, floor 60.0%\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("[below the floor]"), std::string::npos);
  EXPECT_EQ(out.find("raised to"), std::string::npos);
}

TEST_F(GetCommandsTest, DescribeMarksAnIntervalBelowTheFloorAndARaisedFloor) {
  WorkflowStatus st = Observed(ObservedAccuracy{52.0, 45.1, 58.8, 200, 200, 63.9, 60});
  st.accuracy_floor = 65.1;
  SetStatus(st);
  const std::string out = Run(Describe, {"workflow", "vqa"});
  EXPECT_NE(out.find("observed 52.0% (95% 45.1-58.8%, n=200), planned 63.9%, floor 60.0% [below the floor]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Accuracy:  56.59 (planned at a floor raised to 65.1% after observed accuracy drift)\n"),
            std::string::npos)
      << out;
}

TEST_F(GetCommandsTest, DescribeWithoutLabelsHasNoAccuracyLine) {
  SetStatus(Observed(std::nullopt));
  const std::string out = Run(Describe, {"workflow", "vqa"});
  EXPECT_NE(out.find("  Throughput:"), std::string::npos) << out;
  EXPECT_EQ(out.find("  Accuracy:"), std::string::npos) << out;
}

// The cells of the table's first row under its header, split at blanks.
std::vector<std::string> FirstRow(const std::string& table) {
  std::istringstream lines(table);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  std::istringstream cells(row);
  std::vector<std::string> c;
  for (std::string x; cells >> x;) c.push_back(x);
  return c;
}

TEST_F(GetCommandsTest, GetWideHasTheObservedAccuracyColumns) {
  SetStatus(Observed(ObservedAccuracy{63.194, 57.485, 68.557, 288, 288, 63.9, 60}));
  const std::string wide = Run(Get, {"workflows", "-o", "wide"});
  EXPECT_NE(wide.find("OBS-ACCURACY"), std::string::npos) << wide;
  auto c = FirstRow(wide);
  ASSERT_GE(c.size(), 3u) << wide;
  EXPECT_EQ(c[c.size() - 3], "63.2") << wide;
  EXPECT_EQ(c[c.size() - 2], "57.5-68.6") << wide;
  EXPECT_EQ(c[c.size() - 1], "288") << wide;
  // The default table is unchanged.
  EXPECT_EQ(Run(Get, {"workflows"}).find("OBS-ACCURACY"), std::string::npos);
  // No labels: dashes.
  SetStatus(Observed(std::nullopt));
  c = FirstRow(Run(Get, {"workflows", "-o", "wide"}));
  ASSERT_GE(c.size(), 3u);
  EXPECT_EQ(c[c.size() - 3] + c[c.size() - 2] + c[c.size() - 1], "---");
}

}  // namespace
}  // namespace jb::cli

namespace jb::cli {
namespace {

// VQA joins an image and a question into one request: describe said "4970 emitted by the sources,
// 2485 delivered", which read as half the items lost.
TEST_F(GetCommandsTest, DescribeCountsAJoinsPartsAndRequests) {
  WorkflowStatus st = Observed(std::nullopt);
  st.observed->emitted = 4970;
  st.observed->delivered = 2485;
  SetStatus(st);
  const std::string out = Run(Describe, {"workflow", "vqa"});
  EXPECT_NE(out.find("Items:       4970 parts emitted by 2 sources (2485 requests), 2485 requests delivered, 0 dropped"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace jb::cli
