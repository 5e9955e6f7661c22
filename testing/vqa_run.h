// Helpers for end-to-end tests and benchmarks that run the VQA example through the real daemon and the local
// driver: manifests with bounded sources, the workers' own reports, polling with deadlines.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "api/worker_config.h"
#include "testing/daemon_fixture.h"

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
      text = std::regex_replace(text, std::regex("\n    rate: 40\n"),
                                "\n    rate: 40\n    count: " + std::to_string(count) + "\n");
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
  std::map<std::string, int64_t> drop_reasons;  // "worker/instance: reason" -> count
};
inline Totals Sum(const std::map<std::string, WorkerMetrics>& reports) {
  Totals t;
  for (const auto& [w, m] : reports) {
    for (const auto& in : m.instances) {
      for (const auto& [r, n] : in.dropped) {
        t.drops += n;
        if (n > 0) t.drop_reasons[w + "/" + in.name + ": " + r] += n;
      }
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

// True once every source's `count` requests are acknowledged end to end and the sinks' reports
// show them. Wait on this, not on the acknowledgements alone: each worker rewrites its report once
// per metrics interval, so the sink's report may still lag the sources' by one interval.
inline bool AllDelivered(const Totals& t, int64_t count) { return t.acked_min == count && t.delivered >= count; }

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

// Waits until daemon `d` answers and its VQA workflow is Ready; fills `c` and returns the PID of
// every worker from their reports (empty when either wait times out).
inline std::map<std::string, int64_t> WaitVqaReadyWorkerPids(Daemon& d, const fs::path& state, HttpClientOptions* c) {
  std::map<std::string, int64_t> pids;
  if (!d.WaitReady(c)) return pids;
  const bool ready = WaitFor(
      [&] {
        auto wf = GetWorkflow(*c);
        return wf && ConditionOf(*wf, "Ready") == "True";
      },
      std::chrono::seconds(30));
  if (!ready) return pids;
  for (const auto& [w, m] : Reports(state)) pids[w] = m.pid;
  return pids;
}

inline const int64_t kMany = 1000000;  // sources that run until the end of a run sets their count

inline std::string Source(const std::string& file) {
  return ReadFile(fs::path(JB_SOURCE_DIR) / "manifests/vqa" / file);
}

// The VQA workflow with both sources at `rate` and stopping after `count` items; with a
// `generator` rate, the sources emit that instead (an emulated load change).
inline std::string WorkflowYaml(double rate, int64_t count, double generator = 0) {
  char r[96];
  std::snprintf(r, sizeof(r), "%g", rate);
  std::string extra = generator > 0 ? "\n    generatorRate: " + std::to_string(generator) : "";
  return std::regex_replace(Source("workflow.yaml"), std::regex("\n    rate: 40\n"),
                            std::string("\n    rate: ") + r + "\n    count: " + std::to_string(count) + extra + "\n");
}

// The VQA infrastructure with every cloud node's price multiplied by `cloud_scale`.
inline std::string InfraYaml(double cloud_scale) {
  std::stringstream in(Source("infrastructure.yaml")), out;
  std::string line, tier;
  while (std::getline(in, line)) {
    auto t = line.find("tier: ");
    if (t != std::string::npos && line.find("- name") == std::string::npos) tier = line.substr(t + 6);
    auto p = line.find("pricePerHour: ");
    if (p != std::string::npos && tier == "cloud") {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.6g", std::atof(line.c_str() + p + 14) * cloud_scale);
      line = line.substr(0, p + 14) + buf;
    }
    out << line << "\n";
  }
  return out.str();
}

// PUT of one object (YAML or JSON); `why` receives the server's answer on failure.
inline bool PutObject(const HttpClientOptions& c, const std::string& path, const std::string& yaml,
                      std::string* why = nullptr) {
  auto r = HttpCall(c, "PUT", kApi + path, yaml, "application/yaml");
  bool ok = r.ok() && r->status < 300;
  if (!ok && why != nullptr) *why = r.ok() ? r->body : r.status().message();
  return ok;
}

inline int64_t EpochOf(const Workflow& wf) { return wf.status.plan_epoch.value_or(0); }

// Waits for a plan epoch after `after` whose rollout has finished; returns it (0 on timeout).
inline int64_t WaitForNewEpoch(const HttpClientOptions& c, int64_t after, std::chrono::seconds limit) {
  int64_t got = 0;
  WaitFor(
      [&] {
        auto wf = GetWorkflow(c);
        if (!wf || EpochOf(*wf) <= after || wf->status.rollout) return false;
        got = EpochOf(*wf);
        return true;
      },
      limit);
  return got;
}

inline int64_t SinkDelivered(const fs::path& state) { return Sum(Reports(state)).delivered; }

// Applies the VQA example: infrastructure, profiles and `workflow`.
inline bool ApplyVqaObjects(const HttpClientOptions& c, const std::string& workflow, std::string* why = nullptr) {
  if (!PutObject(c, "infrastructures/vqa-medium", InfraYaml(1), why)) return false;
  for (const auto& doc : LoadPath((fs::path(JB_SOURCE_DIR) / "manifests/vqa/modelprofiles.yaml").string()))
    if (!doc.object || !PutObject(c, "modelprofiles/" + MetaOf(*doc.object).name, ObjectToJson(*doc.object), why))
      return false;
  return PutObject(c, "workflows/vqa", workflow, why);
}

// Sets every source's count a little above what they have emitted (rate 40, generator
// `generator`), so the run ends; returns the count (0 on failure).
inline int64_t StopSourcesSoon(const HttpClientOptions& c, const fs::path& state, double generator = 0) {
  int64_t emitted = 0;
  for (const auto& [w, m] : Reports(state))
    for (const auto& in : m.instances)
      if (in.kind == "source") emitted = std::max(emitted, in.items_out);
  int64_t count = emitted + 200;
  std::string why;
  if (PutObject(c, "workflows/vqa", WorkflowYaml(40, count, generator), &why)) return count;
  std::fprintf(stderr, "StopSourcesSoon: PUT workflows/vqa failed: %s\n", why.c_str());
  return 0;
}

}  // namespace jb::testing
