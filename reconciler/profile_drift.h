// Closed-loop profiles: what the workers observe of each variant's service time and output size,
// per hardware class, becomes the ModelProfile's status (observed beside profiled); a sustained
// drift beyond a margin makes the planners use the observed figures instead of the profiled ones.
//
//  - ObserveVariants: one workflow's workers' reports (InstanceMetrics of operators: variant,
//    p50/p75/p90 of the runtime's run time, mean output bytes, items out), per ModelProfile,
//    variant and hardware class (the hardware of the Infrastructure node the worker runs on),
//    several workers of one key combined weighted by their items.
//  - ProfileObservations: the latest observations of every workflow, merged per profile (items
//    summed; percentiles and sizes weighted by items: an approximation of the pooled percentile).
//  - MergeProfileStatus: a profile's new status from its stored one and the merged observations;
//    every entry shows the spec's figures beside the observed ones and their ratio per percentile.
//    An entry's `planned` figures stay until the spec's figures for that variant and hardware
//    change (a new profile replaces what the drift adopted).
//  - ProfileDriftTrigger: per workflow, whether a variant's observed service time at the
//    workflow's planning percentile has stayed above (1 + margin) x the figure the planner uses
//    (the `planned` one when a drift was adopted before, else the profiled one) for `sustain_s`,
//    resting on at least `min_items` items. Dropping back inside the margin restarts the window.
//  - PlanningProfiles: the profiles as the planner takes them: each `planned` entry replaces the
//    spec's latency of its variant and hardware class (the deployment keeps the spec's: emulated
//    workers keep spending the profiled latency).
// Thread-safety: ProfileObservations and ProfileDriftTrigger are thread-safe; the rest are pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "api/types.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"
#include "reconciler/inputs.h"  // kTriggerProfile

namespace jb {

struct ProfileDriftOptions {
  double margin = 0.25;    // observed beyond (1 + margin) x the planned-with figure ...
  double sustain_s = 60;   // ... for this long ...
  int64_t min_items = 50;  // ... over at least this many items
};

// One variant on one hardware class as observed (by one workflow, or merged).
struct VariantObservation {
  std::string profile;
  std::string variant;
  std::string hardware;
  double p50_ms = 0, p75_ms = 0, p90_ms = 0;
  double output_kib = 0;
  int64_t items = 0;
  std::vector<std::string> workflows;  // merged: who observed it (sorted)
  bool operator==(const VariantObservation&) const = default;
};

// The observations in `workers`' reports of `wf`'s operators, sorted by (profile, variant,
// hardware). Operators without a variant or items, and workers on nodes `infra` does not list,
// are left out.
std::vector<VariantObservation> ObserveVariants(const Workflow& wf, const Infrastructure& infra,
                                                const std::vector<WorkerState>& workers);

class ProfileObservations {
 public:
  // Replaces `workflow`'s observations (empty: it observes nothing now).
  void Set(const std::string& workflow, std::vector<VariantObservation> obs) EXCLUDES(mu_);
  // Every workflow's observations of `profile`, merged per (variant, hardware).
  std::vector<VariantObservation> Merged(const std::string& profile) const EXCLUDES(mu_);
  // Serialises the read-modify-write of profile statuses (the store has no compare-and-swap for them).
  Mutex& write_mu() { return write_mu_; }

 private:
  mutable Mutex mu_;
  std::map<std::string, std::vector<VariantObservation>> by_workflow_ GUARDED_BY(mu_);
  Mutex write_mu_;
};

// `mp`'s status updated with `merged` (observed at `now`, RFC 3339).
ModelProfileStatus MergeProfileStatus(const ModelProfile& mp, const std::vector<VariantObservation>& merged,
                                      const std::string& now);

// The figure at `percentile` ("p50", "p75", "p90") of an observed entry, and of a Latency (nullopt
// when it has none at that percentile).
double ObservedAt(const ObservedVariant& o, const std::string& percentile);
std::optional<double> LatencyAt(const Latency& l, const std::string& percentile);

// A drift that has been sustained: the planner should take `observed` for the variant.
struct ProfileDrift {
  std::string profile, variant, hardware;
  std::string percentile;
  double observed_ms = 0;   // at `percentile`
  double reference_ms = 0;  // the figure the planner used (planned, else profiled)
  bool reference_was_observed = false;
  int64_t items = 0;
  Latency observed;  // all three percentiles, for `planned`
};

class ProfileDriftTrigger {
 public:
  explicit ProfileDriftTrigger(ProfileDriftOptions opts = {}) : opts_(opts) {}
  // One look at `now_s` (monotonic seconds) at the status entries of `profiles` that `workflow`
  // observes, judged at `percentile`. Returns the drifts sustained for the window (each key's
  // window then restarts).
  std::vector<ProfileDrift> Observe(double now_s, const std::string& workflow, const std::string& percentile,
                                    const std::vector<ModelProfile>& profiles) EXCLUDES(mu_);
  // Forgets `workflow`'s windows (it is gone).
  void Forget(const std::string& workflow) EXCLUDES(mu_);
  const ProfileDriftOptions& options() const { return opts_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;  // workflow, profile, variant, hardware
  const ProfileDriftOptions opts_;
  Mutex mu_;
  std::map<Key, double> since_ GUARDED_BY(mu_);  // when the observation went beyond the margin
};

// The drift adopted: `status` of `drift.profile` with the entry's planned figures set.
void AdoptDrift(const ProfileDrift& drift, const std::string& workflow, const std::string& now,
                ModelProfileStatus* status);

// The profiles with every `planned` entry in place of the spec's latency (see above).
std::vector<ModelProfile> PlanningProfiles(std::vector<ModelProfile> profiles);

// The event's message for `drift`.
std::string DriftMessage(const ProfileDrift& drift, const ProfileDriftOptions& opts);

}  // namespace jb
