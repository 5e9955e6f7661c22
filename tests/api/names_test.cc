// Kubernetes' DNS-1123 name rules (api/names.h), and that the manifest decoder applies them.
#include "api/names.h"

#include <gtest/gtest.h>

#include "api/manifest.h"

namespace jb {
namespace {

TEST(Dns1123Subdomain, AcceptsLowercaseNamesWithDashesAndDots) {
  for (const std::string& name :
       std::vector<std::string>{"vqa", "a.b-c", "0", "a", "edge.cams-1", "1-2.3", std::string(253, 'a')})
    EXPECT_EQ(IsDns1123Subdomain(name), "") << name;
  EXPECT_EQ(IsDns1123Subdomain(std::string(126, 'a') + "." + std::string(126, 'b')), "");
}

TEST(Dns1123Subdomain, RefusesWhatCouldBecomeAHiddenOrForeignFileName) {
  struct Case {
    std::string name, why;
  };
  for (const Case& c : std::vector<Case>{
           {".hidden", "must start with a lowercase letter or digit, not '.'"},
           {"UPPER", "must be lowercase, found 'U'"},
           {"a_b", "contains '_', which is not allowed"},
           {"-a", "must start with a lowercase letter or digit, not '-'"},
           {"a-", "must end with a lowercase letter or digit, not '-'"},
           {"a.", "must end with a lowercase letter or digit, not '.'"},
           {"a..b", "has '.' right after a '.'"},
           {"a.-b", "has '-' right after a '.'"},
           {"a-.b", "has '-' right before a '.'"},
           {"..", "must start with a lowercase letter or digit, not '.'"},
           {"a/b", "contains '/', which is not allowed"},
           {"a b", "contains ' ', which is not allowed"},
           {std::string("a\nb"), "contains byte 0x0a, which is not allowed"},
           {"", "must not be empty"},
           {std::string(254, 'a'), "is 254 characters long, more than 253"},
       }) {
    std::string got = IsDns1123Subdomain(c.name);
    EXPECT_EQ(got.rfind(c.why, 0), 0u) << c.name << ": " << got;
    EXPECT_NE(got.find("expected a DNS-1123 subdomain"), std::string::npos) << got;
  }
}

TEST(Dns1123Label, IsASubdomainWithoutDotsOfAtMost63Characters) {
  for (const std::string& name : std::vector<std::string>{"edge", "cpu-1", "0", std::string(63, 'z')})
    EXPECT_EQ(IsDns1123Label(name), "") << name;
  EXPECT_EQ(IsDns1123Label("a.b").rfind("contains '.', which is not allowed", 0), 0u);
  EXPECT_EQ(IsDns1123Label(std::string(64, 'z')).rfind("is 64 characters long, more than 63", 0), 0u);
  for (const char* bad : {"", ".x", "X", "a_b", "-a", "a-"}) {
    std::string got = IsDns1123Label(bad);
    EXPECT_NE(got.find("expected a DNS-1123 label"), std::string::npos) << bad << ": " << got;
  }
}

std::string Profile(const std::string& name) {
  return "apiVersion: jellybean.dev/v1alpha1\nkind: ModelProfile\nmetadata:\n  name: \"" + name +
         "\"\nspec:\n  variants:\n  - name: v\n    accuracy: 80\n    outputSizeKiB: 1\n    latencyMs:\n      cpu: "
         "{p50: 1, p75: 2, p90: 3}\n";
}

TEST(Dns1123Subdomain, IsWhatTheDecoderRequiresOfMetadataName) {
  for (const std::string& name :
       std::vector<std::string>{".hidden", "UPPER", "a_b", "-a", "a-", std::string(254, 'a')}) {
    std::vector<Diagnostic> diags;
    auto obj = ObjectFromText(Profile(name), "body", &diags);
    ASSERT_FALSE(obj.ok()) << name;
    ASSERT_EQ(diags.size(), 1u) << name;
    EXPECT_EQ(diags[0].path, "metadata.name");
    // Long names are quoted as an excerpt; the reason is given whole.
    EXPECT_NE(diags[0].message.find("\" is not a valid name: it " + IsDns1123Subdomain(name)), std::string::npos)
        << diags[0].message;
    if (name.size() < 100) {
      EXPECT_EQ(diags[0].message, "\"" + name + "\" is not a valid name: it " + IsDns1123Subdomain(name));
    }
  }
  for (const std::string& name : std::vector<std::string>{"vqa", "a.b-c", std::string(253, 'a')}) {
    std::vector<Diagnostic> diags;
    EXPECT_TRUE(ObjectFromText(Profile(name), "body", &diags).ok()) << name;
  }
  std::vector<Diagnostic> diags;
  EXPECT_FALSE(ObjectFromText(Profile(""), "body", &diags).ok()) << "an empty name is refused (required field)";
}

}  // namespace
}  // namespace jb
