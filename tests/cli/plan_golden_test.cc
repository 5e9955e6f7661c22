// Plan goldens: every directory tests/golden/plan/CASE/ holds `args` (the arguments of `jbctl plan`,
// run from the source root, so a case can name shipped manifests such as manifests/vqa by path, or
// its own files under tests/golden/plan/CASE/) and `expected`: a first line "exit N", then what
// jbctl printed (stdout and stderr). Each case is its own test, PlanGolden/MatchesItsExpectedPlan/CASE.
//
// The solver's wall time ("..., 12.3 ms" at the end of the solver line) is the one volatile figure;
// it is replaced by "<time> ms" on both sides before the comparison.
//
// To regenerate after an intended planner change, run with JB_UPDATE_GOLDENS=1:
//   JB_UPDATE_GOLDENS=1 build/tests/cli_test --gtest_filter='Goldens/PlanGolden.*'
// and review the diff of tests/golden/plan/ before committing it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

const fs::path kRoot = fs::path(JB_SOURCE_DIR) / "tests/golden/plan";

std::vector<std::string> Cases() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kRoot, ec))
    if (e.is_directory() && fs::exists(e.path() / "args")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The output with the solver's wall time masked.
std::string Stable(const std::string& output) {
  static const std::regex kSolveTime(R"(\), [0-9]+\.[0-9] ms\n)");
  return std::regex_replace(output, kSolveTime, "), <time> ms\n");
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

class PlanGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PlanGolden, MatchesItsExpectedPlan) {
  fs::path dir = kRoot / GetParam();
  std::string args = Trimmed(testing::ReadFile(dir / "args"));
  ASSERT_FALSE(args.empty()) << dir / "args"
                             << " is empty";
  auto r = testing::Run(testing::Jbctl() + " plan " + args + " 2>&1");
  std::string got = "exit " + std::to_string(r.exit_code) + "\n" + Stable(r.output);
  if (const char* update = std::getenv("JB_UPDATE_GOLDENS"); update != nullptr && std::string(update) == "1") {
    std::ofstream(dir / "expected", std::ios::trunc) << got;
    GTEST_SKIP() << "regenerated " << dir / "expected";
  }
  ASSERT_TRUE(fs::exists(dir / "expected")) << "no expected output; generate it with JB_UPDATE_GOLDENS=1";
  EXPECT_EQ(got, testing::ReadFile(dir / "expected")) << "jbctl plan " << args;
}

INSTANTIATE_TEST_SUITE_P(Goldens, PlanGolden, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return testing::TestNameOf(param_info.param);
                         });

// The cases the planner must keep answering the same way; a missing one is a deleted golden.
TEST(PlanGoldenSet, CoversTheShippedExamplesAndAnInfeasibleCase) {
  auto cases = Cases();
  for (const char* want : {"vqa-shared", "vqa-exclusive", "vqa-no-downward", "vehicle-tracking", "infeasible-accuracy",
                           "infeasible-capacity"})
    EXPECT_NE(std::find(cases.begin(), cases.end(), want), cases.end()) << want;
}

}  // namespace
}  // namespace jb
