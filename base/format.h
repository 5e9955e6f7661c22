// Numbers in messages, status and tables: the one fixed-point formatting of the project. A value
// that rounds to zero prints without a sign ("0.0", never "-0.0" or "-0.0%"), and no caller
// formats a double with a bare "%f" or std::to_string (six decimals of noise).
//
//   FormatFixed(2.345, 2)      == "2.35"    (as printf "%.2f")
//   FormatFixed(-0.04, 1)      == "0.0"
//   FormatPercent(0.1234)      == "12.3%"
//   FormatPercent(0.05, 3)     == "5.000%"
//
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace jb {

// `v` with `digits` decimals (0..17; clamped), rounded as printf's "%.*f". "nan", "inf", "-inf"
// for non-finite values.
std::string FormatFixed(double v, int digits);

// 100 * `fraction` with `digits` decimals and a "%" sign.
std::string FormatPercent(double fraction, int digits = 1);

}  // namespace jb
