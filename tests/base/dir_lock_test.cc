#include "base/dir_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "testing/util.h"

namespace jb {
namespace {

TEST(DirLock, ASecondLockOnTheSameDirectoryIsRefusedNamingTheHolder) {
  testing::TempDir dir;
  std::string state = (dir.path() / "state").string();
  auto first = DirLock::Lock(state);  // creates the directory
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*ReadFile(state + "/lock"), std::to_string(::getpid()) + "\n");
  auto second = DirLock::Lock(state);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(second.status().message(), "state directory " + state + " is in use by PID " + std::to_string(::getpid()) +
                                           " (lock " + state + "/lock)");
  first->reset();  // released: the next one gets it
  EXPECT_TRUE(DirLock::Lock(state).ok());
}

TEST(DirLock, TheLockOfADeadProcessIsFree) {
  testing::TempDir dir;
  std::string state = dir.path().string();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto l = DirLock::Lock(state);
    ::_exit(l.ok() ? 0 : 1);  // dies holding the lock
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto l = DirLock::Lock(state);
  EXPECT_TRUE(l.ok()) << l.status().message();
}

}  // namespace
}  // namespace jb
