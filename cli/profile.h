// jbctl profile: runs every variant of every operator of a Workflow on this machine over labelled
// items, through each variant's exec process (framing v2, worker/exec_framing.h), and turns the
// measurements into ModelProfiles (p50/p75/p90 latency for one hardware class, output size,
// per-variant accuracy) and the Workflow's accuracy model (the end-to-end table over variant
// combinations, with the per-operator product composition and its error beside it).
//
// The workflows it profiles: one last operator (no other operator reads it) that may read sources
// and operators; every other operator reads sources only. Those operators run once per variant, in
// isolation (one process at a time), warm (ProfileOptions::warmup items first, not counted); the
// last operator then runs over every combination of the others' variants, and its answers are
// scored against the end-to-end label (the sources' `label`) by the "normalized" scorer
// (ingress/accuracy.h: ASCII case folded, whitespace runs collapsed, trimmed).
//
// Data: each source's JSON-lines index ({key, file|data, label?}, `file` relative to the index),
// read by ingress::Dataset (ingress/dataset.h), as dataset sources read it;
// from the source's `index` field (type: dataset) or `--data SOURCE=PATH`. Items are the keys
// every source has. An operator has its own label when `--data OPERATOR=PATH` gives an index whose
// `label` is that operator's expected output per key: then a variant's accuracy is the end-to-end
// accuracy with that variant's output and the other inputs of the last operator taken from their
// own labels (as the notes measure "question understood"); without labels for all the siblings the
// operator gets no accuracy.
//
// Errors are Status values with a sentence naming the file, source, variant or item concerned.
// Thread-safety: none needed; one call runs one process at a time on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/types.h"
#include "base/status.h"

namespace jb::profile {

// Linear-interpolated quantile of `xs` (q in [0, 1]); 0 for an empty vector.
double Quantile(std::vector<double> xs, double q);

struct ProfileOptions {
  std::string hardware;                     // hardware class to write (required)
  uint64_t seed = 1;                        // sample seed
  size_t items = 0;                         // 0 = every item
  size_t warmup = 3;                        // warm-up requests per process, not counted
  std::map<std::string, std::string> data;  // source or operator name -> index path (overrides)
  double hello_timeout_s = 60;              // a process must say hello within this
  double request_timeout_s = 120;           // and answer each request within this
  // Called after every counted request: items done, items in total, "operator/variant".
  std::function<void(size_t, size_t, const std::string&)> progress;
};

struct CellResult {
  std::vector<std::string> variants;  // one per table operator
  double accuracy = 0;                // measured end to end, %
  std::optional<double> composed;     // product of the operators' own accuracies, %
};

struct VariantResult {
  std::string op, profile, variant;
  Latency latency;
  double output_kib = 0;
  std::optional<double> accuracy;  // %, when the operator has its own label
  size_t items = 0, correct = 0;
};

struct ProfileResult {
  std::vector<VariantResult> variants;
  std::vector<std::string> table_operators;  // the table's operator order
  std::vector<CellResult> cells;
  size_t items = 0;  // items scored end to end
};

// Runs the profile. `profiles` must hold every profile the workflow's operators name; every
// variant needs an exec runtime with a command.
StatusOr<ProfileResult> Run(const Workflow& wf, const std::vector<ModelProfile>& profiles,
                            const ProfileOptions& options);

// The profiles with this run's figures: latency for `hardware` added or replaced, the other
// hardware classes kept from the profile of the same name in `existing` (earlier runs on other
// machines) when there is one, else from `profiles`; output size replaced; accuracy replaced where
// the run measured one.
std::vector<ModelProfile> UpdateProfiles(const std::vector<ModelProfile>& profiles,
                                         const std::vector<ModelProfile>& existing, const ProfileResult& result,
                                         const std::string& hardware);

// The workflow with spec.accuracy.table set from the run.
Workflow WithAccuracyTable(const Workflow& wf, const ProfileResult& result);

// YAML text: a commented header (how it was made) and the document(s). The workflow's comment
// lists the composition beside every table cell and its error (mean and worst).
std::string ProfilesYaml(const std::vector<ModelProfile>& profiles, const std::string& header);
std::string WorkflowYaml(const Workflow& wf, const ProfileResult& result, const std::string& header);

}  // namespace jb::profile
