// The systemd watchdog fed by the reconciler's liveness (daemon/watchdog.h), with a FakeClock and
// a fake notifier; and the controller's side of it (Probe/Heartbeats) with real worker threads.
#include "daemon/watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "drivers/fake/fake_driver.h"
#include "reconciler/controller.h"
#include "reconciler/memory_store.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

struct Harness {
  FakeClock clock;
  std::vector<std::string> sent;
  bool listener_ok = true;
  bool workers_take_probes = true;  // false: every worker is stuck in a reconcile
  uint64_t beats = 0;
  std::unique_ptr<Watchdog> dog;

  explicit Harness(std::chrono::nanoseconds stall_after = 30s) {
    WatchdogHooks h;
    h.notify = [this](const std::string& s) { sent.push_back(s); };
    h.sample = [this] {
      HealthSample s;
      s.probe_ok = listener_ok;
      s.probe_error = listener_ok ? "" : "connection refused";
      s.fds_known = true;
      s.open_fds = 10;
      s.fd_limit = 1024;
      return s;
    };
    h.heartbeats = [this] { return beats; };
    h.probe = [this] {
      if (workers_take_probes) ++beats;
    };
    h.status = [] { return std::string("serving https://127.0.0.1:1: 0 workflow(s)"); };
    dog = std::make_unique<Watchdog>(h, 10s, stall_after, &clock);
  }
  bool Tick() {
    bool pinged = dog->Tick();
    clock.Advance(10s);
    return pinged;
  }
};

TEST(Watchdog, AnIdleDaemonStaysAliveOnTheProbeItems) {
  Harness h;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(h.Tick()) << "tick " << i;
  EXPECT_EQ(h.sent.back(), "WATCHDOG=1\nSTATUS=serving https://127.0.0.1:1: 0 workflow(s)");
}

TEST(Watchdog, AWedgedReconcilerStopsThePingsAndTheyResumeWithProgress) {
  Harness h(30s);
  ASSERT_TRUE(h.Tick());
  h.workers_take_probes = false;  // from now on no worker takes anything
  // The first tick's probe was taken, seen at +10 s: the last progress. Pings go on while the
  // silence is at most 30 s (+20, +30, +40 s) and stop at +50 s.
  int pinged = 0;
  while (h.Tick()) ASSERT_LT(++pinged, 10);
  EXPECT_EQ(pinged, 4);  // +10, +20, +30, +40 s
  EXPECT_EQ(h.sent.back().find("WATCHDOG=1"), std::string::npos);
  EXPECT_NE(h.sent.back().find("STATUS=unhealthy: the reconciler has made no progress for 40 s"), std::string::npos)
      << h.sent.back();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(h.Tick());
  h.beats += 1;  // a stuck reconcile finished
  EXPECT_TRUE(h.Tick());
}

TEST(Watchdog, AListenerThatDoesNotAnswerStopsThePingsEvenWithProgress) {
  Harness h;
  ASSERT_TRUE(h.Tick());
  h.listener_ok = false;
  EXPECT_FALSE(h.Tick());
  EXPECT_NE(h.sent.back().find("STATUS=unhealthy"), std::string::npos);
  h.listener_ok = true;
  EXPECT_TRUE(h.Tick());
}

TEST(Watchdog, NoIntervalMeansNoThread) {
  WatchdogHooks h;  // calling any hook would throw std::bad_function_call
  Watchdog dog(h, 0us, 1s);
  dog.Start();
  dog.Stop();
}

// The real hooks: a probe is taken by a running worker; with no worker to take it (all stuck),
// the count does not move.
TEST(ControllerLiveness, AProbeIsTakenByAWorkerAndCounted) {
  MemoryStore store;
  FakeDriver driver;
  Controller running(&store, &driver);
  running.Start(1);
  uint64_t before = running.Heartbeats();
  running.Probe();
  EXPECT_TRUE(testing::WaitFor([&] { return running.Heartbeats() > before; }, 10s));
  EXPECT_EQ(running.Metrics().reconciles, 0u) << "a probe is not a reconcile";
  running.Stop();

  Controller stuck(&store, &driver);
  stuck.Start(0);
  stuck.Probe();
  EXPECT_EQ(stuck.Heartbeats(), 0u);
  stuck.Stop();
}

}  // namespace
}  // namespace jb
