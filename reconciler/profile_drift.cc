#include "reconciler/profile_drift.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "base/format.h"

namespace jb {
namespace {

// Items-weighted accumulation of observations of one key.
struct Acc {
  double w = 0, p50 = 0, p75 = 0, p90 = 0, kib = 0;
  int64_t items = 0;
  std::set<std::string> workflows;
  void Add(double p50_ms, double p75_ms, double p90_ms, double out_kib, int64_t n) {
    const double x = static_cast<double>(n);
    w += x;
    p50 += x * p50_ms;
    p75 += x * p75_ms;
    p90 += x * p90_ms;
    kib += x * out_kib;
    items += n;
  }
  VariantObservation Result(const std::string& profile, const std::string& variant, const std::string& hardware) const {
    VariantObservation o;
    o.profile = profile;
    o.variant = variant;
    o.hardware = hardware;
    o.p50_ms = w > 0 ? p50 / w : 0;
    o.p75_ms = w > 0 ? p75 / w : 0;
    o.p90_ms = w > 0 ? p90 / w : 0;
    o.output_kib = w > 0 ? kib / w : 0;
    o.items = items;
    o.workflows.assign(workflows.begin(), workflows.end());
    if (o.workflows.size() > limits::kMaxVariants) o.workflows.resize(limits::kMaxVariants);  // the status's bound
    return o;
  }
};

using Key3 = std::tuple<std::string, std::string, std::string>;  // profile, variant, hardware

bool Sane(double v) { return std::isfinite(v) && v >= 0 && v <= 3.6e6; }

const char* const kPercentiles[] = {"p50", "p75", "p90"};

}  // namespace

std::vector<VariantObservation> ObserveVariants(const Workflow& wf, const Infrastructure& infra,
                                                const std::vector<WorkerState>& workers) {
  std::map<std::string, std::string> profile_of, hardware_of;
  for (const auto& op : wf.spec.operators) profile_of[op.name] = op.profile;
  for (const auto& n : infra.spec.nodes) hardware_of[n.name] = n.hardware;
  std::map<Key3, Acc> acc;
  for (const auto& w : workers) {
    auto hw = hardware_of.find(w.node);
    if (!w.metrics || hw == hardware_of.end()) continue;
    for (const auto& in : w.metrics->instances) {
      auto prof = profile_of.find(in.name);
      // A worker's report is not trusted blindly: figures out of range are left out.
      if (in.kind != "operator" || in.variant.empty() || prof == profile_of.end() || in.items_out <= 0 ||
          !Sane(in.p50_ms) || !Sane(in.p75_ms) || !Sane(in.p90_ms) || !Sane(in.output_bytes / 1024))
        continue;
      auto& a = acc[{prof->second, in.variant, hw->second}];
      a.Add(in.p50_ms, in.p75_ms, in.p90_ms, in.output_bytes / 1024, in.items_out);
      a.workflows.insert(wf.metadata.name);
    }
  }
  std::vector<VariantObservation> out;
  for (const auto& [k, a] : acc) out.push_back(a.Result(std::get<0>(k), std::get<1>(k), std::get<2>(k)));
  return out;
}

void ProfileObservations::Set(const std::string& workflow, std::vector<VariantObservation> obs) {
  MutexLock l(&mu_);
  if (obs.empty())
    by_workflow_.erase(workflow);
  else
    by_workflow_[workflow] = std::move(obs);
}

std::vector<VariantObservation> ProfileObservations::Merged(const std::string& profile) const {
  std::map<Key3, Acc> acc;
  {
    MutexLock l(&mu_);
    for (const auto& [wf, obs] : by_workflow_)
      for (const auto& o : obs) {
        if (o.profile != profile) continue;
        auto& a = acc[{o.profile, o.variant, o.hardware}];
        a.Add(o.p50_ms, o.p75_ms, o.p90_ms, o.output_kib, o.items);
        a.workflows.insert(o.workflows.begin(), o.workflows.end());
      }
  }
  std::vector<VariantObservation> out;
  for (const auto& [k, a] : acc) out.push_back(a.Result(std::get<0>(k), std::get<1>(k), std::get<2>(k)));
  return out;
}

double ObservedAt(const ObservedVariant& o, const std::string& percentile) {
  return percentile == "p50" ? o.p50_ms : percentile == "p90" ? o.p90_ms : o.p75_ms;
}

std::optional<double> LatencyAt(const Latency& l, const std::string& percentile) {
  if (percentile == "p50") return l.p50;
  if (percentile == "p75") return l.p75;
  if (percentile == "p90") return l.p90;
  return std::nullopt;
}

ModelProfileStatus MergeProfileStatus(const ModelProfile& mp, const std::vector<VariantObservation>& merged,
                                      const std::string& now) {
  ModelProfileStatus st = mp.status;
  // `workflows` lists who observes an entry now: entries nobody reports keep their last figures.
  for (auto& e : st.observed) e.workflows.clear();
  for (const auto& m : merged) {
    auto it = std::find_if(st.observed.begin(), st.observed.end(), [&](const ObservedVariant& e) {
      return e.variant == m.variant && e.hardware == m.hardware;
    });
    if (it == st.observed.end()) {
      st.observed.emplace_back();
      it = std::prev(st.observed.end());
      it->variant = m.variant;
      it->hardware = m.hardware;
    }
    it->p50_ms = m.p50_ms;
    it->p75_ms = m.p75_ms;
    it->p90_ms = m.p90_ms;
    it->output_size_kib = m.output_kib;
    it->items = m.items;
    it->time = now;
    it->workflows = m.workflows;
  }
  std::vector<ObservedVariant> kept;
  for (auto& e : st.observed) {
    const Variant* v = nullptr;
    for (const auto& x : mp.spec.variants)
      if (x.name == e.variant) v = &x;
    if (v == nullptr) continue;  // the variant left the profile
    std::optional<Latency> profiled;
    if (auto l = v->latency_ms.find(e.hardware); l != v->latency_ms.end()) profiled = l->second;
    if (e.planned && e.profiled != profiled) {  // a new profile replaces what a drift adopted
      e.planned.reset();
      e.planned_since.clear();
      e.planned_by.clear();
    }
    e.profiled = profiled;
    e.drift.clear();
    if (profiled)
      for (const char* pct : kPercentiles)
        if (auto ref = LatencyAt(*profiled, pct); ref && *ref > 0)
          e.drift[pct] = std::round(ObservedAt(e, pct) / *ref * 1e4) / 1e4;
    kept.push_back(std::move(e));
  }
  std::sort(kept.begin(), kept.end(), [](const ObservedVariant& a, const ObservedVariant& b) {
    return std::tie(a.variant, a.hardware) < std::tie(b.variant, b.hardware);
  });
  st.observed = std::move(kept);
  return st;
}

std::vector<ProfileDrift> ProfileDriftTrigger::Observe(double now_s, const std::string& workflow,
                                                       const std::string& percentile,
                                                       const std::vector<ModelProfile>& profiles) {
  std::vector<ProfileDrift> fired;
  MutexLock l(&mu_);
  std::set<Key> seen;
  for (const auto& mp : profiles)
    for (const auto& e : mp.status.observed) {
      if (std::find(e.workflows.begin(), e.workflows.end(), workflow) == e.workflows.end()) continue;
      const Latency* ref = e.planned ? &*e.planned : e.profiled ? &*e.profiled : nullptr;
      std::optional<double> reference = ref ? LatencyAt(*ref, percentile) : std::nullopt;
      if (!reference || e.items < opts_.min_items) continue;
      const double observed = ObservedAt(e, percentile);
      Key key{workflow, mp.metadata.name, e.variant, e.hardware};
      if (!(observed > *reference * (1 + opts_.margin))) continue;  // inside the margin: the window restarts
      seen.insert(key);
      auto [it, fresh] = since_.try_emplace(key, now_s);
      if (now_s - it->second < opts_.sustain_s) continue;
      since_.erase(it);
      seen.erase(key);
      ProfileDrift d;
      d.profile = mp.metadata.name;
      d.variant = e.variant;
      d.hardware = e.hardware;
      d.percentile = percentile;
      d.observed_ms = observed;
      d.reference_ms = *reference;
      d.reference_was_observed = e.planned.has_value();
      d.items = e.items;
      d.observed.p50 = std::max(limits::kMinLatencyMs, e.p50_ms);
      d.observed.p75 = std::max(limits::kMinLatencyMs, e.p75_ms);
      d.observed.p90 = std::max(limits::kMinLatencyMs, e.p90_ms);
      fired.push_back(std::move(d));
    }
  for (auto it = since_.begin(); it != since_.end();)
    it = std::get<0>(it->first) == workflow && seen.count(it->first) == 0 ? since_.erase(it) : std::next(it);
  return fired;
}

void ProfileDriftTrigger::Forget(const std::string& workflow) {
  MutexLock l(&mu_);
  for (auto it = since_.begin(); it != since_.end();)
    it = std::get<0>(it->first) == workflow ? since_.erase(it) : std::next(it);
}

void AdoptDrift(const ProfileDrift& drift, const std::string& workflow, const std::string& now,
                ModelProfileStatus* status) {
  for (auto& e : status->observed)
    if (e.variant == drift.variant && e.hardware == drift.hardware) {
      e.planned = drift.observed;
      e.planned_since = now;
      e.planned_by = workflow;
    }
}

std::vector<ModelProfile> PlanningProfiles(std::vector<ModelProfile> profiles) {
  for (auto& mp : profiles)
    for (const auto& e : mp.status.observed) {
      if (!e.planned) continue;
      for (auto& v : mp.spec.variants)
        if (v.name == e.variant)
          if (auto l = v.latency_ms.find(e.hardware); l != v.latency_ms.end()) l->second = *e.planned;
    }
  return profiles;
}

std::string DriftMessage(const ProfileDrift& d, const ProfileDriftOptions& opts) {
  const double pct = d.reference_ms > 0 ? 100 * (d.observed_ms / d.reference_ms - 1) : 0;
  return "ModelProfile " + d.profile + " variant " + d.variant + " on hardware " + d.hardware + ": observed " +
         d.percentile + " " + FormatFixed(d.observed_ms, 2) + " ms against " + FormatFixed(d.reference_ms, 2) + " ms " +
         (d.reference_was_observed ? "observed before" : "profiled") + " (+" + FormatFixed(pct, 0) + "%, margin " +
         FormatFixed(100 * opts.margin, 0) + "%) for " + FormatFixed(opts.sustain_s, 0) + " s over " +
         std::to_string(d.items) + " items; planning on the observed figures (p50 " + FormatFixed(d.observed.p50, 2) +
         ", p75 " + FormatFixed(d.observed.p75.value_or(0), 2) + ", p90 " + FormatFixed(d.observed.p90.value_or(0), 2) +
         " ms)";
}

}  // namespace jb
