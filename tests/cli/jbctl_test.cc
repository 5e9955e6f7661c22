// jbctl's command-line contract: exit codes, stdout/stderr split, output formats.
#include <gtest/gtest.h>

#include "api/value.h"
#include "tests/test_util.h"

namespace jb {
namespace {

TEST(Jbctl, ValidateExitCodes) {
  EXPECT_EQ(testing::Run(testing::Jbctl() + " validate -f manifests/ >/dev/null").exit_code, 0);
  EXPECT_EQ(testing::Run(testing::Jbctl() + " validate -f tests/golden/validate/04-zero-rate.yaml >/dev/null").exit_code, 1);
  auto missing = testing::Run(testing::Jbctl() + " validate -f /nonexistent 2>&1 >/dev/null");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no such file"), std::string::npos) << "errors go to stderr";
  EXPECT_EQ(testing::Run(testing::Jbctl() + " frobnicate 2>/dev/null").exit_code, 1);
}

TEST(Jbctl, PlanTableShowsCostSplitAccuracySolverAndBaselines) {
  auto r = testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ --baseline prototype --baseline cloud-only --baseline most-accurate");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* want : {"OPERATOR", "VARIANT", "NODE", "TIER", "UTILISATION", "compute", "network", "accuracy:",
                           "proven optimal", "prototype", "cloud-only", "most-accurate", "cheaper"})
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
  EXPECT_EQ(r.output.find("WARNING"), std::string::npos) << r.output;
}

TEST(Jbctl, PlanJsonIsMachineReadable) {
  auto r = testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ -o json --exclusive --percentile p90 --headroom 0.9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto docs = ParseYamlStream(r.output);
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_TRUE(docs[0].error.ok());
  const Value* plan = docs[0].root.Find("plan");
  ASSERT_NE(plan, nullptr);
  EXPECT_GT(plan->Find("cost")->Find("totalPerHour")->as_number(), 0);
  EXPECT_TRUE(plan->Find("optimal")->as_bool());
  for (const auto& pl : plan->Find("placements")->items()) EXPECT_LE(pl.Find("utilisation")->as_number(), 0.9 + 1e-9);
}

TEST(Jbctl, PlanErrorsAreClear) {
  auto bad = testing::Run(testing::Jbctl() + " plan -f tests/golden/validate/04-zero-rate.yaml 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("04-zero-rate.yaml:59:11: spec.sources[0].rate"), std::string::npos) << bad.output;
  auto infeasible = testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ --min-accuracy 99 2>&1");
  EXPECT_EQ(infeasible.exit_code, 1);
  EXPECT_NE(infeasible.output.find("no variant combination reaches the accuracy floor 99.00"), std::string::npos)
      << infeasible.output;
  EXPECT_EQ(testing::Run(testing::Jbctl() + " plan -f manifests/vqa/ --baseline nope 2>/dev/null").exit_code, 1);
}

}  // namespace
}  // namespace jb
