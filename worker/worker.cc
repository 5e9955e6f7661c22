#include "worker/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "worker/durable_state.h"
#include "worker/framing.h"

extern char** environ;

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;

int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Rfc3339Now() {
  time_t t = time(nullptr);
  tm g{};
  gmtime_r(&t, &g);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &g);
  return buf;
}

// Routing key of request `seq`: the golden-ratio (Weyl) sequence, so every key interval receives
// its share of the requests with the lowest possible discrepancy, and every source of a request
// computes the same key (its parts meet at one join node).
double KeyOf(uint64_t seq) {
  constexpr double kPhiInv = 0.6180339887498949;
  double k = std::fmod(static_cast<double>(seq) * kPhiInv, 1.0);
  return k < 0 ? 0 : k;
}

// Deterministic thinning: request `seq` passes an edge of ratio r when it crosses a multiple of 1/r.
bool Passes(uint64_t seq, double ratio) {
  if (ratio >= 1) return true;
  return std::floor(static_cast<double>(seq) * ratio) > std::floor(static_cast<double>(seq - 1) * ratio);
}

Status Errno(const std::string& what) { return Status::Unavailable(what + ": " + std::strerror(errno)); }

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

StatusOr<sockaddr_in> ParseAddress(const std::string& hostport) {
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("address \"" + hostport + "\": expected host:port");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  std::string host = hostport.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return Status::InvalidArgument("address \"" + hostport + "\": expected an IPv4 host");
  char* end = nullptr;
  long port = std::strtol(hostport.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) return Status::InvalidArgument("address \"" + hostport + "\": bad port");
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

// Latency samples of the most recent items, for p50/p99.
class Samples {
 public:
  void Add(double ms) {
    if (v_.size() < kMax) v_.push_back(ms);
    else v_[next_++ % kMax] = ms;
  }
  double Quantile(double q) const {
    if (v_.empty()) return 0;
    std::vector<double> s = v_;
    auto k = static_cast<size_t>(std::min<double>(static_cast<double>(s.size() - 1), std::floor(q * static_cast<double>(s.size()))));
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    return s[k];
  }

 private:
  static constexpr size_t kMax = 4096;
  std::vector<double> v_;
  size_t next_ = 0;
};

// Set of done ids as a watermark plus the done ids above it. Ids that never come (thinned edges,
// requests lost with a dead source worker) keep the watermark from passing them, so at most
// kMaxAbove ids are kept above it: beyond that the lowest is forgotten (a repeat of it would be
// taken as new: memory stays bounded and a request that was not delivered is never discarded).
class DoneSet {
 public:
  static constexpr size_t kMaxAbove = 1 << 16;
  bool Contains(uint64_t id) const { return id < below_ || above_.count(id) != 0; }
  void Add(uint64_t id) {
    if (id < below_) return;
    above_.insert(id);
    while (!above_.empty() && *above_.begin() == below_) {
      above_.erase(above_.begin());
      ++below_;
    }
    if (above_.size() > kMaxAbove) above_.erase(above_.begin());
  }
  void Reset() {
    below_ = 1;
    above_.clear();
  }

 private:
  uint64_t below_ = 1;
  std::set<uint64_t> above_;
};

}  // namespace

class Worker::Impl {
 public:
  struct InStream;
  struct Hold;
  // What must be acknowledged when a Hold is released: a stream item, or a parent hold.
  struct Origin {
    InStream* stream = nullptr;
    uint64_t incarnation = 0;
    uint64_t id = 0;
    Hold* parent = nullptr;
  };
  // Keeps the upstream acknowledgement of an item until everything it produced is safe.
  struct Hold {
    std::vector<Origin> origins;
    int refs = 1;
    std::string source;  // source instance whose item this is ("" otherwise), for its ack count
    uint64_t epoch = 0;  // plan epoch of the item (counted in holds_by_epoch_ while alive)
    Hold* prev = nullptr;  // every live hold is on one list, so the destructor frees what is in flight
    Hold* next = nullptr;
  };
  struct InStream {
    std::string name;
    uint64_t incarnation = 0;
    int conn = -1;  // fd of the connection now carrying the stream
    DoneSet done;
    std::unordered_set<uint64_t> active;
    std::vector<uint64_t> to_ack;
  };
  struct Conn {  // inbound
    int fd = -1;
    FrameDecoder decoder;
    std::string wbuf;
    InStream* stream = nullptr;
  };
  struct Out {
    std::string frame;
    Hold* hold = nullptr;
    bool sent = false;
  };
  struct Link {  // outbound, one per destination worker
    std::string worker, address, tier;
    int fd = -1;
    bool connecting = false, ready = false;
    uint32_t window = 0;
    uint64_t next_id = 1;
    std::map<uint64_t, Out> outs;   // every unacknowledged item, by id
    std::deque<uint64_t> pending;   // ids not yet written on the current connection
    size_t inflight = 0;
    std::string wbuf;
    FrameDecoder decoder;  // acks and credits from the receiver
    double backoff_s = 0.02;
    bool retry_scheduled = false;
    LinkMetrics m;
    std::deque<std::pair<Clock::time_point, int64_t>> history;  // payload bytes over time
  };
  struct Task {
    wire::Item item;
    Hold* hold = nullptr;
    Clock::time_point enqueued;
  };
  struct Instance;
  struct Pending {  // a join waiting for its parts
    std::map<std::string, Task> parts;  // producer -> part
    Clock::time_point first;
  };
  struct ExecProc {
    pid_t pid = -1;
    int in = -1, out = -1;
    std::string wbuf;
    std::string rbuf;  // answers read so far
    std::optional<Task> current;
    Clock::time_point started;
    int failures = 0;
    bool restart_scheduled = false;
  };
  struct Instance {
    WorkerInstance cfg;
    std::vector<std::string> inputs;  // producers feeding it (edges)
    std::deque<Task> queue;            // exec queue (emulated tasks go to the shared executor)
    std::map<uint64_t, Pending> joins;  // seq -> parts
    std::map<uint64_t, Hold*> joined;   // seq -> hold of the joined item, until released
    std::deque<uint64_t> joined_order;
    std::unordered_map<uint64_t, bool> joined_done;  // recently completed and released -> whether it timed out
    std::map<std::string, DoneSet> delivered;  // sink: source -> seqs delivered
    std::map<int64_t, int64_t> by_emit;         // sink: deliveries per 100 ms bucket of source emission time
    int64_t first_emit_ns = 0;
    std::unique_ptr<ExecProc> exec;
    // source state
    uint64_t first_seq = 1;  // the first seq this process emits (the persisted reservation's start)
    uint64_t next_seq = 1;
    uint64_t tick_gen = 0;
    Clock::time_point start;
    std::vector<std::string> files;
    std::string synthetic;
    // metrics
    InstanceMetrics m;
    Samples lat;
    std::deque<std::pair<Clock::time_point, int64_t>> history;
  };
  struct Timer {
    Clock::time_point at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  Impl(WorkerConfig c) : cfg_(std::move(c)) {}
  ~Impl();

  Status Init();
  Status Loop();

  // any-thread entry points
  void RequestStop() {
    stop_ = true;
    Wake();
  }
  void PostConfig(WorkerConfig c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      next_cfg_ = std::move(c);
    }
    Wake();
  }
  WorkerMetrics Snapshot() const {
    std::lock_guard<std::mutex> l(mu_);
    return snapshot_;
  }
  int port() const { return port_; }

 private:
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
  void Watch(int fd, uint32_t events, std::function<void(uint32_t)> fn) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (handlers_.count(fd) != 0) epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
    else epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    handlers_[fd] = std::move(fn);
  }
  void SetEvents(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
  }
  void Unwatch(int fd) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    handlers_.erase(fd);
  }
  void After(Clock::time_point at, std::function<void()> fn) { timers_.push(Timer{at, timer_seq_++, std::move(fn)}); }

  void ApplyRoutes();
  Link* LinkFor(const std::string& worker);
  void Accept();
  void OnConn(int fd, uint32_t events);
  void CloseConn(int fd);
  void OnFrame(Conn& c, wire::Frame& f);
  void OnItem(Conn& c, wire::Item& item);
  void FlushConn(Conn& c);
  void Connect(Link& l);
  void OnLink(Link& l, uint32_t events);
  void LinkBroken(Link& l, const std::string& why);
  void PumpLink(Link& l);
  void FlushLink(Link& l);

  // Processing.
  Hold* NewHold(uint64_t epoch) {
    ++holds_;
    ++holds_by_epoch_[epoch];
    auto* h = new Hold();
    h->epoch = epoch;
    h->next = live_holds_;
    if (live_holds_ != nullptr) live_holds_->prev = h;
    live_holds_ = h;
    return h;
  }
  // The routing table for an item of `epoch` (the draining epoch's while it is installed).
  const std::map<std::string, std::vector<WorkerRoute>>& TableFor(uint64_t epoch) const {
    return cfg_.drain_epoch > 0 && epoch == static_cast<uint64_t>(cfg_.drain_epoch) ? drain_routes_ : routes_;
  }
  // Sends `item` to consumer `c` along the table of `epoch`; `hold` gains a reference for it.
  // Returns "" when sent, else the drop reason for the caller to count ("no-route:C", "oversize").
  std::string RouteOne(const std::string& c, wire::Item item, Hold* hold, uint64_t epoch);
  // Counts a drop that belongs to no instance in particular (stale routes, retired links).
  void CountWorkerDrop(const std::string& reason) {
    if (!instances_.empty()) ++instances_.begin()->second->m.dropped[reason];
  }
  // Links to workers that no route names any more: their unacknowledged items go out again along
  // the current routes (the worker was removed, e.g. its node failed), so nothing waits forever.
  void RerouteRetiredLinks();
  void Unref(Hold* h);
  void Deliver(Instance& inst, Task t);  // an item for `inst` (local or from the network)
  void Enqueue(Instance& inst, Task t);
  bool Blocked(const Instance& inst) const;
  void StartWork();
  void Complete(Instance& inst, Task t, std::string payload, double run_ms);
  void Emit(const std::string& producer, const wire::Item& base, Hold* hold);
  void Drop(Instance& inst, Task& t, const std::string& reason);
  void ExpireJoins();
  void SourceTick(Instance& inst, uint64_t gen);  // gen: stale timer chains (older than inst.tick_gen) stop
  // Makes sure `seq` is reserved on disk before a source uses it; false when it cannot be yet.
  bool ReserveSeq(uint64_t seq);
  // Opens the sequence reservation and the sink's delivery record (state files next to the
  // metrics file) and restores the sink's memory of what it delivered.
  Status OpenDurableState();
  // Writes the delivery record; false when it failed (then no acknowledgement may go out).
  bool FlushRecord();
  Status StartExec(Instance& inst);
  void OnExec(Instance& inst, uint32_t events);
  void ExecFailed(Instance& inst, const std::string& why);
  void PumpExec(Instance& inst);
  std::optional<std::string> ExecTake(ExecProc& e);
  void WriteMetrics();
  void SinkRate(Instance& inst);
  static constexpr int64_t kBucketNs = 100'000'000;
  static constexpr int64_t kRecordBytes = 16 << 20;  // the delivery record rotates at 16 MiB (two files kept)

  WorkerConfig cfg_;
  int ep_ = -1, listen_fd_ = -1, wake_fd_ = -1, timer_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::optional<WorkerConfig> next_cfg_ GUARDED_BY(mu_);
  WorkerMetrics snapshot_ GUARDED_BY(mu_);

  std::unordered_map<int, std::function<void(uint32_t)>> handlers_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::map<std::string, std::unique_ptr<InStream>> streams_;
  std::map<std::string, std::unique_ptr<Link>> links_;
  std::map<std::string, std::unique_ptr<Instance>> instances_;
  std::map<std::string, std::vector<std::string>> consumers_;      // producer -> consumers
  std::map<std::pair<std::string, std::string>, double> ratio_;    // (from, to) -> ratio
  std::map<std::string, std::vector<WorkerRoute>> routes_;         // consumer -> sorted routes
  std::map<std::string, std::set<Link*>> producer_links_;          // producer -> links it may use
  // Emulated executor: `servers` slots shared by the emulated instances of this node, FIFO.
  std::deque<std::pair<Instance*, Task>> ready_;
  std::vector<Clock::time_point> slot_free_;
  std::vector<bool> slot_busy_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_seq_ = 0;
  uint64_t incarnation_ = 0;
  int64_t holds_ = 0;
  std::map<uint64_t, int64_t> holds_by_epoch_;
  Hold* live_holds_ = nullptr;  // head of the list of live holds
  uint64_t epoch_switch_seq_ = 0;  // source items with a lower seq still belong to the draining epoch
  std::map<std::string, std::vector<WorkerRoute>> drain_routes_;  // consumer -> sorted routes of the draining epoch
  Clock::time_point started_ = Clock::now();
  Clock::time_point next_metrics_{};
  SeqReservation seqs_ = SeqReservation::Volatile();
  std::future<Status> next_reservation_;  // the next block being written (its destructor waits for it)
  uint64_t next_limit_ = 0;
  std::unique_ptr<DeliveryRecord> record_;  // the sink's record ("" metrics file: none)
  bool reserve_failing_ = false, record_failing_ = false;  // log a failure once per streak
};

// ---- setup ----------------------------------------------------------------------------------------

Status Worker::Impl::Init() {
  incarnation_ = static_cast<uint64_t>(RealtimeNs()) ^ (static_cast<uint64_t>(getpid()) << 40);
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep_ < 0 || wake_fd_ < 0 || timer_fd_ < 0) return Errno("epoll/eventfd/timerfd");
  auto sa = ParseAddress(cfg_.listen);
  if (!sa.ok()) return sa.status();
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&*sa), sizeof(*sa)) != 0) return Errno("bind " + cfg_.listen);
  if (listen(listen_fd_, 128) != 0) return Errno("listen");
  sockaddr_in got{};
  socklen_t len = sizeof(got);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&got), &len);
  port_ = ntohs(got.sin_port);
  Watch(listen_fd_, EPOLLIN, [this](uint32_t) { Accept(); });
  Watch(wake_fd_, EPOLLIN, [this](uint32_t) {
    uint64_t v;
    while (read(wake_fd_, &v, sizeof(v)) > 0) {
    }
  });
  Watch(timer_fd_, EPOLLIN, [this](uint32_t) {
    uint64_t v;
    while (read(timer_fd_, &v, sizeof(v)) > 0) {
    }
  });
  slot_free_.assign(static_cast<size_t>(cfg_.servers), Clock::time_point{});
  slot_busy_.assign(static_cast<size_t>(cfg_.servers), false);

  for (const auto& in : cfg_.instances) {
    auto inst = std::make_unique<Instance>();
    inst->cfg = in;
    inst->m.kind = in.kind;
    inst->m.name = in.name;
    if (in.kind == "operator") inst->m.runtime = in.runtime.type;
    if (in.kind == "source") {
      inst->start = Clock::now();
      if (in.files) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(*in.files, ec))
          if (e.is_regular_file()) inst->files.push_back(e.path().string());
        std::sort(inst->files.begin(), inst->files.end());
        if (inst->files.empty()) return Status::InvalidArgument("source " + in.name + ": no files in " + *in.files);
      } else {
        inst->synthetic.assign(static_cast<size_t>(std::llround(in.item_kib * 1024)), 's');
      }
    }
    instances_[in.name] = std::move(inst);
  }
  for (const auto& e : cfg_.edges) {
    ratio_[{e.from, e.to}] = e.ratio;
    consumers_[e.from].push_back(e.to);
    if (auto it = instances_.find(e.to); it != instances_.end()) it->second->inputs.push_back(e.from);
  }
  if (auto s = OpenDurableState(); !s.ok()) return s;
  for (auto& [name, inst] : instances_)
    if (inst->cfg.kind == "operator" && inst->cfg.runtime.type == "exec")
      if (auto s = StartExec(*inst); !s.ok()) return s;
  ApplyRoutes();
  for (auto& [name, inst] : instances_)
    if (inst->cfg.kind == "source") {
      Instance* p = inst.get();
      After(Clock::now(), [this, p] { SourceTick(*p, p->tick_gen); });
    }
  return Status::Ok();
}

Worker::Impl::~Impl() {
  for (auto& [name, inst] : instances_)
    if (inst->exec && inst->exec->pid > 0) {
      kill(inst->exec->pid, SIGKILL);
      waitpid(inst->exec->pid, nullptr, 0);
      close(inst->exec->in);
      close(inst->exec->out);
    }
  for (auto& [fd, c] : conns_) close(fd);
  for (auto& [n, l] : links_)
    if (l->fd >= 0) close(l->fd);
  for (int fd : {listen_fd_, wake_fd_, timer_fd_, ep_})
    if (fd >= 0) close(fd);
  // Items still in flight when the worker stops: their senders keep them and re-send.
  while (live_holds_ != nullptr) {
    Hold* next = live_holds_->next;
    delete live_holds_;
    live_holds_ = next;
  }
}

void Worker::Impl::ApplyRoutes() {
  routes_.clear();
  producer_links_.clear();
  for (const auto& r : cfg_.routes) routes_[r.op].push_back(r);
  drain_routes_.clear();
  if (cfg_.drain_epoch > 0)
    for (const auto& r : cfg_.drain_routes) drain_routes_[r.op].push_back(r);
  for (auto* table : {&routes_, &drain_routes_})
    for (auto& [op, rs] : *table) std::sort(rs.begin(), rs.end(), [](const auto& a, const auto& b) { return a.lo < b.lo; });
  for (const auto& [producer, cons] : consumers_)
    for (const auto& c : cons)
      for (auto* table : {&routes_, &drain_routes_})
        if (auto rs = table->find(c); rs != table->end())
          for (const auto& r : rs->second)
            if (r.worker != cfg_.name) producer_links_[producer].insert(LinkFor(r.worker));
  std::vector<WorkerRoute> all = cfg_.routes;
  all.insert(all.end(), cfg_.drain_routes.begin(), cfg_.drain_routes.end());
  for (const auto& r : all)
    if (r.worker != cfg_.name) {
      Link* l = LinkFor(r.worker);
      if (l->address != r.address) {  // moved (e.g. a restarted worker on a new port): reconnect
        l->address = r.address;
        if (l->fd >= 0) LinkBroken(*l, "address changed");
      }
      l->tier = r.tier;
      l->m.tier = r.tier;
    }
}

Worker::Impl::Link* Worker::Impl::LinkFor(const std::string& worker) {
  auto& l = links_[worker];
  if (!l) {
    l = std::make_unique<Link>();
    l->worker = worker;
    l->m.worker = worker;
    for (const auto* rs : {&cfg_.drain_routes, &cfg_.routes})  // the current epoch's address wins
      for (const auto& r : *rs)
        if (r.worker == worker) {
          l->address = r.address;
          l->tier = r.tier;
          l->m.tier = r.tier;
        }
  }
  return l.get();
}

// ---- inbound --------------------------------------------------------------------------------------

void Worker::Impl::Accept() {
  while (true) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    conns_[fd] = std::move(c);
    Watch(fd, EPOLLIN | EPOLLRDHUP, [this, fd](uint32_t ev) { OnConn(fd, ev); });
  }
}

void Worker::Impl::CloseConn(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  if (it->second->stream != nullptr && it->second->stream->conn == fd) it->second->stream->conn = -1;
  Unwatch(fd);
  close(fd);
  conns_.erase(it);
}

void Worker::Impl::OnConn(int fd, uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (events & EPOLLOUT) FlushConn(c);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    char buf[65536];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        c.decoder.Feed(buf, static_cast<size_t>(n));
        while (true) {
          auto f = c.decoder.Next();
          if (!f.ok()) {
            CloseConn(fd);  // poisoned stream: the sender re-sends on a new connection
            return;
          }
          if (!f->has_value()) break;
          OnFrame(c, **f);
        }
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        CloseConn(fd);
        return;
      }
      if (errno == EINTR) continue;
      break;
    }
  }
}

void Worker::Impl::OnFrame(Conn& c, wire::Frame& f) {
  if (f.has_hello()) {
    const auto& h = f.hello();
    auto& s = streams_[h.stream()];
    if (!s) {
      s = std::make_unique<InStream>();
      s->name = h.stream();
    }
    if (s->incarnation != h.incarnation()) {  // a restarted sender: its ids start again
      s->incarnation = h.incarnation();
      s->done.Reset();
      s->active.clear();
      s->to_ack.clear();
    }
    if (s->conn >= 0 && s->conn != c.fd) {
      int old = s->conn;
      s->conn = -1;
      CloseConn(old);
    }
    s->conn = c.fd;
    c.stream = s.get();
    wire::Frame credit;
    credit.mutable_credit()->set_window(static_cast<uint32_t>(cfg_.window));
    (void)EncodeFrame(credit, &c.wbuf);
    FlushConn(c);
  } else if (f.has_item()) {
    if (c.stream == nullptr) return;  // items before Hello: ignore, the sender re-sends
    OnItem(c, *f.mutable_item());
  }
}

void Worker::Impl::OnItem(Conn& c, wire::Item& item) {
  InStream& s = *c.stream;
  uint64_t id = item.id();
  if (s.done.Contains(id)) {  // a re-send of something already safe: acknowledge again
    s.to_ack.push_back(id);
    return;
  }
  if (!s.active.insert(id).second) return;  // still in progress; acknowledged when done
  auto it = instances_.find(item.dest());
  Hold* h = NewHold(item.epoch());
  h->origins.push_back(Origin{&s, s.incarnation, id, nullptr});
  Task t{std::move(item), h, Clock::now()};
  if (it == instances_.end()) {
    CountWorkerDrop("not-hosted:" + t.item.dest());  // routed here by a stale table: counted, not lost silently
    Unref(h);
    return;
  }
  Deliver(*it->second, std::move(t));
}

void Worker::Impl::FlushConn(Conn& c) {
  while (!c.wbuf.empty()) {
    ssize_t n = write(c.fd, c.wbuf.data(), c.wbuf.size());
    if (n > 0) {
      c.wbuf.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      SetEvents(c.fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
      return;
    }
    CloseConn(c.fd);
    return;
  }
  SetEvents(c.fd, EPOLLIN | EPOLLRDHUP);
}

// ---- outbound -------------------------------------------------------------------------------------

void Worker::Impl::Connect(Link& l) {
  auto sa = ParseAddress(l.address);
  if (!sa.ok()) return;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int r = connect(fd, reinterpret_cast<sockaddr*>(&*sa), sizeof(*sa));
  if (r != 0 && errno != EINPROGRESS) {
    close(fd);
    l.fd = -1;
    LinkBroken(l, std::strerror(errno));
    return;
  }
  l.fd = fd;
  l.decoder = FrameDecoder();
  l.connecting = true;
  l.ready = false;
  Link* lp = &l;
  Watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, [this, lp](uint32_t ev) { OnLink(*lp, ev); });
}

void Worker::Impl::LinkBroken(Link& l, const std::string&) {
  if (l.fd >= 0) {
    Unwatch(l.fd);
    close(l.fd);
  }
  l.fd = -1;
  l.connecting = l.ready = false;
  l.m.connected = false;
  l.wbuf.clear();
  l.inflight = 0;
  l.pending.clear();
  if (!l.retry_scheduled && !l.outs.empty()) {
    l.retry_scheduled = true;
    Link* lp = &l;
    After(Clock::now() + std::chrono::microseconds(static_cast<int64_t>(l.backoff_s * 1e6)), [this, lp] {
      lp->retry_scheduled = false;
      if (lp->fd < 0 && !lp->outs.empty()) Connect(*lp);
    });
    l.backoff_s = std::min(1.0, l.backoff_s * 2);
  }
}

void Worker::Impl::OnLink(Link& l, uint32_t events) {
  if (l.connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(l.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      LinkBroken(l, std::strerror(err));
      return;
    }
    if (!(events & EPOLLOUT)) return;
    l.connecting = false;
    wire::Frame hello;
    hello.mutable_hello()->set_stream(cfg_.workflow + "/" + cfg_.name + "->" + l.worker);
    hello.mutable_hello()->set_incarnation(incarnation_);
    (void)EncodeFrame(hello, &l.wbuf);
    FlushLink(l);
    return;
  }
  if (events & EPOLLOUT) FlushLink(l);
  if (l.fd < 0) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    char buf[16384];
    while (l.fd >= 0) {
      ssize_t n = read(l.fd, buf, sizeof(buf));
      if (n > 0) {
        l.decoder.Feed(buf, static_cast<size_t>(n));
        while (true) {
          auto f = l.decoder.Next();
          if (!f.ok()) {
            LinkBroken(l, "bad frame from receiver");
            return;
          }
          if (!f->has_value()) break;
          const wire::Frame& fr = **f;
          if (fr.has_credit()) {
            l.window = fr.credit().window();
            if (!l.ready) {
              // (Re)connected: everything unacknowledged goes again, in id order.
              l.ready = true;
              l.m.connected = true;
              l.backoff_s = 0.02;
              l.pending.clear();
              l.inflight = 0;
              for (auto& [id, out] : l.outs) {
                if (out.sent) ++l.m.resent;
                l.pending.push_back(id);
              }
            }
          } else if (fr.has_ack()) {
            for (uint64_t id : fr.ack().ids()) {
              auto it = l.outs.find(id);
              if (it == l.outs.end()) continue;
              if (it->second.sent && l.inflight > 0) --l.inflight;
              Hold* h = it->second.hold;
              l.outs.erase(it);
              Unref(h);
            }
          }
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      LinkBroken(l, n == 0 ? "closed by receiver" : std::strerror(errno));
      return;
    }
  }
}

void Worker::Impl::PumpLink(Link& l) {
  if (l.fd < 0) {
    if (!l.outs.empty() && !l.retry_scheduled) Connect(l);
    return;
  }
  if (!l.ready) return;
  while (l.inflight < l.window && !l.pending.empty()) {
    uint64_t id = l.pending.front();
    l.pending.pop_front();
    auto it = l.outs.find(id);
    if (it == l.outs.end()) continue;
    l.wbuf += it->second.frame;
    l.m.wire_bytes += static_cast<int64_t>(it->second.frame.size());
    it->second.sent = true;
    ++l.inflight;
  }
  FlushLink(l);
}

void Worker::Impl::FlushLink(Link& l) {
  while (l.fd >= 0 && !l.wbuf.empty()) {
    ssize_t n = write(l.fd, l.wbuf.data(), l.wbuf.size());
    if (n > 0) {
      l.wbuf.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      SetEvents(l.fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
      return;
    }
    LinkBroken(l, std::strerror(errno));
    return;
  }
  if (l.fd >= 0 && !l.connecting) SetEvents(l.fd, EPOLLIN | EPOLLRDHUP);
}

// ---- processing -----------------------------------------------------------------------------------

void Worker::Impl::Unref(Hold* h) {
  if (--h->refs > 0) return;
  for (const auto& o : h->origins) {
    if (o.parent != nullptr) {
      Unref(o.parent);
    } else if (o.stream != nullptr && o.stream->incarnation == o.incarnation) {
      o.stream->active.erase(o.id);
      o.stream->done.Add(o.id);
      o.stream->to_ack.push_back(o.id);
    }
  }
  if (!h->source.empty()) {
    if (auto it = instances_.find(h->source); it != instances_.end()) ++it->second->m.acked;
  }
  if (auto e = holds_by_epoch_.find(h->epoch); e != holds_by_epoch_.end() && --e->second <= 0) holds_by_epoch_.erase(e);
  if (h->prev != nullptr) h->prev->next = h->next;
  else live_holds_ = h->next;
  if (h->next != nullptr) h->next->prev = h->prev;
  delete h;
  --holds_;
}

void Worker::Impl::Drop(Instance& inst, Task& t, const std::string& reason) {
  ++inst.m.dropped[reason];
  Unref(t.hold);
  t.hold = nullptr;
}

void Worker::Impl::Deliver(Instance& inst, Task t) {
  if (inst.cfg.kind == "sink") {
    ++inst.m.items_in;
    auto& seen = inst.delivered[t.item.source()];
    if (seen.Contains(t.item.seq())) {
      ++inst.m.duplicates;
    } else {
      seen.Add(t.item.seq());
      ++inst.m.items_out;
      if (record_) record_->Add(t.item.source(), t.item.seq(), t.item.trace_ns_size() > 0 ? t.item.trace_ns(0) : 0);
      if (t.item.trace_ns_size() > 0) {
        int64_t emitted = t.item.trace_ns(0);
        inst.lat.Add(static_cast<double>(RealtimeNs() - emitted) / 1e6);
        ++inst.by_emit[emitted / kBucketNs];
        if (inst.first_emit_ns == 0 || emitted < inst.first_emit_ns) inst.first_emit_ns = emitted;
      }
    }
    Unref(t.hold);
    return;
  }
  if (inst.cfg.kind != "operator") {
    Drop(inst, t, "not-an-operator");
    return;
  }
  if (inst.inputs.size() <= 1) {
    Enqueue(inst, std::move(t));
    return;
  }
  // Join: wait for one part from every input.
  uint64_t seq = t.item.seq();
  if (auto j = inst.joined.find(seq); j != inst.joined.end()) {  // completed, outputs not yet safe
    ++inst.m.duplicates;
    // Fold the repeat into the pending hold: it is acknowledged with it.
    Hold* keep = j->second;
    for (auto& o : t.hold->origins) keep->origins.push_back(o);
    t.hold->origins.clear();
    Unref(t.hold);
    return;
  }
  if (auto done = inst.joined_done.find(seq); done != inst.joined_done.end()) {
    if (done->second) {  // a late part of a join that timed out: dropped like its other parts
      Drop(inst, t, "join-timeout");
      return;
    }
    ++inst.m.duplicates;  // completed and safe: a repeat; acknowledge directly
    Unref(t.hold);
    return;
  }
  auto& p = inst.joins[seq];
  if (p.parts.empty()) p.first = Clock::now();
  const std::string producer = t.item.op();
  if (auto have = p.parts.find(producer); have != p.parts.end()) {
    ++inst.m.duplicates;
    for (auto& o : t.hold->origins) have->second.hold->origins.push_back(o);
    t.hold->origins.clear();
    Unref(t.hold);
    return;
  }
  p.parts.emplace(producer, std::move(t));
  if (p.parts.size() < inst.inputs.size()) return;
  // Complete: one item whose hold releases every part's hold.
  Task joined;
  joined.enqueued = Clock::now();
  joined.hold = NewHold(p.parts.begin()->second.item.epoch());
  std::vector<std::string> sources;
  for (const auto& in : inst.inputs) {
    auto part = p.parts.find(in);
    if (part == p.parts.end()) continue;
    Task& pt = part->second;
    if (joined.item.trace_ns_size() == 0) joined.item = pt.item;  // key, seq, first trace
    else {
      joined.item.mutable_payload()->append(pt.item.payload());
      if (pt.item.trace_ns_size() > 0 && pt.item.trace_ns(0) < joined.item.trace_ns(0)) joined.item.set_trace_ns(0, pt.item.trace_ns(0));
    }
    sources.push_back(pt.item.source());
    joined.hold->origins.push_back(Origin{nullptr, 0, 0, pt.hold});
  }
  std::sort(sources.begin(), sources.end());
  std::string src;
  for (const auto& s : sources) src += (src.empty() ? "" : "+") + s;
  joined.item.set_source(src);
  inst.joins.erase(seq);
  inst.joined[seq] = joined.hold;
  ++joined.hold->refs;  // the `joined` map's reference, dropped with the entry below
  inst.joined_order.push_back(seq);
  Enqueue(inst, std::move(joined));
}

void Worker::Impl::Enqueue(Instance& inst, Task t) {
  if (inst.cfg.runtime.type == "exec") {
    inst.queue.push_back(std::move(t));
    PumpExec(inst);
    return;
  }
  ready_.emplace_back(&inst, std::move(t));
}

bool Worker::Impl::Blocked(const Instance& inst) const {
  auto it = producer_links_.find(inst.cfg.name);
  if (it == producer_links_.end()) return false;
  for (const Link* l : it->second)
    if (l->pending.size() + (l->ready ? 0 : l->outs.size()) >= static_cast<size_t>(cfg_.window)) return true;
  return false;
}

void Worker::Impl::StartWork() {
  auto now = Clock::now();
  for (size_t s = 0; s < slot_busy_.size() && !ready_.empty(); ++s) {
    if (slot_busy_[s]) continue;
    auto pick = ready_.end();
    for (auto it = ready_.begin(); it != ready_.end(); ++it)
      if (!Blocked(*it->first)) {
        pick = it;
        break;
      }
    if (pick == ready_.end()) return;
    Instance* inst = pick->first;
    Task t = std::move(pick->second);
    ready_.erase(pick);
    ++inst->m.items_in;
    double ms = inst->cfg.runtime.latency_ms;
    if (ms <= 0) {
      Complete(*inst, std::move(t), std::string(static_cast<size_t>(std::llround(inst->cfg.runtime.output_kib * 1024)), 'e'), 0);
      --s;  // the slot is free again
      continue;
    }
    // Virtual time: a backlogged slot starts the next item exactly when the previous one ended,
    // so timer lateness does not accumulate (up to 2 ms of slack).
    auto start = std::max({now - std::chrono::milliseconds(2), t.enqueued, slot_free_[s]});
    auto end = start + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
    slot_busy_[s] = true;
    slot_free_[s] = end;
    auto shared = std::make_shared<Task>(std::move(t));
    After(end, [this, inst, shared, s, ms] {
      slot_busy_[s] = false;
      Complete(*inst, std::move(*shared), std::string(static_cast<size_t>(std::llround(inst->cfg.runtime.output_kib * 1024)), 'e'), ms);
    });
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
  uint64_t seq = t.item.seq();
  Unref(t.hold);
  if (auto j = inst.joined.find(seq); j != inst.joined.end()) {
    // Remember it as done once its outputs are safe; keep a bounded memory of completed joins.
    Hold* h = j->second;
    inst.joined.erase(j);
    Unref(h);
    inst.joined_done[seq] = false;
    while (inst.joined_order.size() > 65536) {
      inst.joined_done.erase(inst.joined_order.front());
      inst.joined_order.pop_front();
    }
  }
}

void Worker::Impl::Emit(const std::string& producer, const wire::Item& base, Hold* hold) {
  auto cons = consumers_.find(producer);
  if (cons == consumers_.end()) return;
  // Items keep the epoch they were first routed with, so every part of a request (and every hop of
  // a join) follows one routing table while an old epoch drains; new items take the current one.
  uint64_t epoch = base.epoch() != 0 ? base.epoch() : static_cast<uint64_t>(cfg_.epoch);
  if (&TableFor(epoch) == &routes_) epoch = static_cast<uint64_t>(cfg_.epoch);
  for (const auto& c : cons->second) {
    if (!Passes(base.seq(), ratio_[{producer, c}])) continue;
    std::string dropped = RouteOne(c, base, hold, epoch);
    if (!dropped.empty())
      if (auto p = instances_.find(producer); p != instances_.end()) ++p->second->m.dropped[dropped];
  }
}

std::string Worker::Impl::RouteOne(const std::string& c, wire::Item item, Hold* hold, uint64_t epoch) {
  const auto& table = TableFor(epoch);
  auto rs = table.find(c);
  const WorkerRoute* route = nullptr;
  if (rs != table.end()) {
    for (const auto& r : rs->second)
      if (item.key() >= r.lo && item.key() < r.hi) route = &r;
    if (route == nullptr && !rs->second.empty()) route = &rs->second.back();  // key 1.0 edge
  }
  item.set_dest(c);
  item.set_epoch(epoch);
  if (route == nullptr || route->worker == cfg_.name) {
    auto local = instances_.find(c);
    if (local == instances_.end()) return "no-route:" + c;
    Hold* child = NewHold(epoch);
    child->origins.push_back(Origin{nullptr, 0, 0, hold});
    ++hold->refs;
    Deliver(*local->second, Task{std::move(item), child, Clock::now()});
    return "";
  }
  Link* l = LinkFor(route->worker);
  uint64_t id = l->next_id++;
  item.set_id(id);
  wire::Frame f;
  *f.mutable_item() = std::move(item);
  Out out;
  if (!EncodeFrame(f, &out.frame).ok()) return "oversize";
  out.hold = hold;
  ++hold->refs;
  ++l->m.items;
  l->m.payload_bytes += static_cast<int64_t>(f.item().payload().size());
  l->outs.emplace(id, std::move(out));
  if (l->ready) l->pending.push_back(id);
  return "";
}

void Worker::Impl::RerouteRetiredLinks() {
  std::set<std::string> named;
  for (const auto& r : cfg_.routes) named.insert(r.worker);
  for (const auto& r : cfg_.drain_routes) named.insert(r.worker);
  for (auto& [name, l] : links_) {
    if (named.count(name) != 0 || l->outs.empty()) continue;
    // Keep the Link object (timers may point at it); it just has nothing left to send.
    std::map<uint64_t, Out> outs;
    outs.swap(l->outs);
    LinkBroken(*l, "no longer routed");
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
      Unref(out.hold);  // the retired link's reference
    }
  }
}

void Worker::Impl::ExpireJoins() {
  auto cutoff = Clock::now() - std::chrono::milliseconds(static_cast<int64_t>(cfg_.join_timeout_s * 1000));
  for (auto& [name, inst] : instances_) {
    for (auto it = inst->joins.begin(); it != inst->joins.end();) {
      if (it->second.first > cutoff) {
        ++it;
        continue;
      }
      // Parts that never completed: counted, then acknowledged (dropped with a reason).
      for (auto& [producer, part] : it->second.parts) Drop(*inst, part, "join-timeout");
      inst->joined_done[it->first] = true;
      inst->joined_order.push_back(it->first);
      it = inst->joins.erase(it);
    }
  }
}

Status Worker::Impl::OpenDurableState() {
  bool has_source = false;
  Instance* sink = nullptr;
  for (auto& [name, inst] : instances_) {
    if (inst->cfg.kind == "source") has_source = true;
    if (inst->cfg.kind == "sink") sink = inst.get();
  }
  if (has_source && !cfg_.metrics_file.empty()) {
    auto r = SeqReservation::Open(StatePath(cfg_.metrics_file, ".seq"));
    if (!r.ok()) return r.status();
    seqs_ = std::move(*r);
  }
  for (auto& [name, inst] : instances_)
    if (inst->cfg.kind == "source") {
      inst->first_seq = inst->next_seq = seqs_.first();
      inst->m.first_seq = static_cast<int64_t>(seqs_.first());
    }
  if (sink != nullptr && !cfg_.metrics_file.empty()) {
    int64_t skipped = 0;
    auto r = DeliveryRecord::Open(
        StatePath(cfg_.metrics_file, ".delivered"), kRecordBytes,
        [sink](const DeliveryRecord::Entry& e) { sink->delivered[e.source].Add(e.seq); }, &skipped);
    if (!r.ok()) return r.status();
    record_ = std::move(*r);
    if (skipped > 0)
      std::fprintf(stderr, "worker %s: skipped %lld malformed line(s) of the delivery record %s\n", cfg_.name.c_str(),
                   static_cast<long long>(skipped), StatePath(cfg_.metrics_file, ".delivered").c_str());
  }
  return Status::Ok();
}

bool Worker::Impl::ReserveSeq(uint64_t seq) {
  // Reserve about 10 s of the worker's requests at a time (at least 256): at most that many
  // numbers are skipped by a restart. The next block is written on another thread once half of
  // the current one is used, so the fsync does not stall the loop; the loop waits for it only if
  // it reaches the limit first (a disk slower than 5 s per write), and never uses an unwritten number.
  double rate = 0;
  for (const auto& [name, inst] : instances_)
    if (inst->cfg.kind == "source") rate += inst->cfg.rate;
  auto block = static_cast<uint64_t>(std::clamp(10 * rate, 256.0, 1e7));
  auto settle = [this](bool wait) {
    if (!next_reservation_.valid()) return;
    if (!wait && next_reservation_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    Status s = next_reservation_.get();
    if (s.ok()) {
      seqs_.Adopt(next_limit_);
      reserve_failing_ = false;
    } else {
      if (!reserve_failing_) std::fprintf(stderr, "worker %s: sources paused: %s\n", cfg_.name.c_str(), s.message().c_str());
      reserve_failing_ = true;
    }
  };
  settle(!seqs_.Covers(seq));
  if (!seqs_.Covers(seq)) {  // the first block, or the background write failed: write it here
    if (auto s = seqs_.Reserve(seq + block); !s.ok()) {
      if (!reserve_failing_) std::fprintf(stderr, "worker %s: sources paused: %s\n", cfg_.name.c_str(), s.message().c_str());
      reserve_failing_ = true;
      return false;
    }
    reserve_failing_ = false;
    return true;
  }
  if (!next_reservation_.valid() && seq + block / 2 >= seqs_.limit()) {
    next_limit_ = seqs_.limit() + block;
    next_reservation_ = std::async(std::launch::async, [path = seqs_.path(), limit = next_limit_] { return SeqReservation::Write(path, limit); });
  }
  return true;
}

bool Worker::Impl::FlushRecord() {
  if (!record_ || record_->empty()) return true;
  if (auto s = record_->Flush(); !s.ok()) {
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
  if (gen != inst.tick_gen) return;
  const auto& c = inst.cfg;
  auto now = Clock::now();
  // Emit everything due by now (the schedule is absolute, so the rate does not drift), unless the
  // links are backed up: then the source waits (back-pressure reaches the generator).
  int burst = 0;
  while (true) {
    uint64_t emitted = inst.next_seq - inst.first_seq;
    if (c.limit > 0 && emitted >= static_cast<uint64_t>(c.limit)) return;
    auto due = inst.start + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(emitted) * 1e9 / c.rate));
    if (due > now) {
      Instance* p = &inst;
      After(due, [this, p, gen] { SourceTick(*p, gen); });
      return;
    }
    if (Blocked(inst) || ++burst > 1024) {
      Instance* p = &inst;
      After(now + std::chrono::milliseconds(1), [this, p, gen] { SourceTick(*p, gen); });
      return;
    }
    if (!ReserveSeq(inst.next_seq)) {  // retried; nothing is emitted with a number not on disk
      Instance* p = &inst;
      After(now + std::chrono::seconds(1), [this, p, gen] { SourceTick(*p, gen); });
      return;
    }
    uint64_t seq = inst.next_seq++;
    wire::Item item;
    if (cfg_.drain_epoch > 0 && seq < epoch_switch_seq_) item.set_epoch(static_cast<uint64_t>(cfg_.drain_epoch));
    item.set_key(KeyOf(seq));
    item.set_source(c.name);
    item.set_seq(seq);
    item.set_op(c.name);
    if (!inst.files.empty()) {
      std::ifstream f(inst.files[(seq - 1) % inst.files.size()], std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      item.set_payload(ss.str());
    } else {
      item.set_payload(inst.synthetic);
    }
    item.add_trace_ns(RealtimeNs());
    ++inst.m.items_out;
    Hold* h = NewHold(item.epoch() != 0 ? item.epoch() : static_cast<uint64_t>(cfg_.epoch));
    h->source = c.name;
    Emit(c.name, item, h);
    Unref(h);
  }
}

// ---- exec runtime ---------------------------------------------------------------------------------
// Protocol with the model process: for each item the worker writes a 4-byte little-endian length
// and the payload to its stdin; the process answers with a length and the output payload on stdout,
// one answer per request, in order. stderr goes to the worker's log.

Status Worker::Impl::StartExec(Instance& inst) {
  if (!inst.exec) inst.exec = std::make_unique<ExecProc>();
  ExecProc& e = *inst.exec;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> envs;
  for (char** p = environ; *p != nullptr; ++p) envs.emplace_back(*p);
  for (const auto& [k, v] : inst.cfg.runtime.env) envs.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const auto& a : inst.cfg.runtime.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    return Status::Unavailable("exec runtime of " + inst.cfg.name + ": cannot start " + inst.cfg.runtime.command[0] + ": " + std::strerror(rc));
  }
  e.pid = pid;
  e.in = in[1];
  e.out = out[0];
  e.wbuf.clear();
  e.rbuf.clear();
  SetNonBlocking(e.in);
  SetNonBlocking(e.out);
  Instance* ip = &inst;
  Watch(e.out, EPOLLIN | EPOLLRDHUP, [this, ip](uint32_t ev) { OnExec(*ip, ev); });
  Watch(e.in, EPOLLERR, [this, ip](uint32_t ev) { OnExec(*ip, ev | EPOLLOUT); });
  return Status::Ok();
}

void Worker::Impl::ExecFailed(Instance& inst, const std::string& why) {
  ExecProc& e = *inst.exec;
  if (e.pid > 0) {
    kill(e.pid, SIGKILL);
    waitpid(e.pid, nullptr, 0);
    Unwatch(e.in);
    Unwatch(e.out);
    close(e.in);
    close(e.out);
    e.pid = -1;
  }
  ++e.failures;
  if (e.current) {
    if (e.failures >= 3) {
      Drop(inst, *e.current, "exec-failed: " + why);
      e.current.reset();
      e.failures = 0;
    } else {
      inst.queue.push_front(std::move(*e.current));  // retried on the restarted process
      e.current.reset();
    }
  }
  if (!e.restart_scheduled) {
    e.restart_scheduled = true;
    Instance* ip = &inst;
    After(Clock::now() + std::chrono::milliseconds(100 * std::min(e.failures, 10)), [this, ip] {
      ip->exec->restart_scheduled = false;
      if (ip->exec->pid < 0 && StartExec(*ip).ok()) PumpExec(*ip);
    });
  }
}

void Worker::Impl::OnExec(Instance& inst, uint32_t events) {
  ExecProc& e = *inst.exec;
  if (e.pid < 0) return;
  if (events & EPOLLOUT) PumpExec(inst);
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  char buf[65536];
  while (e.pid > 0) {
    ssize_t n = read(e.out, buf, sizeof(buf));
    if (n > 0) {
      e.rbuf.append(buf, static_cast<size_t>(n));
      if (e.rbuf.size() > kMaxFrameBytes + 4) {
        ExecFailed(inst, "answer exceeds the frame limit");
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    ExecFailed(inst, "model process exited");
    return;
  }
}

std::optional<std::string> Worker::Impl::ExecTake(ExecProc& e) {
  if (e.rbuf.size() < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(e.rbuf.data());
  uint32_t n = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
               (static_cast<uint32_t>(p[3]) << 24);
  if (e.rbuf.size() - 4 < n) return std::nullopt;
  std::string out = e.rbuf.substr(4, n);
  e.rbuf.erase(0, 4 + static_cast<size_t>(n));
  return out;
}

void Worker::Impl::PumpExec(Instance& inst) {
  ExecProc& e = *inst.exec;
  if (e.pid < 0) return;
  if (!e.current && !inst.queue.empty() && !Blocked(inst)) {
    e.current = std::move(inst.queue.front());
    inst.queue.pop_front();
    ++inst.m.items_in;
    e.started = Clock::now();
    const std::string& p = e.current->item.payload();
    auto n = static_cast<uint32_t>(p.size());
    char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff), static_cast<char>((n >> 16) & 0xff),
                   static_cast<char>((n >> 24) & 0xff)};
    e.wbuf.append(len, 4);
    e.wbuf += p;
  }
  while (!e.wbuf.empty()) {
    ssize_t n = write(e.in, e.wbuf.data(), e.wbuf.size());
    if (n > 0) {
      e.wbuf.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      SetEvents(e.in, EPOLLOUT | EPOLLERR);
      return;
    }
    ExecFailed(inst, std::string("write to model process: ") + std::strerror(errno));
    return;
  }
  SetEvents(e.in, EPOLLERR);
}

// ---- loop -----------------------------------------------------------------------------------------

// The sink's throughput counts deliveries by when their request was emitted: items emitted in a
// 5 s window that ended D ago, D = twice the p99 latency (2..30 s). Sources emit on an exact
// schedule, so a pipeline that keeps up shows the offered rate; one that falls behind delivers
// late or never and shows less. Deliveries counted by arrival time would mix in latency jitter.
void Worker::Impl::SinkRate(Instance& inst) {
  constexpr int64_t kWindowNs = 5'000'000'000;
  int64_t now = RealtimeNs();
  int64_t delay = std::clamp<int64_t>(static_cast<int64_t>(2e6 * inst.m.p99_ms), 2'000'000'000, 30'000'000'000);
  int64_t hi = (now - delay) / kBucketNs, lo = hi - kWindowNs / kBucketNs;
  int64_t n = 0;
  for (auto it = inst.by_emit.lower_bound(lo); it != inst.by_emit.end() && it->first < hi; ++it) n += it->second;
  inst.m.rate = static_cast<double>(n) / (static_cast<double>(kWindowNs) / 1e9);
  inst.m.rate_complete = inst.first_emit_ns != 0 && inst.first_emit_ns / kBucketNs <= lo;
  while (!inst.by_emit.empty() && inst.by_emit.begin()->first < lo - 600) inst.by_emit.erase(inst.by_emit.begin());
}

void Worker::Impl::WriteMetrics() {
  auto now = Clock::now();
  WorkerMetrics m;
  m.workflow = cfg_.workflow;
  m.worker = cfg_.name;
  m.tier = cfg_.tier;
  m.pid = getpid();
  m.epoch = cfg_.epoch;
  m.port = port_;
  m.uptime_s = duration<double>(now - started_).count();
  m.time = Rfc3339Now();
  m.held_items = holds_;
  for (const auto& [epoch, n] : holds_by_epoch_) m.held_by_epoch[std::to_string(epoch)] = n;
  int64_t in_streams = std::max<int64_t>(1, static_cast<int64_t>(streams_.size()));
  m.max_held_items = cfg_.window * (in_streams + static_cast<int64_t>(links_.size()) + 1) * 2;
  for (auto& [name, inst] : instances_) {
    auto& im = inst->m;
    if (inst->cfg.kind == "operator" && inst->cfg.runtime.type == "emulated") m.emulated = true;
    im.queue = static_cast<int64_t>(inst->queue.size());
    for (const auto& r : ready_)
      if (r.first == inst.get()) ++im.queue;
    for (const auto& [seq, p] : inst->joins) im.queue += static_cast<int64_t>(p.parts.size());
    im.p50_ms = inst->lat.Quantile(0.5);
    im.p99_ms = inst->lat.Quantile(0.99);
    if (inst->cfg.kind == "sink") {
      SinkRate(*inst);
      m.instances.push_back(im);
      continue;
    }
    inst->history.emplace_back(now, im.items_out);
    while (inst->history.size() > 2 && now - inst->history.front().first > std::chrono::seconds(5)) inst->history.pop_front();
    double dt = duration<double>(now - inst->history.front().first).count();
    im.rate = dt > 0 ? static_cast<double>(im.items_out - inst->history.front().second) / dt : 0;
    m.instances.push_back(im);
  }
  for (auto& [name, l] : links_) {
    l->m.inflight = static_cast<int64_t>(l->inflight);
    l->m.pending = static_cast<int64_t>(l->outs.size()) - static_cast<int64_t>(l->inflight);
    l->history.emplace_back(now, l->m.payload_bytes);
    while (l->history.size() > 2 && now - l->history.front().first > std::chrono::seconds(5)) l->history.pop_front();
    double ldt = duration<double>(now - l->history.front().first).count();
    l->m.payload_kibps = ldt > 0 ? static_cast<double>(l->m.payload_bytes - l->history.front().second) / 1024.0 / ldt : 0;
    m.links.push_back(l->m);
  }
  if (!cfg_.metrics_file.empty()) {
    std::string tmp = cfg_.metrics_file + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << WorkerMetricsToJson(m) << "\n";
    }
    std::rename(tmp.c_str(), cfg_.metrics_file.c_str());
  }
  std::lock_guard<std::mutex> l(mu_);
  snapshot_ = std::move(m);
}

Status Worker::Impl::Loop() {
  epoll_event evs[64];
  while (!stop_) {
    // Apply a posted configuration.
    std::optional<WorkerConfig> next;
    {
      std::lock_guard<std::mutex> l(mu_);
      next.swap(next_cfg_);
    }
    if (next) {
      if (next->epoch != cfg_.epoch) {
        // Requests emitted from here on belong to the new epoch. A request's parts come from
        // several sources with the same seq, emitted at slightly different times; deciding the
        // epoch by seq (not by the moment) keeps every part of one request on one routing table.
        epoch_switch_seq_ = 0;
        for (const auto& [name, inst] : instances_)
          if (inst->cfg.kind == "source") epoch_switch_seq_ = std::max(epoch_switch_seq_, inst->next_seq);
      }
      cfg_.routes = next->routes;
      cfg_.epoch = next->epoch;
      cfg_.drain_epoch = next->drain_epoch;
      cfg_.drain_routes = next->drain_routes;
      cfg_.join_timeout_s = next->join_timeout_s;
      // Source rates and limits may change in place (the rest of the instances may not: the
      // driver restarts a worker whose instances change otherwise).
      for (const auto& in : next->instances) {
        auto it = instances_.find(in.name);
        if (it == instances_.end() || in.kind != "source" || it->second->cfg.kind != "source") continue;
        Instance& src = *it->second;
        if (src.cfg.rate == in.rate && src.cfg.limit == in.limit) continue;
        // Re-anchor the schedule so the next item is due now at the new rate.
        auto now = Clock::now();
        src.start = now - std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(src.next_seq - src.first_seq) * 1e9 / in.rate));
        src.cfg.rate = in.rate;
        src.cfg.limit = in.limit;
        Instance* p = &src;
        uint64_t gen = ++src.tick_gen;
        After(now, [this, p, gen] { SourceTick(*p, gen); });
      }
      ApplyRoutes();
      RerouteRetiredLinks();
    }
    // Arm the timer for the earliest deadline.
    itimerspec its{};
    if (!timers_.empty()) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timers_.top().at.time_since_epoch()).count();
      its.it_value.tv_sec = std::max<int64_t>(0, ns / 1000000000);
      its.it_value.tv_nsec = std::max<int64_t>(1, ns % 1000000000);
      timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
    }
    int n = epoll_wait(ep_, evs, 64, 100);
    for (int i = 0; i < n; ++i) {
      auto h = handlers_.find(evs[i].data.fd);
      if (h == handlers_.end()) continue;
      auto fn = h->second;  // the handler may unwatch its own fd
      fn(evs[i].events);
    }
    auto now = Clock::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      auto fn = timers_.top().fn;
      timers_.pop();
      fn();
    }
    // Exec answers.
    for (auto& [name, inst] : instances_) {
      if (!inst->exec || inst->exec->pid < 0) continue;
      ExecProc& e = *inst->exec;
      while (e.current) {
        // Peek a raw [len][payload] answer from the decoder's buffer.
        auto raw = ExecTake(e);
        if (!raw) break;
        double ms = duration<double, std::milli>(Clock::now() - e.started).count();
        Task t = std::move(*e.current);
        e.current.reset();
        e.failures = 0;
        Complete(*inst, std::move(t), std::move(*raw), ms);
        PumpExec(*inst);
      }
      if (!e.current) PumpExec(*inst);
    }
    StartWork();
    for (auto& [name, l] : links_) PumpLink(*l);
    // A request is acknowledged only once the sink's record of it is written.
    bool may_ack = FlushRecord();
    for (auto& [name, s] : streams_) {
      if (!may_ack || s->to_ack.empty() || s->conn < 0) continue;
      auto c = conns_.find(s->conn);
      if (c == conns_.end()) continue;
      wire::Frame ack;
      for (uint64_t id : s->to_ack) ack.mutable_ack()->add_ids(id);
      s->to_ack.clear();
      (void)EncodeFrame(ack, &c->second->wbuf);
      FlushConn(*c->second);
    }
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
