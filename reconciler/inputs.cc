#include "reconciler/inputs.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>
#include <sstream>

#include "api/fields.h"
#include "api/value.h"

namespace jb {
namespace {

// FNV-1a, 64 bit, over a canonical serialisation: integers as 8 little-endian bytes, strings
// length-prefixed (so no two sequences of fields serialise alike).
class Fnv1a {
 public:
  Fnv1a& Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  Fnv1a& U64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    return Bytes(b, sizeof(b));
  }
  Fnv1a& Str(const std::string& s) { return U64(s.size()).Bytes(s.data(), s.size()); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

// The Workflow's spec as the plan sees it: without what only the emulated load generator uses
// (generatorRate, count), so changing the emulated load is left to the load trigger, and without
// what only the data plane uses (how answers are scored and logged, the ingress's deadline and
// admission limit): changing those re-deploys, it does not re-plan.
std::string PlannedSpecJson(const Workflow& wf) {
  WorkflowSpec planned = wf.spec;
  for (auto& s : planned.sources) {
    s.generator_rate.reset();
    s.count.reset();
  }
  planned.accuracy.scorer.reset();
  planned.accuracy.scorer_command.clear();
  planned.ingress.reset();
  planned.results.reset();
  return ToJson(Encoder::Encode(planned));
}

std::string Fixed4(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

// The trigger between two legacy fingerprints: the kind of the first comma-separated part (in
// sorted order) that one has and the other has not.
std::string LegacyChangedInput(const std::string& before, const std::string& after) {
  auto parts = [](const std::string& s) {
    std::set<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.insert(item);
    return out;
  };
  auto a = parts(before), b = parts(after);
  auto kind = [](const std::string& part) -> std::string {
    if (part.rfind("down:", 0) == 0) return kTriggerNode;
    if (part.rfind("load:", 0) == 0) return kTriggerLoad;
    auto slash = part.find('/');
    return slash == std::string::npos ? kTriggerInputs : part.substr(0, slash);
  };
  for (const auto& part : b)
    if (a.count(part) == 0) return kind(part);
  for (const auto& part : a)
    if (b.count(part) == 0) return kind(part);
  return kTriggerInputs;
}

}  // namespace

std::string Fingerprint::Encode() const {
  char buf[128];
  std::snprintf(buf, sizeof(buf),
                "fp1 w=%016" PRIx64 " i=%016" PRIx64 " p=%016" PRIx64 " n=%016" PRIx64 " l=%016" PRIx64, workflow,
                infrastructure, profiles, nodes_down, load);
  std::string out = buf;
  if (observed != 0) {
    std::snprintf(buf, sizeof(buf), " o=%016" PRIx64, observed);
    out += buf;
  }
  if (accuracy != 0) {
    std::snprintf(buf, sizeof(buf), " a=%016" PRIx64, accuracy);
    out += buf;
  }
  return out;
}

std::optional<Fingerprint> Fingerprint::Decode(const std::string& text) {
  Fingerprint f;
  uint64_t* fields[] = {&f.workflow, &f.infrastructure, &f.profiles, &f.nodes_down, &f.load, &f.observed, &f.accuracy};
  const char* keys = "wipnloa";
  if (text.rfind("fp1", 0) != 0) return std::nullopt;
  size_t at = 3;
  for (int k = 0; k < 7; ++k) {
    if (k >= 5 && at == text.size()) break;                                   // " o=" and " a=" are optional
    if (k >= 5 && at + 1 < text.size() && text[at + 1] != keys[k]) continue;  // this optional one is absent
    // " X=" then exactly 16 lower-case hex digits.
    if (at + 3 + 16 > text.size() || text[at] != ' ' || text[at + 1] != keys[k] || text[at + 2] != '=')
      return std::nullopt;
    uint64_t v = 0;
    for (size_t i = at + 3; i < at + 19; ++i) {
      char c = text[i];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = (v << 4) | static_cast<uint64_t>(d);
    }
    *fields[k] = v;
    at += 19;
  }
  // Encode never writes " o=" or " a=" with 0: anything else is not its result.
  const bool has_o = text.find(" o=") != std::string::npos, has_a = text.find(" a=") != std::string::npos;
  if (at != text.size() || (has_o && f.observed == 0) || (has_a && f.accuracy == 0)) return std::nullopt;
  return f;
}

std::vector<Document> PlanInputs::Documents() const {
  std::vector<Document> docs;
  auto add = [&](const std::string& file, Object obj) {
    docs.emplace_back();
    docs.back().file = file;
    docs.back().object = std::move(obj);
  };
  add("Workflow/" + wf.metadata.name, Object(wf));
  if (missing.find("Infrastructure \"") == std::string::npos)
    add("Infrastructure/" + infra.metadata.name, Object(infra));
  for (const auto& p : profiles) add("ModelProfile/" + p.metadata.name, Object(p));
  return docs;
}

PlanInputs GatherInputs(const Store& store, const Workflow& wf) {
  PlanInputs in;
  in.wf = wf;
  auto inf = store.Get("Infrastructure", wf.spec.infrastructure);
  if (!inf.ok())
    in.missing += "Infrastructure \"" + wf.spec.infrastructure + "\"";
  else
    in.infra = std::get<Infrastructure>(*inf);
  std::set<std::string> seen;
  for (const auto& op : wf.spec.operators) {
    if (!seen.insert(op.profile).second) continue;
    auto mp = store.Get("ModelProfile", op.profile);
    if (!mp.ok()) {
      in.missing += (in.missing.empty() ? "" : ", ") + std::string("ModelProfile \"") + op.profile + "\"";
      continue;
    }
    in.profiles.push_back(std::get<ModelProfile>(*mp));
  }
  return in;
}

Fingerprint FingerprintOf(const PlanInputs& in, const WorkflowStatus& st) {
  Fingerprint f;
  f.workflow = Fnv1a().Str(in.wf.metadata.name).Str(PlannedSpecJson(in.wf)).value();
  f.infrastructure = Fnv1a().Str(in.infra.metadata.name).Str(in.infra.metadata.resource_version.value_or("")).value();
  Fnv1a profiles;
  profiles.U64(in.profiles.size());
  for (const auto& p : in.profiles) profiles.Str(p.metadata.name).Str(p.metadata.resource_version.value_or(""));
  f.profiles = profiles.value();
  Fnv1a down;
  down.U64(st.unavailable_nodes.size());
  for (const auto& o : st.unavailable_nodes) down.Str(o.node);
  f.nodes_down = down.value();
  Fnv1a load;
  load.U64(st.load_scale ? 1 : 0);
  // Four decimals, as the planner sees no smaller load change; a non-finite scale hashes as 0.
  if (st.load_scale) {
    double q = std::isfinite(*st.load_scale) ? std::round(*st.load_scale * 1e4) : 0;
    load.U64(static_cast<uint64_t>(static_cast<int64_t>(std::clamp(q, -9e18, 9e18))));
  }
  f.load = load.value();
  // The observed figures the planner takes instead of the profiled ones (profile_drift.h), rounded
  // to a microsecond; none = 0, so fingerprints without them read as before.
  Fnv1a observed;
  size_t planned = 0;
  for (const auto& p : in.profiles)
    for (const auto& e : p.status.observed) {
      if (!e.planned) continue;
      ++planned;
      observed.Str(p.metadata.name).Str(e.variant).Str(e.hardware);
      for (double v : {e.planned->p50, e.planned->p75.value_or(0), e.planned->p90.value_or(0)}) {
        double q = std::isfinite(v) ? std::round(v * 1e3) : 0;
        observed.U64(static_cast<uint64_t>(static_cast<int64_t>(std::clamp(q, -9e18, 9e18))));
      }
    }
  f.observed = planned == 0 ? 0 : observed.value();
  if (st.accuracy_floor) {
    double q = std::isfinite(*st.accuracy_floor) ? std::round(*st.accuracy_floor * 1e4) : 0;
    f.accuracy = Fnv1a().U64(static_cast<uint64_t>(static_cast<int64_t>(std::clamp(q, -9e18, 9e18)))).value();
  }
  return f;
}

std::string ChangedInput(const Fingerprint& before, const Fingerprint& after) {
  // The Workflow's own spec first: a rate change applied with its manifest directory (which may
  // re-write the ModelProfiles beside it) is a Workflow change, not a ModelProfile one.
  if (before.workflow != after.workflow) return "Workflow";
  if (before.infrastructure != after.infrastructure) return "Infrastructure";
  if (before.profiles != after.profiles) return "ModelProfile";
  if (before.nodes_down != after.nodes_down) return kTriggerNode;
  if (before.load != after.load) return kTriggerLoad;
  if (before.observed != after.observed) return kTriggerProfile;
  if (before.accuracy != after.accuracy) return kTriggerAccuracy;
  return kTriggerInputs;
}

std::string LegacyFingerprint(const PlanInputs& in, const WorkflowStatus& st) {
  char spec_hash[32];
  std::snprintf(spec_hash, sizeof(spec_hash), "%016zx", std::hash<std::string>{}(PlannedSpecJson(in.wf)));
  std::string s = "Workflow/" + in.wf.metadata.name + "@" + spec_hash;
  s += ",Infrastructure/" + in.infra.metadata.name + "@" + in.infra.metadata.resource_version.value_or("");
  for (const auto& p : in.profiles)
    s += ",ModelProfile/" + p.metadata.name + "@" + p.metadata.resource_version.value_or("");
  for (const auto& o : st.unavailable_nodes) s += ",down:" + o.node;
  if (st.load_scale) s += ",load:" + Fixed4(*st.load_scale);
  return s;
}

InputsChange CompareInputs(const std::optional<std::string>& planned_from, const PlanInputs& in,
                           const WorkflowStatus& st) {
  Fingerprint now = FingerprintOf(in, st);
  if (!planned_from) return InputsChange{false, kTriggerInputs};
  if (auto before = Fingerprint::Decode(*planned_from)) return InputsChange{*before == now, ChangedInput(*before, now)};
  // Written by an older daemon. Same inputs (as long as std::hash is the same) = no re-plan.
  std::string legacy = LegacyFingerprint(in, st);
  if (*planned_from == legacy) return InputsChange{true, kTriggerInputs};
  return InputsChange{false, LegacyChangedInput(*planned_from, legacy)};
}

}  // namespace jb
