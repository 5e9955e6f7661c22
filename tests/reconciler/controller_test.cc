#include "reconciler/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "drivers/fake/fake_driver.h"
#include "reconciler/memory_store.h"
#include "tests/planner/planner_fixtures.h"
#include "tests/test_util.h"

namespace jb {
namespace {

ModelProfile Profile(const std::string& name) {
  ModelProfile mp;
  mp.metadata.name = name;
  Variant v;
  v.name = "v";
  v.latency_ms["cpu"] = Latency{10, {}, {}};
  mp.spec.variants.push_back(v);
  return mp;
}

// Regression: the controller subscribed `this` to the store and could never unsubscribe, so a
// store write after the controller was destroyed called into freed memory (a heap-use-after-free
// under ASan; a crash or silent corruption without it).
TEST(Controller, DestroyedBeforeTheStoreIsNoLongerNotified) {
  MemoryStore store;
  FakeDriver driver;
  auto in = testing::LoadInstance("manifests/vqa");
  {
    Controller controller(&store, &driver);
    ASSERT_TRUE(store.Put(in.inf).ok());  // notifies the live controller
    EXPECT_EQ(controller.Metrics().queue_depth, 0u) << "no workflow refers to it yet";
    ASSERT_TRUE(store.Put(in.wf).ok());
    EXPECT_EQ(controller.Metrics().queue_depth, 1u) << "the workflow was queued (the controller was subscribed)";
  }
  // Every kind of notifying write after the controller is gone.
  for (const auto& p : in.profiles) ASSERT_TRUE(store.Put(p).ok());
  ASSERT_TRUE(store.Put(in.wf).ok());
  ASSERT_TRUE(store.Put(in.inf).ok());
  ASSERT_TRUE(store.Delete("Workflow", "vqa").ok());
  ASSERT_TRUE(store.RemoveFinalizer("Workflow", "vqa", kWorkersFinalizer).ok());
  EXPECT_EQ(store.size(), 1 + in.profiles.size());
}

// Controllers come and go while other threads write: each controller's destructor must wait out a
// notification in progress on another thread, not return while it still runs in OnChange.
TEST(Controller, DestroyedWhileTheStoreIsBeingWrittenIsSafe) {
  MemoryStore store;
  FakeDriver driver;
  auto in = testing::LoadInstance("manifests/vqa");
  ASSERT_TRUE(store.Put(in.wf).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::vector<std::thread> writers;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int w = 0; w < 2; ++w)
    writers.emplace_back([&, w] {
      // Bounded: stops when the controllers are done, or after a minute.
      while (!stop && std::chrono::steady_clock::now() < deadline) {
        (void)store.Put(Profile("p" + std::to_string(w)));  // refers to no workflow: OnChange lists them
        (void)store.Put(in.wf);                             // a Workflow: OnChange queues it
        ++writes;
      }
    });
  int overlapped = 0;  // controllers that lived through at least one whole write
  for (int i = 0; i < 50; ++i) {
    auto controller = std::make_unique<Controller>(&store, &driver);
    const int before = writes;
    overlapped += testing::WaitFor([&] { return writes > before + 1; }, std::chrono::seconds(10)) ? 1 : 0;
    controller.reset();
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(overlapped, 50);
  EXPECT_TRUE(store.Get("Workflow", "vqa").ok());
}

}  // namespace
}  // namespace jb
