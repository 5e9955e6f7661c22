// The loop's side of the inference endpoint (worker/ingress_endpoint.h): numbering accepted calls,
// emitting their parts, answering them from the sink and failing them on a drop. Part of
// Worker::Impl (worker/worker_impl.h); everything here runs on the loop.
//
// A call takes the next seq of the worker's numbering (the SeqReserver all its sources share, so
// the delivery record and exactly-once work as for generated requests: a worker with ingress
// sources hosts no other kind of source). Every part carries request_key = the request id and the
// key IngressKeyOf(id). The call stays in ingress_calls_ (by seq) until the sink here delivers that
// seq with that request key (200 with the answer), an item of it is dropped on this worker (500
// naming the reason; 504 for a join timeout: a part that never arrived), or its deadline passes
// (the HTTP thread answers 504; swept here).
//
// Ingress sources on several io workers (WorkerIngress::joined_with not empty): every part takes
// the seq IngressSeqOf(id), the same on each worker, instead of the next of the numbering, so joins
// match the parts of one request by it. The io worker without the sink gets its answers as items
// addressed to one of its ingress sources (the deployment's edge from each terminal operator to it)
// and finishes its call from them (AnswerIngress); a second call with the id of one in flight here
// is refused (409).
#include <algorithm>

#include "api/worker_config.h"
#include "worker/worker_impl.h"

namespace jb {

Status Worker::Impl::StartIngress() {
  IngressOptions o;
  bool other_sources = false;
  for (const auto& in : cfg_.instances) {
    if (in.kind != "source") continue;
    if (in.type == "ingress")
      o.inputs.push_back(in.name);
    else
      other_sources = true;
  }
  if (o.inputs.empty()) return Status::Ok();
  const std::string who = "worker " + cfg_.name + ": ";
  if (other_sources)
    return Status::InvalidArgument(who + "ingress sources cannot share a worker with other kinds of source");
  if (!cfg_.ingress) return Status::InvalidArgument(who + "ingress sources need the ingress settings (ingress:)");
  bool answers_here = instances_.count(kSinkName) != 0;
  for (const auto& e : cfg_.edges) answers_here |= std::find(o.inputs.begin(), o.inputs.end(), e.to) != o.inputs.end();
  if (!answers_here)
    return Status::InvalidArgument(who + "the answers must come back to the io worker that hosts the ingress sources " +
                                   "(the sink, or an edge from the last operator to one of its ingress sources)");
  for (const auto& e : cfg_.edges)
    if (e.to == kSinkName) o.output = e.from;
  o.cfg = *cfg_.ingress;
  o.model = cfg_.workflow;
  o.wake = [this] { loop_->Wake(); };
  auto ep = IngressEndpoint::Start(std::move(o));
  if (!ep.ok()) return ep.status();  // its message names the ingress setting
  ingress_ = std::move(*ep);
  ingress_next_seq_ = seqs_->first();
  for (const auto& name : ingress_->inputs())
    if (auto it = instances_.find(name); it != instances_.end())
      it->second->m.first_seq = static_cast<int64_t>(ingress_next_seq_);
  return Status::Ok();
}

void Worker::Impl::TakeIngressCalls() {
  if (!ingress_) return;
  ingress_->SetReady(cfg_.epoch > 0 && !cfg_.routes.empty());
  for (auto& call : ingress_->TakeAccepted()) ingress_unnumbered_.push_back(std::move(call));
  while (!ingress_unnumbered_.empty()) {
    std::shared_ptr<IngressCall> call = ingress_unnumbered_.front();
    if (call->finished()) {  // its deadline passed, or the endpoint is stopping
      ingress_unnumbered_.pop_front();
      continue;
    }
    const bool by_id = !cfg_.ingress->joined_with.empty();
    uint64_t seq = by_id ? IngressSeqOf(call->id()) : ingress_next_seq_;
    if (!by_id && !seqs_->Reserve(seq)) return;  // the next block is being written: retried next round
    ingress_unnumbered_.pop_front();
    if (auto same = ingress_calls_.find(seq); by_id && same != ingress_calls_.end() && !same->second->finished()) {
      call->Finish(oip::ErrorReply(409, "request id " + call->id() + " is already in flight on this endpoint"));
      continue;
    }
    if (!by_id) ++ingress_next_seq_;
    ingress_calls_[seq] = call;
    // By id the parts take the current epoch: the other io workers' parts do too.
    uint64_t epoch = by_id ? 0 : router_.SourceEpoch(seq);
    int64_t now_ns = RealtimeNs();
    for (const auto& [source, payload] : call->parts()) {
      auto it = instances_.find(source);
      if (it == instances_.end()) continue;  // cannot happen: the endpoint's inputs are our sources
      wire::Item item;
      if (epoch != 0) item.set_epoch(epoch);
      item.set_key(IngressKeyOf(call->id()));
      item.set_source(source);
      item.set_seq(seq);
      item.set_op(source);
      item.set_payload(payload);
      item.set_request_key(call->id());
      item.add_trace_ns(now_ns);
      ++it->second->m.items_out;
      HoldId h = ledger_->New(epoch != 0 ? epoch : static_cast<uint64_t>(cfg_.epoch), source);
      Emit(source, item, h);
      ledger_->Unref(h);
    }
  }
}

void Worker::Impl::AnswerIngress(const wire::Item& item) {
  if (!ingress_) return;
  const std::string& id = item.request_key();
  ingress_->Publish(id.empty() ? item.source() + "/" + std::to_string(item.seq()) : id, item.op(), item.payload());
  auto it = ingress_calls_.find(item.seq());
  if (it == ingress_calls_.end() || it->second->id() != id) return;
  oip::InferResponse resp;
  resp.model_name = cfg_.workflow;
  resp.id = id;
  resp.outputs.push_back(oip::BytesTensor(item.op(), {item.payload()}));
  it->second->Finish(oip::EncodeInferResponse(resp, it->second->request()));
  ingress_calls_.erase(it);
}

void Worker::Impl::FailIngress(const wire::Item& item, const std::string& reason) {
  if (!ingress_ || item.request_key().empty()) return;
  auto it = ingress_calls_.find(item.seq());
  if (it == ingress_calls_.end() || it->second->id() != item.request_key()) return;
  if (reason == "join-timeout")  // a part that never arrived: as if the deadline had passed
    it->second->Finish(oip::ErrorReply(
        504,
        "request " + item.request_key() + ": its other parts did not arrive within the join timeout (join-timeout)"));
  else
    it->second->Finish(oip::ErrorReply(500, "request " + item.request_key() + " was dropped: " + reason));
  ingress_calls_.erase(it);
}

void Worker::Impl::SweepIngress(WorkerMetrics& m) {
  if (!ingress_) return;
  for (auto it = ingress_calls_.begin(); it != ingress_calls_.end();)
    it = it->second->finished() ? ingress_calls_.erase(it) : std::next(it);
  m.ingress_port = ingress_->port();
  const std::string& listen = cfg_.ingress->listen;
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  m.ingress_address = (cfg_.ingress->plain_http ? "http://" : "https://") + host + ":" + std::to_string(m.ingress_port);
  auto responses = ingress_->responses();
  for (auto& [name, inst] : instances_)
    if (inst->cfg.kind == "source" && inst->cfg.type == "ingress") {
      inst->m.responses = responses;
      inst->m.inflight = ingress_->inflight();
    }
}

}  // namespace jb
