// jbctl version and explain (cli/info_commands.cc).
#include "cli/remote.h"
#include "tests/cli/jbctl_fixture.h"

namespace jb::cli {
namespace {

using InfoCommandsTest = JbctlFixture;

TEST_F(InfoCommandsTest, VersionShowsClientAndServer) {
  auto r = Run({"version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            std::string("Client Version: ") + kJellyBeanVersion + "\nServer Version: " + kJellyBeanVersion + "\n");
  auto client = Run({"version", "--client"}, "", false);
  EXPECT_EQ(client.code, 0) << client.err;
  EXPECT_EQ(client.out, std::string("Client Version: ") + kJellyBeanVersion + "\n");
  auto json = Run({"version", "-o", "json"});
  EXPECT_NE(json.out.find("\"serverVersion\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"gitVersion\""), std::string::npos) << json.out;
}

TEST_F(InfoCommandsTest, VersionWithoutAServerPrintsTheClientsAndFails) {
  auto r = Run({"version", "--server", "http://127.0.0.1:1", "--token", "x"}, "", false);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, std::string("Client Version: ") + kJellyBeanVersion + "\n");
  EXPECT_NE(r.err.find("cannot read the server's version"), std::string::npos) << r.err;
}

TEST_F(InfoCommandsTest, ExplainReadsTheCrdDescriptions) {
  auto kind = Run({"explain", "workflow"}, "", false);
  EXPECT_EQ(kind.code, 0) << kind.err;
  EXPECT_NE(kind.out.find("KIND:     Workflow\nVERSION:  jellybean.dev/v1alpha1\n"), std::string::npos) << kind.out;
  EXPECT_NE(kind.out.find("   spec\t<Object>"), std::string::npos) << kind.out;
  auto field = Run({"explain", "workflow.spec.infrastructure"}, "", false);
  EXPECT_EQ(field.code, 0) << field.err;
  EXPECT_NE(field.out.find("FIELD:    infrastructure <string>"), std::string::npos) << field.out;
  EXPECT_NE(field.out.find("Name of the Infrastructure to plan on."), std::string::npos) << field.out;
  auto list = Run({"explain", "infrastructure.spec.nodes"}, "", false);
  EXPECT_NE(list.out.find("<[]Object>"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("   name\t<string> -required-"), std::string::npos) << list.out;
  auto rec = Run({"explain", "workflow.spec", "--recursive"}, "", false);
  EXPECT_NE(rec.out.find("\n     minAccuracy\t<"), std::string::npos) << rec.out;
  auto bad = Run({"explain", "workflow.spec.nope"}, "", false);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("field \"nope\" does not exist"), std::string::npos) << bad.err;
  EXPECT_EQ(Run({"explain", "pods"}, "", false).code, 1);
}

}  // namespace
}  // namespace jb::cli
