// Devices behind NAT, end to end (worker/dialout.h, drivers/reachability.h): the three-tier lab
// (testing/three_tier_lab.h) with the device tier marked `reachable: false` and nftables in both
// device hosts dropping every new inbound connection that does not come from the device site
// itself (loopback or the other device), while outbound ones pass — as behind a NAT gateway. The
// workflow still plans, deploys and serves: the answers coming back to the device's sink travel on
// connections the device's io worker opened. Then dev-b's whole network is cut for 20 s under load
// (re-planned without it) and healed: back in the plan, every device at the current epoch, the SLO
// met, nothing lost or delivered twice. Needs root and nft; skips otherwise.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "testing/three_tier_lab.h"

namespace jb {
namespace {

using namespace jb::testing;
namespace fs = std::filesystem;

// Connects to host:port within `ms`: "connected", "refused" or "timed out" (dropped).
std::string TryConnect(const std::string& host, int port, int ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  std::string out = "timed out";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    out = "connected";
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, ms) == 1) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      out = err == 0 ? "connected" : "refused";
    }
  } else {
    out = "refused";
  }
  ::close(fd);
  return out;
}

class NatLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (jb::testing::Run("command -v nft >/dev/null 2>&1").exit_code != 0) GTEST_SKIP() << "nft is not installed";
    std::string why = lab_.Up();
    if (!why.empty()) GTEST_SKIP() << why;
  }
  // Device host k (3 or 4) accepts new connections only from loopback and the other device: every
  // other connection's first packet (SYN without ACK) is dropped; replies to its own connections pass.
  std::string BlockInbound(int k) {
    std::string ns = lab_.prefix_ + "-h" + std::to_string(k);
    auto r = jb::testing::Run("ip netns exec " + ns + " nft -f - 2>&1 <<'NFT'\n" +
                              "table inet jbnat {\n"
                              "  chain in {\n"
                              "    type filter hook input priority -10; policy accept;\n"
                              "    iifname \"lo\" accept\n"
                              "    ip saddr { 127.200.0.3, 127.200.0.4 } accept\n"
                              "    tcp flags & (syn | ack) == syn counter drop\n"
                              "  }\n"
                              "}\nNFT\n");
    return r.exit_code == 0 ? "" : r.output;
  }
  // Packets the device host's rule dropped so far.
  int64_t Dropped(int k) {
    auto r = jb::testing::Run("ip netns exec " + lab_.prefix_ + "-h" + std::to_string(k) +
                              " nft list table inet jbnat 2>&1");
    std::smatch m;
    if (!std::regex_search(r.output, m, std::regex("counter packets ([0-9]+)"))) return -1;
    return std::atoll(m[1].str().c_str());
  }
  // The Infrastructure, profiles and workflow of ThreeTierLab::ApplyAll, the device tier unreachable.
  std::string ApplyUnreachableDevices() {
    std::string infra =
        std::regex_replace(lab_.InfraYaml(), std::regex("(  - name: device\n)"), "$1    reachable: false\n");
    if (infra.find("reachable: false") == std::string::npos) return "the lab's Infrastructure changed shape";
    if (auto e = lab_.Put("infrastructures/lab-three-tier", infra); !e.empty()) return e;
    std::string profiles = ThreeTierLab::LabFile("three-tier/modelprofiles.yaml");
    std::regex sep("\n---\n");
    for (std::sregex_token_iterator it(profiles.begin(), profiles.end(), sep, -1), end; it != end; ++it) {
      std::smatch m;
      std::string doc = *it;
      if (!std::regex_search(doc, m, std::regex("\n  name: ([a-z-]+)"))) return "a profile without a name";
      if (auto e = lab_.Put("modelprofiles/" + m[1].str(), doc); !e.empty()) return e;
    }
    return lab_.Put("workflows/lab-pipeline", ThreeTierLab::LabFile("three-tier/workflow.yaml"));
  }
  // The device workers' configs as the agents received them.
  std::vector<WorkerConfig> DeviceConfigs() {
    std::vector<WorkerConfig> out;
    std::error_code ec;
    for (const char* d : {"agent-dev-a", "agent-dev-b"})
      for (const auto& f : fs::recursive_directory_iterator(lab_.dir_.path() / d, ec))
        if (f.path().extension() == ".yaml")
          if (auto c = ParseWorkerConfig(ReadFile(f.path()), f.path().string()); c.ok()) out.push_back(*c);
    return out;
  }
  // The device workers not at `epoch`: a config the agent holds for another epoch, or a running
  // worker whose report names another one; "" when every device runs `epoch`.
  std::string DevicesBehind(int64_t epoch) {
    std::string out;
    std::error_code ec;
    for (const char* d : {"agent-dev-a", "agent-dev-b"})
      for (const auto& f : fs::recursive_directory_iterator(lab_.dir_.path() / d, ec)) {
        std::string path = f.path().string();
        if (f.path().extension() == ".yaml")
          if (auto c = ParseWorkerConfig(ReadFile(f.path()), path); c.ok() && c->epoch != epoch)
            out += "  " + c->name + " configured for epoch " + std::to_string(c->epoch) + "\n";
        if (path.size() > 13 && path.compare(path.size() - 13, 13, ".metrics.json") == 0)
          if (auto m = ParseWorkerMetrics(ReadFile(f.path()), path); m.ok() && m->epoch != epoch)
            out += "  " + m->worker + " runs epoch " + std::to_string(m->epoch) + "\n";
      }
    return out;
  }
  ThreeTierLab lab_;
};

TEST_F(NatLab, DevicesThatOnlyDialOutPlanDeployAndServe) {
  ThreeTierLab& lab = lab_;
  ASSERT_EQ(BlockInbound(3), "");
  ASSERT_EQ(BlockInbound(4), "");
  ASSERT_TRUE(lab.StartDaemon()) << ReadFile(lab.dir_.path() / "state.log");
  lab.StartAgent(3, "dev-a");
  lab.StartAgent(4, "dev-b");
  auto t0 = Clock::now();
  ASSERT_EQ(ApplyUnreachableDevices(), "");
  std::optional<Workflow> wf;
  ASSERT_TRUE(WaitFor([&] { return lab.Serving(&wf); }, 120s))
      << (wf ? ThreeTierLab::Cond(*wf, "Deployed") + "\n" + ThreeTierLab::Cond(*wf, "Ready") : "no workflow") << "\n"
      << lab.Links() << ReadFile(lab.dir_.path() / "state.log");
  double serving_s = Since(t0);
  for (const char* n : {"dev-a", "dev-b", "edge-1", "vm-pool"})
    EXPECT_TRUE(ThreeTierLab::Uses(*wf, n)) << n << " is not in the plan";

  // The device workers were told so, and the one receiving from other tiers dials its senders.
  size_t dialing = 0;
  std::string dev_listen;
  for (const auto& c : DeviceConfigs()) {
    EXPECT_FALSE(c.reachable) << c.name;
    dialing += c.dial_out.empty() ? 0 : 1;
    dev_listen = c.listen;
  }
  EXPECT_GE(dialing, 1u) << "no device worker dials out";
  // Inbound connections to the devices are really dropped: one from host 1 times out.
  ASSERT_FALSE(dev_listen.empty());
  std::string host = dev_listen.substr(0, dev_listen.rfind(':'));
  EXPECT_EQ(TryConnect(host, std::atoi(dev_listen.substr(dev_listen.rfind(':') + 1).c_str()), 1000), "timed out")
      << dev_listen;
  EXPECT_GT(Dropped(3) + Dropped(4), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        wf = lab.Get();
        return wf && ThreeTierLab::Cond(*wf, "SLOMet").rfind("True", 0) == 0;
      },
      30s))
      << (wf ? ThreeTierLab::Cond(*wf, "SLOMet") : "no workflow");
  std::printf(
      "[ lab ] NAT: devices unreachable (inbound dropped), apply -> serving %.1f s; %zu device worker(s) dial out\n",
      serving_s, dialing);

  // A device partition under NAT: dev-b's whole network cut for 20 s under load (re-planned
  // without it), then healed: back in the plan, every device worker at the current epoch, the SLO
  // met, and no item lost (dropped) or delivered twice.
  int64_t epoch = wf->status.plan_epoch.value_or(0);
  ASSERT_EQ(lab.LabCmd("partition " + lab.prefix_ + " 4"), "");
  auto tp = Clock::now();
  double replanned_s = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        bool moved = lab.Serving(&wf) && wf->status.plan_epoch.value_or(0) > epoch && !ThreeTierLab::Uses(*wf, "dev-b");
        if (moved && replanned_s < 0) replanned_s = Since(tp);
        return moved && Since(tp) >= 20;  // the cut lasts 20 s
      },
      60s))
      << (wf ? ThreeTierLab::Cond(*wf, "Ready") + " / " + ThreeTierLab::Cond(*wf, "Deployed") : "") << "\n"
      << lab.Links();
  epoch = wf->status.plan_epoch.value_or(0);
  ASSERT_EQ(lab.LabCmd("heal " + lab.prefix_ + " 4"), "");
  const double cut_s = Since(tp);
  auto th = Clock::now();
  std::string behind;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!lab.Serving(&wf) || wf->status.plan_epoch.value_or(0) <= epoch || !ThreeTierLab::Uses(*wf, "dev-b"))
          return false;
        behind = DevicesBehind(*wf->status.plan_epoch);
        return behind.empty() && ThreeTierLab::Cond(*wf, "Ready").rfind("True", 0) == 0 &&
               ThreeTierLab::Cond(*wf, "SLOMet").rfind("True", 0) == 0;
      },
      90s))
      << (wf ? ThreeTierLab::Cond(*wf, "Ready") + " / " + ThreeTierLab::Cond(*wf, "Deployed") + " / " +
                   ThreeTierLab::Cond(*wf, "SLOMet")
             : "")
      << "\n"
      << behind << lab.Links();
  const double healed_s = Since(th);
  // Nothing lost: what the sources emitted reaches the sink (the last items given a moment), no
  // item dropped, and the sink counted no item twice.
  ASSERT_TRUE(WaitFor(
      [&] {
        wf = lab.Get();
        const auto& o = *wf->status.observed;
        return o.emitted > 0 && o.emitted - o.delivered <= 40;
      },
      15s))
      << wf->status.observed->emitted << " emitted, " << wf->status.observed->delivered << " delivered";
  EXPECT_EQ(wf->status.observed->dropped, 0);
  EXPECT_LE(wf->status.observed->delivered, wf->status.observed->emitted) << "a duplicate reached the sink's count";
  std::printf(
      "[ lab ] NAT: dev-b cut for %.1f s -> re-planned without it in %.1f s; healed -> back in the plan, every device "
      "at epoch %lld, SLO met in %.1f s; %lld emitted, %lld delivered, %lld dropped, %lld repeat(s) discarded\n",
      cut_s, replanned_s, static_cast<long long>(wf->status.plan_epoch.value_or(0)), healed_s,
      static_cast<long long>(wf->status.observed->emitted), static_cast<long long>(wf->status.observed->delivered),
      static_cast<long long>(wf->status.observed->dropped), static_cast<long long>(wf->status.observed->duplicates));

  auto del = HttpCall(lab.c_, "DELETE", kApi + "workflows/lab-pipeline");
  ASSERT_TRUE(del.ok() && del->status < 300);
  EXPECT_TRUE(WaitFor([&] { return lab.Vms().empty() && lab.RemoteWorkers().empty(); }, 30s));
}

}  // namespace
}  // namespace jb
