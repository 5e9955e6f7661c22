// jellybeand on the etcd store (--store etcd:...) and `jellybeand migrate` between the file and
// etcd stores, both ways (daemon/store_backend.h), against Debian's etcd started by the test.
#include <gtest/gtest.h>

#include "api/manifest.h"
#include "reconciler/file_store.h"
#include "store/etcd/etcd_store.h"
#include "testing/daemon_fixture.h"
#include "testing/etcd_cluster.h"
#include "tests/test_util.h"

namespace jb {
namespace {

// Every object of every kind, as JSON without its resourceVersion (which each store issues).
std::map<std::string, std::string> Contents(const Store& s) {
  std::map<std::string, std::string> out;
  for (const char* kind : {"Infrastructure", "ModelProfile", "Workflow"})
    for (Object obj : s.List(kind)) {
      MetaOf(obj).resource_version.reset();
      out[std::string(kind) + "/" + MetaOf(obj).name] = ObjectToJson(obj);
    }
  return out;
}

std::unique_ptr<EtcdStore> OpenEtcd(const std::string& spec) {
  auto s = EtcdStore::Open(*etcd::ParseEtcdSpec(spec));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(EtcdDaemon, ServesFromEtcdAndMigrateMovesEveryObjectWithItsStatusBothWays) {
  testing::EtcdCluster etcd({});
  ASSERT_TRUE(etcd.WaitHealthy());
  testing::TempDir tmp;
  const auto state = tmp.path() / "state";
  std::filesystem::create_directories(state);
  const std::string spec = etcd.StoreSpec("/jb-a/");
  {
    testing::Daemon d(state, {}, {"--store", spec, "--driver", "fake"});
    HttpClientOptions c;
    ASSERT_TRUE(d.WaitReady(&c));
    auto apply = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " apply -f manifests/vqa/");
    ASSERT_EQ(apply.exit_code, 0) << apply.output;
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          auto wf = testing::GetObject(c, "workflows/vqa");
          return wf && testing::Planned(*wf);
        },
        std::chrono::seconds(60)));
    ASSERT_EQ(d.Stop(), 0);
  }
  auto in_etcd = Contents(*OpenEtcd(spec));
  ASSERT_EQ(in_etcd.count("Workflow/vqa"), 1u);
  EXPECT_NE(in_etcd["Workflow/vqa"].find("\"Planned\""), std::string::npos) << "the status is in etcd";

  // etcd -> file
  const auto dir = tmp.path() / "files";
  auto out = testing::Run(std::string(JB_JELLYBEAND) + " migrate --from '" + spec + "' --to file:" + dir.string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find(std::to_string(in_etcd.size()) + " object(s) moved"), std::string::npos) << out.output;
  FileStore files(dir.string());
  EXPECT_TRUE(files.Load().empty());
  EXPECT_EQ(Contents(files), in_etcd);

  // file -> etcd (another prefix)
  const std::string spec_b = etcd.StoreSpec("/jb-b/");
  out = testing::Run(std::string(JB_JELLYBEAND) + " migrate --from file:" + dir.string() + " --to '" + spec_b + "'");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(Contents(*OpenEtcd(spec_b)), in_etcd);

  // A destination holding the objects is refused, naming them, and left as it was.
  out =
      testing::Run(std::string(JB_JELLYBEAND) + " migrate --from file:" + dir.string() + " --to '" + spec_b + "' 2>&1");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.output.find("Workflow/vqa: Workflow \"vqa\" already exists"), std::string::npos) << out.output;
  EXPECT_EQ(Contents(*OpenEtcd(spec_b)), in_etcd);
}

TEST(EtcdDaemon, AnUnreachableEtcdStopsTheDaemonWithTheReason) {
  testing::TempDir tmp;
  int port = testing::FreeLoopbackPort();
  auto out = testing::Run(std::string(JB_JELLYBEAND) + " --state-dir " + tmp.path().string() +
                          " --listen 127.0.0.1:0 --store etcd:http://127.0.0.1:" + std::to_string(port) +
                          "?timeout-ms=500 2>&1");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.output.find("etcd store: etcd:"), std::string::npos) << out.output;
}

}  // namespace
}  // namespace jb
