// The JellyBean release every program reports (jbctl version, GET /version); kept equal to
// debian/changelog's version.
#pragma once

namespace jb {

inline constexpr const char* kJellyBeanVersion = "v0.1.0";

}  // namespace jb
