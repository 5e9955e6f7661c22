// Helpers for end-to-end tests that run the VQA example through the real daemon and the local
// driver: manifests with bounded sources, the workers' own reports, polling with deadlines.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>

#include "tests/daemon/daemon_fixture.h"
#include "worker/config.h"

namespace jb::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Copies manifests/vqa into `dir` with every source stopping after `count` items.
inline fs::path VqaWithCount(const fs::path& dir, int64_t count) {
  fs::path m = dir / "manifests";
  fs::create_directories(m);
  for (const auto& e : fs::directory_iterator(fs::path(JB_SOURCE_DIR) / "manifests/vqa")) {
    std::string text = ReadFile(e.path());
    if (e.path().filename() == "workflow.yaml")
      text = std::regex_replace(text, std::regex("\n    rate: 40\n"), "\n    rate: 40\n    count: " + std::to_string(count) + "\n");
    std::ofstream(m / e.path().filename()) << text;
  }
  return m;
}

inline std::map<std::string, WorkerMetrics> Reports(const fs::path& state) {
  std::map<std::string, WorkerMetrics> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state / "workers/vqa", ec)) {
    std::string name = e.path().filename().string();
    if (name.size() < 13 || name.substr(name.size() - 13) != ".metrics.json") continue;
    auto m = ParseWorkerMetrics(ReadFile(e.path()), name);
    if (m.ok()) out[m->worker] = *m;
  }
  return out;
}

struct Totals {
  int64_t emitted_min = -1, acked_min = -1, delivered = 0, drops = 0, duplicates = 0, resent = 0;
};
inline Totals Sum(const std::map<std::string, WorkerMetrics>& reports) {
  Totals t;
  for (const auto& [w, m] : reports) {
    for (const auto& in : m.instances) {
      for (const auto& [r, n] : in.dropped) t.drops += n;
      t.duplicates += in.duplicates;
      if (in.kind == "source") {
        t.emitted_min = t.emitted_min < 0 ? in.items_out : std::min(t.emitted_min, in.items_out);
        t.acked_min = t.acked_min < 0 ? in.acked : std::min(t.acked_min, in.acked);
      }
      if (in.kind == "sink") t.delivered += in.items_out;
    }
    for (const auto& l : m.links) t.resent += l.resent;
  }
  return t;
}

inline std::optional<Workflow> GetWorkflow(const HttpClientOptions& c) {
  auto o = GetObject(c, "workflows/vqa");
  if (!o) return std::nullopt;
  return std::get<Workflow>(*o);
}

inline std::string ConditionOf(const Workflow& wf, const std::string& type) {
  for (const auto& c : wf.status.conditions)
    if (c.type == type) return c.status;
  return "";
}

// Waits until `pred` holds (polling every 100 ms) or the deadline passes.
template <class F>
bool WaitUntil(F pred, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

}  // namespace jb::testing
