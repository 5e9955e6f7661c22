// jbctl apply, diff and delete (cli/apply_commands.cc): files, directories with and without -R,
// stdin, dry runs, created|configured|unchanged, unified diffs.
#include <filesystem>
#include <fstream>

#include "base/file.h"
#include "tests/cli/jbctl_fixture.h"

namespace jb::cli {
namespace {

namespace fs = std::filesystem;

class ApplyCommandsTest : public JbctlFixture {
 protected:
  std::string Vqa(const std::string& file) { return std::string(JB_SOURCE_DIR) + "/manifests/vqa/" + file; }
  // The workflow manifest with minAccuracy 56 replaced by `acc`.
  std::string EditedWorkflow(const std::string& acc) {
    std::string y = ReadFileOrEmpty(Vqa("workflow.yaml"));
    y.replace(y.find("minAccuracy: 56"), 15, "minAccuracy: " + acc);
    return y;
  }
  testing::TempDir dir_;
};

TEST_F(ApplyCommandsTest, SaysCreatedConfiguredOrUnchangedPerObject) {
  auto first = Run({"apply", "-f", Vqa("")});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("workflow/vqa created\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("infrastructure/"), std::string::npos) << first.out;
  auto again = Run({"apply", "-f", Vqa("workflow.yaml")});
  EXPECT_EQ(again.out, "workflow/vqa unchanged\n") << again.err;
  auto edited = Run({"apply", "-f", "-"}, EditedWorkflow("55"));
  EXPECT_EQ(edited.code, 0) << edited.err;
  EXPECT_EQ(edited.out, "workflow/vqa configured\n");
  auto got = Run({"get", "wf", "vqa", "-o", "jsonpath={.spec.slo.minAccuracy}"});
  EXPECT_EQ(got.out, "55");
}

TEST_F(ApplyCommandsTest, StdinThatIsInvalidAppliesNothing) {
  auto r = Run({"apply", "-f", "-"}, "apiVersion: jellybean.dev/v1alpha1\nkind: Workflow\nmetadata: {name: x}\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("<stdin>"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing applied"), std::string::npos) << r.err;
  EXPECT_TRUE(store_.List("Workflow").empty());
}

TEST_F(ApplyCommandsTest, DirectoriesDescendOnlyWithRecursive) {
  fs::create_directories(dir_.path() / "sub");
  fs::copy_file(Vqa("infrastructure.yaml"), dir_.path() / "infrastructure.yaml");
  fs::copy_file(Vqa("modelprofiles.yaml"), dir_.path() / "sub/modelprofiles.yaml");
  fs::copy_file(Vqa("workflow.yaml"), dir_.path() / "sub/workflow.yaml");
  auto flat = Run({"apply", "-f", dir_.path().string()});
  EXPECT_EQ(flat.code, 0) << flat.err;
  EXPECT_EQ(flat.out.find("workflow/vqa"), std::string::npos) << "without -R, sub/ is not read\n" << flat.out;
  auto deep = Run({"apply", "-R", "-f", dir_.path().string()});
  EXPECT_EQ(deep.code, 0) << deep.err;
  EXPECT_NE(deep.out.find("workflow/vqa created"), std::string::npos) << deep.out;
  EXPECT_NE(deep.out.find("unchanged"), std::string::npos) << deep.out;
}

TEST_F(ApplyCommandsTest, ClientDryRunChangesNothing) {
  auto r = Run({"apply", "-f", Vqa(""), "--dry-run=client"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("workflow/vqa created (dry run)"), std::string::npos) << r.out;
  EXPECT_TRUE(store_.List("Workflow").empty());
  for (const auto& req : Requests()) EXPECT_EQ(req.rfind("PUT", 0), std::string::npos) << req;
  ApplyVqa();
  auto edited = Run({"apply", "-f", "-", "--dry-run=client"}, EditedWorkflow("57"));
  EXPECT_EQ(edited.out, "workflow/vqa configured (dry run)\n");
  EXPECT_EQ(Run({"get", "wf", "vqa", "-o", "jsonpath={.spec.slo.minAccuracy}"}).out, "56");
}

TEST_F(ApplyCommandsTest, ServerDryRunSendsDryRunAll) {
  auto r = Run({"apply", "-f", Vqa("workflow.yaml"), "--dry-run=server"});
  EXPECT_NE(r.out.find("(server dry run)"), std::string::npos) << r.out << r.err;
  bool sent = false;
  for (const auto& req : Requests())
    if (req.rfind("PUT", 0) == 0) sent = sent || req.find("?dryRun=All") != std::string::npos;
  EXPECT_TRUE(sent);
  EXPECT_EQ(Run({"apply", "-f", Vqa(""), "--dry-run=sometimes"}).code, 1);
}

TEST_F(ApplyCommandsTest, DiffPrintsUnifiedHunksAndExitsOneWhenDifferent) {
  ApplyVqa();
  auto same = Run({"diff", "-f", Vqa("")});
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_EQ(same.out, "");
  auto d = Run({"diff", "-f", "-"}, EditedWorkflow("55"));
  EXPECT_EQ(d.code, 1) << d.err;
  EXPECT_NE(d.out.find("--- live/workflow/vqa\n+++ local/workflow/vqa\n@@ "), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("\n-    minAccuracy: 56\n+    minAccuracy: 55\n"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("\n  kind:"), std::string::npos) << "only hunks, not whole objects\n" << d.out;
}

TEST_F(ApplyCommandsTest, DeleteByKindSlashNameAndIgnoreNotFound) {
  ApplyVqa();
  auto r = Run({"delete", "modelprofile/speech-recognition"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "modelprofile/speech-recognition deleted\n");
  auto again = Run({"delete", "modelprofile", "speech-recognition"});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("modelprofile/speech-recognition"), std::string::npos) << again.err;
  EXPECT_EQ(Run({"delete", "mp", "speech-recognition", "--ignore-not-found"}).code, 0);
  EXPECT_EQ(Run({"delete", "-f", Vqa("workflow.yaml"), "workflow/vqa"}).code, 1) << "-f and names together";
}

}  // namespace
}  // namespace jb::cli
