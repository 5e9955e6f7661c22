#include "drivers/local/local_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/format.h"
#include "base/log.h"
#include "drivers/local/ingress_tls.h"
#include "drivers/process.h"
#include "drivers/unknown_worker.h"

extern char** environ;

namespace jb {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The process `pid` runs jellybean-worker with `config` (guards against pid reuse).
bool IsWorker(pid_t pid, const std::string& config) {
  std::string cmd = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/cmdline");
  if (cmd.empty()) return false;
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  auto rp = stat.rfind(')');
  if (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z') return false;  // zombie
  return cmd.find("jellybean-worker") != std::string::npos && cmd.find(config) != std::string::npos;
}

// True when `pid` is no process any more, or a zombie.
bool ExitEnded(pid_t pid) {
  std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  auto rp = stat.rfind(')');
  return stat.empty() || (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z');
}

}  // namespace

namespace {

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));  // "KILL"
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           (abbrev != nullptr ? "SIG" + std::string(abbrev) : std::string(strsignal(WTERMSIG(status)))) + ")";
  }
  return "stopped";
}

}  // namespace

LocalDriver::LocalDriver(LocalDriverOptions opts) : opts_(std::move(opts)) {
  Adopt();
  supervisor_ = std::thread([this] { Supervise(); });
}

LocalDriver::~LocalDriver() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  supervisor_.join();
}

std::string LocalDriver::Dir(const std::string& workflow) const { return opts_.state_dir + "/workers/" + workflow; }

std::string LocalDriver::File(const std::string& workflow, const std::string& worker, const std::string& ext) const {
  return Dir(workflow) + "/" + worker + "." + ext;
}

Status LocalDriver::WriteConfig(const std::string& workflow, const Proc& p) {
  std::error_code ec;
  fs::create_directories(Dir(workflow), ec);
  if (ec) return Status::Unavailable("cannot create " + Dir(workflow) + ": " + ec.message());
  // 0600: the config carries the worker's TLS key (drivers/worker_tls.h).
  return WriteFileCreatingDirs(File(workflow, p.config.name, "yaml"), WorkerConfigToYaml(p.config), 0600);
}

Status LocalDriver::Start(const std::string& workflow, Proc& p) {
  std::string config = File(workflow, p.config.name, "yaml");
  std::string log = File(workflow, p.config.name, "log");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // no inherited sockets, store files, pipes
  posix_spawnattr_t attr;
  InitChildAttr(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> args = {opts_.worker_binary, "--config", config};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, opts_.worker_binary.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::Unavailable("cannot start " + opts_.worker_binary + ": " + std::strerror(rc));
  p.pid = pid;
  p.child = true;
  p.exited = false;
  p.started = Clock::now();
  return WriteFileCreatingDirs(File(workflow, p.config.name, "pid"),
                               std::to_string(pid) + " " + std::to_string(p.port) + "\n", 0644);
}

bool LocalDriver::Alive(const Proc& p) {
  if (p.pid <= 0 || p.exited) return false;
  if (p.child) {
    int status = 0;
    pid_t r = waitpid(p.pid, &status, WNOHANG);
    if (r == p.pid) {
      const_cast<Proc&>(p).last_exit = ExitText(status);
      const_cast<Proc&>(p).child = false;  // reaped: never wait on this pid again
      // The pid stays for Supervise() to schedule the restart after the back-off; `exited` keeps
      // anyone from signalling it (the pid may be reused).
      const_cast<Proc&>(p).exited = true;
      return false;
    }
    return r == 0;
  }
  return IsWorker(p.pid, File(p.config.workflow, p.config.name, "yaml"));
}

void LocalDriver::Stop(const std::string& workflow, Proc& p) {
  if (p.pid > 0 && Alive(p)) {
    const bool adopted = !p.child;  // not ours to reap
    kill(p.pid, SIGTERM);
    auto deadline = Clock::now() + opts_.stop_grace;
    while (Clock::now() < deadline && Alive(p)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (p.pid > 0 && Alive(p)) {
      kill(p.pid, SIGKILL);
      if (p.child) waitpid(p.pid, nullptr, 0);
    }
    // An exiting process's cmdline empties before its exit ends (Alive then says no): an adopted
    // worker is gone only when /proc shows no process or a zombie. Bounded; seen under ASan.
    auto gone = Clock::now() + std::chrono::seconds(5);
    while (adopted && Clock::now() < gone && !ExitEnded(p.pid))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  p.pid = -1;
  p.exited = false;
  std::error_code ec;
  for (const char* ext : {"pid", "yaml", "metrics.json"}) fs::remove(File(workflow, p.config.name, ext), ec);
}

Status LocalDriver::IngressTls(const std::string& workflow, WorkerConfig& w, bool* changed) {
  *changed = false;
  if (!w.ingress || w.ingress->plain_http) return Status::Ok();
  if (ca_ == nullptr) {
    auto ca = Ca::LoadOrCreate(IngressCaDir(opts_.state_dir));
    if (!ca.ok()) return Status::Unavailable("the ingress of " + workflow + ": " + ca.status().message());
    ca_ = std::move(*ca);
  }
  std::string host = w.ingress->listen.substr(0, w.ingress->listen.rfind(':'));
  auto files = EnsureIngressFiles(*ca_, opts_.state_dir, workflow, Dir(workflow), w.name, host);
  if (!files.ok()) return Status::Unavailable("the ingress of " + workflow + ": " + files.status().message());
  w.ingress->cert_file = files->cert_file;
  w.ingress->key_file = files->key_file;
  w.ingress->token_file = files->token_file;
  *changed = files->changed;
  return Status::Ok();
}

Status LocalDriver::Apply(const std::string& workflow, const std::vector<WorkerConfig>& workers) {
  MutexLock l(&mu_);
  auto& cur = procs_[workflow];
  // Ports: keep each worker's port for its lifetime.
  // A listen address with a port set was chosen by a multi-driver dispatcher (drivers/dispatch.h),
  // which also filled the routes to workers of other drivers.
  std::map<std::string, std::string> address;
  for (const auto& w : workers) {
    auto it = cur.find(w.name);
    int given = ListenPort(w.listen);
    if (given > 0) {
      address[w.name] = w.listen;
      continue;
    }
    if (it != cur.end() && it->second.port > 0) {
      address[w.name] = opts_.host + ":" + std::to_string(it->second.port);
      continue;
    }
    auto p = PickFreePort();
    if (!p.ok()) return p.status();
    address[w.name] = opts_.host + ":" + std::to_string(*p);
  }
  std::vector<WorkerConfig> want = workers;
  std::set<std::string> renewed;  // ingress files rewritten: the worker restarts to serve them
  for (auto& w : want) {
    bool changed = false;
    if (auto s = IngressTls(workflow, w, &changed); !s.ok()) return s;
    if (changed) renewed.insert(w.name);
    w.listen = address[w.name];
    w.metrics_file = File(workflow, w.name, "metrics.json");
    w.metrics_interval_s = opts_.metrics_interval_s;
    for (auto* routes : {&w.routes, &w.drain_routes})
      for (auto& r : *routes) {
        auto it = address.find(r.worker);
        if (it != address.end())
          r.address = it->second;
        else if (r.address.empty())
          return Status::InvalidArgument("route of " + r.op + " names worker " + r.worker + ", which is not deployed");
      }
    if (auto s = ValidateWorkerConfig(w, workflow + "/" + w.name); !s.ok()) return s;
  }
  Status first;
  std::set<std::string> keep;
  for (auto& w : want) {
    keep.insert(w.name);
    auto it = cur.find(w.name);
    if (it != cur.end()) it->second.port = ListenPort(w.listen);
    if (it == cur.end()) {
      Proc p;
      p.config = w;
      p.port = ListenPort(w.listen);
      if (auto s = WriteConfig(workflow, p); !s.ok()) return s;
      auto s = Start(workflow, p);
      if (!s.ok()) {
        p.last_exit = s.message();
        p.restart_at = Clock::now() + std::chrono::milliseconds(200);
        if (first.ok()) first = s;
      }
      cur.emplace(w.name, std::move(p));
      continue;
    }
    Proc& p = it->second;
    bool fresh_files = renewed.count(w.name) != 0;
    if (p.config == w && !fresh_files) continue;
    bool reload = !fresh_files && ReloadsInPlace(p.config, w) && p.pid > 0 && Alive(p);
    if (!reload) Stop(workflow, p);
    p.config = w;
    if (auto s = WriteConfig(workflow, p); !s.ok()) return s;
    if (reload) {
      kill(p.pid, SIGHUP);  // new routes / epoch
    } else if (auto s = Start(workflow, p); !s.ok() && first.ok()) {
      first = s;
    }
  }
  for (auto it = cur.begin(); it != cur.end();) {
    if (keep.count(it->first) != 0) {
      ++it;
      continue;
    }
    Stop(workflow, it->second);
    std::error_code ec;
    for (const char* ext : {"log", "ingress.crt", "ingress.key", "ingress.token"})
      fs::remove(File(workflow, it->first, ext), ec);
    it = cur.erase(it);
  }
  return first;
}

std::vector<WorkerState> LocalDriver::Observe(const std::string& workflow) {
  MutexLock l(&mu_);
  std::vector<WorkerState> out;
  auto it = procs_.find(workflow);
  if (it == procs_.end()) return out;
  for (auto& [name, p] : it->second) {
    WorkerState st;
    st.name = name;
    st.node = p.config.node;
    st.tier = p.config.tier;
    st.restarts = p.restarts;
    bool alive = p.pid > 0 && Alive(p);
    st.pid = alive ? p.pid : -1;  // an exited worker's pid is not reported (it may be reused)
    std::string metrics_path = File(workflow, name, "metrics.json");
    std::error_code ec;
    auto mtime = fs::last_write_time(metrics_path, ec);
    double age_s = ec ? 0 : std::chrono::duration<double>(fs::file_time_type::clock::now() - mtime).count();
    std::string text = ReadFileOrEmpty(metrics_path);
    if (!text.empty()) {
      auto m = ParseWorkerMetrics(text, File(workflow, name, "metrics.json"));
      if (m.ok()) st.metrics = std::move(*m);
    }
    if (!alive) {
      st.message = "not running" + (p.last_exit.empty() ? std::string() : " (" + p.last_exit + ")") + "; restart " +
                   std::to_string(p.restarts + 1) + " pending, see " + File(workflow, name, "log");
    } else if (!st.metrics || st.metrics->pid != p.pid) {
      st.message = "starting (no report from pid " + std::to_string(p.pid) + " yet)";
    } else if (age_s > std::max(2.0, 4 * opts_.metrics_interval_s)) {
      // Alive but silent (stopped, hung, starved): its heartbeat is missed.
      char buf[96];
      std::snprintf(buf, sizeof(buf), "heartbeat missed: no report for %.1f s from pid %d", age_s,
                    static_cast<int>(p.pid));
      st.message = buf;
    } else if (st.metrics->epoch != p.config.epoch) {
      st.message =
          "running epoch " + std::to_string(st.metrics->epoch) + ", reloading to " + std::to_string(p.config.epoch);
    } else {
      st.ready = true;
      if (p.restarts > 0) st.message = "restarted " + std::to_string(p.restarts) + " time(s), last: " + p.last_exit;
    }
    if (st.metrics && st.metrics->pid != st.pid) st.metrics.reset();  // a previous process's report
    out.push_back(std::move(st));
  }
  return out;
}

Status LocalDriver::Remove(const std::string& workflow) {
  MutexLock l(&mu_);
  auto it = procs_.find(workflow);
  if (it != procs_.end()) {
    for (auto& [name, p] : it->second) Stop(workflow, p);
    procs_.erase(it);
  }
  std::error_code ec;
  fs::remove_all(Dir(workflow), ec);
  return Status::Ok();
}

std::vector<WorkerConfig> LocalDriver::Desired(const std::string& workflow) {
  MutexLock l(&mu_);
  std::vector<WorkerConfig> out;
  if (auto it = procs_.find(workflow); it != procs_.end())
    for (const auto& [name, p] : it->second) out.push_back(p.config);
  return out;
}

std::vector<std::string> LocalDriver::Workflows() {
  MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [wf, ps] : procs_)
    if (!ps.empty()) out.push_back(wf);
  return out;
}

void LocalDriver::StopAll() {
  std::vector<std::string> all = Workflows();
  for (const auto& wf : all) (void)Remove(wf);
}

void LocalDriver::Adopt() {
  MutexLock l(&mu_);
  std::error_code ec;
  fs::path root = opts_.state_dir + "/workers";
  if (!fs::exists(root, ec)) return;
  for (const auto& wfdir : fs::directory_iterator(root, ec)) {
    if (!wfdir.is_directory()) continue;
    std::string workflow = wfdir.path().filename().string();
    for (const auto& f : fs::directory_iterator(wfdir.path(), ec)) {
      if (f.path().extension() != ".yaml") continue;
      std::string name = f.path().stem().string();
      auto cfg = ParseWorkerConfig(ReadFileOrEmpty(f.path().string()), f.path().string());
      if (!cfg.ok()) continue;  // a broken file: Apply writes a fresh one
      Proc p;
      p.config = *cfg;
      p.port = ListenPort(cfg->listen);
      std::istringstream pidfile(ReadFileOrEmpty(File(workflow, name, "pid")));
      long pid = -1;
      pidfile >> pid;
      if (pid > 0 && IsWorker(static_cast<pid_t>(pid), f.path().string())) {
        p.pid = static_cast<pid_t>(pid);  // still serving: adopt it as it is
        p.started = Clock::now();
      } else {
        p.last_exit = "not running when the daemon started";
        p.restart_at = Clock::now();  // the supervisor brings it back on its port
      }
      p.child = false;
      procs_[workflow].emplace(name, std::move(p));
    }
  }
}

void LocalDriver::Supervise() {
  MutexLock l(&mu_);
  while (!stopping_) {
    cv_.WaitFor(&mu_, opts_.supervise_every);
    if (stopping_) break;
    auto now = Clock::now();
    for (auto& [workflow, ps] : procs_) {
      for (auto& [name, p] : ps) {
        if (p.pid > 0) {
          if (Alive(p)) continue;
          if (p.last_exit.empty()) p.last_exit = "exited";
          p.pid = -1;
          p.exited = false;
          p.restart_at = p.backoff.OnExit(p.started, now);
          log::Warn(log::Fields{workflow, p.config.epoch, name, "WorkerExited"},
                    "worker " + p.last_exit + "; restart " + std::to_string(p.restarts + 1) + " in " +
                        FormatFixed(std::chrono::duration<double>(p.restart_at - now).count(), 1) + " s");
          continue;
        }
        if (now < p.restart_at) continue;
        if (Status started = Start(workflow, p); started.ok()) {
          ++p.restarts;
          log::Info(log::Fields{workflow, p.config.epoch, name, "WorkerRestarted"},
                    "worker restarted (restart " + std::to_string(p.restarts) + ", pid " + std::to_string(p.pid) + ")");
        } else {
          p.restart_at = now + std::chrono::milliseconds(static_cast<int64_t>(p.backoff.next_delay_s() * 1000));
          log::Error(log::Fields{workflow, p.config.epoch, name, "WorkerRestartFailed"}, started.message());
        }
      }
    }
  }
}

StatusOr<std::string> LocalDriver::ReadLog(const std::string& workflow, const std::string& worker, int64_t offset,
                                           size_t max_bytes, int64_t* end) {
  *end = 0;
  std::string path;
  {
    MutexLock l(&mu_);
    auto w = procs_.find(workflow);
    if (w == procs_.end() || w->second.count(worker) == 0) {
      return UnknownWorker(workflow, worker, w == procs_.end() ? nullptr : &w->second);
    }
    path = File(workflow, worker, "log");
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();  // nothing logged yet
    return Status::Unavailable("cannot read " + path + ": " + std::strerror(errno));
  }
  struct stat sb {};
  ::fstat(fd, &sb);
  const int64_t size = sb.st_size;
  const auto max = static_cast<int64_t>(max_bytes);
  int64_t from = offset < 0 ? std::max<int64_t>(0, size - max) : (offset > size ? 0 : offset);
  std::string out(static_cast<size_t>(std::min(max, size - from)), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(from) + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  *end = from + static_cast<int64_t>(got);
  return out;
}

}  // namespace jb
