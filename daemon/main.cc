// jellybeand: the JellyBean control-plane daemon.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "base/dir_lock.h"
#include "base/log.h"
#include "base/mutex.h"
#include "daemon/api_server.h"
#include "daemon/daemon.h"
#include "daemon/health.h"
#include "daemon/http.h"
#include "daemon/leader.h"
#include "daemon/manifest_watcher.h"
#include "daemon/store_backend.h"
#include "daemon/watchdog.h"
#include "drivers/fake/fake_driver.h"
#include "drivers/local/local_driver.h"
#include "drivers/registry.h"
#include "drivers/worker_process.h"
#include "reconciler/controller.h"
#include "reconciler/file_store.h"
#include "store/etcd/etcd_store.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

// journald under systemd (JOURNAL_STREAM is set), else the console (base/log.h); FinishConfig
// checked the level's name.
void SetupLogging(const std::string& level) {
  auto parsed = log::ParseLevel(level);
  log::Init("jellybeand", parsed.ok() ? *parsed : log::Level::kInfo);
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

// The drivers the configuration names; `*local` is the local driver when there is one. `*term`:
// their fencing term (drivers/fencing.h), set here from STATE/term for the file store (the start
// counter) and by MakeElector to the leader's term with etcd.
StatusOr<std::unique_ptr<Driver>> MakeDriver(const DaemonConfig& cfg, const Store& store,
                                             std::shared_ptr<FencingTerm>* term, LocalDriver** local) {
  *local = nullptr;
  *term = std::make_shared<FencingTerm>();
  if (dynamic_cast<const EtcdStore*>(&store) == nullptr) {
    auto local_term = NextLocalTerm(cfg.state_dir);
    if (!local_term.ok()) return local_term.status();
    (*term)->Set(*local_term);
  }
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
  env.cloud_owner = cfg.cloud_owner;
  env.agent_heartbeat_grace_s = cfg.agent_heartbeat_grace_s;
  env.agent_poll_hold_s = cfg.agent_poll_hold_s;
  env.term = *term;
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
  ropts.control_link.data_grace = std::chrono::milliseconds(static_cast<int64_t>(cfg.control_data_grace_s * 1000));
  ropts.control_link.max_autonomous_s = cfg.max_autonomy_s;
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

// The watchdog's hooks (daemon/watchdog.h): the listener's health and the reconciler's liveness.
WatchdogHooks WatchdogHooksFor(const std::string& probe_host, int probe_port, bool tls, double probe_timeout_s,
                               const std::string& endpoint, const Store* store, Controller* controller) {
  WatchdogHooks h;
  h.notify = [](const std::string& state) { Notify(state); };
  h.sample = [=] {
    HealthSample sample;
    CountOpenFds(&sample);
    Status probe = ProbeHealthz(probe_host, probe_port, tls, probe_timeout_s);
    sample.probe_ok = probe.ok();
    sample.probe_error = probe.message();
    return sample;
  };
  h.heartbeats = [controller] { return controller->Heartbeats(); };
  h.probe = [controller] { controller->Probe(); };
  h.status = [endpoint, store] { return "serving " + endpoint + ": " + Summary(*store); };
  return h;
}

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
      if (auto level = log::ParseLevel(fresh.log_level); level.ok()) log::SetLevel(*level);
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

LeaderOptions LeaderOptionsFrom(const DaemonConfig& cfg) {
  LeaderOptions o;
  o.id = cfg.replica_id;
  if (o.id.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o.id = std::string(host) + "-" + std::to_string(::getpid());
  }
  o.ttl = std::chrono::milliseconds(static_cast<int64_t>(cfg.lease_ttl_s * 1000));
  o.renew = std::chrono::milliseconds(static_cast<int64_t>(cfg.lease_renew_s * 1000));
  o.margin = std::min(o.renew, o.ttl / 4);
  return o;
}

// The event log (STATE/events.jsonl) and the object store (--store); problems loading either are
// logged (and recorded as events for the store).
StatusOr<OpenedStore> OpenEventsAndStore(const DaemonConfig& cfg, EventRecorder* events) {
  std::vector<std::string> skipped_events;
  if (auto s = events->Open((fs::path(cfg.state_dir) / "events.jsonl").string(), &skipped_events); !s.ok())
    spdlog::error("events: {}; events are kept in memory only", s.message());
  for (const auto& p : skipped_events) spdlog::warn("events: {}", p);
  auto opened = OpenStoreBackend(cfg.store, cfg.state_dir);
  if (!opened.ok()) return opened.status();
  for (const auto& p : opened->problems) {
    spdlog::error("state: {}", p);
    events->Record("StateDir", cfg.state_dir, "Warning", "FileSkipped", p);
  }
  spdlog::info("loaded {} object(s) from the {}", opened->store->size(), opened->description);
  return opened;
}

// With the etcd store, only the elected leader reconciles (daemon/leader.h): `lead` runs when this
// replica is elected; a leader that loses its lease exits at once (its workers keep serving) and,
// restarted, follows. nullptr for the file store (always the leader).
// The drivers' fencing term (drivers/fencing.h) is set to the leader's term before `lead` runs.
std::unique_ptr<LeaderElector> MakeElector(Store& store, const DaemonConfig& cfg, std::function<void()> lead,
                                           std::atomic<bool>* led, const std::atomic<bool>* stopping,
                                           FencingTerm* fencing) {
  auto* etcd_store = dynamic_cast<EtcdStore*>(&store);
  if (etcd_store == nullptr) return nullptr;
  return std::make_unique<LeaderElector>(
      etcd_store->client(), LeaderOptionsFrom(cfg), [lead, led, stopping, fencing](bool leading, int64_t term) {
        if (leading && !led->exchange(true)) {
          fencing->Set(term);
          spdlog::info("leading (term {}): starting the reconciler", term);
          lead();
        } else if (!leading && *led && !*stopping) {
          spdlog::critical(
              "lost the leadership: exiting so as not to act beside the next leader (workers keep serving)");
          std::_Exit(3);
        }
      });
}

// WATCHDOG=1 only while the listener answers and the reconciler's workers take work (a probe item
// each tick keeps an idle daemon alive); a reconcile may legitimately plan for the plan time limit,
// so only a longer silence counts as stuck. `led` (HA only): a follower runs no reconciler, so its
// liveness is the listener's alone.
std::unique_ptr<Watchdog> MakeWatchdog(const DaemonConfig& cfg, const std::string& probe_host, int port,
                                       const std::string& endpoint, const Store& store, Controller* controller,
                                       const std::atomic<bool>* led) {
  const auto tick = std::chrono::microseconds(WatchdogIntervalUsec());
  const auto stall_after = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(cfg.plan_time_limit_s) + 2 * tick + std::chrono::seconds(5));
  WatchdogHooks hooks =
      WatchdogHooksFor(probe_host, port, !cfg.insecure_plain_http,
                       std::min(5.0, static_cast<double>(tick.count()) / 1e6), endpoint, &store, controller);
  if (led != nullptr) {
    hooks.heartbeats = [led, base = hooks.heartbeats, n = uint64_t{0}]() mutable { return *led ? base() : ++n; };
    hooks.probe = [led, base = hooks.probe] {
      if (*led) base();
    };
  }
  return std::make_unique<Watchdog>(std::move(hooks), tick, stall_after);
}

// /readyz of a replica: "leader: ID" once a leader is known, else why not; then campaigns.
void StartElection(ApiServer* api, LeaderElector* elector) {
  api->SetReadiness([elector] {
    std::string problem = elector->problem(), leader = elector->leader();
    if (!problem.empty() && !elector->leading()) return std::make_pair(false, problem + "\n");
    return std::make_pair(!leader.empty(), "leader: " + (leader.empty() ? std::string("none yet") : leader) + "\n");
  });
  elector->Start();
}

// The REST listener: --listen, TLS unless --insecure-plain-http.
HttpServerOptions ServerOptionsFrom(const DaemonConfig& cfg) {
  HttpServerOptions hopts;
  hopts.address = cfg.listen.substr(0, cfg.listen.rfind(':'));
  hopts.port = std::atoi(cfg.listen.c_str() + cfg.listen.rfind(':') + 1);
  hopts.handler_threads = 4 + WatchCacheOptions{}.max_watchers;  // each watch holds a handler thread
  if (!cfg.insecure_plain_http) {
    hopts.cert_file = cfg.tls_cert;
    hopts.key_file = cfg.tls_key;
  }
  return hopts;
}

int Main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "migrate")
    return RunMigrate(std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
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
  EventRecorder events;  // persisted in STATE/events.jsonl, so describe shows them after a restart
  auto opened = OpenEventsAndStore(cfg, &events);
  if (!opened.ok()) {
    spdlog::critical("{}", opened.status().message());
    return 1;
  }
  Store& store = *opened->store;

  LocalDriver* local = nullptr;
  std::shared_ptr<FencingTerm> fencing;  // the drivers' term; MakeElector sets the leader's
  auto made = MakeDriver(cfg, store, &fencing, &local);
  if (!made.ok()) {
    spdlog::critical("{}", made.status().message());
    return 1;
  }
  std::unique_ptr<Driver> driver = std::move(*made);
  // The REST watch: observes every write, status writes too (through `watched`), from before the
  // controller's first one.
  WatchCache watch_cache(&store);
  WatchedStore watched(&store, &watch_cache);
  // Other replicas' status writes (etcd) reach the REST watch too.
  Subscription others_statuses = OnOtherReplicasStatusWrites(store, [&watch_cache] { watch_cache.Observe(); });
  Controller controller(&watched, driver.get(), ReconcilerOptionsFrom(cfg), WorkQueueOptions{}, &events);
  auto lead = [&] {
    StopOrphanedWorkers(driver.get(), store);
    controller.Start(static_cast<int>(cfg.workers));
    controller.EnqueueAll();
  };
  std::atomic<bool> led{false}, stopping{false};
  std::unique_ptr<LeaderElector> elector = MakeElector(store, cfg, lead, &led, &stopping, fencing.get());
  if (!elector) lead();
  ManifestDirectory manifests(&store, &events);
  manifests.Watch(cfg.manifest_dir);

  ApiServer api(&watched, &controller, *token, &events);
  api.SetWatchCache(&watch_cache);
  api.metrics()->SetDriver(driver.get());  // per-worker families on /metrics
  const HttpServerOptions hopts = ServerOptionsFrom(cfg);
  const std::string& host = hopts.address;
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
  if (elector) StartElection(&api, elector.get());
  api.SetReady(true);
  spdlog::info("serving {} (state {}, token {})", endpoint, cfg.state_dir, cfg.token_file);
  Notify("READY=1\nSTATUS=serving " + endpoint + ": " + Summary(store));

  auto watchdog =
      MakeWatchdog(cfg, ProbeHost(host), (*server)->port(), endpoint, store, &controller, elector ? &led : nullptr);
  watchdog->Start();
  ServeUntilStopped(sigs, loader, &cfg, &manifests, &controller, endpoint, store);

  Notify("STOPPING=1\nSTATUS=draining");
  spdlog::info("stopping: draining requests and reconciles");
  api.SetReady(false);
  stopping = true;
  if (elector) elector->Stop();  // resigns: another replica takes over at once
  (*server)->Stop();
  manifests.Stop();
  controller.Stop();
  if (local != nullptr && cfg.stop_workers_on_exit) {
    spdlog::info("stopping every worker (--stop-workers-on-exit)");
    local->StopAll();
  }
  watchdog->Stop();
  std::error_code ec;  // a clean stop leaves no endpoint behind for jbctl to try
  fs::remove(fs::path(cfg.state_dir) / "endpoint", ec);
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) { return jb::Main(argc, argv); }
