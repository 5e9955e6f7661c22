#include "base/rfc3339.h"

#include <gtest/gtest.h>
#include <openssl/asn1.h>

#include <memory>

#include "base/asn1_time.h"

namespace jb {
namespace {

TEST(Rfc3339, FormatsAndParsesBack) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1893456000), "2030-01-01T00:00:00Z");
  auto t = ParseRfc3339("2030-01-01T00:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, 1893456000.0);
  auto ms = ParseRfc3339("2030-01-01T00:00:00.250Z");
  ASSERT_TRUE(ms.has_value());
  EXPECT_DOUBLE_EQ(*ms, 1893456000.25);
}

TEST(Rfc3339, MalformedIsNullopt) {
  EXPECT_FALSE(ParseRfc3339("").has_value());
  EXPECT_FALSE(ParseRfc3339("2030-01-01 00:00:00").has_value());
  EXPECT_FALSE(ParseRfc3339("2030-01-01T00:00:00+01:00").has_value());  // UTC only
  EXPECT_GT(SecondsSince("garbage"), 1e17);
}

TEST(Rfc3339, NowRoundTrips) {
  auto now = ParseRfc3339(NowRfc3339());
  ASSERT_TRUE(now.has_value());
  EXPECT_LT(SecondsSince(NowRfc3339Millis()), 5.0);
  EXPECT_GT(SecondsSince(NowRfc3339Millis()), -5.0);
}

// The certificate times in `jbctl` and jellybeand's start-up checks (were "Jan  1 00:00:00 2030 GMT").
TEST(Asn1TimeRfc3339, CertificateTimeAsRfc3339) {
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> t(ASN1_TIME_set(nullptr, 1893456000), ASN1_TIME_free);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Asn1TimeRfc3339(t.get()), "2030-01-01T00:00:00Z");
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> gen(ASN1_TIME_new(), ASN1_TIME_free);
  ASSERT_EQ(ASN1_TIME_set_string(gen.get(), "20991231235959Z"), 1);  // GeneralizedTime (after 2049)
  EXPECT_EQ(Asn1TimeRfc3339(gen.get()), "2099-12-31T23:59:59Z");
  EXPECT_EQ(Asn1TimeRfc3339(nullptr), "(unreadable time)");
}

}  // namespace
}  // namespace jb
