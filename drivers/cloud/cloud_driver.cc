#include "drivers/cloud/cloud_driver.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "drivers/process.h"

namespace jb {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::set<std::string>& SshKeys() {
  static const std::set<std::string> k = {
      "sshPort", "user", "identityFile", "knownHosts", "remoteDir", "connectTimeoutSeconds", "portBase"};
  return k;
}

// The hook part of a cloud tier's settings, after checking the rest are ssh/bootstrap settings.
StatusOr<CloudHookConfig> HooksOf(const std::map<std::string, std::string>& settings) {
  std::map<std::string, std::string> hooks;
  for (const auto& [k, v] : settings)
    if (SshKeys().count(k) == 0) hooks[k] = v;
  return CloudHookConfigFromSettings(hooks);
}

std::string DefaultOwner() {
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  return std::string("jellybeand@") + host;
}

}  // namespace

CloudDriver::CloudDriver(CloudDriverOptions opts) : opts_(std::move(opts)) {
  if (opts_.owner.empty()) opts_.owner = DefaultOwner();
  SshDriverOptions so;
  so.state_dir = opts_.state_dir + "/cloud";
  so.worker_binary = opts_.worker_binary;
  so.poll_every = opts_.poll_every;
  so.metrics_interval_s = opts_.metrics_interval_s;
  so.term = opts_.term;
  ssh_ = std::make_unique<SshDriver>(so);
  // Providers of workflows deployed before a restart, so the leak check runs before any apply.
  std::error_code ec;
  fs::path dir = opts_.state_dir + "/cloud/providers";
  if (fs::exists(dir, ec))
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      std::ifstream in(f.path());
      std::string line;
      auto& pools = pools_[f.path().stem().string()];
      while (std::getline(in, line)) {
        std::istringstream l(line);
        std::string node, tier, key, value;
        if (!std::getline(l, node, '\t') || !std::getline(l, tier, '\t') || !std::getline(l, key, '\t')) continue;
        std::getline(l, value);
        pools[node].tier = tier;
        if (!key.empty()) pools[node].settings[key] = value;
      }
    }
  loop_ = std::thread([this] { Loop(); });
}

CloudDriver::~CloudDriver() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  loop_.join();
}

std::string CloudDriver::SettingsFile(const std::string& workflow) const {
  return opts_.state_dir + "/cloud/providers/" + workflow + ".settings";
}

void CloudDriver::UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) {
  std::map<std::string, const Tier*> tiers;
  for (const auto& t : infra.tiers) tiers[t.name] = &t;
  std::map<std::string, Pool> pools;
  std::string text;
  for (const auto& n : infra.nodes) {
    auto t = tiers.find(n.tier);
    if (t == tiers.end() || t->second->driver.type != "cloud") continue;
    pools[n.name] = Pool{n.tier, t->second->driver.settings};
    text += n.name + "\t" + n.tier + "\t\t\n";
    for (const auto& [k, v] : t->second->driver.settings) text += n.name + "\t" + n.tier + "\t" + k + "\t" + v + "\n";
  }
  MutexLock l(&mu_);
  // Called before every apply: the file is rewritten only when the settings change.
  if (settings_text_[workflow] != text && WriteFileCreatingDirs(SettingsFile(workflow), text, 0600).ok())
    settings_text_[workflow] = text;
  pools_[workflow] = std::move(pools);
}

StatusOr<SshTarget> CloudDriver::TargetFor(const Pool& pool, const std::string& address) const {
  auto settings = DecodeDriverSettings<CloudSettings>(pool.settings, "tier " + pool.tier + ": driver.settings");
  if (!settings.ok()) return settings.status();
  return TargetOf(settings->login, address);
}

StatusOr<std::string> CloudDriver::Host(const std::string& workflow, const std::string& node) {
  Pool pool;
  std::optional<Vm> vm;
  {
    MutexLock l(&mu_);
    auto w = pools_.find(workflow);
    if (w == pools_.end() || w->second.count(node) == 0)
      return Status::InvalidArgument("node " + node + " is not a pool of a cloud tier");
    pool = w->second[node];
    if (auto it = vms_[workflow].find(node); it != vms_[workflow].end()) vm = it->second;
    pending_[{workflow, node}] = Clock::now();
  }
  auto hooks_cfg = HooksOf(pool.settings);
  if (!hooks_cfg.ok()) return Status::InvalidArgument("tier " + pool.tier + ": " + hooks_cfg.status().message());
  hooks_cfg->term = opts_.term;
  CloudHooks hooks(*hooks_cfg);
  if (!vm || vm->state != "running") {
    auto listed = hooks.List();
    if (!listed.ok()) return listed.status();
    auto changes = PlanVms(opts_.owner, workflow, {{node, 1}}, *listed);
    for (const auto& v : changes.keep)
      if (v.labels.count(kPoolLabel) != 0 && v.labels.at(kPoolLabel) == node) vm = v;
    if (!vm) {
      std::string name = changes.create.empty() ? workflow + "-" + node + "-1" : changes.create.front().second;
      auto made =
          hooks.Create(name, node, {{kOwnerLabel, opts_.owner}, {kWorkflowLabel, workflow}, {kPoolLabel, node}});
      if (!made.ok()) return made.status();
      vm = *made;
    }
    MutexLock l(&mu_);
    vms_[workflow][node] = *vm;
  }
  if (vm->state != "running" || vm->address.empty())
    return Status::Unavailable("VM " + vm->name + " (" + vm->id + ") for pool " + node + " is " +
                               (vm->state.empty() ? "starting" : vm->state));
  auto target = TargetFor(pool, vm->address);
  if (!target.ok()) return target.status();
  bool checked;
  {
    MutexLock l(&mu_);
    checked = reachable_.count(vm->id) != 0;
  }
  if (!checked) {
    // A new VM takes a while to boot: try ssh for up to `boot_wait` before reporting it.
    auto until = Clock::now() + opts_.boot_wait;
    StatusOr<std::string> r = Status::Unavailable("not tried");
    for (;;) {
      r = ssh_->RunRemote(*target, "true", "/dev/null", target->connect_timeout_s + 2);
      if (r.ok() || Clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!r.ok())
      return Status::Unavailable("VM " + vm->name + " at " + vm->address +
                                 " does not answer ssh yet: " + r.status().message());
    MutexLock l(&mu_);
    reachable_.insert(vm->id);
  }
  ssh_->SetTarget(workflow, node, *target);
  return vm->address;
}

Status CloudDriver::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  std::map<std::string, Pool> pools;
  {
    MutexLock l(&mu_);
    pools = pools_[workflow];
  }
  Status s = ssh_->Apply(workflow, workers);
  std::set<std::string> used;
  for (const auto& c : ssh_->Desired(workflow)) used.insert(c.node);
  bool changed;
  {
    // A VM stops being "pending" once a worker is deployed on it (the leak check, which may run
    // concurrently, keeps pending VMs: the install of a new VM takes seconds).
    MutexLock l(&mu_);
    for (const auto& node : used) pending_.erase({workflow, node});
    changed = reconciled_pools_.count(workflow) == 0 || reconciled_pools_[workflow] != used;
  }
  // Apply runs on every reconcile: `list` runs here only when the pools in use change (a VM the
  // plan stopped using goes at once); the periodic leak check covers the rest.
  if (!changed) return s;
  Status r = ReconcileWorkflow(workflow, pools);
  if (r.ok()) {
    MutexLock l(&mu_);
    reconciled_pools_[workflow] = used;
  }
  return s.ok() ? r : s;
}

Status CloudDriver::Remove(const std::string& workflow) {
  std::map<std::string, Pool> pools;
  {
    MutexLock l(&mu_);
    pools = pools_[workflow];
    for (auto it = pending_.begin(); it != pending_.end();)
      it = it->first.first == workflow ? pending_.erase(it) : std::next(it);
  }
  Status s = ssh_->Remove(workflow);
  if (!s.ok()) return s;
  Status r = ReconcileWorkflow(workflow, pools);
  if (r.ok()) {
    MutexLock l(&mu_);
    vms_.erase(workflow);
    pools_.erase(workflow);
    settings_text_.erase(workflow);
    reconciled_pools_.erase(workflow);
    std::error_code ec;
    fs::remove(SettingsFile(workflow), ec);
  }
  return r;
}

std::vector<std::string> CloudDriver::Workflows() { return ssh_->Workflows(); }

Status CloudDriver::ReconcileWorkflow(const std::string& workflow, const std::map<std::string, Pool>& pools) {
  // What the workflow's workers use now, plus pools whose VM is being brought up.
  std::map<std::string, int64_t> want;
  for (const auto& c : ssh_->Desired(workflow)) want[c.node] = 1;
  {
    MutexLock l(&mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (Clock::now() - it->second > opts_.pending_grace) {
        it = pending_.erase(it);
        continue;
      }
      if (it->first.first == workflow) want[it->first.second] = 1;
      ++it;
    }
  }
  // Each distinct provider (by its list command) of the workflow's pools, listed once.
  std::map<std::string, CloudHookConfig> providers;
  std::map<std::string, std::string> provider_of;  // pool -> provider key
  for (const auto& [node, pool] : pools) {
    auto h = HooksOf(pool.settings);
    if (!h.ok()) continue;
    std::string key;
    for (const auto& a : h->list) key += a + " ";
    provider_of[node] = key;
    providers.emplace(key, *h);
  }
  Status first;
  for (auto& [key, cfg] : providers) {
    cfg.term = opts_.term;
    CloudHooks hooks(cfg);
    auto listed = hooks.List();
    if (!listed.ok()) {
      if (first.ok()) first = listed.status();
      continue;
    }
    {
      // A VM that vanished from the provider (terminated outside the daemon) is forgotten, so
      // the next Host creates a new one instead of waiting on a dead address.
      std::set<std::string> ids;
      for (const auto& vm : *listed) ids.insert(vm.id);
      MutexLock l(&mu_);
      auto& ours = vms_[workflow];
      for (auto it = ours.begin(); it != ours.end();) {
        auto p = provider_of.find(it->first);
        if (p != provider_of.end() && p->second == key && ids.count(it->second.id) == 0) {
          reachable_.erase(it->second.id);
          it = ours.erase(it);
        } else {
          ++it;
        }
      }
    }
    auto changes = PlanVms(opts_.owner, workflow, want, *listed);
    for (const auto& vm : changes.remove) {
      Status d = hooks.Delete(vm.id);
      if (!d.ok() && first.ok()) first = d;
      MutexLock l(&mu_);
      auto& ours = vms_[workflow];
      for (auto it = ours.begin(); it != ours.end();) it = it->second.id == vm.id ? ours.erase(it) : std::next(it);
      reachable_.erase(vm.id);
    }
  }
  return first;
}

Status CloudDriver::ReconcileVms() {
  std::map<std::string, std::map<std::string, Pool>> all;
  {
    MutexLock l(&mu_);
    all = pools_;
  }
  Status first;
  for (const auto& [wf, pools] : all)
    if (auto s = ReconcileWorkflow(wf, pools); !s.ok() && first.ok()) first = s;
  return first;
}

void CloudDriver::Loop() {
  MutexLock l(&mu_);
  while (!stopping_) {
    cv_.WaitFor(&mu_, opts_.reconcile_every);
    if (stopping_) break;
    l.Unlock();
    (void)ReconcileVms();
    l.Lock();
  }
}

}  // namespace jb
