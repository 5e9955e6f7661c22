// jellybeand: the JellyBean control-plane daemon.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "base/dir_lock.h"
#include "base/mutex.h"
#include "daemon/api_server.h"
#include "daemon/daemon.h"
#include "daemon/health.h"
#include "daemon/http.h"
#include "daemon/manifest_watcher.h"
#include "drivers/fake/fake_driver.h"
#include "drivers/local/local_driver.h"
#include "drivers/registry.h"
#include "drivers/worker_process.h"
#include "reconciler/controller.h"
#include "reconciler/file_store.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

void SetupLogging(const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    logger = std::make_shared<spdlog::logger>("jellybeand", std::make_shared<spdlog::sinks::systemd_sink_mt>());
  } else {
    logger = std::make_shared<spdlog::logger>("jellybeand", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

std::string Summary(const Store& store) {
  size_t planned = 0, workflows = 0;
  for (const auto& obj : store.List("Workflow")) {
    ++workflows;
    const auto& st = std::get<Workflow>(obj).status;
    for (const auto& c : st.conditions)
      if (c.type == "Planned" && c.status == "True") ++planned;
  }
  return std::to_string(workflows) + " workflow(s), " + std::to_string(planned) + " planned, " +
         std::to_string(store.size()) + " object(s)";
}

// Signals are handled by sigwait in the main thread; they are blocked before any thread starts.
sigset_t BlockSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  // A peer that closes while we write (a TLS client on the agent port that hangs up after the
  // handshake, a REST client that goes away) must cost an EPIPE, not the daemon (exit 141).
  // Children get the default back (drivers/process.cc resets it for workers).
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

// The configuration: defaults, then the config file (--config, else /etc/jellybean/jellybeand.yaml
// when it exists), then the flags, which override the file. Re-read on SIGHUP.
class ConfigLoader {
 public:
  explicit ConfigLoader(std::vector<std::string> args) : args_(std::move(args)) {}
  // Finds --config and --help (flags are parsed twice: here, then over the file's values).
  Status ParseCommandLine(bool* help) {
    DaemonConfig scratch;
    if (auto s = ParseFlags(args_, &scratch, &config_path_, help); !s.ok()) return s;
    if (config_path_.empty() && fs::exists("/etc/jellybean/jellybeand.yaml"))
      config_path_ = "/etc/jellybean/jellybeand.yaml";
    return Status::Ok();
  }
  Status Load(DaemonConfig* out) const {
    *out = DaemonConfig{};
    if (!config_path_.empty()) {
      if (!fs::exists(config_path_)) return Status::NotFound("config file " + config_path_ + " does not exist");
      if (auto s = LoadConfigFile(config_path_, out); !s.ok()) return s;
    }
    std::string ignored;
    bool h = false;
    if (auto s = ParseFlags(args_, out, &ignored, &h); !s.ok()) return s;
    return FinishConfig(out);
  }

 private:
  std::vector<std::string> args_;
  std::string config_path_;
};

// The drivers the configuration names; `*local` is the local driver when there is one.
StatusOr<std::unique_ptr<Driver>> MakeDriver(const DaemonConfig& cfg, LocalDriver** local) {
  *local = nullptr;
  if (cfg.driver == "fake") {
    spdlog::warn("driver: fake (in-memory; workers are recorded, not started)");
    return std::unique_ptr<Driver>(std::make_unique<FakeDriver>());
  }
  DriverEnvironment env;
  env.state_dir = cfg.state_dir;
  env.worker_binary =
      cfg.worker_binary.empty() ? FindWorkerBinary(fs::read_symlink("/proc/self/exe").string()) : cfg.worker_binary;
  env.local_host = cfg.local_host;
  env.cloud_reconcile_s = cfg.cloud_reconcile_s;
  if (!cfg.agent_listen.empty()) {
    env.agent_listen_port = 0;  // FinishConfig checked the address
    (void)SplitListen(cfg.agent_listen, &env.agent_listen_host, &env.agent_listen_port);
    env.agent_server_name = cfg.agent_server_name;
    env.agent_token_file = cfg.agent_token_file;
  }
  std::vector<std::string> started;
  auto drivers = CreateDrivers(env, &started);
  if (!drivers.ok()) return drivers.status();
  for (const auto& line : started) spdlog::info("{}", line);
  *local = dynamic_cast<LocalDriver*>((*drivers)->Get("local"));
  spdlog::info("drivers: {} (local workers are {} processes; files under {}/workers)", (*drivers)->name(),
               env.worker_binary, cfg.state_dir);
  return std::unique_ptr<Driver>(std::move(*drivers));
}

// Workers of workflows deleted while the daemon was down: stop them.
void StopOrphanedWorkers(Driver* driver, const Store& store) {
  for (const auto& wf : driver->Workflows()) {
    if (store.Get("Workflow", wf).ok()) continue;
    spdlog::warn("stopping the workers of workflow {}, which no longer exists", wf);
    if (auto s = driver->Remove(wf); !s.ok()) spdlog::error("stopping workers of {}: {}", wf, s.message());
  }
}

ReconcilerOptions ReconcilerOptionsFrom(const DaemonConfig& cfg) {
  ReconcilerOptions ropts;
  ropts.plan_time_limit_s = cfg.plan_time_limit_s;
  ropts.damping.min_interval_s = cfg.replan_min_interval_s;
  ropts.damping.min_saving_fraction = cfg.replan_min_saving;
  ropts.node_grace = std::chrono::milliseconds(static_cast<int64_t>(cfg.node_grace_s * 1000));
  ropts.node_retry_s = cfg.node_retry_s;
  ropts.load.threshold = cfg.load_threshold;
  ropts.load.sustain_s = cfg.load_sustain_s;
  ropts.deployment.ingress_plain_http = cfg.ingress_plain_http;
  ropts.deployment.ingress_host = cfg.local_host;  // where the local io worker serves it
  return ropts;
}

// The manifest directory's watcher; Watch("") stops watching.
class ManifestDirectory {
 public:
  ManifestDirectory(Store* store, EventRecorder* events) : store_(store), events_(events) {}
  void Watch(const std::string& dir) {
    watcher_.reset();
    if (dir.empty()) return;
    watcher_ = std::make_unique<ManifestWatcher>(dir, store_, events_);
    if (auto s = watcher_->Start(); !s.ok()) {
      spdlog::error("manifest dir: {}", s.message());
      watcher_.reset();
    } else {
      spdlog::info("watching manifest dir {}", dir);
    }
  }
  void Sync() {
    if (watcher_)
      for (const auto& p : watcher_->Sync()) spdlog::error("manifest: {}", p);
  }
  void Stop() { watcher_.reset(); }

 private:
  Store* store_;
  EventRecorder* events_;
  std::unique_ptr<ManifestWatcher> watcher_;
};

// WATCHDOG=1 to systemd only while the daemon really serves (daemon/health.h): its own /healthz
// answers within the deadline and descriptors are left. Otherwise systemd restarts it at
// WatchdogSec. Does nothing when systemd asked for no watchdog.
class Watchdog {
 public:
  Watchdog(std::string probe_host, int probe_port, bool tls, std::string endpoint, const Store* store)
      : probe_host_(std::move(probe_host)),
        probe_port_(probe_port),
        tls_(tls),
        endpoint_(std::move(endpoint)),
        store_(store) {}
  ~Watchdog() { Stop(); }
  void Start() {
    const uint64_t usec = WatchdogIntervalUsec();
    if (usec == 0) return;
    thread_ = std::thread([this, usec] { Loop(usec); });
  }
  void Stop() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop(uint64_t usec) EXCLUDES(mu_) {
    const double probe_timeout_s = std::min(5.0, static_cast<double>(usec) / 1e6);
    MutexLock lock(&mu_);
    bool was_healthy = true;
    while (!stop_) {
      lock.Unlock();
      HealthSample sample;
      CountOpenFds(&sample);
      Status probe = ProbeHealthz(probe_host_, probe_port_, tls_, probe_timeout_s);
      sample.probe_ok = probe.ok();
      sample.probe_error = probe.message();
      HealthVerdict verdict = JudgeHealth(sample);
      lock.Lock();
      if (stop_) break;
      if (verdict.healthy) {
        if (!was_healthy) spdlog::info("watchdog: healthy again");
        Notify("WATCHDOG=1\nSTATUS=serving " + endpoint_ + ": " + Summary(*store_));
      } else {
        if (was_healthy) spdlog::error("watchdog: unhealthy, not notifying systemd: {}", verdict.reason);
        Notify("STATUS=unhealthy: " + verdict.reason);
      }
      was_healthy = verdict.healthy;
      cv_.WaitFor(&mu_, std::chrono::microseconds(usec));
    }
  }

  const std::string probe_host_;
  const int probe_port_;
  const bool tls_;
  const std::string endpoint_;
  const Store* store_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Serves until SIGTERM/SIGINT; SIGHUP re-reads the configuration (log level, manifest directory)
// and the manifests, and re-queues every workflow.
void ServeUntilStopped(const sigset_t& sigs, const ConfigLoader& loader, DaemonConfig* cfg,
                       ManifestDirectory* manifests, Controller* controller, const std::string& endpoint,
                       const Store& store) {
  while (true) {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig != SIGHUP) return;  // SIGTERM / SIGINT
    Notify("RELOADING=1\nSTATUS=reloading");
    spdlog::info("SIGHUP: reloading configuration and manifests");
    DaemonConfig fresh;
    if (auto s = loader.Load(&fresh); !s.ok()) {
      spdlog::error("reload: {}; keeping the running configuration", s.message());
    } else {
      spdlog::set_level(spdlog::level::from_str(fresh.log_level));
      if (fresh.listen != cfg->listen) spdlog::warn("reload: listen address changes need a restart");
      if (fresh.manifest_dir != cfg->manifest_dir) {
        cfg->manifest_dir = fresh.manifest_dir;
        manifests->Watch(cfg->manifest_dir);
      }
    }
    manifests->Sync();
    controller->EnqueueAll();
    Notify("READY=1\nSTATUS=serving " + endpoint + ": " + Summary(store));
  }
}

int Main(int argc, char** argv) {
  const sigset_t sigs = BlockSignals();
  ConfigLoader loader(std::vector<std::string>(argv + 1, argv + argc));
  bool help = false;
  if (auto s = loader.ParseCommandLine(&help); !s.ok()) {
    std::cerr << "jellybeand: " << s.message() << "\n" << DaemonUsage();
    return 2;
  }
  if (help) {
    std::cout << DaemonUsage();
    return 0;
  }
  DaemonConfig cfg;
  if (auto s = loader.Load(&cfg); !s.ok()) {
    std::cerr << "jellybeand: " << s.message() << "\n";
    return 2;
  }
  SetupLogging(cfg.log_level);
  // One daemon per state directory: a second one would rewrite the same objects and workers.
  auto state_lock = DirLock::Lock(cfg.state_dir);
  if (!state_lock.ok()) {
    spdlog::critical("{}", state_lock.status().message());
    return 1;
  }
  InitHttpThreads(4);

  if (auto s = EnsureTls(&cfg); !s.ok()) {
    spdlog::critical("TLS set-up failed: {}", s.message());
    return 1;
  }
  auto token = EnsureToken(cfg.token_file);
  if (!token.ok()) {
    spdlog::critical("token: {}", token.status().message());
    return 1;
  }
  EventRecorder events;
  FileStore store(cfg.state_dir);
  for (const auto& p : store.Load()) {
    spdlog::error("state: {}", p);
    events.Record("StateDir", cfg.state_dir, "Warning", "FileSkipped", p);
  }
  spdlog::info("loaded {} object(s) from {}", store.size(), cfg.state_dir);

  LocalDriver* local = nullptr;
  auto made = MakeDriver(cfg, &local);
  if (!made.ok()) {
    spdlog::critical("{}", made.status().message());
    return 1;
  }
  std::unique_ptr<Driver> driver = std::move(*made);
  StopOrphanedWorkers(driver.get(), store);
  // The REST watch: observes every write, status writes too (through `watched`), from before the
  // controller's first one.
  WatchCache watch_cache(&store);
  WatchedStore watched(&store, &watch_cache);
  Controller controller(&watched, driver.get(), ReconcilerOptionsFrom(cfg), WorkQueueOptions{}, &events);
  controller.Start(static_cast<int>(cfg.workers));
  controller.EnqueueAll();
  ManifestDirectory manifests(&store, &events);
  manifests.Watch(cfg.manifest_dir);

  ApiServer api(&watched, &controller, *token, &events);
  api.SetWatchCache(&watch_cache);
  std::string host = cfg.listen.substr(0, cfg.listen.rfind(':'));
  int port = std::atoi(cfg.listen.c_str() + cfg.listen.rfind(':') + 1);
  HttpServerOptions hopts;
  hopts.address = host;
  hopts.port = port;
  hopts.handler_threads = 4 + WatchCacheOptions{}.max_watchers;  // each watch holds a handler thread
  if (!cfg.insecure_plain_http) {
    hopts.cert_file = cfg.tls_cert;
    hopts.key_file = cfg.tls_key;
  }
  auto server = StartHttpServer(hopts, [&api](const HttpRequest& r) { return api.Handle(r); });
  if (!server.ok()) {
    spdlog::critical("{}", server.status().message());
    controller.Stop();
    return 1;
  }
  std::string endpoint =
      std::string(cfg.insecure_plain_http ? "http://" : "https://") + host + ":" + std::to_string((*server)->port());
  if (auto s = WriteFileAtomic((fs::path(cfg.state_dir) / "endpoint").string(), endpoint + "\n"); !s.ok())
    spdlog::error("cannot write the endpoint file: {}", s.message());
  api.SetReady(true);
  spdlog::info("serving {} (state {}, token {})", endpoint, cfg.state_dir, cfg.token_file);
  Notify("READY=1\nSTATUS=serving " + endpoint + ": " + Summary(store));

  Watchdog watchdog(ProbeHost(host), (*server)->port(), !cfg.insecure_plain_http, endpoint, &store);
  watchdog.Start();
  ServeUntilStopped(sigs, loader, &cfg, &manifests, &controller, endpoint, store);

  Notify("STOPPING=1\nSTATUS=draining");
  spdlog::info("stopping: draining requests and reconciles");
  api.SetReady(false);
  (*server)->Stop();
  manifests.Stop();
  controller.Stop();
  if (local != nullptr && cfg.stop_workers_on_exit) {
    spdlog::info("stopping every worker (--stop-workers-on-exit)");
    local->StopAll();
  }
  watchdog.Stop();
  std::error_code ec;  // a clean stop leaves no endpoint behind for jbctl to try
  fs::remove(fs::path(cfg.state_dir) / "endpoint", ec);
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) { return jb::Main(argc, argv); }
