// The Store contract (reconciler/store.h), run against every implementation through a factory:
// what the reconciler, the controller and the REST API rely on from any backend.
#include "reconciler/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "reconciler/change_notifier.h"
#include "reconciler/file_store.h"
#include "reconciler/memory_store.h"
#include "tests/planner/planner_fixtures.h"
#include "tests/reconciler/store_contract.h"
#include "tests/test_util.h"

namespace jb {
namespace {

using namespace store_contract;  // NOLINT: the shared contract suite and its helpers

struct MemoryStoreFactory {
  std::unique_ptr<Store> Make() { return std::make_unique<MemoryStore>(); }
};

struct FileStoreFactory {
  testing::TempDir dir;
  std::unique_ptr<Store> Make() {
    auto s = std::make_unique<FileStore>(dir.path().string());
    auto problems = s->Load();
    EXPECT_TRUE(problems.empty()) << problems.front();
    return s;
  }
};

struct FactoryNames {
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryStoreFactory> ? "MemoryStore" : "FileStore";
  }
};
using Implementations = ::testing::Types<MemoryStoreFactory, FileStoreFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Local, StoreContract, Implementations, FactoryNames);

// The notifier's wait, step by step: a callback is inside; Reset on another thread must not
// return before it has; the callback sees Reset begin (its entry removed) and only then returns.
TEST(ChangeNotifier, ResetWaitsForACallInProgressOnAnotherThread) {
  ChangeNotifier n;
  std::atomic<bool> inside{false}, reset_returned{false}, returned_early{false}, saw_reset_begin{false};
  Subscription sub = n.Subscribe([&](const std::string&, const std::string&) {
    inside = true;
    saw_reset_begin = testing::WaitFor([&] { return n.subscribers() == 0; }, std::chrono::seconds(10));
    returned_early = reset_returned.load();
  });
  std::thread writer([&] { n.Notify("ModelProfile", "a"); });
  ASSERT_TRUE(testing::WaitFor([&] { return inside.load(); }, std::chrono::seconds(10)));
  sub.Reset();
  reset_returned = true;
  writer.join();
  EXPECT_TRUE(saw_reset_begin);
  EXPECT_FALSE(returned_early) << "Reset returned while the callback was still running";
  n.Notify("ModelProfile", "b");  // nothing subscribed
  EXPECT_EQ(n.subscribers(), 0u);
}

}  // namespace
}  // namespace jb
