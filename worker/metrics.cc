#include "worker/metrics.h"

#include <time.h>

#include <cstdio>
#include <fstream>

namespace jb {

int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void WriteMetricsFile(const std::string& path, const WorkerMetrics& m) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << WorkerMetricsToJson(m) << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace jb
