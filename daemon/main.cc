// jellybeand: the JellyBean control-plane daemon.
#include <signal.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

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
  return std::to_string(workflows) + " workflow(s), " + std::to_string(planned) + " planned, " + std::to_string(store.size()) +
         " object(s)";
}

int Main(int argc, char** argv) {
  // Signals are handled by sigwait in this thread; block them before any thread starts.
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

  DaemonConfig cfg;
  std::string config_path;
  bool help = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  // Flags are parsed twice: first to find --config, then again so that flags override the file.
  DaemonConfig scratch;
  if (auto s = ParseFlags(args, &scratch, &config_path, &help); !s.ok()) {
    std::cerr << "jellybeand: " << s.message() << "\n" << DaemonUsage();
    return 2;
  }
  if (help) {
    std::cout << DaemonUsage();
    return 0;
  }
  if (config_path.empty() && fs::exists("/etc/jellybean/jellybeand.yaml")) config_path = "/etc/jellybean/jellybeand.yaml";
  auto load_config = [&](DaemonConfig* out) -> Status {
    *out = DaemonConfig{};
    if (!config_path.empty()) {
      if (!fs::exists(config_path)) return Status::NotFound("config file " + config_path + " does not exist");
      if (auto s = LoadConfigFile(config_path, out); !s.ok()) return s;
    }
    std::string ignored;
    bool h = false;
    if (auto s = ParseFlags(args, out, &ignored, &h); !s.ok()) return s;
    return FinishConfig(out);
  };
  if (auto s = load_config(&cfg); !s.ok()) {
    std::cerr << "jellybeand: " << s.message() << "\n";
    return 2;
  }
  SetupLogging(cfg.log_level);
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

  std::unique_ptr<Driver> driver;
  LocalDriver* local = nullptr;
  if (cfg.driver == "fake") {
    driver = std::make_unique<FakeDriver>();
    spdlog::warn("driver: fake (in-memory; workers are recorded, not started)");
  } else {
    DriverEnvironment env;
    env.state_dir = cfg.state_dir;
    env.worker_binary = cfg.worker_binary.empty() ? FindWorkerBinary(fs::read_symlink("/proc/self/exe").string()) : cfg.worker_binary;
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
    if (!drivers.ok()) {
      spdlog::critical("{}", drivers.status().message());
      return 1;
    }
    for (const auto& line : started) spdlog::info("{}", line);
    local = dynamic_cast<LocalDriver*>((*drivers)->Get("local"));
    driver = std::move(*drivers);
    spdlog::info("drivers: {} (local workers are {} processes; files under {}/workers)", driver->name(), env.worker_binary, cfg.state_dir);
  }
  // Workers of workflows deleted while the daemon was down: stop them.
  for (const auto& wf : driver->Workflows()) {
    if (store.Get("Workflow", wf).ok()) continue;
    spdlog::warn("stopping the workers of workflow {}, which no longer exists", wf);
    if (auto s = driver->Remove(wf); !s.ok()) spdlog::error("stopping workers of {}: {}", wf, s.message());
  }
  ReconcilerOptions ropts;
  ropts.plan_time_limit_s = cfg.plan_time_limit_s;
  ropts.damping.min_interval_s = cfg.replan_min_interval_s;
  ropts.damping.min_saving_fraction = cfg.replan_min_saving;
  ropts.node_grace = std::chrono::milliseconds(static_cast<int64_t>(cfg.node_grace_s * 1000));
  ropts.node_retry_s = cfg.node_retry_s;
  ropts.load.threshold = cfg.load_threshold;
  ropts.load.sustain_s = cfg.load_sustain_s;
  Controller controller(&store, driver.get(), ropts, WorkQueueOptions{}, &events);
  controller.Start(static_cast<int>(cfg.workers));
  controller.EnqueueAll();
  std::unique_ptr<ManifestWatcher> watcher;
  auto watch = [&](const std::string& dir) {
    watcher.reset();
    if (dir.empty()) return;
    watcher = std::make_unique<ManifestWatcher>(dir, &store, &events);
    if (auto s = watcher->Start(); !s.ok()) {
      spdlog::error("manifest dir: {}", s.message());
      watcher.reset();
    } else {
      spdlog::info("watching manifest dir {}", dir);
    }
  };
  watch(cfg.manifest_dir);

  ApiServer api(&store, &controller, *token, &events);
  std::string host = cfg.listen.substr(0, cfg.listen.rfind(':'));
  int port = std::atoi(cfg.listen.c_str() + cfg.listen.rfind(':') + 1);
  HttpServerOptions hopts;
  hopts.address = host;
  hopts.port = port;
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
  std::string endpoint = std::string(cfg.insecure_plain_http ? "http://" : "https://") + host + ":" + std::to_string((*server)->port());
  if (auto s = WriteFileAtomic((fs::path(cfg.state_dir) / "endpoint").string(), endpoint + "\n"); !s.ok())
    spdlog::error("cannot write the endpoint file: {}", s.message());
  api.SetReady(true);
  spdlog::info("serving {} (state {}, token {})", endpoint, cfg.state_dir, cfg.token_file);
  Notify("READY=1\nSTATUS=serving " + endpoint + ": " + Summary(store));

  std::atomic<bool> stop{false};
  Mutex wd_mu;
  CondVar wd_cv;
  std::thread watchdog;
  if (uint64_t usec = WatchdogIntervalUsec(); usec > 0) {
    // WATCHDOG=1 only while the daemon really serves (daemon/health.h): its own /healthz answers
    // within the deadline and descriptors are left. Otherwise systemd restarts it at WatchdogSec.
    std::string probe_host = ProbeHost(host);
    int probe_port = (*server)->port();
    bool tls = !cfg.insecure_plain_http;
    double probe_timeout_s = std::min(5.0, static_cast<double>(usec) / 1e6);
    watchdog = std::thread([&, usec, probe_host, probe_port, tls, probe_timeout_s] {
      MutexLock lock(&wd_mu);
      bool was_healthy = true;
      while (!stop) {
        lock.Unlock();
        HealthSample sample;
        CountOpenFds(&sample);
        Status probe = ProbeHealthz(probe_host, probe_port, tls, probe_timeout_s);
        sample.probe_ok = probe.ok();
        sample.probe_error = probe.message();
        HealthVerdict verdict = JudgeHealth(sample);
        lock.Lock();
        if (stop) break;
        if (verdict.healthy) {
          if (!was_healthy) spdlog::info("watchdog: healthy again");
          Notify("WATCHDOG=1\nSTATUS=serving " + endpoint + ": " + Summary(store));
        } else {
          if (was_healthy) spdlog::error("watchdog: unhealthy, not notifying systemd: {}", verdict.reason);
          Notify("STATUS=unhealthy: " + verdict.reason);
        }
        was_healthy = verdict.healthy;
        wd_cv.WaitFor(&wd_mu, std::chrono::microseconds(usec));
      }
    });
  }
  while (true) {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig == SIGHUP) {
      Notify("RELOADING=1\nSTATUS=reloading");
      spdlog::info("SIGHUP: reloading configuration and manifests");
      DaemonConfig fresh;
      if (auto s = load_config(&fresh); !s.ok()) {
        spdlog::error("reload: {}; keeping the running configuration", s.message());
      } else {
        spdlog::set_level(spdlog::level::from_str(fresh.log_level));
        if (fresh.listen != cfg.listen) spdlog::warn("reload: listen address changes need a restart");
        if (fresh.manifest_dir != cfg.manifest_dir) {
          cfg.manifest_dir = fresh.manifest_dir;
          watch(cfg.manifest_dir);
        }
      }
      if (watcher)
        for (const auto& p : watcher->Sync()) spdlog::error("manifest: {}", p);
      controller.EnqueueAll();
      Notify("READY=1\nSTATUS=serving " + endpoint + ": " + Summary(store));
      continue;
    }
    break;  // SIGTERM / SIGINT
  }
  Notify("STOPPING=1\nSTATUS=draining");
  spdlog::info("stopping: draining requests and reconciles");
  api.SetReady(false);
  (*server)->Stop();
  watcher.reset();
  controller.Stop();
  if (local != nullptr && cfg.stop_workers_on_exit) {
    spdlog::info("stopping every worker (--stop-workers-on-exit)");
    local->StopAll();
  }
  {
    MutexLock lock(&wd_mu);
    stop = true;
  }
  wd_cv.SignalAll();
  if (watchdog.joinable()) watchdog.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) { return jb::Main(argc, argv); }
