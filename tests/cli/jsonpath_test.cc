// The JSONPath subset of cli/jsonpath.h.
#include "cli/jsonpath.h"

#include <gtest/gtest.h>

namespace jb::cli {
namespace {

Value Doc() {
  auto docs = ParseYamlStream(R"(
items:
- metadata: {name: a, labels: {team: x}}
  status:
    conditions:
    - {type: Ready, status: "True"}
    - {type: SLOMet, status: "False"}
  n: 3
- metadata: {name: b}
  status: {conditions: [{type: Ready, status: "False"}]}
  n: 4.5
)");
  return docs[0].root;
}

std::string R(const std::string& tmpl) {
  auto r = JsonPathRender(Doc(), tmpl);
  EXPECT_TRUE(r.ok()) << tmpl << ": " << r.status().message();
  return r.ok() ? *r : "<error>";
}

TEST(JsonPath, FieldsIndexesAndWildcards) {
  EXPECT_EQ(R("{.items[0].metadata.name}"), "a");
  EXPECT_EQ(R("{.items[-1].metadata.name}"), "b");
  EXPECT_EQ(R("{.items[*].metadata.name}"), "a b");
  EXPECT_EQ(R("{.items[*].n}"), "3 4.5");
  EXPECT_EQ(R("{.items[0].metadata.labels}"), "{\"team\":\"x\"}");
  EXPECT_EQ(R("{.items[0].metadata['labels'].team}"), "x");
  EXPECT_EQ(R("name={.items[1].metadata.name}!"), "name=b!");
}

TEST(JsonPath, MissingFieldsYieldNothing) {
  EXPECT_EQ(R("{.items[1].metadata.labels.team}"), "");
  EXPECT_EQ(R("{.items[7].metadata.name}"), "");
}

TEST(JsonPath, FiltersSelectListEntriesByField) {
  EXPECT_EQ(R("{.items[0].status.conditions[?(@.type==\"SLOMet\")].status}"), "False");
  EXPECT_EQ(R("{.items[*].status.conditions[?(@.type=='Ready')].status}"), "True False");
  EXPECT_EQ(R("{.items[0].status.conditions[?(@.type!=\"Ready\")].type}"), "SLOMet");
}

TEST(JsonPath, RangeRepeatsItsBodyPerValue) {
  EXPECT_EQ(R("{range .items[*]}{.metadata.name}:{.n}{\"\\n\"}{end}"), "a:3\nb:4.5\n");
  EXPECT_EQ(R("{range .items[*]}[{range .status.conditions[*]}{.type} {end}]{end}"), "[Ready SLOMet ][Ready ]");
}

TEST(JsonPath, MalformedTemplatesAreErrors) {
  for (const char* bad : {"{.items[0", "{range .items[*]}{.n}", "{end}", "{.items[x]}", "{.a}{", "{items..}"})
    EXPECT_FALSE(JsonPathRender(Doc(), bad).ok()) << bad;
}

TEST(JsonPath, SelectReturnsValues) {
  auto v = JsonPathSelect(Doc(), ".items[*].metadata");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[1].Find("name")->as_string(), "b");
}

}  // namespace
}  // namespace jb::cli
