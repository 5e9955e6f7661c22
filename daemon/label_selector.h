// LabelSelector: Kubernetes label selectors (?labelSelector=...), the subset
//   key=value, key==value, key!=value, key in (v1,v2), key notin (v1,v2), key, !key
// joined by commas (all must hold); spaces around terms and operators are ignored. Keys and values
// are checked loosely against Kubernetes' label syntax (letters, digits, '-', '_', '.'; a key may
// have a "prefix/"; values may be empty) and compared as given. Used by the API server and, on the
// client side, by jbctl get -l.
// Thread-safety: a parsed selector is immutable.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op = Op::kExists;
    std::vector<std::string> values;
  };

  // Parses `text` (already percent-decoded); "" selects everything. kInvalidArgument with the
  // offending part.
  static StatusOr<LabelSelector> Parse(const std::string& text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return reqs_.empty(); }

 private:
  std::vector<Requirement> reqs_;
};

}  // namespace jb
