// jbctl get -w (cli/watch_command.cc): rows as events arrive on one streamed connection, resumed
// after a drop, a re-list after 410 Gone, and every change in order across a real daemon restart.
#include <gtest/gtest.h>

#include <sstream>
#include <streambuf>
#include <thread>

#include "api/manifest.h"
#include "base/mutex.h"
#include "cli/commands.h"
#include "cli/remote.h"
#include "daemon/api_server.h"
#include "daemon/watch_cache.h"
#include "reconciler/memory_store.h"
#include "testing/daemon_fixture.h"
#include "testing/planner_instances.h"
#include "testing/util.h"

namespace jb::cli {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

// An ostream target the watching thread writes while the test reads it.
class LockedBuf : public std::streambuf {
 public:
  std::string str() {
    MutexLock l(&mu_);
    return text_;
  }
  // The event column of the rows written so far (the header skipped).
  std::vector<std::string> Events() {
    std::vector<std::string> ev;
    std::istringstream lines(str());
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string type, name;
      words >> type >> name;
      if (type != "EVENT") ev.push_back(type + " " + name);
    }
    return ev;
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return 0;
    MutexLock l(&mu_);
    text_ += static_cast<char>(c);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    MutexLock l(&mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  Mutex mu_;
  std::string text_ GUARDED_BY(mu_);
};

Infrastructure Infra(const std::string& name, double price) {
  Infrastructure in = testing::LoadInstance("manifests/vqa").inf;
  in.metadata.name = name;
  in.spec.nodes[0].price_per_hour = price;
  return in;
}

// An API server with a watch cache (short bookmarks and history) on port 0 that can be restarted
// on a new port, as a daemon would be.
class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.SetWatchCache(&cache_, 0.2);
    Start();
  }
  void Start() {
    auto s = StartHttpServer(HttpServerOptions{}, [this](const HttpRequest& r) { return api_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().message();
    MutexLock l(&mu_);
    server_ = std::move(*s);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void Stop() {
    MutexLock l(&mu_);
    server_->Stop();
    url_ = "http://127.0.0.1:1";  // nothing listens: the watch keeps trying until Start()
  }
  Connector Connect() {
    return [this]() -> StatusOr<Remote> {
      Remote r;
      MutexLock l(&mu_);
      r.http.server = url_;
      r.http.token = kToken;
      r.http.timeout_s = 5;
      return r;
    };
  }
  void Put(const Object& o) { ASSERT_TRUE(store_.Put(o).ok()); }

  MemoryStore store_;
  WatchCache cache_{&store_, WatchCacheOptions{4, 8}};
  ApiServer api_{&store_, nullptr, kToken};
  Mutex mu_;
  std::unique_ptr<HttpServer> server_ GUARDED_BY(mu_);
  std::string url_ GUARDED_BY(mu_);
};

// Was: -w polled the watch in 2-second windows; now rows come from one connection as events arrive.
TEST_F(WatchTest, RowsArriveAsEventsOnOneConnection) {
  Put(Infra("a", 1));
  LockedBuf buf;
  std::ostream out(&buf);
  std::ostringstream err;
  WatchOptions o;
  o.kind = "infra";
  o.watch_events = true;
  o.max_events = 3;
  o.give_up_s = 20;
  int rc = -1;
  std::thread watcher([&] { rc = Watch(Connect(), o, out, err); });
  ASSERT_TRUE(testing::WaitFor([&] { return buf.Events().size() == 1; }, std::chrono::seconds(10))) << buf.str();
  EXPECT_EQ(cache_.watchers(), 1);
  Put(Infra("b", 1));
  // Printed before the next change: the row came as the event arrived, not at a window's end.
  ASSERT_TRUE(testing::WaitFor([&] { return buf.Events().size() == 2; }, std::chrono::seconds(10))) << buf.str();
  Put(Infra("a", 2));
  watcher.join();
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_EQ(buf.Events(), (std::vector<std::string>{"ADDED a", "ADDED b", "MODIFIED a"}));
  EXPECT_EQ(buf.str().rfind("EVENT", 0), 0u) << buf.str();
  EXPECT_NE(buf.str().find("TIERS"), std::string::npos) << "the kind's own columns";
  EXPECT_TRUE(testing::WaitFor([&] { return cache_.watchers() == 0; }, std::chrono::seconds(10)))
      << "the connection is closed when the command returns";
}

// The connection drops, the server's history moves on past the client's version (410 Gone on
// resuming): the client lists again and prints only what changed meanwhile.
TEST_F(WatchTest, RelistsAfterGoneAndPrintsOnlyTheDifference) {
  Put(Infra("a", 1));
  Put(Infra("b", 1));
  LockedBuf buf;
  std::ostream out(&buf);
  std::ostringstream err;
  WatchOptions o;
  o.kind = "infrastructures";
  o.watch_events = true;
  o.max_events = 5;
  o.give_up_s = 20;
  int rc = -1;
  std::thread watcher([&] { rc = Watch(Connect(), o, out, err); });
  ASSERT_TRUE(testing::WaitFor([&] { return buf.Events().size() == 2; }, std::chrono::seconds(10))) << buf.str();
  Stop();
  ASSERT_TRUE(store_.Delete("Infrastructure", "b").ok());
  for (double price = 2; price <= 6; ++price) Put(Infra("a", price));  // past the history of 4
  Put(Infra("c", 1));
  Start();
  watcher.join();
  EXPECT_EQ(rc, 0) << err.str();
  auto ev = buf.Events();
  ASSERT_EQ(ev.size(), 5u) << buf.str();
  EXPECT_EQ(std::vector<std::string>(ev.begin(), ev.begin() + 2), (std::vector<std::string>{"ADDED a", "ADDED b"}));
  // The re-list: a changed, c is new (in list order), then b's deletion at the list's end.
  EXPECT_EQ(std::vector<std::string>(ev.begin() + 2, ev.end()),
            (std::vector<std::string>{"MODIFIED a", "ADDED c", "DELETED b"}));
}

TEST_F(WatchTest, RefusedWatchesAndFormats) {
  std::ostringstream out, err;
  WatchOptions o;
  o.kind = "pipelines";
  EXPECT_EQ(Watch(Connect(), o, out, err), 1);
  EXPECT_NE(err.str().find("unknown kind"), std::string::npos);
  o.kind = "wf";
  o.output = "jsonpath={.x}";
  EXPECT_EQ(Watch(Connect(), o, out, err), 1);
  o.output = "";
  o.selector = "tier in (edge";
  EXPECT_EQ(Watch(Connect(), o, out, err), 1) << "the server's 400 ends the command";
  EXPECT_NE(err.str().find("unbalanced"), std::string::npos) << err.str();
  // Through the command line: the flags reach the watch.
  std::istringstream in;
  std::ostringstream o2, e2;
  std::string url;
  {
    MutexLock l(&mu_);
    url = url_;
  }
  EXPECT_EQ(RunJbctl({"get", "wf", "-w", "-l", "x notin (", "--server", url, "--token", kToken}, in, o2, e2), 1);
  EXPECT_NE(e2.str().find("unbalanced"), std::string::npos) << e2.str();
  EXPECT_EQ(RunJbctl({"get", "wf", "a", "b", "-w", "--server", url, "--token", kToken}, in, o2, e2), 1);
}

TEST_F(WatchTest, JsonAndNameOutputs) {
  Put(Infra("a", 1));
  std::ostringstream out, err;
  WatchOptions o;
  o.kind = "infrastructure";
  o.name = "a";
  o.output = "json";
  o.max_events = 1;
  o.give_up_s = 20;
  ASSERT_EQ(Watch(Connect(), o, out, err), 0) << err.str();
  EXPECT_EQ(out.str().rfind("{", 0), 0u) << out.str();
  EXPECT_NE(out.str().find("\"kind\": \"Infrastructure\""), std::string::npos) << out.str();
  std::ostringstream names, events;
  o.output = "name";
  ASSERT_EQ(Watch(Connect(), o, names, err), 0) << err.str();
  EXPECT_EQ(names.str(), "infrastructure/a\n");
  o.output = "json";
  o.watch_events = true;
  ASSERT_EQ(Watch(Connect(), o, events, err), 0) << err.str();
  EXPECT_NE(events.str().find("\"type\": \"ADDED\""), std::string::npos) << events.str();
}

// A client watching a real daemon through its state dir sees every change in order across a
// restart (on a new port: the endpoint file is read again), each once.
TEST(JbctlWatchDaemon, EveryChangeInOrderAcrossARestart) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  auto put = [](const HttpClientOptions& c, const Infrastructure& in, int want) {
    auto r = HttpCall(c, "PUT", testing::kApi + "infrastructures/" + in.metadata.name, ObjectToYaml(in));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->status, want) << r->body;
  };
  LockedBuf buf;
  std::ostream out(&buf);
  std::ostringstream err;
  WatchOptions o;
  o.kind = "infra";
  o.watch_events = true;
  o.max_events = 6;
  o.give_up_s = 60;
  ConnectionFlags flags;
  flags.state_dir = state.string();
  flags.config = (dir.path() / "no-config").string();
  int rc = -1;
  std::thread watcher;
  auto d1 = std::make_unique<testing::Daemon>(state);
  HttpClientOptions c;
  ASSERT_TRUE(d1->WaitReady(&c));
  put(c, Infra("a", 1), 201);
  watcher = std::thread([&] { rc = Watch([&] { return ConnectWith(flags); }, o, out, err); });
  bool listed = testing::WaitFor([&] { return buf.Events().size() == 1; }, std::chrono::seconds(20));
  if (listed) {
    put(c, Infra("b", 1), 201);
    put(c, Infra("a", 2), 200);
    listed = testing::WaitFor([&] { return buf.Events().size() == 3; }, std::chrono::seconds(20));
  }
  EXPECT_EQ(d1->Stop(), 0);
  d1.reset();
  testing::Daemon d2(state);
  ASSERT_TRUE(d2.WaitReady(&c)) << "the watch thread gives up 60 s after the daemon is gone";
  if (listed) {
    ASSERT_EQ(HttpCall(c, "DELETE", testing::kApi + "infrastructures/b")->status, 200);
    put(c, Infra("c", 1), 201);
    put(c, Infra("c", 3), 200);
  }
  bool all = testing::WaitFor([&] { return buf.Events().size() >= 6; }, std::chrono::seconds(30));
  if (!all) d2.Stop();  // ends the watch (it gives up) so that the thread can be joined
  watcher.join();
  ASSERT_TRUE(listed && all) << buf.str() << err.str();
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_EQ(buf.Events(),
            (std::vector<std::string>{"ADDED a", "ADDED b", "MODIFIED a", "DELETED b", "ADDED c", "MODIFIED c"}))
      << buf.str();
}

}  // namespace
}  // namespace jb::cli
