// The path of an item through Worker::Impl (worker/worker_impl.h): received or emitted by a source,
// joined, run by its operator's runtime, emitted and routed to its consumers (local or on a link).
#include <algorithm>
#include <span>

#include "worker/worker_impl.h"

namespace jb {

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
  Task t{std::move(item), h, SteadyClock::now(), {}};
  t.via = ack.stream;
  Deliver(*it->second, std::move(t));
}

void Worker::Impl::Drop(Instance& inst, Task& t, const std::string& reason) {
  ++inst.m.dropped[reason];
  FailIngress(t.item, reason);
  ledger_->Unref(t.hold);
  t.hold = 0;
}

void Worker::Impl::Deliver(Instance& inst, Task t) {
  if (inst.sink) {
    DeliverToSink(inst, std::move(t));
    return;
  }
  if (inst.cfg.kind == "source" && inst.cfg.type == "ingress") {  // an answer on its way back
    ++inst.m.items_in;
    AnswerIngress(t.item);
    ledger_->Unref(t.hold);
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
    ++inst.m.duplicates;  // never scored nor logged again
  } else {
    ++inst.m.items_out;
    AnswerIngress(t.item);  // before scoring takes the payload
    std::optional<double> latency_ms;
    if (t.item.trace_ns_size() > 0) {
      latency_ms = static_cast<double>(RealtimeNs() - emitted) / 1e6;
      inst.lat.Add(*latency_ms);
    }
    if (inst.scoring) {
      SinkScoring::Answer a;
      a.key = t.item.request_key();
      a.source = t.item.source();
      a.seq = t.item.seq();
      a.answer = std::move(*t.item.mutable_payload());
      if (!t.item.label().empty()) a.label = t.item.label();
      a.latency_ms = latency_ms;
      inst.scoring->Add(std::move(a));
    }
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
    case JoinBuffer::Offered::kMismatch:
      for (auto& part : inst.joins->TakeMismatched()) Drop(inst, part, "join-key-mismatch");
      return;
    case JoinBuffer::Offered::kJoined:
      Enqueue(inst, std::move(joined));
      return;
  }
}

void Worker::Impl::Enqueue(Instance& inst, Task t, bool first) {
  ++inst.queued;
  if (first)
    ready_.emplace_front(&inst, std::move(t));
  else
    ready_.emplace_back(&inst, std::move(t));
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
    uint64_t ticket = Park(*inst, std::move(pick->second));
    ready_.erase(pick);
    --inst->queued;
    Submit(*inst, ticket);
  }
}

uint64_t Worker::Impl::Park(Instance& inst, Task&& t) {
  if (inst.free_tickets.empty()) {
    inst.running.push_back(std::move(t));
    return inst.running.size() - 1;
  }
  uint64_t ticket = inst.free_tickets.back();
  inst.free_tickets.pop_back();
  inst.running[ticket] = std::move(t);
  return ticket;
}

void Worker::Impl::Submit(Instance& inst, uint64_t ticket) {
  ++inst.m.items_in;
  // The task keeps its payload (a retry sends it again); the runtime sees views of it.
  const Task& run = inst.running[ticket];
  RuntimeInput in;
  in.key = run.item.key();
  in.seq = run.item.seq();
  in.request_key = run.item.request_key();
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
  Task t = std::move(inst.running[ticket]);  // leaves an empty task in the slot
  inst.free_tickets.push_back(ticket);
  switch (r.kind) {
    case RuntimeResult::Kind::kDone:
      Complete(inst, t, std::move(r.payload), r.run_ms);
      return;
    case RuntimeResult::Kind::kRetry:
      Enqueue(inst, std::move(t), /*first=*/true);
      return;
    case RuntimeResult::Kind::kFailed:
      Drop(inst, t, r.error);
      if (inst.joins) inst.joins->Completed(t.item.seq());  // else its parts are never acknowledged
      return;
  }
}

void Worker::Impl::Complete(Instance& inst, const Task& t, std::string payload, double run_ms) {
  inst.lat.Add(run_ms);
  inst.out_bytes.Add(static_cast<double>(payload.size()));
  wire::Item out;
  out.set_key(t.item.key());
  out.set_source(t.item.source());
  out.set_seq(t.item.seq());
  out.set_epoch(t.item.epoch());
  out.set_op(inst.cfg.name);
  out.set_request_key(t.item.request_key());  // outputs keep their request's key and label
  out.set_label(t.item.label());
  out.set_payload(std::move(payload));
  out.set_request_key(t.item.request_key());
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
    if (!dropped.empty()) {
      if (auto p = instances_.find(producer); p != instances_.end()) ++p->second->m.dropped[dropped];
      FailIngress(base, dropped);
    }
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
        if (dropped.empty())
          ++l->m.resent;
        else
          CountWorkerDrop(dropped);
      }
      ledger_->Unref(out.hold);  // the retired link's reference
    }
  }
}

void Worker::Impl::ExpireJoins() {
  const auto now = SteadyClock::now();
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg_.join_timeout_s * 1000));
  for (auto& [name, inst] : instances_) {
    if (!inst->joins) continue;
    // Parts that never completed: counted, then acknowledged (dropped with a reason).
    for (auto& part : inst->joins->Expire(now, timeout)) Drop(*inst, part, "join-timeout");
  }
}

bool Worker::Impl::FlushRecord() {
  if (recording_sink_ == nullptr) return true;
  if (auto s = recording_sink_->Flush(); !s.ok()) {
    if (!record_failing_)
      std::fprintf(stderr, "worker %s: acknowledgements held until the delivery record can be written: %s\n",
                   cfg_.name.c_str(), s.message().c_str());
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
    if (links_->Blocked(inst.cfg.name) || ++burst > 1024)
      return ScheduleTick(inst, now + std::chrono::milliseconds(1), gen);
    // Retried; nothing is emitted with a number not on disk.
    if (!seqs_->Reserve(src.next_seq())) return ScheduleTick(inst, now + std::chrono::seconds(1), gen);
    Status read;
    wire::Item item = src.Next(router_.SourceEpoch(src.next_seq()), RealtimeNs(), &read);
    if (!read.ok()) {  // a data set's file that cannot be read: its seq is skipped, counted
      ++inst.m.dropped["dataset-read"];
      continue;
    }
    ++inst.m.items_out;
    HoldId h = ledger_->New(item.epoch() != 0 ? item.epoch() : static_cast<uint64_t>(cfg_.epoch), inst.cfg.name);
    Emit(inst.cfg.name, item, h);
    ledger_->Unref(h);
  }
}

}  // namespace jb
