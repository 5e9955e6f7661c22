// TierDispatcher: workers go to their tier's driver, get addresses that stay put for their
// lifetime, and routes across drivers name the right address (no root, no processes).
#include "drivers/dispatch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "drivers/fake/fake_driver.h"

namespace jb {
namespace {

class NamedFake : public FakeDriver {
 public:
  NamedFake(std::string name, std::string host) : host_(std::move(host)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  bool Serves(const std::string& type) const override { return type == name_; }
  StatusOr<std::string> Host(const std::string&, const std::string& node) override {
    if (host_ == "down") return Status::Unavailable("VM for " + node + " is not up yet");
    return node == "e2" ? std::string("10.0.0.2") : host_;
  }
  std::string host_;

 private:
  std::string name_;
};

InfrastructureSpec Infra() {
  InfrastructureSpec s;
  s.tiers = {Tier{"device", DriverSpec{"local", {}}}, Tier{"edge", DriverSpec{"ssh", {{"portBase", "18000"}}}}};
  s.nodes = {Node{"d1", "device", 0, "cpu", 1, std::nullopt, std::nullopt},
             Node{"e1", "edge", 0, "cpu", 1, std::string("10.0.0.1"), std::nullopt},
             Node{"e2", "edge", 0, "cpu", 1, std::string("10.0.0.2"), std::nullopt}};
  return s;
}

WorkerConfig W(const std::string& name, const std::string& node, const std::string& tier) {
  WorkerConfig c;
  c.workflow = "wf";
  c.name = name;
  c.node = node;
  c.tier = tier;
  WorkerInstance i;
  i.kind = name == "io-device" ? "sink" : "operator";
  i.name = name == "io-device" ? kSinkName : "A";
  c.instances = {i};
  c.routes = {
      {"A", 0, 0.5, "e1", "", "edge"}, {"A", 0.5, 1, "e2", "", "edge"}, {kSinkName, 0, 1, "io-device", "", "device"}};
  return c;
}

struct Fixture {
  NamedFake* local;
  NamedFake* ssh;
  std::unique_ptr<TierDispatcher> d;
  Fixture() {
    auto l = std::make_unique<NamedFake>("local", "127.0.0.1");
    auto s = std::make_unique<NamedFake>("ssh", "10.0.0.1");
    local = l.get();
    ssh = s.get();
    std::map<std::string, std::unique_ptr<Driver>> m;
    m["local"] = std::move(l);
    m["ssh"] = std::move(s);
    d = std::make_unique<TierDispatcher>(std::move(m));
    d->UseInfrastructure("wf", Infra());
  }
};

TEST(TierDispatcher, SendsEachWorkerToItsTiersDriverAndFillsRoutesAcrossThem) {
  Fixture f;
  EXPECT_TRUE(f.d->Serves("ssh"));
  EXPECT_FALSE(f.d->Serves("agent"));
  std::vector<WorkerConfig> want = {W("io-device", "", "device"), W("e1", "e1", "edge"), W("e2", "e2", "edge")};
  ASSERT_TRUE(f.d->Apply("wf", want).ok());
  auto local = f.local->Desired("wf");
  auto ssh = f.ssh->Desired("wf");
  ASSERT_EQ(local.size(), 1u);
  ASSERT_EQ(ssh.size(), 2u);
  EXPECT_EQ(local[0].node, "d1");  // the io worker runs on the tier's first node
  EXPECT_EQ(local[0].listen.rfind("127.0.0.1:", 0), 0u) << local[0].listen;
  EXPECT_EQ(ssh[0].listen, "10.0.0.1:18000");  // portBase on each host
  EXPECT_EQ(ssh[1].listen, "10.0.0.2:18000");
  for (const auto& c : {local[0], ssh[0], ssh[1]}) {
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.routes[0].address, "10.0.0.1:18000");
    EXPECT_EQ(c.routes[1].address, "10.0.0.2:18000");
    EXPECT_EQ(c.routes[2].address, local[0].listen);
  }
  // Addresses are kept across applies; a second worker on a host takes the next port.
  want.push_back(W("e1~e2", "e1", "edge"));
  want.back().routes = want[0].routes;
  ASSERT_TRUE(f.d->Apply("wf", want).ok());
  auto again = f.ssh->Desired("wf");
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].listen, "10.0.0.1:18000");
  EXPECT_EQ(again[2].name, "e1~e2");
  EXPECT_EQ(again[2].listen, "10.0.0.1:18001");
  EXPECT_EQ(f.local->Desired("wf")[0].listen, local[0].listen);
  // A driver whose share becomes empty stops its workers of the workflow.
  WorkerConfig alone = W("io-device", "d1", "device");
  alone.routes.erase(alone.routes.begin(), alone.routes.begin() + 2);
  ASSERT_TRUE(f.d->Apply("wf", {alone}).ok());
  EXPECT_TRUE(f.ssh->Desired("wf").empty());
  EXPECT_EQ(f.d->Workflows(), std::vector<std::string>{"wf"});
  ASSERT_TRUE(f.d->Remove("wf").ok());
  EXPECT_TRUE(f.d->Workflows().empty());
}

TEST(TierDispatcher, ExplainsWhatItCannotPlace) {
  Fixture f;
  f.ssh->host_ = "down";
  auto s = f.d->Apply("wf", {W("io-device", "", "device"), W("e1", "e1", "edge")});
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_NE(s.message().find("VM for e1 is not up yet"), std::string::npos) << s.message();
  EXPECT_TRUE(f.local->Desired("wf").empty()) << "nothing is applied until every worker has an address";
  auto bad = f.d->Apply("wf", {W("x", "x", "moon")});
  EXPECT_NE(bad.message().find("tier moon is not in the Infrastructure"), std::string::npos) << bad.message();
  InfrastructureSpec agent = Infra();
  agent.tiers[1].driver.type = "agent";
  f.d->UseInfrastructure("wf", agent);
  auto unserved = f.d->Apply("wf", {W("e1", "e1", "edge")});
  EXPECT_NE(unserved.message().find("uses the agent driver, which this daemon does not run"), std::string::npos)
      << unserved.message();
  TierDispatcher none({});
  EXPECT_NE(none.Apply("other", {}).message().find("no Infrastructure known"), std::string::npos);
}

// A dispatcher with certificates (the daemon's CA in a temporary state directory).
struct CertFixture : Fixture {
  std::filesystem::path state = std::filesystem::temp_directory_path() /
                                ("jb-dispatch-test-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
  CertFixture() { d->UseCertificates(state.string()); }
  ~CertFixture() {
    std::error_code ec;
    std::filesystem::remove_all(state, ec);
  }
};

// Without certificates the dispatcher cannot deliver a remote TLS ingress and says so; with them,
// an ssh tier's io worker gets its certificate, key and the workflow's token inline, like the link
// certificates every worker gets; plain HTTP (the node's loopback) needs none.
TEST(TierDispatcher, DeliversATlsIngressInlineToANonLocalDriver) {
  Fixture bare;
  WorkerConfig io = W("e1", "e1", "edge");  // stands in for an io worker with ingress sources
  io.ingress = WorkerIngress{};
  auto s = bare.d->Apply("wf", {W("io-device", "", "device"), io, W("e2", "e2", "edge")});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.message();
  EXPECT_TRUE(bare.ssh->Desired("wf").empty());

  CertFixture f;
  s = f.d->Apply("wf", {W("io-device", "", "device"), io, W("e2", "e2", "edge")});
  ASSERT_TRUE(s.ok()) << s.message();
  auto ssh = f.ssh->Desired("wf");
  ASSERT_EQ(ssh.size(), 2u);
  const WorkerConfig& e1 = ssh[0].name == "e1" ? ssh[0] : ssh[1];
  ASSERT_TRUE(e1.ingress.has_value());
  EXPECT_NE(e1.ingress->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(e1.ingress->key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(e1.ingress->token.size(), 64u);
  io.ingress->plain_http = true;
  s = f.d->Apply("wf", {W("io-device", "", "device"), io, W("e2", "e2", "edge")});
  EXPECT_TRUE(s.ok()) << s.message();
}

// Every worker gets a link certificate for its workflow, name and epoch (the same one while the
// epoch stays, a new one with a new epoch), the CA, and the tiers' TLS modes.
TEST(TierDispatcher, IssuesEachWorkerALinkCertificatePerEpoch) {
  CertFixture f;
  auto infra = Infra();
  infra.tiers[1].tls = "on";
  f.d->UseInfrastructure("wf", infra);
  std::vector<WorkerConfig> want = {W("io-device", "", "device"), W("e1", "e1", "edge"), W("e2", "e2", "edge")};
  ASSERT_TRUE(f.d->Apply("wf", want).ok());
  auto first = f.ssh->Desired("wf");
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(first[0].tls.has_value());
  EXPECT_EQ(first[0].tls->mode, "on");
  EXPECT_EQ(first[0].tls->tier_modes.at("device"), "loopback");
  EXPECT_NE(first[0].tls->ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  auto local = f.local->Desired("wf");
  ASSERT_EQ(local.size(), 1u);
  ASSERT_TRUE(local[0].tls.has_value());
  EXPECT_EQ(local[0].tls->mode, "loopback");
  EXPECT_NE(local[0].tls->cert_pem, first[0].tls->cert_pem);  // one per worker

  ASSERT_TRUE(f.d->Apply("wf", want).ok());
  EXPECT_EQ(f.ssh->Desired("wf")[0].tls->cert_pem, first[0].tls->cert_pem);  // same epoch: kept
  for (auto& w : want) w.epoch = 2;
  ASSERT_TRUE(f.d->Apply("wf", want).ok());
  EXPECT_NE(f.ssh->Desired("wf")[0].tls->cert_pem, first[0].tls->cert_pem);  // new epoch: rotated
}

}  // namespace
}  // namespace jb
