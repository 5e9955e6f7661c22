// jbctl's client config (cli/client_config.h): contexts, --context, config use-context/get-contexts,
// and the older flat file.
#include "cli/client_config.h"

#include <fstream>

#include "tests/cli/jbctl_fixture.h"

namespace jb::cli {
namespace {

class ClientConfigTest : public JbctlFixture {
 protected:
  std::string Config() { return (dir_.path() / "config").string(); }
  testing::TempDir dir_;
};

TEST_F(ClientConfigTest, ContextSelectsTheDaemonAndUseContextSwitches) {
  ApplyVqa();
  std::ofstream(Config()) << "current-context: dead\ncontexts:\n- name: dead\n  server: http://127.0.0.1:1\n"
                             "  token: x\n- name: lab\n  server: "
                          << url_ << "\n  token: " << kToken << "\n";
  auto r = Run({"get", "workflows", "--config", Config(), "--context", "lab", "-o", "name"}, "", false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "workflow/vqa\n");
  // The current context (dead) fails; after use-context lab the same line works.
  EXPECT_EQ(Run({"get", "workflows", "--config", Config()}, "", false).code, 1);
  auto use = Run({"config", "use-context", "lab", "--config", Config()}, "", false);
  EXPECT_EQ(use.code, 0) << use.err;
  EXPECT_EQ(use.out, "Switched to context \"lab\".\n");
  EXPECT_EQ(Run({"--config", Config(), "get", "workflows", "-o", "name"}, "", false).out, "workflow/vqa\n");
  auto list = Run({"config", "get-contexts", "--config", Config()}, "", false);
  EXPECT_NE(list.out.find("*         lab"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("dead"), std::string::npos) << list.out;
  EXPECT_EQ(Run({"config", "current-context", "--config", Config()}, "", false).out, "lab\n");
}

TEST_F(ClientConfigTest, AnUnknownContextIsNamed) {
  std::ofstream(Config()) << "contexts:\n- name: lab\n  server: http://127.0.0.1:1\n  token: x\n";
  auto r = Run({"get", "workflows", "--config", Config(), "--context", "nope"}, "", false);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no context named \"nope\""), std::string::npos) << r.err;
  EXPECT_EQ(Run({"config", "use-context", "nope", "--config", Config()}, "", false).code, 1);
}

TEST_F(ClientConfigTest, TheOlderFlatFileStillReads) {
  ApplyVqa();
  std::ofstream(dir_.path() / "token") << kToken << "\n";
  std::ofstream(Config()) << "server: " << url_ << "\ntokenFile: " << (dir_.path() / "token").string() << "\n";
  auto r = Run({"get", "workflows", "-o", "name", "--config", Config()}, "", false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "workflow/vqa\n");
  auto cfg = LoadClientConfig(Config());
  ASSERT_TRUE(cfg.ok());
  EXPECT_TRUE(cfg->legacy);
  ASSERT_NE(FindContext(*cfg, ""), nullptr);
  EXPECT_EQ(FindContext(*cfg, "")->server, url_);
}

TEST_F(ClientConfigTest, SetContextWritesAContextThatWorks) {
  ApplyVqa();
  auto set =
      Run({"config", "set-context", "lab", "--server", url_, "--token", kToken, "--config", Config()}, "", false);
  EXPECT_EQ(set.code, 0) << set.err;
  auto r = Run({"--context", "lab", "--config", Config(), "get", "wf", "-o", "name"}, "", false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "workflow/vqa\n");
}

TEST_F(ClientConfigTest, AMalformedFileIsAnErrorNamingIt) {
  std::ofstream(Config()) << "- just\n- a list\n";
  auto r = Run({"get", "workflows", "--config", Config()}, "", false);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(Config()), std::string::npos) << r.err;
}

}  // namespace
}  // namespace jb::cli
