// Runs `promtool check metrics` on a /metrics page for the metrics tests. promtool comes with the
// Debian package `prometheus` (in the Makefile's PACKAGES); without it the caller skips the test.
#pragma once

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "testing/util.h"

namespace jb::testing {

inline bool HavePromtool() { return Run("command -v promtool >/dev/null 2>&1").exit_code == 0; }

inline constexpr const char* kNoPromtool =
    "promtool not installed (Debian package prometheus; `make setup` installs it)";

// promtool's exit status and output (stdout and stderr) for `page`: 0 and "" when it is clean.
inline CommandResult PromtoolCheckMetrics(const std::string& page) {
  TempDir dir;
  auto file = dir.path() / "metrics.txt";
  std::ofstream(file, std::ios::binary) << page;
  return Run("promtool check metrics < '" + file.string() + "' 2>&1");
}

}  // namespace jb::testing
