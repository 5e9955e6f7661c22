// SshDriver: what it does about what it finds on a host. Adoption of the workers a node holds
// that this driver has no record of (a new leader's driver, whose state dir is not the former
// leader's), and the back-off of restarts of supervisors found dead. See ssh_driver.h.
#include <sstream>

#include "base/log.h"
#include "drivers/ssh/ssh_driver.h"

namespace jb {
namespace {

// Each worker config the node holds comes as "JB-WORKER <name> <bytes>\n", its bytes, "\n".
constexpr const char* kMark = "JB-WORKER ";

// The (name, config text) blocks of AskNode's output.
StatusOr<std::vector<std::pair<std::string, std::string>>> ParseHeld(const std::string& out) {
  std::vector<std::pair<std::string, std::string>> held;
  size_t at = 0;
  while (at < out.size()) {
    size_t eol = out.find('\n', at);
    if (out.compare(at, std::string(kMark).size(), kMark) != 0 || eol == std::string::npos)
      return Status::Unavailable("unexpected answer: " + out.substr(at, 80));
    std::istringstream head(out.substr(at + std::string(kMark).size(), eol - at));
    std::string name;
    size_t bytes = 0;
    if (!(head >> name >> bytes) || eol + 1 + bytes > out.size())
      return Status::Unavailable("truncated answer for " + name);
    held.emplace_back(name, out.substr(eol + 1, bytes));
    at = eol + 1 + bytes + 1;
  }
  return held;
}

}  // namespace

StatusOr<std::vector<WorkerConfig>> SshDriver::AskNode(const std::string& workflow, const std::string& node,
                                                       const SshTarget& t) {
  Deployed probe;  // NodeDir and the fencing log need no more
  probe.config.workflow = workflow;
  probe.config.node = node;
  probe.target = t;
  // Nothing installed: nothing runs there (and there is no fencing check to run).
  std::string wf = ShellQuote(workflow);
  auto r = RunRemote(t, "cd " + ShellQuote(NodeDir(probe)) +
                            " 2>/dev/null || exit 0; [ -f bin/jb-supervise ] || exit 0; " + FenceCommand() +
                            " || exit $?; for y in " + wf + "/*.yaml; do [ -f \"$y\" ] || continue; echo \"" + kMark +
                            "$(basename \"$y\" .yaml) $(wc -c < \"$y\")\"; cat \"$y\"; echo; done");
  if (!r.ok()) return LogIfFenced(r.status(), probe);
  auto held = ParseHeld(*r);
  if (!held.ok()) return Status::Unavailable("node " + node + ": " + held.status().message());
  std::vector<WorkerConfig> out;
  for (const auto& [name, text] : *held) {
    std::string where = t.host + ":" + NodeDir(probe) + "/" + workflow + "/" + name + ".yaml";
    auto c = ParseWorkerConfig(text, where);
    if (!c.ok() || c->workflow != workflow || c->node != node || c->name != name) {
      // Not ours to run as it is: left alone (logged without its text, which holds a TLS key).
      log::Warn(log::Fields{workflow, std::nullopt, name, "AdoptionSkipped"},
                "ssh driver: " + where + " is not a config of this worker; not adopted" +
                    (c.ok() ? std::string() : ": " + c.status().message()));
      continue;
    }
    out.push_back(std::move(*c));
  }
  return out;
}

std::set<std::string> SshDriver::AdoptFromNodes(const std::string& workflow,
                                                const std::map<std::string, SshTarget>& targets,
                                                const std::set<std::string>& wanted,
                                                std::map<std::string, Deployed>* cur, Status* error) {
  std::set<std::string> recorded, unasked;
  for (const auto& [name, d] : *cur) recorded.insert(d.config.node);
  for (const auto& [node, t] : targets) {
    if (recorded.count(node) != 0) continue;
    {
      MutexLock l(&mu_);
      // A node the plan does not use is asked once (its workers, if any, are stopped by the
      // Apply that adopts them); a wanted one until it answers.
      if (answered_[workflow].count(node) != 0 || (!asked_[workflow].insert(node).second && wanted.count(node) == 0))
        continue;
    }
    auto held = AskNode(workflow, node, t);
    if (!held.ok()) {
      // Nothing is started on a wanted node meanwhile: a start beside a running worker would
      // duplicate it, and a fenced node refuses this daemon anyway.
      log::Warn(log::Fields{workflow, std::nullopt, "", "AdoptionFailed"},
                "ssh driver: cannot ask node " + node + " which workers it runs: " + held.status().message());
      if (wanted.count(node) == 0) continue;
      unasked.insert(node);
      if (error->ok()) *error = held.status();
      continue;
    }
    {
      MutexLock l(&mu_);
      answered_[workflow].insert(node);
    }
    for (auto& c : *held) {
      Deployed d;
      d.config = std::move(c);
      d.target = t;
      d.state = WorkerState{
          d.config.name, d.config.node, d.config.tier, false, "adopted from the host; not observed yet", 0, 0,
          std::nullopt};
      log::Info(log::Fields{workflow, d.config.epoch, d.config.name, "Adopted"},
                "ssh driver: adopted the worker that node " + node + " runs (no record of it in this state dir)");
      Record(workflow, d);
      (*cur)[d.config.name] = d;
      MutexLock l(&mu_);
      deployed_[workflow][d.config.name] = std::move(d);
    }
  }
  return unasked;
}

std::vector<SshDriver::Deployed> SshDriver::DueSupervisorRestarts(const std::vector<Deployed>& dead,
                                                                  std::chrono::steady_clock::time_point now) {
  std::vector<Deployed> due;
  for (const auto& polled : dead) {
    auto w = deployed_.find(polled.config.workflow);
    if (w == deployed_.end()) continue;
    auto it = w->second.find(polled.config.name);
    if (it == w->second.end() || !(it->second.config == polled.config)) continue;  // Apply changed it meanwhile
    Deployed& d = it->second;
    if (!d.supervisor_restart_at) {
      d.supervisor_restart_at = d.supervisor_backoff.OnExit(d.supervisor_started, now);
      continue;
    }
    if (now < *d.supervisor_restart_at) continue;
    d.supervisor_restart_at.reset();
    d.supervisor_started = now;
    due.push_back(d);
  }
  return due;
}

}  // namespace jb
