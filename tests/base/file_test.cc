#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "testing/util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

TEST(ReadFile, ReadsWhatWriteFileAtomicWrote) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "data.bin").string();
  std::string data;
  for (int i = 0; i < 200000; ++i) data.push_back(static_cast<char>(i % 251));  // NULs, > one read()
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, data);
  EXPECT_FALSE(fs::exists(dir.path() / ".data.bin.tmp"));
}

TEST(ReadFile, EmptyFileIsEmptyNotAnError) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "empty").string();
  ASSERT_TRUE(WriteFileAtomic(path, "").ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "");
}

TEST(ReadFile, MissingFileIsNotFoundNamingFileAndReason) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "absent.yaml").string();
  auto read = ReadFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(read.status().message(), "cannot read " + path + ": No such file or directory");
  EXPECT_EQ(ReadFileOrEmpty(path), "");
}

TEST(ReadFile, DirectoryIsUnavailable) {
  testing::TempDir dir;
  auto read = ReadFile(dir.path().string());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(read.status().message().find("Is a directory"), std::string::npos) << read.status().message();
}

TEST(ReadFile, UnreadableFileNamesThePermissionError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  testing::TempDir dir;
  const std::string path = (dir.path() / "secret").string();
  ASSERT_TRUE(WriteFileAtomic(path, "x", 0000).ok());
  auto read = ReadFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), "cannot read " + path + ": Permission denied");
}

TEST(WriteFileAtomic, ReplacesContentAndKeepsTheMode) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "key.pem").string();
  ASSERT_TRUE(WriteFileAtomic(path, "old", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "new content", 0600).ok());
  EXPECT_EQ(ReadFileOrEmpty(path), "new content");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(WriteFileAtomic, MissingDirectoryIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "no" / "such" / "f").string();
  Status s = WriteFileAtomic(path, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(".f.tmp"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace jb
