#include "daemon/metrics_workers.h"

#include <functional>
#include <optional>

namespace jb {

namespace {

MetricLabels WorkerLabels(const std::string& wf, const WorkerState& w) {
  return {{"workflow", wf}, {"worker", w.name}, {"tier", w.tier}};
}

MetricLabels InstanceLabels(const std::string& wf, const WorkerState& w, const InstanceMetrics& im) {
  auto l = WorkerLabels(wf, w);
  l.emplace_back("kind", im.kind);
  l.emplace_back("name", im.name);
  return l;
}

// Histogram data in seconds from a worker's report in milliseconds.
HistogramData Seconds(const HistogramMetrics& h) {
  HistogramData d;
  for (double b : h.bounds) d.bounds.push_back(b / 1000.0);
  d.counts = h.counts;
  d.sum = h.sum / 1000.0;
  return d;
}

void WriteWorkerFamilies(const std::vector<WorkflowWorkers>& wfs, Exposition& x) {
  using Get = std::function<std::optional<double>(const WorkflowWorkers&, const WorkerState&)>;
  auto family = [&](const std::string& name, const std::string& type, const std::string& help, const Get& get) {
    auto f = x.Family(name, type, help);
    for (const auto& wf : wfs)
      for (const auto& w : wf.states)
        if (auto v = get(wf, w)) f.Sample(WorkerLabels(wf.workflow, w), *v);
  };
  family("jellybean_worker_up", "gauge", "1 for every worker process the drivers run (0: the driver has no process).",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> {
           return w.pid > 0 || w.metrics ? 1 : 0;
         });
  family("jellybean_worker_ready", "gauge", "1 when the worker is ready (running and reporting).",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> { return w.ready ? 1 : 0; });
  family("jellybean_worker_restarts_total", "counter", "Times the driver restarted the worker.",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> {
           return static_cast<double>(w.restarts);
         });
  family("jellybean_worker_uptime_seconds", "gauge", "Uptime of the worker's current process.",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> {
           if (!w.metrics) return std::nullopt;
           return w.metrics->uptime_s;
         });
  family("jellybean_worker_held_items", "gauge",
         "Items the worker holds in memory (queues, join buffers, unacknowledged outputs).",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> {
           if (!w.metrics) return std::nullopt;
           return static_cast<double>(w.metrics->held_items);
         });
  family("jellybean_worker_held_items_limit", "gauge", "The bound on held items that the credit window implies.",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> {
           if (!w.metrics) return std::nullopt;
           return static_cast<double>(w.metrics->max_held_items);
         });
  family("jellybean_worker_tls_refused_total", "counter",
         "Connections the worker refused (or was refused on) by the mutual TLS peer check: not our CA, another "
         "workflow, or no TLS.",
         [](const WorkflowWorkers&, const WorkerState& w) -> std::optional<double> {
           if (!w.metrics) return std::nullopt;
           return static_cast<double>(w.metrics->tls_refused);
         });
  family("jellybean_worker_credit_window", "gauge", "Credit window: unacknowledged items allowed per link.",
         [](const WorkflowWorkers& wf, const WorkerState& w) -> std::optional<double> {
           auto it = wf.window.find(w.name);
           if (it == wf.window.end()) return std::nullopt;
           return static_cast<double>(it->second);
         });
}

void WriteInstanceFamilies(const std::vector<WorkflowWorkers>& wfs, Exposition& x) {
  using Each = std::function<void(const MetricLabels&, const InstanceMetrics&, Exposition::FamilyWriter&)>;
  auto family = [&](const std::string& name, const std::string& type, const std::string& help, const Each& each) {
    auto f = x.Family(name, type, help);
    for (const auto& wf : wfs)
      for (const auto& w : wf.states)
        if (w.metrics)
          for (const auto& im : w.metrics->instances) each(InstanceLabels(wf.workflow, w, im), im, f);
  };
  auto count = [](int64_t InstanceMetrics::*field) {
    return [field](const MetricLabels& l, const InstanceMetrics& im, Exposition::FamilyWriter& f) {
      f.Sample(l, static_cast<double>(im.*field));
    };
  };
  family("jellybean_items_in_total", "counter",
         "Items an instance took in (operator: started; sink: received, duplicates included).",
         count(&InstanceMetrics::items_in));
  family("jellybean_items_out_total", "counter",
         "Items an instance put out (source: emitted; operator: outputs; sink: delivered once).",
         count(&InstanceMetrics::items_out));
  family("jellybean_items_dropped_total", "counter", "Items an instance dropped and counted, by reason.",
         [](const MetricLabels& l, const InstanceMetrics& im, Exposition::FamilyWriter& f) {
           for (const auto& [reason, n] : im.dropped) {
             auto lr = l;
             lr.emplace_back("reason", reason);
             f.Sample(lr, static_cast<double>(n));
           }
         });
  family("jellybean_items_duplicates_total", "counter",
         "Duplicates discarded (repeats of a delivered request or joined part after re-sends).",
         count(&InstanceMetrics::duplicates));
  family("jellybean_queue_depth", "gauge", "Items waiting to run at an instance (join parts included).",
         count(&InstanceMetrics::queue));
  family("jellybean_operator_service_seconds", "histogram",
         "An operator's run time per item (queueing excluded), since its worker process started.",
         [](const MetricLabels& l, const InstanceMetrics& im, Exposition::FamilyWriter& f) {
           if (im.kind != "operator" || !im.latency_histogram) return;
           auto lv = l;
           lv.emplace_back("variant", im.variant);
           f.Histogram(lv, Seconds(*im.latency_histogram));
         });
  family("jellybean_ingress_responses_total", "counter", "HTTP answers of an ingress source, by status code.",
         [](const MetricLabels& l, const InstanceMetrics& im, Exposition::FamilyWriter& f) {
           for (const auto& [code, n] : im.responses) {
             auto lc = l;
             lc.emplace_back("code", code);
             f.Sample(lc, static_cast<double>(n));
           }
         });
  // Source to sink, summed over a workflow's sinks (one histogram per workflow).
  auto latency = x.Family("jellybean_workflow_latency_seconds", "histogram",
                          "Source-to-sink latency of delivered items, since the sink's process started.");
  for (const auto& wf : wfs) {
    HistogramData sum;
    for (const auto& w : wf.states)
      if (w.metrics)
        for (const auto& im : w.metrics->instances)
          if (im.kind == "sink" && im.latency_histogram) (void)sum.Merge(Seconds(*im.latency_histogram));
    if (!sum.counts.empty()) latency.Histogram({{"workflow", wf.workflow}}, sum);
  }
}

void WriteLinkFamilies(const std::vector<WorkflowWorkers>& wfs, Exposition& x) {
  using Value = std::function<double(const LinkMetrics&)>;
  auto family = [&](const std::string& name, const std::string& type, const std::string& help, const Value& v) {
    auto f = x.Family(name, type, help);
    for (const auto& wf : wfs)
      for (const auto& w : wf.states)
        if (w.metrics)
          for (const auto& lk : w.metrics->links) {
            auto l = WorkerLabels(wf.workflow, w);
            l.emplace_back("to", lk.worker);
            l.emplace_back("to_tier", lk.tier);
            f.Sample(l, v(lk));
          }
  };
  family("jellybean_link_connected", "gauge", "1 while the link to the downstream worker is connected.",
         [](const LinkMetrics& l) { return l.connected ? 1.0 : 0.0; });
  family("jellybean_link_items_total", "counter", "Items sent on the link (first transmissions).",
         [](const LinkMetrics& l) { return static_cast<double>(l.items); });
  family("jellybean_link_resent_items_total", "counter", "Re-transmissions after a broken connection.",
         [](const LinkMetrics& l) { return static_cast<double>(l.resent); });
  family("jellybean_link_payload_bytes_total", "counter", "Payload bytes of first transmissions.",
         [](const LinkMetrics& l) { return static_cast<double>(l.payload_bytes); });
  family("jellybean_link_wire_bytes_total", "counter", "Framed bytes written, re-sends included.",
         [](const LinkMetrics& l) { return static_cast<double>(l.wire_bytes); });
  family("jellybean_link_inflight_items", "gauge", "Items sent and not yet acknowledged (within the credit window).",
         [](const LinkMetrics& l) { return static_cast<double>(l.inflight); });
  family("jellybean_link_pending_items", "gauge", "Items waiting for credit.",
         [](const LinkMetrics& l) { return static_cast<double>(l.pending); });

  // Observed cross-tier traffic per (from, to) tier pair.
  std::map<std::pair<std::string, std::pair<std::string, std::string>>, std::pair<double, double>> cross;
  for (const auto& wf : wfs)
    for (const auto& w : wf.states)
      if (w.metrics)
        for (const auto& lk : w.metrics->links)
          if (!lk.tier.empty() && lk.tier != w.tier) {
            auto& c = cross[{wf.workflow, {w.tier, lk.tier}}];
            c.first += static_cast<double>(lk.payload_bytes);
            c.second += lk.payload_kibps * 1024;
          }
  auto total = x.Family("jellybean_cross_tier_bytes_total", "counter",
                        "Payload bytes observed crossing from one tier to another (current worker processes).");
  for (const auto& [k, v] : cross)
    total.Sample({{"workflow", k.first}, {"from_tier", k.second.first}, {"to_tier", k.second.second}}, v.first);
  auto rate = x.Family("jellybean_cross_tier_bytes_per_second", "gauge",
                       "Payload bytes per second observed crossing from one tier to another, last 5 s.");
  for (const auto& [k, v] : cross)
    rate.Sample({{"workflow", k.first}, {"from_tier", k.second.first}, {"to_tier", k.second.second}}, v.second);
  auto planned = x.Family("jellybean_cross_tier_planned_bytes_per_second", "gauge",
                          "The plan's predicted payload bytes per second across a tier's boundary at the offered "
                          "load (direction up: sent up from the tier; down: sent down into it).");
  for (const auto& wf : wfs)
    for (const auto& [dir, tiers] : wf.planned_boundary_bps)
      for (const auto& [tier, bps] : tiers)
        planned.Sample({{"workflow", wf.workflow}, {"tier", tier}, {"direction", dir}}, bps);
}

}  // namespace

void WriteWorkerMetrics(const std::vector<WorkflowWorkers>& workflows, Exposition& x) {
  WriteWorkerFamilies(workflows, x);
  WriteInstanceFamilies(workflows, x);
  WriteLinkFamilies(workflows, x);
}

}  // namespace jb
