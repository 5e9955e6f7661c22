#include "base/status.h"

namespace jb {

std::string Status::ToString() const {
  static const char* kNames[] = {
      "OK",       "InvalidArgument", "NotFound",         "AlreadyExists", "FailedPrecondition", "Infeasible",
      "Internal", "Unavailable",     "DeadlineExceeded", "Conflict",      "Unauthenticated"};
  if (ok()) return "OK";
  return std::string(kNames[static_cast<int>(code_)]) + ": " + message_;
}

}  // namespace jb
