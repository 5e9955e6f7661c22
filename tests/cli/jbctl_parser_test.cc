// jbctl's command tree (cli/jbctl.cc): global flags anywhere, unknown flags rejected by name,
// per-command help with examples, exit codes, completion scripts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "tests/cli/jbctl_fixture.h"

namespace jb::cli {
namespace {

using JbctlParser = JbctlFixture;

// Was: `jbctl get workflows -w` answered `HTTP 404: Workflow "-w" not found` (any unknown flag
// became the NAME).
TEST_F(JbctlParser, UnknownFlagsAreRejectedByName) {
  ApplyVqa();
  const size_t requests = Requests().size();
  auto r = Run({"get", "workflows", "--bogus"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("HTTP"), std::string::npos) << r.err;
  r = Run({"describe", "workflow", "vqa", "-x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("-x"), std::string::npos) << r.err;
  EXPECT_EQ(Requests().size(), requests) << "a rejected line sends no request";
}

TEST_F(JbctlParser, WatchIsNamedNotTakenForAName) {
  auto r = Run({"get", "workflows", "-w"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("watch"), std::string::npos) << r.err;
}

TEST_F(JbctlParser, GlobalFlagsWorkAnywhereOnTheLine) {
  ApplyVqa();
  auto before = Run({"--server", url_, "--token", kToken, "get", "workflows", "-o", "name"}, "", false);
  EXPECT_EQ(before.code, 0) << before.err;
  auto middle = Run({"get", "--server", url_, "workflows", "--token", kToken, "-o", "name"}, "", false);
  EXPECT_EQ(middle.code, 0) << middle.err;
  auto after = Run({"get", "workflows", "-o", "name"});
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(before.out, "workflow/vqa\n");
  EXPECT_EQ(middle.out, before.out);
  EXPECT_EQ(after.out, before.out);
}

TEST_F(JbctlParser, EveryCommandHasHelpWithExamples) {
  for (const char* cmd :
       {"apply", "get", "describe", "delete", "diff", "wait", "explain", "completion", "import", "validate"}) {
    auto r = Run({cmd, "--help"}, "", false);
    EXPECT_EQ(r.code, 0) << cmd << r.err;
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << cmd << "\n" << r.out;
  }
  for (const char* sub : {"status", "history", "undo"}) {
    auto r = Run({"rollout", sub, "--help"}, "", false);
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("jbctl rollout " + std::string(sub)), std::string::npos) << r.out;
  }
  auto plan = Run({"plan", "--help"}, "", false);
  EXPECT_EQ(plan.code, 0);
  EXPECT_NE(plan.out.find("--what-if"), std::string::npos) << "plan keeps its own help\n" << plan.out;
  auto top = Run({"--help"}, "", false);
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("Exit status: 0 on success, 1 on error"), std::string::npos) << top.out;
}

TEST_F(JbctlParser, ExitCodesAreKubectls) {
  EXPECT_EQ(Run({}, "", false).code, 1) << "no command: usage, exit 1";
  auto unknown = Run({"frobnicate"}, "", false);
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("unknown command \"frobnicate\""), std::string::npos) << unknown.err;
  EXPECT_EQ(Run({"get", "workflows", "nope"}).code, 1) << "a missing object";
  EXPECT_EQ(Run({"diff", "--bogus"}).code, 2) << "diff's errors are >1";
  EXPECT_EQ(Run({"get", "workflows", "-o", "table"}).code, 1);
}

TEST_F(JbctlParser, CompletionScriptsComeFromTheCommandTree) {
  auto bash = Run({"completion", "bash"}, "", false);
  ASSERT_EQ(bash.code, 0) << bash.err;
  EXPECT_NE(bash.out.find("complete -F _jbctl jbctl"), std::string::npos);
  EXPECT_NE(bash.out.find("\"/get\") words=\""), std::string::npos);
  EXPECT_NE(bash.out.find("--selector"), std::string::npos);
  EXPECT_NE(bash.out.find("/rollout/status"), std::string::npos);
  testing::TempDir dir;
  std::ofstream(dir.path() / "c.bash") << bash.out;
  // The script parses and completes "jbctl get --no-h" to --no-headers.
  auto run = testing::Run("bash -c 'source " + (dir.path() / "c.bash").string() +
                          " && COMP_WORDS=(jbctl get --no-h) COMP_CWORD=2 && _jbctl && echo ${COMPREPLY[@]}'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, "--no-headers\n");
  auto zsh = Run({"completion", "zsh"}, "", false);
  EXPECT_EQ(zsh.code, 0);
  EXPECT_EQ(zsh.out.rfind("#compdef jbctl\n", 0), 0u) << zsh.out.substr(0, 80);
  EXPECT_EQ(Run({"completion", "fish"}, "", false).code, 1);
}

// The bash script completes object names through `jbctl __complete` with the line's own
// connection flags, after a kind word and in KIND/NAME form.
TEST_F(JbctlParser, CompletionOffersObjectNamesFromTheDaemon) {
  ApplyVqa();
  auto bash = Run({"completion", "bash"}, "", false);
  ASSERT_EQ(bash.code, 0) << bash.err;
  EXPECT_EQ(bash.out.find("__complete "), bash.out.find("__complete \"")) << "not among the listed commands";
  testing::TempDir dir;
  std::ofstream(dir.path() / "c.bash") << bash.out;
  auto complete = [&](const std::string& words, int cword) {
    auto run = testing::Run("bash -c 'source " + (dir.path() / "c.bash").string() + " && COMP_WORDS=(" JB_JBCTL " " +
                            words + ") COMP_CWORD=" + std::to_string(cword) + " && _jbctl && echo ${COMPREPLY[@]}'");
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return run.output;
  };
  const std::string conn = "--server " + url_ + " --token " + kToken;
  EXPECT_EQ(complete(conn + " get modelprofiles s", 7), "speech-recognition\n");
  EXPECT_EQ(complete("describe " + conn + " mp \"\"", 7), "extract-image-feature speech-recognition vqa\n");
  EXPECT_EQ(complete(conn + " get wf/", 6), "wf/vqa\n");
  EXPECT_EQ(complete(conn + " rollout status workflow v", 8), "vqa\n");
  EXPECT_EQ(complete("get --no-h", 2), "--no-headers\n") << "flags as before";
}

}  // namespace
}  // namespace jb::cli

namespace jb::cli {
namespace {

// jbctl crds [-o DIR]: the files in crds/ are what the command writes (no drift).
TEST_F(JbctlParser, CrdsWritesTheCommittedFiles) {
  testing::TempDir dir;
  auto r = Run({"crds", "-o", dir.path().string()}, "", false);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* kind : {"workflow", "modelprofile", "infrastructure"}) {
    const std::string file = std::string(kind) + ".yaml";
    EXPECT_EQ(testing::ReadFile(dir.path() / file), testing::ReadFile(std::string(JB_SOURCE_DIR) + "/crds/" + file))
        << file;
  }
  auto printed = Run({"crds"}, "", false);
  EXPECT_EQ(std::count(printed.out.begin(), printed.out.end(), '\n') > 100, true);
  EXPECT_EQ(Run({"crds", "-o", "/proc/nonexistent"}, "", false).code, 1);
}

// --request-timeout bounds the wait for an answer: a server that accepts and never answers.
TEST_F(JbctlParser, RequestTimeoutBoundsTheWait) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody reads
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string silent = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto start = std::chrono::steady_clock::now();
  auto r = Run({"get", "wf", "--server", silent, "--token", kToken, "--request-timeout", "0.5"}, "", false);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no answer from " + silent + " within 0.5 s"), std::string::npos) << r.err;
  EXPECT_LT(took, 10.0);
}

// --output-watch-events is a flag of get (with -w); a format a stream cannot print is refused.
TEST_F(JbctlParser, WatchFlagsParse) {
  auto r = Run({"get", "wf", "-w", "--output-watch-events", "-o", "jsonpath={.x}"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--watch prints a table, name, json or yaml"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace jb::cli
