// Setup, configuration changes and the loop of Worker::Impl (worker/worker_impl.h).
#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "worker/worker_impl.h"

namespace jb {
namespace {

std::string Rfc3339Now() {
  time_t t = time(nullptr);
  tm g{};
  gmtime_r(&t, &g);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &g);
  return buf;
}

}  // namespace

// ---- setup ----------------------------------------------------------------------------------------

Status Worker::Impl::Init() {
  incarnation_ = static_cast<uint64_t>(RealtimeNs()) ^ (static_cast<uint64_t>(getpid()) << 40);
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  slots_ = std::make_unique<SlotPool>(cfg_.servers);
  ledger_ = std::make_unique<HoldLedger>([this](const AckRef& a) { inbound_->Ack(a); },
                                         [this](const std::string& source) {
                                           if (auto it = instances_.find(source); it != instances_.end())
                                             ++it->second->m.acked;
                                         });
  inbound_ = std::make_unique<InboundStreams>(loop_.get(), static_cast<uint32_t>(cfg_.window),
                                              [this](const AckRef& a, wire::Item& item) { OnStreamItem(a, item); });
  if (auto s = inbound_->Listen(cfg_.listen); !s.ok()) return s;
  links_ = std::make_unique<OutboundLinks>(loop_.get(), ledger_.get(), cfg_.workflow + "/" + cfg_.name + "->",
                                           incarnation_, cfg_.window);
  // Devices behind NAT (worker/dialout.h): receivers that dial in, senders this worker dials.
  inbound_->SetDialInHandler([this](const wire::DialIn& d, std::unique_ptr<Transport> t) {
    return AcceptDialIn(links_.get(), cfg_.workflow, d, std::move(t));
  });
  dialout_ = std::make_unique<DialOut>(loop_.get(), inbound_.get(), cfg_.workflow, cfg_.name);
  if (cfg_.tls) {
    auto tls = LinkTls::Create(*cfg_.tls, cfg_.workflow);
    if (!tls.ok()) return tls.status();
    inbound_->SetTls(*tls);
    links_->SetTls(*tls);
    dialout_->SetTls(*tls);
  }
  if (auto s = InitInstances(); !s.ok()) return s;
  if (auto s = OpenDurableState(); !s.ok()) return s;
  if (auto s = StartIngress(); !s.ok()) return s;
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
    if (in.kind == "source" && in.type != "ingress") {  // ingress: worker/ingress_worker.cc
      auto src = Source::Create(in, SteadyClock::now());
      if (!src.ok()) return src.status();
      inst->source = std::move(*src);
    }
    if (in.kind == "sink") {
      inst->sink = std::make_unique<Sink>();
      auto scoring = SinkScoring::Create(SinkScoring::OptionsOf(in, cfg_.name));
      if (!scoring.ok()) return scoring.status();
      inst->scoring = std::move(*scoring);
    }
    instances_[in.name] = std::move(inst);
  }
  std::vector<const Source*> sources;
  for (const auto& [name, inst] : instances_)
    if (inst->source) sources.push_back(inst->source.get());
  if (auto s = Source::CheckSameKeys(sources, cfg_.name); !s.ok()) return s;
  for (const auto& e : cfg_.edges)
    if (auto it = instances_.find(e.to); it != instances_.end()) it->second->inputs.push_back(e.from);
  for (auto& [name, inst] : instances_)
    if (inst->cfg.kind == "operator" && inst->inputs.size() > 1)
      inst->joins = std::make_unique<JoinBuffer>(inst->inputs, ledger_.get());
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
    if (inst->cfg.kind == "source") has_source = true;
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
    if (inst->cfg.kind == "source") rate += inst->cfg.rate;
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
      links_->SetDialIn(*links_->Find(r.worker), r.dial_in);
    }
  dialout_->SetPeers(cfg_.dial_out);
}

void Worker::Impl::ApplyConfig(WorkerConfig next) {
  if (next.epoch != cfg_.epoch) {
    // Requests emitted from here on belong to the new epoch. A request's parts come from several
    // sources with the same seq, emitted at slightly different times; deciding the epoch by seq
    // (not by the moment) keeps every part of one request on one routing table.
    uint64_t switch_seq = 0;
    for (const auto& [name, inst] : instances_)
      if (inst->source) switch_seq = std::max(switch_seq, inst->source->next_seq());
    if (ingress_) switch_seq = std::max(switch_seq, ingress_next_seq_);
    router_.SwitchEpochAt(switch_seq);
  }
  if (next.tls != cfg_.tls) {
    // A rotation (new epoch's certificate): new connections use it, and the links move to it now;
    // what they had not had acknowledged goes again (receivers drop what they already have).
    std::shared_ptr<const LinkTls> tls;
    if (next.tls) {
      auto made = LinkTls::Create(*next.tls, cfg_.workflow);
      if (made.ok())
        tls = *made;
      else
        std::fprintf(stderr, "worker %s: new TLS settings refused, keeping the old ones: %s\n", cfg_.name.c_str(),
                     made.status().message().c_str());
    }
    if (tls || !next.tls) {
      inbound_->SetTls(tls);
      links_->SetTls(tls);
      dialout_->SetTls(tls);
      links_->ReconnectAll();
      cfg_.tls = next.tls;
    }
  }
  cfg_.routes = next.routes;
  cfg_.epoch = next.epoch;
  cfg_.drain_epoch = next.drain_epoch;
  cfg_.drain_routes = next.drain_routes;
  cfg_.join_timeout_s = next.join_timeout_s;
  cfg_.dial_out = next.dial_out;
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
    if (inst->cfg.kind == "operator") {
      // Service time: the runtime's run time of the most recent items (queueing excluded).
      const auto q = inst->lat.Quantiles({0.5, 0.75, 0.9, 0.99});
      im.p50_ms = q[0];
      im.p75_ms = q[1];
      im.p90_ms = q[2];
      im.p99_ms = q[3];
      im.variant = inst->cfg.variant;
      im.output_bytes = inst->out_bytes.Mean();
    } else {
      im.p50_ms = inst->lat.Quantile(0.5);
      im.p99_ms = inst->lat.Quantile(0.99);
    }
    im.latency_histogram = inst->lat.Histogram();  // service time (operators) or source-to-sink (sinks)
    if (inst->scoring) {
      auto c = inst->scoring->counts();
      im.scored = c.scored;
      im.correct = c.correct;
      im.window_scored = c.window_scored;
      im.window_correct = c.window_correct;
      im.score_errors = c.score_errors;
    }
    if (inst->sink)
      inst->sink->Rate(RealtimeNs(), im.p99_ms, &im.rate, &im.rate_complete);
    else
      im.rate = inst->rate.Observe(now, im.items_out);
    m.instances.push_back(im);
  }
  m.links = links_->Metrics(now);
  m.tls_refused = inbound_->tls_refused() + links_->tls_refused();
  SweepIngress(m);
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
    TakeIngressCalls();
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
