// What a fuzz target does when a property it checks does not hold: print what broke and abort,
// so libFuzzer records the input as a crash (the sanitizers report their own findings).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace jb::fuzz {

[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

inline void Check(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

}  // namespace jb::fuzz
