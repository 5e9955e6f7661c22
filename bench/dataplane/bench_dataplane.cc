// Data-plane benchmark. Two figures, each beside its baseline from the same run:
//
//  1. Per-hop latency of a 1 KiB item through one jellybean-worker (an emulated operator with zero
//     latency: receive, route by key, re-emit, acknowledge) vs a raw TCP relay that only decodes and
//     re-encodes the same length-prefixed protobuf frames. Both paths are sender -> relay ->
//     receiver on loopback, one item in flight; the figure is the time from write to arrival.
//  2. Items/s one worker forwards (64-byte items, the sender keeps the credit window full, the
//     receiver acknowledges, so delivery is end-to-end) vs the same raw relay with the same framing
//     and no acknowledgements, windows or routing.
//
// The worker runs in this process on its own thread (its epoll loop), the relay on another.
// Usage: bench_dataplane [latency round trips, default 20000] [throughput items, default 300000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "worker/framing.h"
#include "worker/worker.h"

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_dataplane: %s\n", what.c_str());
  std::exit(2);
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int Listen(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    Die("cannot listen on loopback");
  *port = ntohs(sa.sin_port);
  return fd;
}

int Dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
    Die("cannot connect to port " + std::to_string(port));
  NoDelay(fd);
  return fd;
}

int AcceptOne(int lfd) {
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) Die("accept failed");
  NoDelay(fd);
  return fd;
}

void WriteAll(int fd, const std::string& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = write(fd, b.data() + off, b.size() - off);
    if (n <= 0) Die("write failed");
    off += static_cast<size_t>(n);
  }
}

// A blocking framed connection.
struct FrameConn {
  int fd = -1;
  FrameDecoder dec;
  char buf[65536];
  // Next frame; blocks. Returns false at EOF.
  bool Recv(wire::Frame* f) {
    while (true) {
      auto next = dec.Next();
      if (!next.ok()) Die("bad frame: " + next.status().message());
      if (next->has_value()) {
        *f = std::move(**next);
        return true;
      }
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) return false;
      dec.Feed(buf, static_cast<size_t>(n));
    }
  }
  // Frames already received or readable without blocking.
  bool TryRecv(wire::Frame* f) {
    pollfd p{fd, POLLIN, 0};
    auto next = dec.Next();
    if (!next.ok()) Die("bad frame");
    if (next->has_value()) {
      *f = std::move(**next);
      return true;
    }
    if (poll(&p, 1, 0) <= 0) return false;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    dec.Feed(buf, static_cast<size_t>(n));
    return TryRecv(f);
  }
  void Send(const wire::Frame& f) {
    std::string b;
    (void)EncodeFrame(f, &b);
    WriteAll(fd, b);
  }
};

wire::Frame ItemFrame(uint64_t seq, const std::string& payload) {
  wire::Frame f;
  auto* it = f.mutable_item();
  it->set_key(static_cast<double>(seq % 1000) / 1000.0);
  it->set_source("src");
  it->set_seq(seq);
  it->set_op("src");
  it->set_dest("fwd");
  it->set_id(seq);
  it->set_epoch(1);
  it->set_payload(payload);
  it->add_trace_ns(0);
  return f;
}

// ---- the two relays -----------------------------------------------------------------------------

// A worker hosting one zero-latency emulated operator "fwd" whose outputs (of `out_bytes`) go to
// the sink on worker "io" at `sink_port` (this benchmark's receiver).
struct WorkerRelay {
  std::unique_ptr<Worker> w;
  std::thread t;
  WorkerRelay(int sink_port, size_t out_bytes) {
    WorkerConfig c;
    c.workflow = "bench";
    c.name = "w";
    c.tier = "cloud";
    c.metrics_interval_s = 1;
    WorkerInstance op;
    op.kind = "operator";
    op.name = "fwd";
    op.runtime.type = "emulated";
    op.runtime.latency_ms = 0;
    op.runtime.output_kib = static_cast<double>(out_bytes) / 1024.0;
    c.instances.push_back(op);
    c.edges = {{"src", "fwd", 1}, {"fwd", kSinkName, 1}};
    c.routes = {{kSinkName, 0, 1, "io", "127.0.0.1:" + std::to_string(sink_port), "edge"}};
    auto created = Worker::Create(std::move(c));
    if (!created.ok()) Die("worker: " + created.status().message());
    w = std::move(*created);
    t = std::thread([this] { (void)w->Run(); });
  }
  int port() const { return w->port(); }
  ~WorkerRelay() {
    w->Stop();
    t.join();
  }
};

// The baseline: accept one sender, connect to the receiver, decode every frame and re-encode it.
struct RawRelay {
  int lfd = -1, port_ = 0;
  std::thread t;
  explicit RawRelay(int sink_port) {
    lfd = Listen(&port_);
    t = std::thread([this, sink_port] {
      int in = AcceptOne(lfd);
      int out = Dial(sink_port);
      FrameDecoder dec;
      std::vector<char> buf(65536);
      std::string wbuf;
      while (true) {
        ssize_t n = read(in, buf.data(), buf.size());
        if (n <= 0) break;
        dec.Feed(buf.data(), static_cast<size_t>(n));
        while (true) {
          auto f = dec.Next();
          if (!f.ok() || !f->has_value()) break;
          (void)EncodeFrame(**f, &wbuf);
        }
        WriteAll(out, wbuf);
        wbuf.clear();
      }
      close(in);
      close(out);
    });
  }
  int port() const { return port_; }
  ~RawRelay() {
    t.join();
    close(lfd);
  }
};

// Connects a sender to the relay; with the worker, says Hello and returns the granted window.
int64_t OpenSender(int relay_port, bool worker, FrameConn* snd) {
  snd->fd = Dial(relay_port);
  if (!worker) return 1 << 30;  // the raw relay has no window: TCP's own flow control applies
  wire::Frame hello, f;
  hello.mutable_hello()->set_stream("bench/io->w");
  hello.mutable_hello()->set_incarnation(1);
  snd->Send(hello);
  if (!snd->Recv(&f) || !f.has_credit()) Die("no credit from the worker");
  return f.credit().window();
}

// One relay of either kind in front of the receiver listening on `sink_port`.
struct Relay {
  std::unique_ptr<WorkerRelay> worker;
  std::unique_ptr<RawRelay> raw;
  Relay(bool use_worker, int sink_port, size_t out_bytes) {
    if (use_worker)
      worker = std::make_unique<WorkerRelay>(sink_port, out_bytes);
    else
      raw = std::make_unique<RawRelay>(sink_port);
  }
  int port() const { return worker ? worker->port() : raw->port(); }
};

// ---- measurements -------------------------------------------------------------------------------

struct Latency {
  double p50_us = 0, p99_us = 0, mean_us = 0;
};

Latency Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Latency l;
  l.p50_us = v[v.size() / 2];
  l.p99_us = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  double s = 0;
  for (double x : v) s += x;
  l.mean_us = s / static_cast<double>(v.size());
  return l;
}

// One item at a time through a relay: the time from write to arrival at the receiver. With the
// worker, the receiver acknowledges and the sender waits for the worker's acknowledgement too
// (outside the timed part), so every round starts from an idle pipeline in both cases.
class PingPath {
 public:
  explicit PingPath(bool worker) : worker_(worker), payload_(1024, 'x') {
    rl_ = Listen(&rport_);
    relay_ = std::make_unique<Relay>(worker, rport_, 1024);
    OpenSender(relay_->port(), worker, &snd_);
  }
  ~PingPath() {
    close(snd_.fd);
    relay_.reset();
    if (rcv_.fd >= 0) close(rcv_.fd);
    close(rl_);
  }
  // One round; returns microseconds from write to arrival.
  double Ping() {
    uint64_t seq = ++seq_;
    wire::Frame f;
    auto t0 = Clock::now();
    snd_.Send(ItemFrame(seq, payload_));
    if (rcv_.fd < 0) {  // the relay connects on its first item
      rcv_.fd = AcceptOne(rl_);
      if (worker_) {
        if (!rcv_.Recv(&f) || !f.has_hello()) Die("no hello from the worker");
        wire::Frame credit;
        credit.mutable_credit()->set_window(256);
        rcv_.Send(credit);
      }
    }
    uint64_t got_id = 0;
    while (true) {
      if (!rcv_.Recv(&f)) Die("relay closed");
      if (f.has_item()) {
        got_id = f.item().id();
        break;
      }
    }
    double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (worker_) {
      wire::Frame ack;
      ack.mutable_ack()->add_ids(got_id);
      rcv_.Send(ack);
      bool acked = false;
      while (!acked) {
        if (!snd_.Recv(&f)) Die("worker closed");
        if (f.has_ack())
          for (uint64_t id : f.ack().ids()) acked |= id == seq;
      }
    }
    return us;
  }

 private:
  bool worker_;
  std::string payload_;
  int rl_ = -1, rport_ = 0;
  std::unique_ptr<Relay> relay_;
  FrameConn snd_, rcv_;
  uint64_t seq_ = 0;
};

// Both paths set up side by side and pinged alternately, so machine noise hits both alike.
std::pair<Latency, Latency> PingPong(int rounds) {
  PingPath raw(false), wk(true);
  std::vector<double> raw_us, wk_us;
  int warmup = std::max(100, rounds / 10);
  for (int i = 0; i < warmup + rounds; ++i) {
    double a = raw.Ping(), b = wk.Ping();
    if (i < warmup) continue;
    raw_us.push_back(a);
    wk_us.push_back(b);
  }
  return {Summarise(std::move(raw_us)), Summarise(std::move(wk_us))};
}

// Pushes `items` small items through the relay as fast as it takes them; returns items/s from the
// first send to the last arrival at the receiver.
double Throughput(bool worker, int64_t items) {
  const size_t kBytes = 64;
  int rport = 0;
  int rl = Listen(&rport);
  auto relay = std::make_unique<Relay>(worker, rport, kBytes);
  std::atomic<int64_t> received{0};
  Clock::time_point last;
  std::thread receiver([&] {
    FrameConn rcv;
    rcv.fd = AcceptOne(rl);
    wire::Frame f;
    wire::Frame ack;
    while (received.load() < items) {
      if (!rcv.Recv(&f)) Die("relay closed early");
      if (f.has_hello()) {
        wire::Frame credit;
        credit.mutable_credit()->set_window(256);
        rcv.Send(credit);
        continue;
      }
      if (!f.has_item()) continue;
      received.fetch_add(1);
      if (worker) {
        ack.mutable_ack()->add_ids(f.item().id());
        // Acknowledge in batches: whatever arrived in the same read.
        if (rcv.dec.buffered() == 0 || ack.ack().ids_size() >= 64) {
          rcv.Send(ack);
          ack.mutable_ack()->clear_ids();
        }
      }
    }
    last = Clock::now();
    if (worker && ack.ack().ids_size() > 0) rcv.Send(ack);
    close(rcv.fd);
  });
  FrameConn snd;
  wire::Frame f;
  int64_t window = OpenSender(relay->port(), worker, &snd);
  const std::string payload(kBytes, 'x');
  int64_t sent = 0, acked = 0;
  auto t0 = Clock::now();
  std::string batch;
  while (sent < items) {
    int64_t room = std::min<int64_t>(window - (sent - acked), items - sent);
    if (room > 0) {
      batch.clear();
      for (int64_t k = 0; k < std::min<int64_t>(room, 128); ++k)
        (void)EncodeFrame(ItemFrame(static_cast<uint64_t>(++sent), payload), &batch);
      WriteAll(snd.fd, batch);
    }
    // Acknowledgements free the window (the worker); block only when it is full.
    bool got = room > 0 ? snd.TryRecv(&f) : snd.Recv(&f);
    while (got) {
      if (f.has_ack()) acked += f.ack().ids_size();
      got = snd.TryRecv(&f);
    }
  }
  receiver.join();
  double s = std::chrono::duration<double>(last - t0).count();
  close(snd.fd);
  relay.reset();
  close(rl);
  return static_cast<double>(items) / s;
}

int Main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 20000;
  int64_t items = argc > 2 ? std::atoll(argv[2]) : 300000;
  if (rounds < 10 || items < 1000) Die("usage: bench_dataplane [rounds >= 10] [items >= 1000]");
  std::printf(
      "data plane, loopback, one worker relaying (emulated operator, 0 ms), baseline = raw TCP relay with the same "
      "framing\n\n");
  auto [raw, wk] = PingPong(rounds);
  std::printf("1 KiB item, sender -> relay -> receiver, one in flight, %d rounds:\n", rounds);
  std::printf("  %-22s %10s %10s %10s\n", "", "p50 us", "p99 us", "mean us");
  std::printf("  %-22s %10.1f %10.1f %10.1f\n", "raw TCP relay", raw.p50_us, raw.p99_us, raw.mean_us);
  std::printf("  %-22s %10.1f %10.1f %10.1f\n", "jellybean-worker", wk.p50_us, wk.p99_us, wk.mean_us);
  std::printf("  per-hop overhead of the worker: %+.1f us at p50 (ratio %.2fx)\n\n", wk.p50_us - raw.p50_us,
              wk.p50_us / raw.p50_us);
  double raw_tp = Throughput(false, items);
  double wk_tp = Throughput(true, items);
  std::printf("64-byte items, %lld items, as fast as the relay takes them:\n", static_cast<long long>(items));
  std::printf("  %-22s %12.0f items/s\n", "raw TCP relay", raw_tp);
  std::printf("  %-22s %12.0f items/s (acknowledged end to end, window 256)\n", "jellybean-worker", wk_tp);
  std::printf("  worker / raw: %.2f  (target: >= 100000 items/s per worker: %s)\n", wk_tp / raw_tp,
              wk_tp >= 100000 ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) { return jb::Main(argc, argv); }
