// The worker's loop and how its parts fit together: the event loop (worker/event_loop.h), inbound
// streams (inbound.h), outbound links (links.h), the hold ledger (hold_ledger.h), the router
// (router.h), join buffers (join_buffer.h), sources and sinks (source.h, sink.h), the runtimes of
// the operators (runtime.h) and the metrics. Each part states its share of the guarantees of
// worker.h in its header.
#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>

#include "base/mutex.h"
#include "worker/event_loop.h"
#include "worker/hold_ledger.h"
#include "worker/inbound.h"
#include "worker/join_buffer.h"
#include "worker/links.h"
#include "worker/metrics.h"
#include "worker/router.h"
#include "worker/runtime.h"
#include "worker/sink.h"
#include "worker/source.h"
#include "worker/task.h"

namespace jb {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Rfc3339Now() {
  time_t t = time(nullptr);
  tm g{};
  gmtime_r(&t, &g);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &g);
  return buf;
}

}  // namespace

class Worker::Impl {
 public:
  explicit Impl(WorkerConfig c) : cfg_(std::move(c)), router_(cfg_.name, cfg_.edges) {}
  ~Impl();

  Status Init();
  Status Loop();

  // Any-thread entry points.
  void RequestStop() {
    stop_ = true;
    loop_->Wake();
  }
  void PostConfig(WorkerConfig c) EXCLUDES(mu_) {
    {
      MutexLock l(&mu_);
      next_cfg_ = std::move(c);
    }
    loop_->Wake();
  }
  WorkerMetrics Snapshot() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return snapshot_;
  }
  int port() const { return inbound_->port(); }

 private:
  // One hosted instance: a source, an operator (with its runtime and, with several inputs, its
  // join buffer) or a sink.
  struct Instance {
    WorkerInstance cfg;
    std::vector<std::string> inputs;  // producers feeding it (edges)
    std::unique_ptr<Runtime> runtime;
    std::unique_ptr<JoinBuffer> joins;
    std::unique_ptr<Source> source;
    std::unique_ptr<Sink> sink;
    int64_t queued = 0;  // tasks in ready_
    // Tasks in the runtime, by ticket (an index into `running`; freed tickets are reused, so the
    // steady state allocates nothing per item).
    std::vector<Task> running;
    std::vector<uint64_t> free_tickets;
    InstanceMetrics m;
    Samples lat;
    RateWindow rate;
  };

  Status InitInstances();
  void ApplyRoutes();
  void ApplyConfig(WorkerConfig next);
  void OnStreamItem(const AckRef& ack, wire::Item& item);
  // Sends `item` to consumer `c` along the table of `epoch`; `hold` gains a reference for it.
  // Returns "" when sent, else the drop reason for the caller to count ("no-route:C", "oversize").
  std::string RouteOne(const std::string& c, wire::Item item, HoldId hold, uint64_t epoch);
  // Counts a drop that belongs to no instance in particular (stale routes, retired links).
  void CountWorkerDrop(const std::string& reason) {
    if (!instances_.empty()) ++instances_.begin()->second->m.dropped[reason];
  }
  // Links to workers that no route names any more: their unacknowledged items go out again along
  // the current routes (the worker was removed, e.g. its node failed), so nothing waits forever.
  void RerouteRetiredLinks();
  void Deliver(Instance& inst, Task t);  // an item for `inst` (local or from the network)
  void DeliverToSink(Instance& inst, Task t);
  void Join(Instance& inst, Task t);
  void Enqueue(Instance& inst, Task t, bool first = false);
  void StartWork();
  void Submit(Instance& inst, Task t);
  void OnResult(Instance& inst, uint64_t ticket, RuntimeResult r);
  void Complete(Instance& inst, Task t, std::string payload, double run_ms);
  void Emit(const std::string& producer, const wire::Item& base, HoldId hold);
  void Drop(Instance& inst, Task& t, const std::string& reason);
  void ExpireJoins();
  void SourceTick(Instance& inst, uint64_t gen);  // gen: stale timer chains (older than the source's) stop
  void ScheduleTick(Instance& inst, SteadyClock::time_point at, uint64_t gen) {
    Instance* p = &inst;
    loop_->After(at, [this, p, gen] { SourceTick(*p, gen); });
  }
  // Opens the sequence reservation and the sink's delivery record (state files next to the
  // metrics file) and restores the sink's memory of what it delivered.
  Status OpenDurableState();
  // Writes the delivery record; false when it failed (then no acknowledgement may go out).
  bool FlushRecord();
  void WriteMetrics();
  double SourceRate() const;

  WorkerConfig cfg_;
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  std::optional<WorkerConfig> next_cfg_ GUARDED_BY(mu_);
  WorkerMetrics snapshot_ GUARDED_BY(mu_);

  // Declared in destruction order: the loop outlives everything that watches fds or sets timers.
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<SlotPool> slots_;
  std::unique_ptr<HoldLedger> ledger_;
  std::unique_ptr<InboundStreams> inbound_;
  std::unique_ptr<OutboundLinks> links_;
  Router router_;
  std::map<std::string, std::unique_ptr<Instance>> instances_;
  // Tasks ready to start, FIFO over all operators (each starts when its runtime is ready and its
  // outputs are not backed up).
  std::deque<std::pair<Instance*, Task>> ready_;
  uint64_t incarnation_ = 0;
  SteadyClock::time_point started_ = SteadyClock::now();
  SteadyClock::time_point next_metrics_{};
  std::unique_ptr<SeqReserver> seqs_;
  Sink* recording_sink_ = nullptr;  // the sink whose record acknowledgements wait for
  bool record_failing_ = false;     // log a failure once per streak
};

// ---- setup ----------------------------------------------------------------------------------------

Status Worker::Impl::Init() {
  incarnation_ = static_cast<uint64_t>(RealtimeNs()) ^ (static_cast<uint64_t>(getpid()) << 40);
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  slots_ = std::make_unique<SlotPool>(cfg_.servers);
  ledger_ = std::make_unique<HoldLedger>(
      [this](const AckRef& a) { inbound_->Ack(a); },
      [this](const std::string& source) {
        if (auto it = instances_.find(source); it != instances_.end()) ++it->second->m.acked;
      });
  inbound_ = std::make_unique<InboundStreams>(loop_.get(), static_cast<uint32_t>(cfg_.window),
                                              [this](const AckRef& a, wire::Item& item) { OnStreamItem(a, item); });
  if (auto s = inbound_->Listen(cfg_.listen); !s.ok()) return s;
  links_ = std::make_unique<OutboundLinks>(loop_.get(), ledger_.get(), cfg_.workflow + "/" + cfg_.name + "->", incarnation_, cfg_.window);
  if (auto s = InitInstances(); !s.ok()) return s;
  if (auto s = OpenDurableState(); !s.ok()) return s;
  for (auto& [name, inst] : instances_)
    if (inst->runtime)
      if (auto s = inst->runtime->Start(); !s.ok()) return s;
  ApplyRoutes();
  for (auto& [name, inst] : instances_)
    if (inst->source) ScheduleTick(*inst, SteadyClock::now(), inst->source->generation());
  return Status::Ok();
}

Status Worker::Impl::InitInstances() {
  for (const auto& in : cfg_.instances) {
    auto inst = std::make_unique<Instance>();
    inst->cfg = in;
    inst->m.kind = in.kind;
    inst->m.name = in.name;
    if (in.kind == "operator") {
      inst->m.runtime = in.runtime.type;
      Instance* ip = inst.get();
      auto rt = MakeRuntime(in, RuntimeEnv{loop_.get(), slots_.get(), [this, ip](uint64_t ticket, RuntimeResult r) {
                                             OnResult(*ip, ticket, std::move(r));
                                           }});
      if (!rt.ok()) return rt.status();
      inst->runtime = std::move(*rt);
    }
    if (in.kind == "source") {
      auto src = Source::Create(in, SteadyClock::now());
      if (!src.ok()) return src.status();
      inst->source = std::move(*src);
    }
    if (in.kind == "sink") inst->sink = std::make_unique<Sink>();
    instances_[in.name] = std::move(inst);
  }
  for (const auto& e : cfg_.edges)
    if (auto it = instances_.find(e.to); it != instances_.end()) it->second->inputs.push_back(e.from);
  for (auto& [name, inst] : instances_)
    if (inst->cfg.kind == "operator" && inst->inputs.size() > 1) inst->joins = std::make_unique<JoinBuffer>(inst->inputs, ledger_.get());
  return Status::Ok();
}

Worker::Impl::~Impl() {
  // Items still in flight when the worker stops: their senders keep them and re-send. The ledger
  // and the links own what they hold; the runtimes stop their processes.
  for (auto& [name, inst] : instances_)
    if (inst->runtime) inst->runtime->Stop();
}

Status Worker::Impl::OpenDurableState() {
  bool has_source = false;
  Instance* sink = nullptr;
  for (auto& [name, inst] : instances_) {
    if (inst->source) has_source = true;
    if (inst->sink) sink = inst.get();
  }
  SeqReservation seqs = SeqReservation::Volatile();
  if (has_source && !cfg_.metrics_file.empty()) {
    auto r = SeqReservation::Open(StatePath(cfg_.metrics_file, ".seq"));
    if (!r.ok()) return r.status();
    seqs = std::move(*r);
  }
  seqs_ = std::make_unique<SeqReserver>(std::move(seqs), SourceRate(), cfg_.name);
  for (auto& [name, inst] : instances_)
    if (inst->source) {
      inst->source->SetFirstSeq(seqs_->first());
      inst->m.first_seq = static_cast<int64_t>(seqs_->first());
    }
  if (sink != nullptr && !cfg_.metrics_file.empty()) {
    int64_t skipped = 0;
    std::string path = StatePath(cfg_.metrics_file, ".delivered");
    auto r = Sink::Open(path, &skipped);
    if (!r.ok()) return r.status();
    sink->sink = std::move(*r);
    recording_sink_ = sink->sink.get();
    if (skipped > 0)
      std::fprintf(stderr, "worker %s: skipped %lld malformed line(s) of the delivery record %s\n", cfg_.name.c_str(),
                   static_cast<long long>(skipped), path.c_str());
  }
  return Status::Ok();
}

double Worker::Impl::SourceRate() const {
  double rate = 0;
  for (const auto& [name, inst] : instances_)
    if (inst->source) rate += inst->source->cfg().rate;
  return rate;
}

void Worker::Impl::ApplyRoutes() {
  router_.SetTables(cfg_);
  auto remote = router_.RemoteWorkersByProducer();
  // A new link takes the current epoch's address (else the draining one's).
  auto add = [this](const std::string& worker) {
    if (links_->Find(worker) != nullptr) return;
    const WorkerRoute* found = nullptr;
    for (const auto* rs : {&cfg_.drain_routes, &cfg_.routes})
      for (const auto& r : *rs)
        if (r.worker == worker) found = &r;
    links_->Add(worker, found ? found->address : "", found ? found->tier : "");
  };
  for (const auto& [producer, workers] : remote)
    for (const auto& w : workers) add(w);
  links_->SetProducerLinks(remote);
  std::vector<WorkerRoute> all = cfg_.routes;
  all.insert(all.end(), cfg_.drain_routes.begin(), cfg_.drain_routes.end());
  for (const auto& r : all)
    if (r.worker != cfg_.name) {
      add(r.worker);
      links_->SetAddress(*links_->Find(r.worker), r.address, r.tier);
    }
}

void Worker::Impl::ApplyConfig(WorkerConfig next) {
  if (next.epoch != cfg_.epoch) {
    // Requests emitted from here on belong to the new epoch. A request's parts come from several
    // sources with the same seq, emitted at slightly different times; deciding the epoch by seq
    // (not by the moment) keeps every part of one request on one routing table.
    uint64_t switch_seq = 0;
    for (const auto& [name, inst] : instances_)
      if (inst->source) switch_seq = std::max(switch_seq, inst->source->next_seq());
    router_.SwitchEpochAt(switch_seq);
  }
  cfg_.routes = next.routes;
  cfg_.epoch = next.epoch;
  cfg_.drain_epoch = next.drain_epoch;
  cfg_.drain_routes = next.drain_routes;
  cfg_.join_timeout_s = next.join_timeout_s;
  // Source rates and limits may change in place (the rest of the instances may not: the driver
  // restarts a worker whose instances change otherwise).
  for (const auto& in : next.instances) {
    auto it = instances_.find(in.name);
    if (it == instances_.end() || in.kind != "source" || !it->second->source) continue;
    Source& src = *it->second->source;
    if (src.cfg().rate == in.rate && src.cfg().limit == in.limit) continue;
    auto now = SteadyClock::now();
    src.SetRate(in.rate, in.limit, now);  // the next item is due now at the new rate
    it->second->cfg.rate = in.rate;
    it->second->cfg.limit = in.limit;
    ScheduleTick(*it->second, now, src.NewGeneration());
  }
  seqs_->set_rate(SourceRate());
  ApplyRoutes();
  RerouteRetiredLinks();
}

// ---- items ----------------------------------------------------------------------------------------

void Worker::Impl::OnStreamItem(const AckRef& ack, wire::Item& item) {
  HoldId h = ledger_->New(item.epoch());
  ledger_->AddAck(h, ack);
  auto it = instances_.find(item.dest());
  if (it == instances_.end()) {
    CountWorkerDrop("not-hosted:" + item.dest());  // routed here by a stale table: counted, not lost silently
    ledger_->Unref(h);
    return;
  }
  Deliver(*it->second, Task{std::move(item), h, SteadyClock::now(), {}});
}

void Worker::Impl::Drop(Instance& inst, Task& t, const std::string& reason) {
  ++inst.m.dropped[reason];
  ledger_->Unref(t.hold);
  t.hold = 0;
}

void Worker::Impl::Deliver(Instance& inst, Task t) {
  if (inst.sink) {
    DeliverToSink(inst, std::move(t));
    return;
  }
  if (inst.cfg.kind != "operator") {
    Drop(inst, t, "not-an-operator");
    return;
  }
  if (inst.joins) {
    Join(inst, std::move(t));
    return;
  }
  Enqueue(inst, std::move(t));
}

void Worker::Impl::DeliverToSink(Instance& inst, Task t) {
  ++inst.m.items_in;
  int64_t emitted = t.item.trace_ns_size() > 0 ? t.item.trace_ns(0) : 0;
  if (!inst.sink->Deliver(t.item.source(), t.item.seq(), emitted)) {
    ++inst.m.duplicates;
  } else {
    ++inst.m.items_out;
    if (t.item.trace_ns_size() > 0) inst.lat.Add(static_cast<double>(RealtimeNs() - emitted) / 1e6);
  }
  ledger_->Unref(t.hold);
}

void Worker::Impl::Join(Instance& inst, Task t) {
  Task joined;
  switch (inst.joins->Offer(t, &joined, SteadyClock::now())) {
    case JoinBuffer::Offered::kWaiting:
      return;
    case JoinBuffer::Offered::kRepeat:
      ++inst.m.duplicates;
      return;
    case JoinBuffer::Offered::kLate:
      Drop(inst, t, "join-timeout");
      return;
    case JoinBuffer::Offered::kJoined:
      Enqueue(inst, std::move(joined));
      return;
  }
}

void Worker::Impl::Enqueue(Instance& inst, Task t, bool first) {
  ++inst.queued;
  if (first) ready_.emplace_front(&inst, std::move(t));
  else ready_.emplace_back(&inst, std::move(t));
}

void Worker::Impl::StartWork() {
  // Start the first ready task whose runtime can take it and whose outputs are not backed up,
  // again until none can start. (A runtime may complete inline, adding tasks to ready_.)
  while (true) {
    auto pick = std::find_if(ready_.begin(), ready_.end(), [this](const auto& r) {
      return r.first->runtime->Ready() && !links_->Blocked(r.first->cfg.name);
    });
    if (pick == ready_.end()) return;
    Instance* inst = pick->first;
    Task t = std::move(pick->second);
    ready_.erase(pick);
    --inst->queued;
    Submit(*inst, std::move(t));
  }
}

void Worker::Impl::Submit(Instance& inst, Task t) {
  ++inst.m.items_in;
  uint64_t ticket;
  if (!inst.free_tickets.empty()) {
    ticket = inst.free_tickets.back();
    inst.free_tickets.pop_back();
    inst.running[ticket] = std::move(t);
  } else {
    ticket = inst.running.size();
    inst.running.push_back(std::move(t));
  }
  // The task keeps its payload (a retry sends it again); the runtime sees views of it.
  const Task& run = inst.running[ticket];
  RuntimeInput in;
  in.key = run.item.key();
  in.seq = run.item.seq();
  in.enqueued = run.enqueued;
  InputPart single{run.item.op(), run.item.payload()};
  std::vector<InputPart> parts;
  if (run.parts.empty()) {
    in.parts = std::span<const InputPart>(&single, 1);
  } else {
    for (const auto& p : run.parts) parts.push_back(InputPart{p.name, p.payload});
    in.parts = parts;
  }
  inst.runtime->Submit(ticket, in);
}

void Worker::Impl::OnResult(Instance& inst, uint64_t ticket, RuntimeResult r) {
  Task t = std::move(inst.running[ticket]);
  inst.running[ticket] = Task();
  inst.free_tickets.push_back(ticket);
  switch (r.kind) {
    case RuntimeResult::Kind::kDone:
      Complete(inst, std::move(t), std::move(r.payload), r.run_ms);
      return;
    case RuntimeResult::Kind::kRetry:
      Enqueue(inst, std::move(t), /*first=*/true);
      return;
    case RuntimeResult::Kind::kFailed:
      Drop(inst, t, r.error);
      return;
  }
}

void Worker::Impl::Complete(Instance& inst, Task t, std::string payload, double run_ms) {
  inst.lat.Add(run_ms);
  wire::Item out;
  out.set_key(t.item.key());
  out.set_source(t.item.source());
  out.set_seq(t.item.seq());
  out.set_epoch(t.item.epoch());
  out.set_op(inst.cfg.name);
  out.set_payload(std::move(payload));
  *out.mutable_trace_ns() = t.item.trace_ns();
  out.add_trace_ns(RealtimeNs());
  ++inst.m.items_out;
  Emit(inst.cfg.name, out, t.hold);
  ledger_->Unref(t.hold);
  if (inst.joins) inst.joins->Completed(t.item.seq());  // remembered as joined once its outputs are safe
}

void Worker::Impl::Emit(const std::string& producer, const wire::Item& base, HoldId hold) {
  const auto& cons = router_.Consumers(producer);
  if (cons.empty()) return;
  // Items keep the epoch they were first routed with, so every part of a request (and every hop of
  // a join) follows one routing table while an old epoch drains; new items take the current one.
  uint64_t epoch = router_.EpochFor(base.epoch());
  for (const auto& c : cons) {
    if (!router_.PassesEdge(producer, c, base.seq())) continue;
    std::string dropped = RouteOne(c, base, hold, epoch);
    if (!dropped.empty())
      if (auto p = instances_.find(producer); p != instances_.end()) ++p->second->m.dropped[dropped];
  }
}

std::string Worker::Impl::RouteOne(const std::string& c, wire::Item item, HoldId hold, uint64_t epoch) {
  const WorkerRoute* route = router_.Lookup(c, item.key(), epoch);
  item.set_dest(c);
  item.set_epoch(epoch);
  if (route == nullptr || route->worker == cfg_.name) {
    auto local = instances_.find(c);
    if (local == instances_.end()) return "no-route:" + c;
    HoldId child = ledger_->New(epoch);
    ledger_->Ref(hold);
    ledger_->AddParent(child, hold);
    Deliver(*local->second, Task{std::move(item), child, SteadyClock::now(), {}});
    return "";
  }
  OutboundLinks::Link* l = links_->Find(route->worker);
  if (l == nullptr) l = &links_->Add(route->worker, route->address, route->tier);
  return links_->Send(*l, std::move(item), hold);
}

void Worker::Impl::RerouteRetiredLinks() {
  for (auto& [l, outs] : links_->Retire(router_.NamedWorkers())) {
    for (auto& [id, out] : outs) {
      FrameDecoder decoder;  // the held frame is one encoded Frame
      decoder.Feed(out.frame.data(), out.frame.size());
      auto f = decoder.Next();
      if (!f.ok() || !f->has_value() || !(*f)->has_item()) {
        CountWorkerDrop("unreadable-held-frame");  // cannot happen for frames this worker encoded
      } else {
        wire::Item& item = *(*f)->mutable_item();
        std::string dest = item.dest();
        std::string dropped = RouteOne(dest, std::move(item), out.hold, static_cast<uint64_t>(cfg_.epoch));
        if (dropped.empty()) ++l->m.resent;
        else CountWorkerDrop(dropped);
      }
      ledger_->Unref(out.hold);  // the retired link's reference
    }
  }
}

void Worker::Impl::ExpireJoins() {
  auto cutoff = SteadyClock::now() - std::chrono::milliseconds(static_cast<int64_t>(cfg_.join_timeout_s * 1000));
  for (auto& [name, inst] : instances_) {
    if (!inst->joins) continue;
    // Parts that never completed: counted, then acknowledged (dropped with a reason).
    for (auto& part : inst->joins->Expire(cutoff)) Drop(*inst, part, "join-timeout");
  }
}

bool Worker::Impl::FlushRecord() {
  if (recording_sink_ == nullptr) return true;
  if (auto s = recording_sink_->Flush(); !s.ok()) {
    if (!record_failing_)
      std::fprintf(stderr, "worker %s: acknowledgements held until the delivery record can be written: %s\n", cfg_.name.c_str(),
                   s.message().c_str());
    record_failing_ = true;
    return false;
  }
  record_failing_ = false;
  return true;
}

void Worker::Impl::SourceTick(Instance& inst, uint64_t gen) {
  Source& src = *inst.source;
  if (gen != src.generation()) return;
  auto now = SteadyClock::now();
  // Emit everything due by now (the schedule is absolute, so the rate does not drift), unless the
  // links are backed up: then the source waits (back-pressure reaches the generator).
  int burst = 0;
  while (true) {
    auto due = src.NextDue();
    if (!due) return;
    if (*due > now) return ScheduleTick(inst, *due, gen);
    if (links_->Blocked(inst.cfg.name) || ++burst > 1024) return ScheduleTick(inst, now + std::chrono::milliseconds(1), gen);
    // Retried; nothing is emitted with a number not on disk.
    if (!seqs_->Reserve(src.next_seq())) return ScheduleTick(inst, now + std::chrono::seconds(1), gen);
    wire::Item item = src.Next(router_.SourceEpoch(src.next_seq()), RealtimeNs());
    ++inst.m.items_out;
    HoldId h = ledger_->New(item.epoch() != 0 ? item.epoch() : static_cast<uint64_t>(cfg_.epoch), inst.cfg.name);
    Emit(inst.cfg.name, item, h);
    ledger_->Unref(h);
  }
}

// ---- loop -----------------------------------------------------------------------------------------

void Worker::Impl::WriteMetrics() {
  auto now = SteadyClock::now();
  WorkerMetrics m;
  m.workflow = cfg_.workflow;
  m.worker = cfg_.name;
  m.tier = cfg_.tier;
  m.pid = getpid();
  m.epoch = cfg_.epoch;
  m.port = inbound_->port();
  m.uptime_s = std::chrono::duration<double>(now - started_).count();
  m.time = Rfc3339Now();
  m.held_items = ledger_->size();
  for (const auto& [epoch, n] : ledger_->by_epoch()) m.held_by_epoch[std::to_string(epoch)] = n;
  int64_t in_streams = std::max<int64_t>(1, static_cast<int64_t>(inbound_->streams()));
  m.max_held_items = cfg_.window * (in_streams + static_cast<int64_t>(links_->size()) + 1) * 2;
  for (auto& [name, inst] : instances_) {
    auto& im = inst->m;
    if (inst->cfg.kind == "operator" && inst->cfg.runtime.type == "emulated") m.emulated = true;
    im.queue = inst->queued + (inst->joins ? inst->joins->parts_waiting() : 0);
    im.p50_ms = inst->lat.Quantile(0.5);
    im.p99_ms = inst->lat.Quantile(0.99);
    if (inst->sink) inst->sink->Rate(RealtimeNs(), im.p99_ms, &im.rate, &im.rate_complete);
    else im.rate = inst->rate.Observe(now, im.items_out);
    m.instances.push_back(im);
  }
  m.links = links_->Metrics(now);
  if (!cfg_.metrics_file.empty()) WriteMetricsFile(cfg_.metrics_file, m);
  MutexLock l(&mu_);
  snapshot_ = std::move(m);
}

Status Worker::Impl::Loop() {
  while (!stop_) {
    std::optional<WorkerConfig> next;
    {
      MutexLock l(&mu_);
      next.swap(next_cfg_);
    }
    if (next) ApplyConfig(std::move(*next));
    auto now = loop_->RunOnce(100);
    StartWork();
    links_->PumpAll();
    // A request is acknowledged only once the sink's record of it is written.
    if (FlushRecord()) inbound_->FlushAcks();
    if (now >= next_metrics_) {
      ExpireJoins();
      WriteMetrics();
      next_metrics_ = now + std::chrono::microseconds(static_cast<int64_t>(cfg_.metrics_interval_s * 1e6));
    }
  }
  WriteMetrics();
  return Status::Ok();
}

// ---- public -----------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<Worker>> Worker::Create(WorkerConfig config) {
  if (auto s = ValidateWorkerConfig(config, config.name); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(config));
  if (auto s = impl->Init(); !s.ok()) return s;
  int port = impl->port();
  return std::unique_ptr<Worker>(new Worker(std::move(impl), port));
}

Worker::Worker(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}
Worker::~Worker() = default;
Status Worker::Run() { return impl_->Loop(); }
void Worker::Stop() { impl_->RequestStop(); }
Status Worker::Reconfigure(WorkerConfig config) {
  impl_->PostConfig(std::move(config));
  return Status::Ok();
}
WorkerMetrics Worker::Metrics() const { return impl_->Snapshot(); }

}  // namespace jb
