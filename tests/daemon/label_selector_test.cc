// LabelSelector (daemon/label_selector.h): equality- and set-based terms, as the API server and
// jbctl get -l apply them.
#include "daemon/label_selector.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

bool Selects(const std::string& sel, const std::map<std::string, std::string>& labels) {
  auto s = LabelSelector::Parse(sel);
  EXPECT_TRUE(s.ok()) << sel << ": " << s.status().message();
  return s.ok() && s->Matches(labels);
}

TEST(LabelSelector, SetBasedTerms) {
  const std::map<std::string, std::string> edge = {{"tier", "edge"}, {"team", "vision"}};
  EXPECT_TRUE(Selects("tier in (edge,cloud)", edge));
  EXPECT_TRUE(Selects("tier in(edge)", edge));
  EXPECT_FALSE(Selects("tier in (cloud)", edge));
  EXPECT_FALSE(Selects("tier notin (edge, cloud)", edge));
  EXPECT_TRUE(Selects("tier notin (cloud)", edge));
  EXPECT_TRUE(Selects("zone notin (a)", edge)) << "notin holds for an absent key, as in Kubernetes";
  EXPECT_FALSE(Selects("zone in (a)", edge));
  EXPECT_TRUE(Selects("team", edge));
  EXPECT_FALSE(Selects("!team", edge));
  EXPECT_TRUE(Selects("!canary", edge));
  EXPECT_TRUE(Selects("tier in (edge), team=vision, !canary", edge));
  EXPECT_FALSE(Selects("tier in (edge),team!=vision", edge));
  EXPECT_TRUE(Selects("jellybean.dev/tier in (edge)", {{"jellybean.dev/tier", "edge"}}));
  EXPECT_TRUE(Selects("x=", {{"x", ""}})) << "an empty value";
  EXPECT_TRUE(Selects("", {})) << "everything";
}

TEST(LabelSelector, MalformedTermsAreNamed) {
  for (const char* bad : {"tier in (edge", "tier in edge)", "tier in ()", "tier inn (a)", "in (a)", "tier in (a b)",
                          "!", "a,,b", "tier in (a=b)", "-x", "a/b/c", "x=(y)"}) {
    auto s = LabelSelector::Parse(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace jb
