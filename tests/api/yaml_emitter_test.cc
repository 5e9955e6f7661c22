// The YAML emitter (api/value.cc ToYaml) against another reader: PyYAML (a YAML 1.1 resolver, the
// strictest of the common ones about plain scalars) must read every emitted value back as exactly
// what was emitted — strings stay strings however they look, numbers stay numbers — and every
// example manifest (manifests/**) survives `get -o yaml` (EncodeObject + ToYaml) losslessly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/manifest.h"
#include "api/value.h"
#include "testing/util.h"

namespace jb {
namespace {

namespace fs = std::filesystem;

// Asks PyYAML to load `yaml` and compare it with `json` (the same value as JSON, read by Python's
// json module); "" when equal, else Python's account of the first difference.
std::string PyYamlDiffers(const std::string& yaml, const std::string& json, const std::string& tag) {
  fs::path dir = fs::temp_directory_path() / ("jb-yaml-" + tag + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "v.yaml") << yaml;
  std::ofstream(dir / "v.json") << json;
  const std::string script =
      "import json, sys, yaml\n"
      "def walk(a, b, path):\n"
      "    if isinstance(b, bool) or b is None:\n"
      "        if a is not b: return '%s: read %r, wrote %r' % (path, a, b)\n"
      "    elif isinstance(b, (int, float)):\n"
      "        if isinstance(a, bool) or not isinstance(a, (int, float)) or a != b:\n"
      "            return '%s: read %r, wrote %r' % (path, a, b)\n"
      "    elif isinstance(b, str):\n"
      "        if not isinstance(a, str) or a != b: return '%s: read %r, wrote %r' % (path, a, b)\n"
      "    elif isinstance(b, list):\n"
      "        if not isinstance(a, list) or len(a) != len(b): return '%s: list differs' % path\n"
      "        for i, (x, y) in enumerate(zip(a, b)):\n"
      "            r = walk(x, y, '%s[%d]' % (path, i))\n"
      "            if r: return r\n"
      "    elif isinstance(b, dict):\n"
      "        if not isinstance(a, dict) or sorted(map(repr, a)) != sorted(map(repr, b)):\n"
      "            return '%s: keys read %r, wrote %r' % (path, list(a) if isinstance(a, dict) else a, list(b))\n"
      "        for k in b:\n"
      "            r = walk(a[k], b[k], '%s.%s' % (path, k))\n"
      "            if r: return r\n"
      "    return ''\n"
      "a = yaml.safe_load(open(sys.argv[1]))\n"
      "b = json.load(open(sys.argv[2]))\n"
      "print(walk(a, b, '$'), end='')\n";
  std::ofstream(dir / "check.py") << script;
  auto r = testing::Run("/usr/bin/python3 '" + (dir / "check.py").string() + "' '" + (dir / "v.yaml").string() + "' '" +
                        (dir / "v.json").string() + "' 2>&1");
  fs::remove_all(dir);
  if (r.exit_code != 0) return "python3 failed: " + r.output;
  return r.output;
}

const std::vector<std::string>& TrickyStrings() {
  static const std::vector<std::string> v = {"On",
                                             "Off",
                                             "ON",
                                             "OFF",
                                             "on",
                                             "off",
                                             "Yes",
                                             "No",
                                             "YES",
                                             "NO",
                                             "yes",
                                             "no",
                                             "y",
                                             "Y",
                                             "n",
                                             "N",
                                             "true",
                                             "False",
                                             "TRUE",
                                             "~",
                                             "null",
                                             "Null",
                                             "NULL",
                                             "",
                                             " ",
                                             "0x10",
                                             "0o17",
                                             "010",
                                             "0b101",
                                             "1e3",
                                             "1E3",
                                             "1.5",
                                             "-1",
                                             "+1",
                                             "1_000",
                                             "190:20:30",
                                             "-1:30",
                                             ".inf",
                                             "-.inf",
                                             "+.INF",
                                             ".nan",
                                             ".NaN",
                                             ".5",
                                             "2024-01-01",
                                             "2001-12-14t21:59:43.10-05:00",
                                             "2001-12-14 21:59:43.10 -5",
                                             "=",
                                             "<<",
                                             " lead",
                                             "trail ",
                                             "a: b",
                                             "a:",
                                             ":a",
                                             "a #b",
                                             "#a",
                                             "a#b",
                                             "- a",
                                             "-",
                                             "?",
                                             "? a",
                                             "[a]",
                                             "{a}",
                                             "a,b",
                                             "&a",
                                             "*a",
                                             "!a",
                                             "|",
                                             ">",
                                             "'",
                                             "\"",
                                             "%a",
                                             "@a",
                                             "`a",
                                             "a\nb",
                                             "tab\there",
                                             "\t",
                                             "a:b",
                                             "http://x:80/p",
                                             "ns/name",
                                             "plain",
                                             "with space",
                                             "üñí",
                                             "0",
                                             "00",
                                             "0.",
                                             "1.0.0",
                                             "v1.2",
                                             "a\\b"};
  return v;
}

TEST(YamlEmitter, PyYamlReadsEveryTrickyStringBackAsThatString) {
  Value values = Value::Seq();
  Value as_keys = Value::Map();
  int i = 0;
  for (const auto& s : TrickyStrings()) {
    values.Append(Value::String(s));
    as_keys.Set(s, Value::Integer(i++));
  }
  Value root = Value::Map();
  root.Set("values", std::move(values));
  root.Set("keys", std::move(as_keys));
  EXPECT_EQ(PyYamlDiffers(ToYaml(root), ToJson(root), "tricky"), "") << ToYaml(root);
}

TEST(YamlEmitter, PyYamlReadsNumbersAndBoolsBackAsThemselves) {
  Value root = Value::Map();
  Value nums = Value::Seq();
  for (double d : {0.0, 1.0, -3.0, 0.5, 1e-7, 2.5e-300, 1e20, 123456789012.0, 9.1e15, -4.25e-5})
    nums.Append(Value::Number(d));
  root.Set("numbers", std::move(nums));
  root.Set("yes", Value::Bool(true));
  root.Set("no", Value::Bool(false));
  root.Set("nothing", Value::Null());
  EXPECT_EQ(PyYamlDiffers(ToYaml(root), ToJson(root), "numbers"), "") << ToYaml(root);
}

// Regression: `get -o yaml` emitted On, 0x10, NO, 2024-01-01 and = unquoted.
TEST(YamlEmitter, IssueExamplesAreQuoted) {
  for (const char* s : {"On", "0x10", "NO", "2024-01-01", "="}) {
    Value v = Value::Map();
    v.Set("k", Value::String(s));
    EXPECT_EQ(ToYaml(v), std::string("k: \"") + s + "\"\n");
  }
  Value plain = Value::Map();
  plain.Set("k", Value::String("hello-world"));
  EXPECT_EQ(ToYaml(plain), "k: hello-world\n");
}

TEST(YamlEmitter, EveryExampleManifestRoundTripsThroughGetOYamlAndPyYaml) {
  // One PyYAML run over a list of every object, each emitted on its own as `get -o yaml` does.
  std::string yaml;
  Value all = Value::Seq();
  int objects = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(JB_SOURCE_DIR) / "manifests")) {
    if (e.path().extension() != ".yaml") continue;
    for (const auto& doc : DecodeText(testing::ReadFile(e.path()), e.path().string())) {
      ASSERT_TRUE(doc.object.has_value()) << e.path();
      Value v = EncodeObject(*doc.object);
      std::string one = ToYaml(v);
      // Our own reader gets the same object back too.
      std::vector<Diagnostic> diags;
      auto back = ObjectFromText(one, "emitted", &diags);
      ASSERT_TRUE(back.ok()) << e.path();
      EXPECT_EQ(ObjectToJson(*back), ObjectToJson(*doc.object)) << e.path();
      // As an item of a YAML list: "- " before the first line, two spaces before the others.
      std::string item = "- ";
      for (size_t i = 0; i < one.size(); ++i) {
        item += one[i];
        if (one[i] == '\n' && i + 1 < one.size()) item += "  ";
      }
      yaml += item;
      all.Append(std::move(v));
      ++objects;
    }
  }
  EXPECT_GE(objects, 10);
  EXPECT_EQ(PyYamlDiffers(yaml, ToJson(all), "manifests"), "") << yaml;
}

}  // namespace
}  // namespace jb
