// Cloud provider hooks (the `cloud` driver's contract with a provider's CLI). A tier
// with `driver: {type: cloud}` names three commands in its settings; each prints JSON on stdout:
//
//   create  (env JB_VM_NAME, JB_VM_POOL, JB_VM_LABELS = JSON object)  -> {"id", "name", "address", "labels", "state"}
//   list                                                              -> [ {...}, ... ]   (every VM the account has)
//   delete  (env JB_VM_ID)                                            -> anything; exit status 0 = deleted
//
// Fencing (drivers/fencing.h): every hook also gets JB_TERM, the term of the daemon that runs it
// (absent when the daemon does not fence). A provider shared by several jellybeand replicas
// should remember the highest JB_TERM it has seen and refuse (exit non-zero, saying so on stderr)
// a create or delete with a lower one: that daemon is a former leader; its error is logged there.
//
// A hook that exits non-zero, prints something that is not the expected JSON, or runs past its
// timeout is an error carrying the hook's name, exit status and the end of its stderr. The hooks
// never see the daemon's secrets: they get a clean environment plus the settings' `env.*` keys.
//
// PlanVms is the leak-proof part: it compares what `list` reports against the pools the plan
// wants, by the labels this daemon puts on its VMs (owner + workflow + pool), so a VM created
// before a crash and never recorded is still found and deleted when not wanted, and VMs without
// our owner label are never touched.
// Thread-safety: CloudHooks is immutable after construction (calls may run concurrently);
// PlanVms is a pure function.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "drivers/fencing.h"

namespace jb {

struct CloudHookConfig {
  std::vector<std::string> create, list, del;  // argv of each hook (run without a shell)
  double timeout_s = 120;
  std::map<std::string, std::string> env;  // extra environment for the hooks
  TermSource term;                         // JB_TERM of each call; nullptr: none
};

// Reads a tier's driver settings: create, list, delete (command lines, split on spaces),
// timeoutSeconds, env.NAME. Errors name the missing or malformed setting.
StatusOr<CloudHookConfig> CloudHookConfigFromSettings(const std::map<std::string, std::string>& settings);

struct Vm {
  std::string id;
  std::string name;
  std::string address;
  std::string state;  // provider's word, e.g. "running"
  std::map<std::string, std::string> labels;
  bool operator==(const Vm&) const = default;
};

class CloudHooks {
 public:
  explicit CloudHooks(CloudHookConfig config) : config_(std::move(config)) {}
  StatusOr<Vm> Create(const std::string& name, const std::string& pool,
                      const std::map<std::string, std::string>& labels) const;
  StatusOr<std::vector<Vm>> List() const;
  Status Delete(const std::string& id) const;

 private:
  std::map<std::string, std::string> Env() const;  // the settings' env plus JB_TERM
  CloudHookConfig config_;
};

inline constexpr const char* kOwnerLabel = "jellybean.dev/owner";
inline constexpr const char* kWorkflowLabel = "jellybean.dev/workflow";
inline constexpr const char* kPoolLabel = "jellybean.dev/pool";

struct VmChanges {
  std::vector<std::pair<std::string, std::string>> create;  // (pool, VM name) to create
  std::vector<Vm> remove;                                   // our VMs no pool wants
  std::vector<Vm> keep;
};

// `want`: pool -> VM count for `workflow`; `listed`: what `list` printed. Only VMs labelled with
// `owner` and `workflow` are ours; surplus ones are removed newest name first, missing ones are
// named "<workflow>-<pool>-<k>" with the first k not in use.
VmChanges PlanVms(const std::string& owner, const std::string& workflow, const std::map<std::string, int64_t>& want,
                  const std::vector<Vm>& listed);

}  // namespace jb
