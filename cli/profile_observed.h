// jbctl profile --from-observed WORKFLOW|PROFILE -o DIR: the figures the workers observed (the
// ModelProfiles' status, reconciler/profile_drift.h), read from jellybeand over the REST API and
// written back as ModelProfile documents of the same shape `jbctl profile` writes
// (DIR/modelprofile-<name>.yaml): each observed hardware class's p50/p75/p90 latency replaces the
// spec's for that class, the observed output size replaces the spec's, other hardware classes are
// kept (from DIR's file of the same name when there is one: profiles of other machines merge in),
// accuracy is kept. A header comment says the figures are observed, from how many items, when.
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "api/types.h"

namespace jb {

namespace profile {

struct ObservedProfiles {
  std::vector<ModelProfile> profiles;  // as to be written: spec and name only (no status, no server fields)
  std::string header;                  // the YAML comment naming what was observed
};

// `stored`'s observed figures (entries with at least `min_items` items), merged into the profile of
// the same name in `existing` (an earlier file) when there is one, else into `stored`'s spec.
// Profiles with no such entry are left out.
ObservedProfiles FromObserved(const std::vector<ModelProfile>& stored, const std::vector<ModelProfile>& existing,
                              int64_t min_items = 1);

}  // namespace profile

// True when `args` (jbctl profile's) ask for --from-observed.
bool WantsFromObserved(const std::vector<std::string>& args);
// The command: jbctl profile --from-observed NAME -o DIR [--min-items N] [connection flags].
int ProfileFromObservedCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace jb
