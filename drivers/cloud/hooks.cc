#include "drivers/cloud/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <sstream>

#include "api/value.h"
#include "drivers/process.h"

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;

using HookResult = CommandResult;

// Runs argv with `env` as its whole environment; kills it at the deadline.
StatusOr<HookResult> RunHook(const std::string& what, const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env, double timeout_s) {
  if (argv.empty()) return Status::FailedPrecondition("cloud hook " + what + " is not configured");
  CommandOptions opts;
  opts.env = env;
  opts.timeout_s = timeout_s;
  auto r = RunCommand(argv, opts);
  if (!r.ok()) {
    if (r.status().code() == Status::Code::kDeadlineExceeded)
      return Status::DeadlineExceeded("cloud hook " + what + " (" + argv[0] + ") " + r.status().message());
    return Status::Unavailable("cloud hook " + what + ": " + r.status().message());
  }
  if (r->exit_status != 0)
    return Status::Unavailable("cloud hook " + what + " (" + argv[0] + ") exited with status " +
                               std::to_string(r->exit_status) + "; stderr: " + Tail(r->err));
  return r;
}

// The single JSON document a hook printed.
StatusOr<Value> Root(const std::string& what, const HookResult& r) {
  auto docs = ParseYamlStream(r.out);
  if (docs.size() != 1 || !docs[0].error.ok())
    return Status::InvalidArgument("cloud hook " + what + " printed no valid JSON: " + Tail(r.out) +
                                   (r.err.empty() ? "" : "; stderr: " + Tail(r.err)));
  return std::move(docs[0].root);
}

StatusOr<Vm> VmFrom(const std::string& what, const Value& v) {
  if (!v.is_map()) return Status::InvalidArgument("cloud hook " + what + ": expected a JSON object per VM");
  Vm vm;
  auto str = [&](const char* key, std::string* out, bool required) -> Status {
    const Value* f = v.Find(key);
    if (f == nullptr || !f->is_string()) {
      if (!required) return Status::Ok();
      return Status::InvalidArgument("cloud hook " + what + ": a VM without a string \"" + key + "\"");
    }
    *out = f->as_string();
    return Status::Ok();
  };
  if (auto s = str("id", &vm.id, true); !s.ok()) return s;
  if (auto s = str("name", &vm.name, true); !s.ok()) return s;
  (void)str("address", &vm.address, false);
  (void)str("state", &vm.state, false);
  if (const Value* l = v.Find("labels"); l != nullptr && l->is_map())
    for (const auto& e : l->entries())
      if (e.value.is_string()) vm.labels[e.key] = e.value.as_string();
  return vm;
}

std::string LabelsJson(const std::map<std::string, std::string>& labels) {
  Value v = Value::Map();
  for (const auto& [k, x] : labels) v.Set(k, Value::String(x));
  return ToJson(v);
}

}  // namespace

StatusOr<CloudHookConfig> CloudHookConfigFromSettings(const std::map<std::string, std::string>& settings) {
  CloudHookConfig c;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string w;
    while (ss >> w) out.push_back(w);
    return out;
  };
  for (const auto& [k, v] : settings) {
    if (k == "create")
      c.create = split(v);
    else if (k == "list")
      c.list = split(v);
    else if (k == "delete")
      c.del = split(v);
    else if (k == "timeoutSeconds") {
      char* end = nullptr;
      c.timeout_s = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || c.timeout_s <= 0)
        return Status::InvalidArgument("driver.settings.timeoutSeconds: expected a number > 0, got \"" + v + "\"");
    } else if (k.rfind("env.", 0) == 0 && k.size() > 4) {
      c.env[k.substr(4)] = v;
    } else {
      return Status::InvalidArgument("driver.settings." + k +
                                     ": unknown setting; expected create, list, delete, timeoutSeconds or env.NAME");
    }
  }
  for (const char* name : {"create", "list", "delete"})
    if (settings.count(name) == 0 || settings.at(name).find_first_not_of(' ') == std::string::npos)
      return Status::InvalidArgument(std::string("driver.settings.") + name +
                                     ": the cloud driver needs this hook command");
  return c;
}

std::map<std::string, std::string> CloudHooks::Env() const {
  auto env = config_.env;
  if (config_.term) env["JB_TERM"] = std::to_string(config_.term->Get());
  return env;
}

StatusOr<Vm> CloudHooks::Create(const std::string& name, const std::string& pool,
                                const std::map<std::string, std::string>& labels) const {
  auto env = Env();
  env["JB_VM_NAME"] = name;
  env["JB_VM_POOL"] = pool;
  env["JB_VM_LABELS"] = LabelsJson(labels);
  auto r = RunHook("create", config_.create, env, config_.timeout_s);
  if (!r.ok()) return r.status();
  auto root = Root("create", *r);
  if (!root.ok()) return root.status();
  return VmFrom("create", *root);
}

StatusOr<std::vector<Vm>> CloudHooks::List() const {
  auto r = RunHook("list", config_.list, Env(), config_.timeout_s);
  if (!r.ok()) return r.status();
  auto root = Root("list", *r);
  if (!root.ok()) return root.status();
  if (!root->is_seq())
    return Status::InvalidArgument("cloud hook list: expected a JSON array of VMs, got: " + Tail(r->out));
  std::vector<Vm> out;
  for (const auto& item : root->items()) {
    auto vm = VmFrom("list", item);
    if (!vm.ok()) return vm.status();
    out.push_back(std::move(*vm));
  }
  return out;
}

Status CloudHooks::Delete(const std::string& id) const {
  auto env = Env();
  env["JB_VM_ID"] = id;
  auto r = RunHook("delete", config_.del, env, config_.timeout_s);
  return r.ok() ? Status::Ok() : r.status();
}

VmChanges PlanVms(const std::string& owner, const std::string& workflow, const std::map<std::string, int64_t>& want,
                  const std::vector<Vm>& listed) {
  VmChanges ch;
  std::map<std::string, std::vector<Vm>> ours;  // pool -> VMs
  std::set<std::string> names;
  for (const auto& vm : listed) {
    auto o = vm.labels.find(kOwnerLabel);
    auto w = vm.labels.find(kWorkflowLabel);
    if (o == vm.labels.end() || o->second != owner || w == vm.labels.end() || w->second != workflow) continue;
    auto p = vm.labels.find(kPoolLabel);
    ours[p == vm.labels.end() ? "" : p->second].push_back(vm);
    names.insert(vm.name);
  }
  for (auto& [pool, vms] : ours) {
    std::sort(vms.begin(), vms.end(), [](const Vm& a, const Vm& b) { return a.name < b.name; });
    auto it = want.find(pool);
    size_t keep = it == want.end() ? 0 : static_cast<size_t>(std::max<int64_t>(0, it->second));
    for (size_t i = 0; i < vms.size(); ++i) (i < keep ? ch.keep : ch.remove).push_back(vms[i]);
  }
  for (const auto& [pool, n] : want) {
    int64_t have = 0;
    if (auto it = ours.find(pool); it != ours.end()) have = static_cast<int64_t>(it->second.size());
    for (int64_t k = 1; have < n; ++k) {
      std::string name = workflow + "-" + pool + "-" + std::to_string(k);
      if (names.count(name) != 0) continue;
      names.insert(name);
      ch.create.emplace_back(pool, name);
      ++have;
    }
  }
  return ch;
}

}  // namespace jb
