// Dataset sources (ingress/dataset.h): the JSON-lines index, its limits, file:line errors, and
// replay once or looping.
#include "ingress/dataset.h"

#include <gtest/gtest.h>

#include "tests/ingress/temp_dir.h"

namespace jb::ingress {
namespace {

using testing_ingress::TempDir;

StatusOr<std::shared_ptr<const Dataset>> OpenIndex(const TempDir& dir, const std::string& index,
                                                   DatasetLimits limits = {}) {
  return Dataset::Open(dir.Write("set/index.jsonl", index), limits);
}

void ExpectOpenError(const TempDir& dir, const std::string& index, const std::string& want, DatasetLimits limits = {}) {
  auto ds = OpenIndex(dir, index, limits);
  ASSERT_FALSE(ds.ok()) << index;
  EXPECT_EQ(ds.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ds.status().message(), dir.File("set/index.jsonl") + want);
}

TEST(Dataset, ReadsFileAndInlineItemsWithLabelsInIndexOrder) {
  TempDir dir;
  dir.Write("set/images/001.bin", std::string("\x00\x01\x02", 3));
  auto ds = OpenIndex(dir,
                      "{\"key\":\"img-001\",\"file\":\"images/001.bin\",\"label\":\"cat\"}\n"
                      "\n"
                      "{\"key\":\"q-17\",\"data\":\"What is 2+2?\",\"label\":4,\"extra\":[1]}\r\n"
                      "{\"key\":\"u\",\"data\":\"\"}");
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  ASSERT_EQ((*ds)->entries().size(), 3u);
  EXPECT_EQ((*ds)->entries()[1].line, 3);
  DatasetReader r(*ds, DatasetReader::Mode::kOnce);
  auto a = r.Next();
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().message();
  EXPECT_EQ((*a)->key, "img-001");
  EXPECT_EQ((*a)->data, std::string("\x00\x01\x02", 3));
  EXPECT_EQ((*a)->label.value_or(""), "cat");
  auto b = r.Next();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->data, "What is 2+2?");
  EXPECT_EQ((*b)->label.value_or(""), "4");
  auto c = r.Next();
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_FALSE((*c)->label.has_value());
  auto end = r.Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_FALSE(r.Next()->has_value());  // stays at the end
}

TEST(Dataset, LoopingReplaysWithAPassNumber) {
  TempDir dir;
  auto ds = OpenIndex(dir, "{\"key\":\"a\",\"data\":\"1\"}\n{\"key\":\"b\",\"data\":\"2\"}\n");
  ASSERT_TRUE(ds.ok());
  DatasetReader r(*ds, DatasetReader::Mode::kLoop);
  std::vector<std::pair<std::string, uint64_t>> seen;
  for (int i = 0; i < 5; ++i) {
    auto it = r.Next();
    ASSERT_TRUE(it.ok() && it->has_value());
    seen.emplace_back((*it)->key, (*it)->pass);
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, uint64_t>>{{"a", 0}, {"b", 0}, {"a", 1}, {"b", 1}, {"a", 2}}));
}

TEST(Dataset, BadLinesNameFileAndLine) {
  TempDir dir;
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":\"1\"}\n{\"key\":\"b\",\"data\":",
                  ":2: malformed JSON: parse error at line 1, column 19: syntax error while parsing value - unexpected "
                  "end of input; expected '[', '{', or a literal");
  ExpectOpenError(dir, "{\"data\":\"1\"}\n", ":1: the item: missing \"key\" (a string)");
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":\"1\",\"file\":\"x\"}\n",
                  ":1: item 'a': set exactly one of \"file\" (a path relative to the index) or \"data\" (inline text)");
  ExpectOpenError(dir, "{\"key\":\"a\"}\n",
                  ":1: item 'a': set exactly one of \"file\" (a path relative to the index) or \"data\" (inline text)");
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":1}\n", ":1: item 'a': \"data\" is an integer, expected a string");
  ExpectOpenError(dir, "{\"key\":\"a\",\"file\":\"/etc/passwd\"}\n",
                  ":1: item 'a': \"file\" is absolute ('/etc/passwd'), expected a path relative to the index");
  ExpectOpenError(dir, "{\"key\":\"a\",\"file\":\"x/../../y\"}\n",
                  ":1: item 'a': \"file\" ('x/../../y') leaves the index's directory (\"..\")");
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":\"1\",\"label\":[1]}\n",
                  ":1: item 'a': \"label\" is an array, expected a string, number or boolean");
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":\"1\"}\n{\"key\":\"a\",\"data\":\"2\"}\n",
                  ":2: key 'a' appears twice (keys join parts, so they must be unique)");
  ExpectOpenError(dir, "[1]\n", ":1: the line is an array, expected a JSON object");
  auto empty = OpenIndex(dir, "\n\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), dir.File("set/index.jsonl") + ": no items");
  auto missing = Dataset::Open(dir.File("nope.jsonl"));
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
}

TEST(Dataset, LimitsOnLinesItemsAndSizes) {
  TempDir dir;
  DatasetLimits lim;
  lim.max_line_bytes = 40;
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":\"1\"}\n{\"key\":\"b\",\"data\":\"" + std::string(100, 'x') + "\"}\n",
                  ":2: line is over the limit of 40 bytes", lim);
  lim = {};
  lim.max_items = 2;
  ExpectOpenError(dir,
                  "{\"key\":\"a\",\"data\":\"1\"}\n\n{\"key\":\"b\",\"data\":\"2\"}\n{\"key\":\"c\",\"data\":\"3\"}\n",
                  ":4: more than 2 items", lim);
  lim = {};
  lim.max_item_bytes = 4;
  ExpectOpenError(dir, "{\"key\":\"a\",\"data\":\"12345\"}\n", ":1: item 'a': \"data\" is 5 bytes, over the limit of 4",
                  lim);
  lim.max_key_bytes = 2;
  ExpectOpenError(dir, "{\"key\":\"abc\",\"data\":\"1\"}\n", ":1: the item: \"key\" is 3 bytes, over the limit of 2",
                  lim);
}

TEST(Dataset, FileErrorsSurfaceAtTheItemWithFileAndLineAndTheReaderMovesOn) {
  TempDir dir;
  dir.Write("set/big.bin", std::string(10, 'x'));
  dir.Write("set/ok.bin", "ok");
  DatasetLimits lim;
  lim.max_item_bytes = 8;
  auto ds = OpenIndex(dir,
                      "{\"key\":\"gone\",\"file\":\"missing.bin\"}\n{\"key\":\"big\",\"file\":\"big.bin\"}\n"
                      "{\"key\":\"ok\",\"file\":\"ok.bin\"}\n",
                      lim);
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  DatasetReader r(*ds, DatasetReader::Mode::kOnce);
  auto gone = r.Next();
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(
      gone.status().message().rfind(
          dir.File("set/index.jsonl") + ":1: item 'gone': file " + dir.File("set/missing.bin") + " cannot be read", 0),
      0u)
      << gone.status().message();
  auto big = r.Next();
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), dir.File("set/index.jsonl") + ":2: item 'big': file " + dir.File("set/big.bin") +
                                        " is 10 bytes, over the limit of 8");
  auto ok = r.Next();
  ASSERT_TRUE(ok.ok() && ok->has_value());
  EXPECT_EQ((*ok)->data, "ok");
}

}  // namespace
}  // namespace jb::ingress
