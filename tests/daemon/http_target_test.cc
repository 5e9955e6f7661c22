// Request-target helpers of the HTTP server (daemon/http_target.h).
#include "daemon/http_target.h"

#include <gtest/gtest.h>

namespace jb {
namespace {

TEST(HttpTarget, QueryIsTheRawTextBetweenTheQuestionMarkAndTheFragment) {
  EXPECT_EQ(QueryOf("/v2/models/m/results"), "");
  EXPECT_EQ(QueryOf("/v2/models/m/results?format=sse"), "format=sse");
  EXPECT_EQ(QueryOf("/p?a=1&b=%20#frag"), "a=1&b=%20");
  EXPECT_EQ(QueryOf("/p?"), "");
}

TEST(HttpTarget, PathIsPercentDecodedWithoutQueryOrFragment) {
  std::string out;
  ASSERT_TRUE(DecodePath("/v2/models/a%20b/infer?x=1#f", &out));
  EXPECT_EQ(out, "/v2/models/a b/infer");
  EXPECT_FALSE(DecodePath("/bad%2", &out));
  EXPECT_FALSE(DecodePath("/bad%zz", &out));
}

}  // namespace
}  // namespace jb
