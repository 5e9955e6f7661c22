// Writes the seed corpora of the frame fuzz targets: real messages encoded the way the code sends
// them, so the fuzzers start from valid frames and mutate from there.
//   fuzz_seeds DIR   writes DIR/worker_frame/* and DIR/agent_frame/*
// The manifest target is seeded from the golden files and manifests/ instead (fuzz/run.sh).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "api/value.h"
#include "api/worker_config.h"
#include "worker/framing.h"

namespace {

namespace fs = std::filesystem;

bool Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) std::cerr << "fuzz_seeds: cannot write " << (dir / name).string() << "\n";
  return static_cast<bool>(out);
}

// The worker fuzz target's first byte picks the chunk size; seeds use several.
std::string Frames(char chunk_byte, const std::vector<jb::wire::Frame>& frames) {
  std::string out(1, chunk_byte);
  for (const auto& f : frames) {
    if (!jb::EncodeFrame(f, &out).ok()) std::cerr << "fuzz_seeds: a seed frame does not encode\n";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> WorkerSeeds() {
  jb::wire::Frame hello;
  hello.mutable_hello()->set_stream("edge-1->io");
  hello.mutable_hello()->set_incarnation(1764547200123456789ull);
  jb::wire::Frame credit;
  credit.mutable_credit()->set_window(256);
  jb::wire::Frame ack;
  for (uint64_t id : {1ull, 2ull, 3ull, 5ull, 8ull, 13ull, 4294967296ull}) ack.mutable_ack()->add_ids(id);
  jb::wire::Frame item;
  auto* it = item.mutable_item();
  it->set_key(0.4375);
  it->set_source("ReadImage+ReadSpeech");
  it->set_seq(42);
  it->set_op("Detect");
  it->set_payload(std::string(48, 'x') + std::string("\0\xff\x01", 3));
  it->set_epoch(3);
  it->add_trace_ns(1764547200000000000);
  it->add_trace_ns(1764547200001500000);
  it->set_dest("sink");
  it->set_id(7);
  return {
      {"hello", Frames(0, {hello})},
      {"credit", Frames(3, {credit})},
      {"ack", Frames(7, {ack})},
      {"item", Frames(63, {item})},
      {"stream", Frames(16, {hello, credit, item, item, ack})},
      {"stream-small-limit", Frames(64 + 5, {hello, item})},
      {"empty-frame", Frames(1, {jb::wire::Frame()})},
  };
}

jb::Value Str(const std::string& s) { return jb::Value::String(s); }

std::vector<std::pair<std::string, std::string>> AgentSeeds() {
  jb::Value reg = jb::Value::Map();
  reg.Set("type", Str("register"));
  reg.Set("device", Str("edge-1"));
  reg.Set("token", Str("3f9c2a7b5e"));
  reg.Set("csr", Str("-----BEGIN CERTIFICATE REQUEST-----\nMIIBWjCCAQACAQAwETEPMA0GA1UEAwwGZWRnZS0x\n-----END "
                     "CERTIFICATE REQUEST-----\n"));

  jb::WorkerMetrics m;
  m.workflow = "vqa";
  m.worker = "edge-1";
  m.tier = "edge";
  m.pid = 4242;
  m.epoch = 2;
  m.port = 40123;
  m.emulated = true;
  m.uptime_s = 12.5;
  m.time = "2026-12-01T21:30:00.123Z";
  m.held_items = 3;
  m.max_held_items = 512;
  m.held_by_epoch = {{"2", 3}};
  jb::InstanceMetrics im;
  im.kind = "operator";
  im.name = "Detect";
  im.runtime = "emulated";
  im.items_in = 100;
  im.items_out = 99;
  im.dropped = {{"deadline", 1}};
  im.rate = 9.75;
  im.p50_ms = 12.25;
  im.p99_ms = 40;
  m.instances.push_back(im);
  jb::LinkMetrics lm;
  lm.worker = "io";
  lm.tier = "cloud";
  lm.connected = true;
  lm.items = 99;
  lm.payload_bytes = 1 << 20;
  lm.payload_kibps = 102.4;
  m.links.push_back(lm);
  jb::Value state = jb::Value::Map();
  state.Set("workflow", Str("vqa"));
  state.Set("name", Str("edge-1"));
  state.Set("tier", Str("edge"));
  state.Set("ready", jb::Value::Bool(true));
  state.Set("message", Str("serving"));
  state.Set("pid", jb::Value::Integer(4242));
  state.Set("restarts", jb::Value::Integer(0));
  state.Set("metrics", Str(jb::WorkerMetricsToJson(m)));
  jb::Value poll = jb::Value::Map();
  poll.Set("type", Str("poll"));
  poll.Set("version", jb::Value::Integer(7));
  poll.Set("address", Str("192.0.2.10"));
  poll.Set("states", jb::Value::Seq()).Append(std::move(state));

  jb::WorkerConfig c;
  c.workflow = "vqa";
  c.name = "edge-1";
  c.node = "edge-1";
  c.tier = "edge";
  c.listen = "0.0.0.0:0";
  c.epoch = 2;
  jb::WorkerInstance op;
  op.kind = "operator";
  op.name = "Detect";
  op.variant = "yolo-s";
  op.runtime.latency_ms = 12;
  op.runtime.output_kib = 4;
  c.instances.push_back(op);
  c.edges.push_back(jb::WorkerEdge{"Detect", "Answer", 1});
  c.routes.push_back(jb::WorkerRoute{"Answer", 0, 1, "io", "192.0.2.1:9000", "cloud"});
  jb::Value wf = jb::Value::Map();
  wf.Set("name", Str("vqa"));
  wf.Set("configs", jb::Value::Seq()).Append(Str(jb::WorkerConfigToYaml(c)));
  jb::Value reply = jb::Value::Map();
  reply.Set("version", jb::Value::Integer(8));
  reply.Set("workflows", jb::Value::Seq()).Append(std::move(wf));

  jb::Value refusal = jb::Value::Map();
  refusal.Set("error", Str("unauthenticated"));
  refusal.Set("message", Str("wrong bootstrap token"));
  return {{"register", jb::ToJson(reg)},
          {"poll", jb::ToJson(poll)},
          {"poll-reply", jb::ToJson(reply)},
          {"refusal", jb::ToJson(refusal)}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds DIR\n";
    return 2;
  }
  bool ok = true;
  for (const auto& [sub, seeds] : {std::pair{"worker_frame", WorkerSeeds()}, std::pair{"agent_frame", AgentSeeds()}}) {
    fs::path dir = fs::path(argv[1]) / sub;
    std::error_code ec;
    fs::create_directories(dir, ec);
    for (const auto& [name, bytes] : seeds) ok = Write(dir, "seed-" + name, bytes) && ok;
  }
  return ok ? 0 : 1;
}
