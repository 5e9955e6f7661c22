#include "drivers/worker_process.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace jb {
namespace fs = std::filesystem;

bool ReloadsInPlace(const WorkerConfig& a, const WorkerConfig& b) {
  return SameInstances(a, b) && a.listen == b.listen && a.metrics_file == b.metrics_file;
}

int ListenPort(const std::string& listen) {
  auto colon = listen.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(listen.c_str() + colon + 1);
}

std::string FindWorkerBinary(const std::string& self_exe) {
  fs::path dir = fs::path(self_exe).parent_path();
  for (const auto& cand : {dir / "jellybean-worker", dir.parent_path() / "worker" / "jellybean-worker"}) {
    std::error_code ec;
    if (fs::exists(cand, ec)) return fs::canonical(cand, ec).string();
  }
  return "jellybean-worker";  // PATH
}

const std::vector<std::string>& WorkflowStateSuffixes() {
  static const std::vector<std::string> kSuffixes = {".seq", ".delivered"};
  return kSuffixes;
}

std::chrono::steady_clock::time_point RestartBackoff::OnExit(std::chrono::steady_clock::time_point started,
                                                             std::chrono::steady_clock::time_point now) {
  if (now - started > kHealthyAfter) delay_s_ = kInitialS;  // it had been healthy
  auto at = now + std::chrono::milliseconds(static_cast<int64_t>(delay_s_ * 1000));
  delay_s_ = std::min(kMaxS, delay_s_ * 2);
  return at;
}

}  // namespace jb
