// Helpers shared by tests: testing/util.h (also used by the benchmarks), plus the jbctl under test.
#pragma once

#include "testing/util.h"

namespace jb::testing {

inline std::string Jbctl() { return JB_JBCTL; }

}  // namespace jb::testing
