// WorkflowReconciler::UpdateProfiles: the closed-loop profile step of a reconcile
// (reconciler/profile_drift.h has the parts it is made of).
#include <chrono>

#include "reconciler/workflow_reconciler.h"

namespace jb {
namespace {

std::string WallRfc3339(const Clock& clock) {
  return FormatRfc3339(std::chrono::system_clock::to_time_t(clock.WallNow()));
}

}  // namespace

void WorkflowReconciler::UpdateProfiles(const Workflow& wf, PlanInputs* in, const std::vector<WorkerState>& observed,
                                        bool judge) {
  const std::string& name = wf.metadata.name;
  profile_obs_.Set(name, ObserveVariants(wf, in->infra, observed));
  const std::string now = WallRfc3339(*opts_.clock);
  {
    // Read-modify-write of each profile's status, one reconcile at a time (another workflow's may
    // write the same profile).
    MutexLock l(&profile_obs_.write_mu());
    for (auto& mp : in->profiles) {
      auto got = store_->Get("ModelProfile", mp.metadata.name);
      if (!got.ok()) continue;  // gone since GatherInputs: the next reconcile says so
      const ModelProfile stored = std::get<ModelProfile>(*got);
      const auto merged = profile_obs_.Merged(mp.metadata.name);
      if (merged.empty() && stored.status.observed.empty()) continue;  // nothing observed, nothing to show
      ModelProfileStatus next = MergeProfileStatus(stored, merged, now);
      if (next != stored.status) {
        auto put = store_->PutProfileStatus(mp.metadata.name, next, "");
        if (!put.ok()) continue;  // best effort: observed again at the next look
      }
      if (mp.spec == stored.spec) mp.status = std::move(next);
    }
  }
  if (!judge) {
    drift_.Forget(name);  // a rollout or no plan: the window restarts afterwards
    return;
  }
  const double now_s = std::chrono::duration<double>(opts_.clock->Now().time_since_epoch()).count();
  for (const auto& d : drift_.Observe(now_s, name, wf.spec.options.percentile, in->profiles)) {
    MutexLock l(&profile_obs_.write_mu());
    for (auto& mp : in->profiles) {
      if (mp.metadata.name != d.profile) continue;
      ModelProfileStatus next = mp.status;
      AdoptDrift(d, name, now, &next);
      if (auto put = store_->PutProfileStatus(mp.metadata.name, next, mp.metadata.resource_version.value_or(""));
          !put.ok())
        continue;  // the profile changed meanwhile: its new figures are planned with instead
      mp.status = std::move(next);
      if (events_ != nullptr)
        events_->Record("Workflow", name, "Warning", "ProfileDrift", DriftMessage(d, drift_.options()));
    }
  }
}

}  // namespace jb
