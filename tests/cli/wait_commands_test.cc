// jbctl wait and rollout status (cli/wait_commands.cc): polling with a deadline.
#include <atomic>
#include <thread>

#include "cli/remote.h"
#include "tests/cli/jbctl_fixture.h"

namespace jb::cli {
namespace {

class WaitCommandsTest : public JbctlFixture {
 protected:
  void SetUp() override {
    JbctlFixture::SetUp();
    ApplyVqa();
  }
  void SetConditions(std::vector<Condition> conds, std::optional<jb::RolloutStatus> rollout = std::nullopt) {
    WorkflowStatus st;
    st.conditions = std::move(conds);
    st.plan_epoch = 3;
    st.rollout = std::move(rollout);
    ASSERT_TRUE(store_.PutStatus("vqa", st).ok());
  }
  static Condition C(const std::string& type, const std::string& status) {
    Condition c;
    c.type = type;
    c.status = status;
    return c;
  }
};

TEST_F(WaitCommandsTest, ConditionAlreadyMet) {
  SetConditions({C("SLOMet", "True")});
  auto r = Run({"wait", "workflow/vqa", "--for=condition=SLOMet", "--timeout=5s"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "workflow.jellybean.dev/vqa condition met\n");
  EXPECT_EQ(Run({"wait", "workflow", "vqa", "--for", "condition=SLOMet=True"}).code, 0);
}

TEST_F(WaitCommandsTest, TimesOutWithExitOne) {
  SetConditions({C("SLOMet", "False")});
  auto t0 = std::chrono::steady_clock::now();
  auto r = Run({"wait", "workflow/vqa", "--for=condition=SLOMet", "--timeout=300ms"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("timed out waiting for the condition on workflows/vqa"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(Run({"wait", "workflow/vqa", "--for=condition=SLOMet=False", "--timeout=1s"}).code, 0);
}

TEST_F(WaitCommandsTest, SeesAConditionThatTurnsTrueWhileWaiting) {
  SetConditions({C("SLOMet", "False")});
  const size_t before = Requests().size();
  std::thread flip([&] {
    // After the waiter's first GET, the condition turns True.
    testing::WaitFor([&] { return Requests().size() > before; }, std::chrono::seconds(10));
    SetConditions({C("SLOMet", "True")});
  });
  auto r = Run({"wait", "wf/vqa", "--for=condition=SLOMet", "--timeout=20s"});
  flip.join();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_GE(Requests().size(), before + 2) << "polled more than once";
}

TEST_F(WaitCommandsTest, BadArgumentsAreErrors) {
  EXPECT_EQ(Run({"wait", "workflow/vqa", "--for=ready"}).code, 1);
  EXPECT_EQ(Run({"wait", "workflow/vqa", "--for=condition=Ready", "--timeout=soon"}).code, 1);
  EXPECT_EQ(Run({"wait", "workflow/nope", "--for=condition=Ready", "--timeout=1s"}).code, 1);
  EXPECT_EQ(Run({"wait", "workflow/vqa"}).code, 1) << "--for is required";
}

TEST_F(WaitCommandsTest, WaitForDelete) {
  ASSERT_EQ(Run({"delete", "modelprofile/extract-image-feature", "--ignore-not-found"}).code, 0);
  auto r = Run({"wait", "modelprofile/extract-image-feature", "--for=delete", "--timeout=2s"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(ParseDuration, UnitsAndErrors) {
  EXPECT_EQ(ParseDuration("30s"), 30);
  EXPECT_EQ(ParseDuration("2m"), 120);
  EXPECT_EQ(ParseDuration("500ms"), 0.5);
  EXPECT_EQ(ParseDuration("1h"), 3600);
  EXPECT_EQ(ParseDuration("7"), 7);
  EXPECT_FALSE(ParseDuration("soon"));
  EXPECT_FALSE(ParseDuration("5d"));
  EXPECT_FALSE(ParseDuration("-1s"));
}

TEST_F(WaitCommandsTest, RolloutStatusReportsDoneOrWaits) {
  SetConditions({C("Ready", "True")});
  auto done = Run({"rollout", "status", "workflow", "vqa", "--timeout=5s"});
  EXPECT_EQ(done.code, 0) << done.err;
  EXPECT_EQ(done.out, "workflow \"vqa\" successfully rolled out (epoch 3)\n");
  jb::RolloutStatus ro;
  ro.from_epoch = 3;
  ro.to_epoch = 4;
  ro.phase = "Switching";
  ro.trigger = "NodeLost";
  SetConditions({C("Ready", "True")}, ro);
  auto once = Run({"rollout", "status", "workflow/vqa", "--watch=false"});
  EXPECT_EQ(once.code, 0) << once.err;
  EXPECT_EQ(once.out, "Waiting for rollout of epoch 4 to finish: phase Switching (trigger NodeLost)...\n");
  auto timeout = Run({"rollout", "status", "workflow/vqa", "--timeout=200ms"});
  EXPECT_EQ(timeout.code, 1);
  EXPECT_NE(timeout.err.find("timed out"), std::string::npos) << timeout.err;
}

}  // namespace
}  // namespace jb::cli
