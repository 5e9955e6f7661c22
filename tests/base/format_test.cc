#include "base/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace jb {
namespace {

TEST(FormatFixed, RoundsAsPrintf) {
  EXPECT_EQ(FormatFixed(2.345, 2), "2.35");  // 2.345 is stored just above: printf rounds it up too
  EXPECT_EQ(FormatFixed(0.125, 2), "0.12");  // exactly half: round-half-even, as printf
  EXPECT_EQ(FormatFixed(1234.5678, 0), "1235");
  EXPECT_EQ(FormatFixed(-3.14159, 3), "-3.142");
  EXPECT_EQ(FormatFixed(7, 4), "7.0000");
}

TEST(FormatFixed, SameTextAsTheCopiesItReplacesForEveryNonZeroValue) {
  // The three copies it replaced were "%.*f" (snprintf) and std::fixed streams; compare over a
  // spread of values and precisions.
  const double values[] = {1e-9, 0.05, 0.049999, 0.5, 1.0 / 3, 2.5, 99.995, 123456.789, -1.5, -2.75, -1e6 / 7};
  for (double v : values)
    for (int d = 0; d <= 6; ++d) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.*f", d, v);
      EXPECT_EQ(FormatFixed(v, d), buf) << v << " with " << d << " digits";
    }
}

// Regression: a negative value that rounds to zero printed "-0.0" (and "-0.0%" as a saving).
TEST(FormatFixed, NegativeZeroPrintsWithoutSign) {
  EXPECT_EQ(FormatFixed(-0.0, 1), "0.0");
  EXPECT_EQ(FormatFixed(-0.04, 1), "0.0");
  EXPECT_EQ(FormatFixed(-0.0004, 3), "0.000");
  EXPECT_EQ(FormatFixed(-0.4, 0), "0");
  EXPECT_EQ(FormatFixed(-0.05001, 1), "-0.1");  // not zero after rounding: the sign stays
}

TEST(FormatFixed, NonFiniteAndExtremeValues) {
  EXPECT_EQ(FormatFixed(std::numeric_limits<double>::quiet_NaN(), 2), "nan");
  EXPECT_EQ(FormatFixed(std::numeric_limits<double>::infinity(), 2), "inf");
  EXPECT_EQ(FormatFixed(-std::numeric_limits<double>::infinity(), 2), "-inf");
  const std::string big = FormatFixed(std::numeric_limits<double>::max(), 2);
  EXPECT_EQ(big.size(), 309u + 3u);      // 309 integer digits, ".00": not truncated
  EXPECT_EQ(FormatFixed(1.5, -3), "2");  // digits clamped to 0..17
  EXPECT_EQ(FormatFixed(0.1, 40).size(), 2u + 17u);
}

TEST(FormatPercent, ScalesAndAddsTheSign) {
  EXPECT_EQ(FormatPercent(0.1234), "12.3%");
  EXPECT_EQ(FormatPercent(0.05, 3), "5.000%");
  EXPECT_EQ(FormatPercent(1), "100.0%");
  EXPECT_EQ(FormatPercent(-0.25), "-25.0%");
}

// Regression: a plan that saves nothing (a tiny negative saving) read "saves -0.0%".
TEST(FormatPercent, TinyNegativeFractionIsZeroPercent) {
  EXPECT_EQ(FormatPercent(-0.0001), "0.0%");
  EXPECT_EQ(FormatPercent(-0.0), "0.0%");
}

}  // namespace
}  // namespace jb
