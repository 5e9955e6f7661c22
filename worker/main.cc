// jellybean-worker: one data-plane process (DESIGN.md §5). Usage:
//   jellybean-worker --config FILE [--port-file FILE]
// Reads its WorkerConfig from FILE; SIGHUP re-reads it and installs the new routes and epoch;
// SIGTERM/SIGINT stop it after writing final metrics. --port-file receives the bound port (written
// atomically once listening), for drivers that let the worker pick one.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "worker/worker.h"

namespace {

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream f(path, std::ios::binary);
  *ok = static_cast<bool>(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int Usage() {
  std::fprintf(stderr, "usage: jellybean-worker --config FILE [--port-file FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc)
      config_path = argv[++i];
    else if (a == "--port-file" && i + 1 < argc)
      port_file = argv[++i];
    else if (a == "--help" || a == "-h")
      return Usage() - 2;
    else
      return Usage();
  }
  if (config_path.empty()) return Usage();
  bool ok = false;
  std::string text = ReadAll(config_path, &ok);
  if (!ok) {
    std::fprintf(stderr, "jellybean-worker: cannot read %s: %s\n", config_path.c_str(), std::strerror(errno));
    return 1;
  }
  auto cfg = jb::ParseWorkerConfig(text, config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "jellybean-worker: %s\n", cfg.status().message().c_str());
    return 1;
  }
  // A remote driver's inline ingress certificate, key and token: served from files beside the config.
  if (auto s = jb::WriteInlineIngressFiles(*cfg, config_path); !s.ok()) {
    std::fprintf(stderr, "jellybean-worker: %s\n", s.message().c_str());
    return 1;
  }
  // Signals go to a signalfd read by a helper thread; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto worker = jb::Worker::Create(*cfg);
  if (!worker.ok()) {
    std::fprintf(stderr, "jellybean-worker: %s\n", worker.status().message().c_str());
    return 1;
  }
  bool emulated = false;
  for (const auto& in : cfg->instances) emulated |= in.kind == "operator" && in.runtime.type == "emulated";
  std::fprintf(stderr, "jellybean-worker %s/%s: listening on port %d, epoch %lld, %zu instance(s)%s\n",
               cfg->workflow.c_str(), cfg->name.c_str(), (*worker)->port(), static_cast<long long>(cfg->epoch),
               cfg->instances.size(), emulated ? ", EMULATED runtime (profiled latencies, synthetic payloads)" : "");
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << (*worker)->port() << "\n";
    }
    std::rename(tmp.c_str(), port_file.c_str());
  }
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  jb::Worker* w = worker->get();
  std::thread signals([sfd, w, config_path] {
    while (true) {
      signalfd_siginfo si{};
      if (read(sfd, &si, sizeof(si)) != sizeof(si)) continue;
      if (si.ssi_signo == SIGHUP) {
        bool rok = false;
        std::string t = ReadAll(config_path, &rok);
        auto next = jb::ParseWorkerConfig(t, config_path);
        if (next.ok()) (void)jb::WriteInlineIngressFiles(*next, config_path);
        if (!next.ok()) {
          std::fprintf(stderr, "jellybean-worker: reload refused, keeping the running configuration: %s\n",
                       next.status().message().c_str());
          continue;
        }
        std::fprintf(stderr, "jellybean-worker: reloaded, epoch %lld\n", static_cast<long long>(next->epoch));
        (void)w->Reconfigure(*next);
        continue;
      }
      w->Stop();
      return;
    }
  });
  auto st = w->Run();
  signals.join();
  if (!st.ok()) {
    std::fprintf(stderr, "jellybean-worker: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
