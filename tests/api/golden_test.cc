// Golden tests for validation: every tests/golden/validate/NAME.yaml is run through
// `jbctl validate -f`, whose output must equal NAME.expected and whose exit status must be 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

std::vector<std::string> Cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(JB_SOURCE_DIR) / "tests/golden/validate"))
    if (e.path().extension() == ".yaml") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GoldenValidateSet, AtLeastThirtyCases) { EXPECT_GE(Cases().size(), 30u); }

// Each case is its own test: ValidateGoldens/GoldenValidate.MatchesItsExpectedErrors/CASE.
class GoldenValidate : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenValidate, MatchesItsExpectedErrors) {
  const std::string rel = "tests/golden/validate/" + GetParam();
  auto r = testing::Run(testing::Jbctl() + " validate -f " + rel + ".yaml 2>&1");
  EXPECT_EQ(r.exit_code, 1) << "malformed manifests must fail validation";
  EXPECT_EQ(r.output, testing::ReadFile(fs::path(JB_SOURCE_DIR) / (rel + ".expected")));
  // Every error line has the file:line:col: prefix, except the count of errors beyond the cap.
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > 4 && line.compare(line.size() - 4, 4, ": ok") == 0) continue;
    if (line.rfind("... and ", 0) == 0) continue;
    EXPECT_EQ(line.rfind(rel + ".yaml:", 0), 0u) << line;
  }
}

INSTANTIATE_TEST_SUITE_P(ValidateGoldens, GoldenValidate, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return testing::TestNameOf("c" + param_info.param);
                         });

TEST(GoldenValidateSet, ShippedManifestsAreValid) {
  auto r = testing::Run(testing::Jbctl() + " validate -f manifests/");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("error"), std::string::npos);
}

// The numeric and size limits must leave every manifest we ship or test with valid.
TEST(GoldenValidateSet, LabManifestsStayValidUnderTheLimits) {
  auto r = testing::Run(testing::Jbctl() + " validate -f tests/lab/three-tier/");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(GoldenValidateSet, ErrorsBeyondTheCapAreCountedOnOneLine) {
  std::string rel = "tests/golden/validate/52-many-errors-capped.yaml";
  auto r = testing::Run(testing::Jbctl() + " validate -f " + rel + " 2>&1");
  size_t errors = 0;
  std::istringstream lines(r.output);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (line.rfind(rel + ":", 0) == 0 && line.find(": ok") == std::string::npos) ++errors;
    last = line;
  }
  EXPECT_EQ(errors, 50u);
  EXPECT_EQ(last, "... and 250 more errors");
}

}  // namespace
}  // namespace jb
