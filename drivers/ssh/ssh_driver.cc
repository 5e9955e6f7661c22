#include "drivers/ssh/ssh_driver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "drivers/process.h"
#include "drivers/ssh/supervisor_script.h"
#include "drivers/worker_process.h"

namespace jb {
namespace fs = std::filesystem;

namespace {

StatusOr<std::string> Sha256(const std::string& path) {
  CommandOptions o;
  o.timeout_s = 30;
  auto r = RunCommand({"sha256sum", path}, o);
  if (!r.ok()) return r.status();
  if (r->exit_status != 0) return Status::Unavailable("sha256sum " + path + ": " + Tail(r->err));
  return r->out.substr(0, r->out.find(' '));
}

// ssh's stderr as one line ("a; b").
std::string OneLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::string out;
  for (char c : s) out += c == '\n' ? std::string("; ") : std::string(1, c);
  return out;
}

std::string TargetLine(const SshTarget& t) {
  std::ostringstream o;
  o << t.user << '\n'
    << t.host << '\n'
    << t.port << '\n'
    << t.identity << '\n'
    << t.known_hosts << '\n'
    << t.remote_dir << '\n'
    << t.connect_timeout_s << '\n';
  return o.str();
}

bool ParseTarget(const std::string& text, SshTarget* t) {
  std::istringstream in(text);
  std::string port, timeout;
  if (!std::getline(in, t->user) || !std::getline(in, t->host) || !std::getline(in, port) ||
      !std::getline(in, t->identity) || !std::getline(in, t->known_hosts) || !std::getline(in, t->remote_dir) ||
      !std::getline(in, timeout))
    return false;
  t->port = std::atoi(port.c_str());
  t->connect_timeout_s = std::atof(timeout.c_str());
  return !t->host.empty() && t->port > 0;
}

}  // namespace

SshTarget TargetOf(const SshLogin& login, const std::string& address) {
  SshTarget t;
  auto at = address.find('@');
  t.user = at == std::string::npos ? login.user : address.substr(0, at);
  t.host = at == std::string::npos ? address : address.substr(at + 1);
  t.port = static_cast<int>(login.ssh_port);
  t.identity = login.identity_file;
  t.known_hosts = login.known_hosts;
  t.remote_dir = login.remote_dir;
  t.connect_timeout_s = login.connect_timeout_s;
  return t;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

SshDriver::SshDriver(SshDriverOptions opts) : opts_(std::move(opts)) {
  supervisor_path_ = opts_.state_dir + "/ssh/jb-supervise";
  (void)WriteFileCreatingDirs(supervisor_path_, SupervisorScript(), 0700);
  Adopt();
  poller_ = std::thread([this] { Poll(); });
}

SshDriver::~SshDriver() {
  std::set<std::string> hosts;
  {
    MutexLock l(&mu_);
    stopping_ = true;
    hosts = control_;
  }
  cv_.SignalAll();
  poller_.join();
  // Close the multiplexed connections this driver opened (their masters would linger otherwise).
  for (const auto& key : hosts) {
    SshTarget t;
    if (!ParseTarget(key, &t)) continue;
    auto args = SshArgs(t);
    args.insert(args.end() - 1, {"-O", "exit"});
    CommandOptions o;
    o.timeout_s = 5;
    (void)RunCommand(args, o);
  }
}

std::vector<std::string> SshDriver::SshArgs(const SshTarget& t) const {
  std::string known = opts_.state_dir + "/ssh/known_hosts";
  std::vector<std::string> a = {opts_.ssh,
                                "-F",
                                "/dev/null",
                                "-p",
                                std::to_string(t.port),
                                "-o",
                                "BatchMode=yes",
                                "-o",
                                "IdentitiesOnly=yes",
                                "-o",
                                "ControlMaster=auto",
                                "-o",
                                "ControlPath=" + opts_.state_dir + "/ssh/cm-%C",
                                "-o",
                                "ControlPersist=60",
                                "-o",
                                "ConnectTimeout=" + std::to_string(static_cast<int>(t.connect_timeout_s + 0.999)),
                                "-o",
                                "ServerAliveInterval=2",
                                "-o",
                                "ServerAliveCountMax=2",
                                "-o",
                                "LogLevel=ERROR"};
  if (!t.identity.empty()) a.insert(a.end(), {"-i", t.identity});
  if (!t.known_hosts.empty()) {
    a.insert(a.end(), {"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + t.known_hosts});
  } else {
    a.insert(a.end(), {"-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=" + known});
  }
  a.push_back(t.user.empty() ? t.host : t.user + "@" + t.host);
  return a;
}

StatusOr<std::string> SshDriver::RunRemote(const SshTarget& t, const std::string& script, const std::string& stdin_path,
                                           double timeout_s) {
  auto args = SshArgs(t);
  args.push_back("sh -c " + ShellQuote(script));
  CommandOptions o;
  o.stdin_path = stdin_path;
  o.timeout_s = timeout_s > 0 ? timeout_s : opts_.command_timeout_s;
  {
    MutexLock l(&mu_);
    control_.insert(TargetLine(t));
  }
  auto r = RunCommand(args, o);
  std::string where = (t.user.empty() ? "" : t.user + "@") + t.host + ":" + std::to_string(t.port);
  if (!r.ok()) return Status::Unavailable("ssh " + where + ": " + r.status().message());
  if (r->exit_status == 255) return Status::Unavailable("ssh " + where + " unreachable: " + OneLine(Tail(r->err)));
  if (r->exit_status != 0)
    return Status::Unavailable("ssh " + where + ": remote command exited with status " +
                               std::to_string(r->exit_status) + ": " + Tail(r->err));
  return r->out;
}

void SshDriver::UseInfrastructure(const std::string& workflow, const InfrastructureSpec& infra) {
  std::map<std::string, const Tier*> tiers;
  for (const auto& t : infra.tiers) tiers[t.name] = &t;
  std::map<std::string, SshTarget> out;
  std::map<std::string, Status> errors;
  for (const auto& n : infra.nodes) {
    auto t = tiers.find(n.tier);
    if (t == tiers.end() || t->second->driver.type != "ssh" || !n.address) continue;
    // Checked by ValidateSet when the Infrastructure was applied; a node whose settings still do
    // not decode gets no target, and Host says why.
    auto settings =
        DecodeDriverSettings<SshSettings>(t->second->driver.settings, "tier " + t->second->name + ": driver.settings");
    if (!settings.ok()) {
      errors[n.name] = settings.status();
      continue;
    }
    SshTarget tg = TargetOf(settings->login, *n.address);
    if (n.credentials_ref)
      tg.identity = fs::path(*n.credentials_ref).is_absolute() ? *n.credentials_ref
                                                               : opts_.state_dir + "/credentials/" + *n.credentials_ref;
    out[n.name] = tg;
  }
  MutexLock serial(&apply_mu_);
  std::map<std::string, Deployed> deployed;
  {
    MutexLock l(&mu_);
    auto& cur = targets_[workflow];
    for (auto& [node, tg] : out) cur[node] = tg;  // keeps SetTarget's (cloud VMs) entries
    target_errors_[workflow] = std::move(errors);
    deployed = deployed_[workflow];
  }
  // Before the dispatcher reads Desired to keep workers' addresses: what the nodes run.
  Status ignored;  // logged; Apply asks a wanted node again
  (void)AdoptFromNodes(workflow, out, {}, &deployed, &ignored);
}

void SshDriver::SetTarget(const std::string& workflow, const std::string& node, const SshTarget& target) {
  MutexLock l(&mu_);
  targets_[workflow][node] = target;
}

StatusOr<std::string> SshDriver::Host(const std::string& workflow, const std::string& node) {
  MutexLock l(&mu_);
  auto w = targets_.find(workflow);
  if (w != targets_.end())
    if (auto it = w->second.find(node); it != w->second.end()) return it->second.host;
  if (auto e = target_errors_.find(workflow); e != target_errors_.end())
    if (auto it = e->second.find(node); it != e->second.end()) return it->second;
  return Status::InvalidArgument("node " + node +
                                 " is on an ssh tier but has no address (spec.nodes[].address: [user@]host)");
}

std::string SshDriver::Dir(const std::string& workflow) const { return opts_.state_dir + "/ssh/workflows/" + workflow; }

std::string SshDriver::NodeDir(const Deployed& d) const { return d.target.remote_dir + "/" + d.config.node; }

Status SshDriver::Upload(const SshTarget& t, const std::string& local, const std::string& remote, const char* mode) {
  std::string q = ShellQuote(remote), tmp = ShellQuote(remote + ".tmp");
  auto r = RunRemote(t,
                     "mkdir -p \"$(dirname " + q + ")\" && (umask 077 && cat > " + tmp + ") && chmod " + mode + " " +
                         tmp + " && mv -f " + tmp + " " + q,
                     local);
  return r.ok() ? Status::Ok() : r.status();
}

Status SshDriver::Install(const SshTarget& t, const std::string& node) {
  std::string key = TargetLine(t) + node;
  {
    MutexLock l(&mu_);
    if (installed_.count(key) != 0) return Status::Ok();
  }
  if (worker_sum_.empty()) {
    auto w = Sha256(opts_.worker_binary);
    if (!w.ok()) return w.status();
    auto s = Sha256(supervisor_path_);
    if (!s.ok()) return s.status();
    worker_sum_ = *w;
    supervisor_sum_ = *s;
  }
  std::string bin = t.remote_dir + "/" + node + "/bin/";
  auto sums = [&]() -> StatusOr<std::pair<std::string, std::string>> {
    auto r = RunRemote(t, "mkdir -p " + ShellQuote(bin) + " && cd " + ShellQuote(bin) +
                              " && for f in jellybean-worker jb-supervise; do sha256sum $f 2>/dev/null | cut -d' ' -f1 "
                              "|| true; echo; done");
    if (!r.ok()) return r.status();
    std::istringstream in(*r);
    std::string a, b, line;
    while (std::getline(in, line))
      if (!line.empty()) (a.empty() ? a : b) = line;
    return std::make_pair(a, b);
  };
  auto have = sums();
  if (!have.ok()) return have.status();
  if (have->first != worker_sum_)
    if (auto s = Upload(t, opts_.worker_binary, bin + "jellybean-worker"); !s.ok()) return s;
  if (have->second != supervisor_sum_ && have->first != supervisor_sum_)
    if (auto s = Upload(t, supervisor_path_, bin + "jb-supervise"); !s.ok()) return s;
  auto check = RunRemote(t, "cd " + ShellQuote(bin) + " && sha256sum jellybean-worker jb-supervise");
  if (!check.ok()) return check.status();
  if (check->find(worker_sum_ + "  jellybean-worker") == std::string::npos ||
      check->find(supervisor_sum_ + "  jb-supervise") == std::string::npos)
    return Status::Unavailable("node " + node + ": the installed worker binary does not match the daemon's (sha256 " +
                               worker_sum_ + "); remote has: " + Tail(*check));
  MutexLock l(&mu_);
  installed_.insert(key);
  return Status::Ok();
}

std::string SshDriver::FenceCommand() const {
  if (!opts_.term) return "true";
  return "sh bin/jb-supervise --fence " + std::to_string(opts_.term->Get());
}

Status SshDriver::Fence(const Deployed& d) {
  if (!opts_.term) return Status::Ok();
  auto r = RunRemote(d.target, "cd " + ShellQuote(NodeDir(d)) + " && " + FenceCommand());
  return LogIfFenced(r.ok() ? Status::Ok() : r.status(), d);
}

Status SshDriver::LogIfFenced(Status s, const Deployed& d) {
  if (!s.ok() && s.message().find("fenced: ") != std::string::npos)
    log::Error(log::Fields{d.config.workflow, d.config.epoch, d.config.name, "Fenced"},
               "ssh driver: node " + d.config.node +
                   " refused this daemon's instruction (a newer leader acts): " + s.message());
  return s;
}

Status SshDriver::StartWorker(const Deployed& d) {
  std::string local = Dir(d.config.workflow) + "/" + d.config.name + ".yaml";
  std::string base = d.config.workflow + "/" + d.config.name;
  if (auto s = Fence(d); !s.ok()) return s;
  if (auto s = Upload(d.target, local, NodeDir(d) + "/" + base + ".yaml", "600"); !s.ok()) return s;
  auto r = RunRemote(d.target, "cd " + ShellQuote(NodeDir(d)) + " && " + FenceCommand() +
                                   " && setsid sh bin/jb-supervise " + ShellQuote(d.config.workflow) + " " +
                                   ShellQuote(d.config.name) + " > /dev/null 2>&1 < /dev/null &");
  return r.ok() ? Status::Ok() : r.status();
}

Status SshDriver::StopWorker(const Deployed& d, bool with_workflow) {
  std::string b = ShellQuote(d.config.workflow + "/" + d.config.name);
  std::string files = "\"$b.yaml\" \"$b.sup\" \"$b.pid\" \"$b.exit\" \"$b.metrics.json\" \"$b.log\"";
  // The durable state outlives the worker and goes with the workflow (drivers/worker_process.h);
  // then the workflow's directory goes too, once empty (other nodes' workers may share it).
  std::string workflow_too;
  if (with_workflow) {
    for (const auto& suffix : WorkflowStateSuffixes()) files += " \"$b" + suffix + "\"";
    workflow_too = " rmdir " + ShellQuote(d.config.workflow) + " 2>/dev/null;";
  }
  // TERM the supervisor (it stops the worker); after 3 s KILL both.
  auto r = RunRemote(
      d.target, "cd " + ShellQuote(NodeDir(d)) + " 2>/dev/null || exit 0; if [ -f bin/jb-supervise ]; then " +
                    FenceCommand() + " || exit $?; fi; b=" + b +
                    "; s=$(cat \"$b.sup\" 2>/dev/null); set -- $(cat \"$b.pid\" 2>/dev/null) 0; p=$1;"
                    " [ -n \"$s\" ] && kill -TERM $s 2>/dev/null; i=0;"
                    " while [ -n \"$s\" ] && kill -0 $s 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done;"
                    " [ -n \"$s\" ] && kill -KILL $s 2>/dev/null; [ \"$p\" -gt 0 ] && kill -KILL $p 2>/dev/null;"
                    " rm -f " +
                    files + ";" + workflow_too + " exit 0");
  return LogIfFenced(r.ok() ? Status::Ok() : r.status(), d);
}

void SshDriver::Record(const std::string& workflow, const Deployed& d) {
  (void)WriteFileCreatingDirs(Dir(workflow) + "/" + d.config.name + ".yaml", WorkerConfigToYaml(d.config), 0600);
  (void)WriteFileCreatingDirs(Dir(workflow) + "/" + d.config.name + ".target", TargetLine(d.target), 0600);
}

void SshDriver::Forget(const std::string& workflow, const std::string& worker) {
  std::error_code ec;
  for (const char* ext : {".yaml", ".target"}) fs::remove(Dir(workflow) + "/" + worker + ext, ec);
}

Status SshDriver::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  MutexLock serial(&apply_mu_);
  std::map<std::string, Deployed> cur;
  std::map<std::string, SshTarget> targets;
  {
    MutexLock l(&mu_);
    cur = deployed_[workflow];
    targets = targets_[workflow];
  }
  std::map<std::string, Deployed> want;
  for (const auto& w : workers) {
    auto t = targets.find(w.node);
    if (t == targets.end())
      return Status::InvalidArgument("worker " + w.name + ": node " + w.node + " has no ssh address");
    if (ListenPort(w.listen) <= 0)
      return Status::InvalidArgument("worker " + w.name +
                                     ": no listen port (the ssh driver runs under the tier dispatcher)");
    Deployed d;
    d.config = w;
    d.config.metrics_file = w.workflow + "/" + w.name + ".metrics.json";  // relative to the node dir
    d.config.metrics_interval_s = opts_.metrics_interval_s;
    if (auto s = ValidateWorkerConfig(d.config, workflow + "/" + w.name); !s.ok()) return s;
    d.target = t->second;
    want[w.name] = d;
  }
  Status first;
  auto note = [&](const Status& s) {
    if (!s.ok() && first.ok()) first = s;
    return s.ok();
  };
  // Nodes this driver has no record for may run workers a former leader started: adopt them first.
  std::set<std::string> wanted;
  for (const auto& [name, d] : want) wanted.insert(d.config.node);
  std::set<std::string> unasked = AdoptFromNodes(workflow, targets, wanted, &cur, &first);
  for (auto& [name, d] : want) {
    auto it = cur.find(name);
    if (unasked.count(d.config.node) != 0) continue;
    if (it != cur.end() && it->second.config == d.config && it->second.target == d.target) continue;
    if (!note(Install(d.target, d.config.node))) continue;
    bool reload = it != cur.end() && it->second.target == d.target && ReloadsInPlace(it->second.config, d.config);
    if (it != cur.end() && !reload && !note(StopWorker(it->second, /*with_workflow=*/false))) continue;
    Record(workflow, d);
    if (reload) {
      std::string b = ShellQuote(d.config.workflow + "/" + d.config.name);
      if (!note(Fence(d))) continue;
      if (!note(Upload(d.target, Dir(workflow) + "/" + name + ".yaml",
                       NodeDir(d) + "/" + d.config.workflow + "/" + name + ".yaml", "600")))
        continue;
      auto r = RunRemote(d.target, "cd " + ShellQuote(NodeDir(d)) + " && " + FenceCommand() + " && set -- $(cat " + b +
                                       ".pid 2>/dev/null) 0 && [ \"$1\" -gt 0 ] && kill -HUP $1");
      if (!note(LogIfFenced(r.ok() ? Status::Ok() : r.status(), d))) continue;
    } else if (!note(StartWorker(d))) {
      continue;
    }
    d.state =
        WorkerState{name, d.config.node, d.config.tier, false, reload ? "reloading" : "starting", 0, 0, std::nullopt};
    if (it != cur.end() && reload) d.state.restarts = it->second.state.restarts;
    MutexLock l(&mu_);
    deployed_[workflow][name] = d;
  }
  for (auto& [name, d] : cur) {
    if (want.count(name) != 0) continue;
    if (!note(StopWorker(d, /*with_workflow=*/false))) continue;
    Forget(workflow, name);
    MutexLock l(&mu_);
    deployed_[workflow].erase(name);
  }
  cv_.SignalAll();
  return first;
}

std::vector<WorkerState> SshDriver::Observe(const std::string& workflow) {
  MutexLock l(&mu_);
  std::vector<WorkerState> out;
  if (auto it = deployed_.find(workflow); it != deployed_.end())
    for (const auto& [name, d] : it->second) out.push_back(d.state);
  return out;
}

std::vector<WorkerConfig> SshDriver::Desired(const std::string& workflow) {
  MutexLock l(&mu_);
  std::vector<WorkerConfig> out;
  if (auto it = deployed_.find(workflow); it != deployed_.end())
    for (const auto& [name, d] : it->second) out.push_back(d.config);
  return out;
}

Status SshDriver::Remove(const std::string& workflow) {
  MutexLock serial(&apply_mu_);
  std::map<std::string, Deployed> cur;
  {
    MutexLock l(&mu_);
    cur = deployed_[workflow];
  }
  Status first;
  for (auto& [name, d] : cur) {
    Status s = StopWorker(d, /*with_workflow=*/true);
    if (!s.ok()) {
      if (first.ok()) first = s;
      continue;
    }
    Forget(workflow, name);
    MutexLock l(&mu_);
    deployed_[workflow].erase(name);
  }
  MutexLock l(&mu_);
  if (deployed_[workflow].empty()) {
    deployed_.erase(workflow);
    targets_.erase(workflow);
    asked_.erase(workflow);
    answered_.erase(workflow);
    target_errors_.erase(workflow);
    std::error_code ec;
    fs::remove_all(Dir(workflow), ec);
  }
  return first;
}

std::vector<std::string> SshDriver::Workflows() {
  MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [wf, ds] : deployed_)
    if (!ds.empty()) out.push_back(wf);
  return out;
}

void SshDriver::Adopt() {
  std::error_code ec;
  fs::path root = opts_.state_dir + "/ssh/workflows";
  if (!fs::exists(root, ec)) return;
  MutexLock l(&mu_);
  for (const auto& wfdir : fs::directory_iterator(root, ec)) {
    if (!wfdir.is_directory()) continue;
    std::string workflow = wfdir.path().filename().string();
    for (const auto& f : fs::directory_iterator(wfdir.path(), ec)) {
      if (f.path().extension() != ".yaml") continue;
      auto cfg = ParseWorkerConfig(ReadFileOrEmpty(f.path().string()), f.path().string());
      Deployed d;
      if (!cfg.ok() ||
          !ParseTarget(ReadFileOrEmpty((wfdir.path() / (f.path().stem().string() + ".target")).string()), &d.target))
        continue;
      d.config = *cfg;
      d.state = WorkerState{d.config.name, d.config.node, d.config.tier, false, "adopted; not observed yet", 0, 0,
                            std::nullopt};
      targets_[workflow][d.config.node] = d.target;
      deployed_[workflow][d.config.name] = std::move(d);
    }
  }
}

void SshDriver::Poll() {
  MutexLock l(&mu_);
  while (!stopping_) {
    cv_.WaitFor(&mu_, opts_.poll_every);
    if (stopping_) break;
    // One command per (workflow, host): every worker's liveness, metrics age and metrics.
    std::map<std::pair<std::string, std::string>, std::vector<Deployed>> by_host;
    for (const auto& [wf, ds] : deployed_)
      for (const auto& [name, d] : ds) by_host[{wf, TargetLine(d.target) + d.config.node}].push_back(d);
    l.Unlock();
    // workflow -> worker -> (config polled, state)
    std::map<std::string, std::map<std::string, std::pair<WorkerConfig, WorkerState>>> seen;
    std::vector<Deployed> restart;
    for (const auto& [key, ds] : by_host) {
      const SshTarget& t = ds.front().target;
      std::string script = "cd " + ShellQuote(NodeDir(ds.front())) + " || exit 3; now=$(date +%s);";
      for (const auto& d : ds) {
        std::string b = ShellQuote(d.config.workflow + "/" + d.config.name);
        script +=
            " b=" + b +
            "; sup=0; s=$(cat \"$b.sup\" 2>/dev/null); [ -n \"$s\" ] && kill -0 $s 2>/dev/null && sup=1;"
            " set -- $(cat \"$b.pid\" 2>/dev/null) 0 0; alive=0; [ \"$1\" -gt 0 ] && kill -0 $1 2>/dev/null && alive=1;"
            " age=-1; [ -f \"$b.metrics.json\" ] && age=$((now - $(stat -c %Y \"$b.metrics.json\")));"
            " echo \"W $sup $1 $alive $2 $age $(cat \"$b.exit\" 2>/dev/null)\"; echo \"M $(tr -d '\\n' < "
            "\"$b.metrics.json\" 2>/dev/null)\";";
      }
      // Bounded by the connect timeout, so an unreachable host is noticed within seconds.
      auto r = RunRemote(t, script, "/dev/null", t.connect_timeout_s + 1);
      std::istringstream in(r.ok() ? *r : "");
      for (const auto& d : ds) {
        WorkerState st{d.config.name, d.config.node, d.config.tier, false, "", 0, 0, std::nullopt};
        std::string wline, mline;
        if (!r.ok() || !std::getline(in, wline) || !std::getline(in, mline) || wline.rfind("W ", 0) != 0) {
          st.message = r.ok() ? "no report from the host" : "host unreachable: " + r.status().message();
          // Control link vs data path (#22): ssh failing to a host whose worker ran is the daemon's
          // link lost, not the worker; the reconciler keeps its part of the plan while its peers
          // report items it acknowledges (reconciler/control_link.h), and treats it as lost otherwise.
          st.control_link_lost = !r.ok() && (d.state.ready || d.state.control_link_lost);
          if (st.control_link_lost) st.message = "ssh control link lost: " + st.message;
          seen[d.config.workflow][d.config.name] = {d.config, st};
          continue;
        }
        std::istringstream w(wline.substr(2));
        int sup = 0, alive = 0;
        long age = -1;
        std::string exit_rc, exit_t;
        w >> sup >> st.pid >> alive >> st.restarts >> age >> exit_rc >> exit_t;
        if (mline.size() > 2) {
          auto m = ParseWorkerMetrics(mline.substr(2), t.host + ":" + NodeDir(d) + "/" + d.config.metrics_file);
          if (m.ok() && m->pid == st.pid) st.metrics = std::move(*m);
        }
        if (!sup) {
          st.message = "supervisor not running on " + t.host + "; starting it again after a back-off";
          restart.push_back(d);
        } else if (!alive) {
          st.message = "not running (last exit status " + (exit_rc.empty() ? std::string("?") : exit_rc) +
                       "); the supervisor restarts it";
        } else if (!st.metrics) {
          st.message = "starting (no report from pid " + std::to_string(st.pid) + " yet)";
        } else if (age > 3) {
          st.message = "heartbeat missed: no report for " + std::to_string(age) + " s from pid " +
                       std::to_string(st.pid) + " on " + t.host;
        } else if (st.metrics->epoch != d.config.epoch) {
          st.message =
              "running epoch " + std::to_string(st.metrics->epoch) + ", reloading to " + std::to_string(d.config.epoch);
        } else {
          st.ready = true;
          if (st.restarts > 0)
            st.message =
                "restarted " + std::to_string(st.restarts) + " time(s) on " + t.host + ", last exit status " + exit_rc;
        }
        seen[d.config.workflow][d.config.name] = {d.config, st};
      }
    }
    // A supervisor that is gone (host rebooted, killed) is started again after its back-off,
    // unless Apply is busy.
    l.Lock();
    std::vector<Deployed> due = DueSupervisorRestarts(restart, std::chrono::steady_clock::now());
    l.Unlock();
    if (!due.empty() && apply_mu_.TryLock()) {
      for (const auto& d : due) (void)StartWorker(d);
      apply_mu_.Unlock();
    }
    l.Lock();
    for (auto& [wf, states] : seen)
      for (auto& [name, polled] : states) {
        auto w = deployed_.find(wf);
        if (w == deployed_.end()) continue;
        auto it = w->second.find(name);
        // Not if Apply changed the worker meanwhile: the report may be of what it replaced.
        if (it == w->second.end() || !(it->second.config == polled.first)) continue;
        if (polled.second.restarts > it->second.state.restarts)  // the host's supervisor restarted it
          log::Warn(log::Fields{wf, polled.first.epoch, name, "WorkerRestarted"},
                    "worker on " + polled.first.node + " exited and was restarted (restart " +
                        std::to_string(polled.second.restarts) + "): " + polled.second.message);
        it->second.state = std::move(polled.second);
      }
  }
}

}  // namespace jb
