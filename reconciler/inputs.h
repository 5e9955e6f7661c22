// Plan inputs: what a Workflow's plan is computed from (the Workflow, its Infrastructure, the
// ModelProfiles it references, the nodes left out and the observed load), read together from the
// store, and the fingerprint of them that `status.plannedFrom` persists. The reconciler plans
// again when the fingerprint of today's inputs differs from the one its plan was made from, and
// names the input that changed as the re-plan's trigger.
//
// The fingerprint is stable across builds and platforms: FNV-1a (64 bit) over a canonical,
// length-prefixed serialisation of typed fields, one digest per kind of input. Fingerprints that
// older daemons persisted (a comma-joined list hashed with std::hash) are recognised: when the
// inputs are unchanged they are rewritten in the new form without a re-plan; otherwise they cause
// the one re-plan their change calls for, with the same trigger as before.
// Thread-safety: pure functions and value types, except GatherInputs (reads the store).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "api/types.h"
#include "reconciler/store.h"

namespace jb {

// Triggers of a re-plan, as recorded in status.history[].trigger, the rollout and events. A changed
// object is named by its kind ("Workflow", "Infrastructure", "ModelProfile").
inline constexpr const char* kTriggerInitial = "initial";  // the first plan
inline constexpr const char* kTriggerUndo = "undo";        // jbctl rollout undo
inline constexpr const char* kTriggerNode = "node";        // a node left the plan or came back
inline constexpr const char* kTriggerLoad = "load";        // the observed load (a measurement: damped harder)
inline constexpr const char* kTriggerInputs = "inputs";    // a change that cannot be told apart
inline constexpr const char* kTriggerProfile = "profile";  // observed service times adopted (profile_drift.h)
// Observed accuracy drift raised the floor (a measurement: damped harder; reconciler/accuracy_drift.h).
inline constexpr const char* kTriggerAccuracy = "accuracy";

// One 64-bit digest per kind of input. Two fingerprints are equal exactly when (up to hash
// collisions) the same inputs went into them.
struct Fingerprint {
  uint64_t workflow = 0;        // name and planned spec (without generatorRate and count, the load generator's)
  uint64_t infrastructure = 0;  // name and resourceVersion
  uint64_t profiles = 0;        // name and resourceVersion of each referenced ModelProfile, in first-use order
  uint64_t nodes_down = 0;      // status.unavailableNodes[].node, in order
  uint64_t load = 0;            // status.loadScale to four decimals (absent differs from 1.0)
  uint64_t observed = 0;        // the referenced profiles' status.observed[].planned figures (0 = none)
  uint64_t accuracy = 0;        // status.accuracyFloor to four decimals; 0 when absent

  bool operator==(const Fingerprint&) const = default;

  // The persisted form: "fp1 w=<16 hex> i=<16 hex> p=<16 hex> n=<16 hex> l=<16 hex>", followed by
  // " o=<16 hex>" when `observed` is not 0, then " a=<16 hex>" when `accuracy` is not 0 (so
  // fingerprints without adopted figures or a raised floor read as before).
  std::string Encode() const;
  // nullopt for anything that is not exactly an Encode() result (an older daemon's form included).
  static std::optional<Fingerprint> Decode(const std::string& text);
};

// The inputs of one Workflow's plan, read from the store.
struct PlanInputs {
  Workflow wf;
  Infrastructure infra;                // valid when missing is empty
  std::vector<ModelProfile> profiles;  // each referenced profile once, in first-use order
  std::string missing;                 // "Infrastructure \"x\", ModelProfile \"y\"" when references are missing

  // The objects as documents, for ValidateSet (named "<Kind>/<name>").
  std::vector<Document> Documents() const;
};

// Reads what `wf` references. Never fails: what is missing is listed in `missing`.
PlanInputs GatherInputs(const Store& store, const Workflow& wf);

// The fingerprint of `in` with the node outages and load scale of `st`.
Fingerprint FingerprintOf(const PlanInputs& in, const WorkflowStatus& st);

// The trigger for a re-plan from `before` to `after`: the kind of the first input that differs
// (Workflow, Infrastructure, ModelProfile, node, load, profile = observed figures, accuracy, in that
// order); kTriggerInputs if none does.
std::string ChangedInput(const Fingerprint& before, const Fingerprint& after);

// How `planned_from` (status.plannedFrom, in any form a daemon ever wrote) compares with today's
// inputs: `same` = no re-plan needed; else `trigger` names what changed.
struct InputsChange {
  bool same = false;
  std::string trigger;
};
InputsChange CompareInputs(const std::optional<std::string>& planned_from, const PlanInputs& in,
                           const WorkflowStatus& st);

// The form daemons before the typed fingerprint persisted ("Workflow/<name>@<std::hash of the spec>,
// Infrastructure/<name>@<rv>,ModelProfile/<name>@<rv>,...,down:<node>,load:<scale>"), computed
// with this build's std::hash. Only for recognising persisted values.
std::string LegacyFingerprint(const PlanInputs& in, const WorkflowStatus& st);

}  // namespace jb
