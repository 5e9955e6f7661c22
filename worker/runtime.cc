#include "worker/runtime.h"

#include <map>

namespace jb {

namespace {
// name -> factory: one line per runtime.
const std::map<std::string, RuntimeFactory>& Registry() {
  static const std::map<std::string, RuntimeFactory> kRegistry = {
      {"emulated", &MakeEmulatedRuntime},
      {"exec", &MakeExecRuntime},
  };
  return kRegistry;
}
}  // namespace

StatusOr<std::unique_ptr<Runtime>> MakeRuntime(const WorkerInstance& cfg, const RuntimeEnv& env) {
  auto it = Registry().find(cfg.runtime.type);
  if (it == Registry().end()) {
    std::string known;
    for (const auto& [name, f] : Registry()) known += (known.empty() ? "" : ", ") + name;
    return Status::InvalidArgument("operator " + cfg.name + ": unknown runtime \"" + cfg.runtime.type +
                                   "\" (known: " + known + ")");
  }
  return it->second(cfg, env);
}

}  // namespace jb
