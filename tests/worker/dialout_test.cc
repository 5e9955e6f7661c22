// Devices behind NAT (worker/dialout.h), over loopback in one loop: worker "u" is reachable (it
// listens), worker "w" is not (it never listens) and opens every connection. Items flow both ways
// over connections w opened, with credits, acknowledgements, re-sends after a lost connection and
// exactly-once hand-over as on any link; a DialIn no route expects is refused, and over mutual TLS
// so is one whose certificate names another worker than the one it claims.
#include "worker/dialout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "drivers/agent/pki.h"

namespace jb {
namespace {

using namespace std::chrono_literals;
constexpr uint32_t kWindow = 4;

class DialOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(*l);
    // u: listens, sends to w over the connection w opens (a dial-in link).
    u_in_ = std::make_unique<InboundStreams>(loop_.get(), kWindow, [this](const AckRef& a, wire::Item& item) {
      ++u_received_[item.seq()];
      Done(&u_ledger_, a);
    });
    ASSERT_TRUE(u_in_->Listen("127.0.0.1:0").ok());
    u_addr_ = "127.0.0.1:" + std::to_string(u_in_->port());
    u_links_ = std::make_unique<OutboundLinks>(loop_.get(), &u_tx_, "wf/u->", 11, kWindow);
    u_in_->SetDialInHandler([this](const wire::DialIn& d, std::unique_ptr<Transport> t) {
      return AcceptDialIn(u_links_.get(), "wf", d, std::move(t));
    });
    to_w_ = &u_links_->Add("w", "127.0.0.1:1", "device");  // the address is never dialed
    u_links_->SetDialIn(*to_w_, true);
    // w: no listening socket; receives on the connection it dials, sends over a link it dials.
    w_in_ = std::make_unique<InboundStreams>(loop_.get(), kWindow, [this](const AckRef& a, wire::Item& item) {
      ++w_received_[item.seq()];
      if (hold_w_acks_)
        w_held_.push_back(a);
      else
        Done(&w_ledger_, a);
    });
    w_links_ = std::make_unique<OutboundLinks>(loop_.get(), &w_tx_, "wf/w->", 22, kWindow);
    to_u_ = &w_links_->Add("u", u_addr_, "edge");
  }
  void StartDialing(const std::string& self = "w") {
    w_dial_ = std::make_unique<DialOut>(loop_.get(), w_in_.get(), "wf", self);
    w_dial_->SetPeers({{"u", u_addr_, "edge"}});
  }
  static void Done(HoldLedger* ledger, const AckRef& a) {
    HoldId h = ledger->New(0);
    ledger->AddAck(h, a);
    ledger->Unref(h);  // safe at once
  }
  void Step() {
    loop_->RunOnce(10);
    u_links_->PumpAll();
    w_links_->PumpAll();
    u_in_->FlushAcks();
    w_in_->FlushAcks();
  }
  bool RunUntil(const std::function<bool()>& pred, std::chrono::seconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) Step();
    return pred();
  }
  void Send(OutboundLinks* links, OutboundLinks::Link* l, HoldLedger* ledger, uint64_t first, uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      wire::Item it;
      it.set_seq(seq);
      it.set_payload("p");
      HoldId h = ledger->New(0);
      ASSERT_EQ(links->Send(*l, std::move(it), h), "");
      ledger->Unref(h);  // the link keeps its own reference
    }
  }
  LinkMetrics ToW() {
    for (const auto& m : u_links_->Metrics(std::chrono::steady_clock::now()))
      if (m.worker == "w") return m;
    return {};
  }

  std::unique_ptr<EventLoop> loop_;
  HoldLedger u_tx_{[](const AckRef&) {}, [](const std::string&) {}};
  HoldLedger w_tx_{[](const AckRef&) {}, [](const std::string&) {}};
  HoldLedger u_ledger_{[this](const AckRef& a) { u_in_->Ack(a); }, [](const std::string&) {}};
  HoldLedger w_ledger_{[this](const AckRef& a) { w_in_->Ack(a); }, [](const std::string&) {}};
  std::unique_ptr<InboundStreams> u_in_, w_in_;
  std::unique_ptr<OutboundLinks> u_links_, w_links_;
  std::unique_ptr<DialOut> w_dial_;  // declared last: destroyed before the streams it feeds
  OutboundLinks::Link* to_w_ = nullptr;
  OutboundLinks::Link* to_u_ = nullptr;
  std::string u_addr_;
  std::map<uint64_t, int> u_received_, w_received_;
  bool hold_w_acks_ = false;
  std::vector<AckRef> w_held_;
};

TEST_F(DialOutTest, ItemsFlowBothWaysOverConnectionsTheUnreachableWorkerOpens) {
  u_links_->SetProducerLinks({{"op", {"w"}}});
  Send(u_links_.get(), to_w_, &u_tx_, 1, 3);
  // Until w dials in, u's items wait on the link (never dialed) and count as its backlog.
  for (int i = 0; i < 20; ++i) Step();
  EXPECT_FALSE(ToW().connected);
  EXPECT_EQ(u_tx_.size(), 3);
  Send(u_links_.get(), to_w_, &u_tx_, 4, 4);
  EXPECT_TRUE(u_links_->Blocked("op")) << "window 4 unacknowledged while disconnected";

  StartDialing();
  Send(u_links_.get(), to_w_, &u_tx_, 5, 20);
  Send(w_links_.get(), to_u_, &w_tx_, 1, 20);
  ASSERT_TRUE(RunUntil([&] { return u_tx_.size() == 0 && w_tx_.size() == 0; }))
      << u_tx_.size() << " of u's and " << w_tx_.size() << " of w's items unacknowledged";
  EXPECT_EQ(w_received_.size(), 20u);
  EXPECT_EQ(u_received_.size(), 20u);
  for (const auto& [seq, n] : w_received_) EXPECT_EQ(n, 1) << seq;
  for (const auto& [seq, n] : u_received_) EXPECT_EQ(n, 1) << seq;
  EXPECT_EQ(w_in_->port(), 0) << "w never listened";
  EXPECT_EQ(w_dial_->connected(), 1u);
  EXPECT_TRUE(ToW().connected);
  EXPECT_FALSE(u_links_->Blocked("op"));
}

TEST_F(DialOutTest, ALostConnectionIsRedialedAndEveryItemHandedOnExactlyOnce) {
  hold_w_acks_ = true;
  StartDialing();
  Send(u_links_.get(), to_w_, &u_tx_, 1, 3);
  ASSERT_TRUE(RunUntil([&] { return w_held_.size() == 3; }));
  // Item 1 done, its acknowledgement queued; then the connection breaks (u drops it), so the ack
  // may be lost: u re-sends 1..3 on the connection w dials again.
  w_in_->Ack(w_held_[0]);
  u_links_->SetDialIn(*to_w_, false);
  u_links_->SetDialIn(*to_w_, true);
  ASSERT_TRUE(RunUntil([&] { return ToW().resent >= 2 && ToW().connected; })) << ToW().resent;
  EXPECT_GE(w_dial_->dials(), 2);
  Send(u_links_.get(), to_w_, &u_tx_, 4, 4);  // behind the re-sends on the new connection
  ASSERT_TRUE(RunUntil([&] { return w_received_[4] == 1; }));
  EXPECT_EQ(w_held_.size(), 4u) << "re-sends of items in progress or done are not handed on again";
  for (size_t i = 1; i < w_held_.size(); ++i) w_in_->Ack(w_held_[i]);
  ASSERT_TRUE(RunUntil([&] { return u_tx_.size() == 0; })) << u_tx_.size() << " unacknowledged";
  for (uint64_t seq = 1; seq <= 4; ++seq) EXPECT_EQ(w_received_[seq], 1) << seq;
}

TEST_F(DialOutTest, TheReceiversCreditBoundsWhatTheSenderHasInFlight) {
  hold_w_acks_ = true;
  u_links_->SetProducerLinks({{"op", {"w"}}});
  StartDialing();
  Send(u_links_.get(), to_w_, &u_tx_, 1, 10);
  ASSERT_TRUE(RunUntil([&] { return w_held_.size() == kWindow && ToW().inflight == kWindow; }));
  for (int i = 0; i < 30; ++i) Step();  // time for anything beyond the window to (wrongly) arrive
  EXPECT_EQ(w_received_.size(), kWindow);
  EXPECT_EQ(ToW().pending, 6);
  EXPECT_TRUE(u_links_->Blocked("op"));
  // Acknowledging frees the window: the rest follows, each item once.
  while (u_tx_.size() > 0 && !w_held_.empty()) {
    auto held = std::move(w_held_);
    w_held_.clear();
    for (const auto& a : held) w_in_->Ack(a);
    ASSERT_TRUE(RunUntil([&] { return !w_held_.empty() || u_tx_.size() == 0; }));
  }
  ASSERT_TRUE(RunUntil([&] { return u_tx_.size() == 0; }));
  EXPECT_EQ(w_received_.size(), 10u);
  for (const auto& [seq, n] : w_received_) EXPECT_EQ(n, 1) << seq;
}

TEST_F(DialOutTest, ADialInNoRouteExpectsIsRefused) {
  StartDialing("x");  // u has no dial-in link to x
  Send(u_links_.get(), to_w_, &u_tx_, 1, 2);
  ASSERT_TRUE(RunUntil([&] { return w_dial_->dials() >= 2; })) << "refused, then dialed again";
  EXPECT_FALSE(ToW().connected);
  EXPECT_TRUE(w_received_.empty());
  EXPECT_EQ(u_tx_.size(), 2);
}

// Link certificates of workflow "wf" from a CA in a temporary directory (as drivers/worker_tls.h).
class WorkerCerts {
 public:
  WorkerCerts() {
    auto c = Ca::LoadOrCreate(dir_.string());
    EXPECT_TRUE(c.ok()) << c.status().message();
    if (c.ok()) ca_ = std::move(*c);
  }
  ~WorkerCerts() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::shared_ptr<const LinkTls> For(const std::string& worker) const {
    if (!ca_) return nullptr;
    auto pair = ca_->IssueUri(WorkerTlsUri("wf", worker, 1), 7);
    EXPECT_TRUE(pair.ok());
    if (!pair.ok()) return nullptr;
    WorkerTls t;
    t.cert_pem = pair->cert_pem;
    t.key_pem = pair->key_pem;
    t.ca_pem = ca_->cert_pem();
    t.mode = "on";
    auto tls = LinkTls::Create(t, "wf");
    EXPECT_TRUE(tls.ok()) << tls.status().message();
    return tls.ok() ? *tls : nullptr;
  }

 private:
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("jb-dialout-test-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
  std::unique_ptr<Ca> ca_;
};

TEST_F(DialOutTest, ADialInWhoseCertificateNamesAnotherWorkerIsRefusedAndTheRightOneIsAdopted) {
  WorkerCerts certs;
  u_in_->SetTls(certs.For("u"));
  Send(u_links_.get(), to_w_, &u_tx_, 1, 3);
  // x: a worker of the same workflow with a valid certificate (naming x), claiming to be w.
  DialOut impostor(loop_.get(), w_in_.get(), "wf", "w");
  impostor.SetTls(certs.For("x"));
  impostor.SetPeers({{"u", u_addr_, "edge"}});
  ASSERT_TRUE(RunUntil([&] { return u_in_->tls_refused() >= 2; })) << "refused, then dialed again and refused";
  EXPECT_GE(impostor.dials(), 2);
  EXPECT_FALSE(ToW().connected);
  EXPECT_TRUE(w_received_.empty()) << "an item meant for w reached x";
  EXPECT_EQ(u_tx_.size(), 3) << "x acknowledged items meant for w";
  impostor.SetPeers({});

  // w itself, with its own certificate: adopted, every item handed on once.
  const int64_t refused = u_in_->tls_refused();
  w_dial_ = std::make_unique<DialOut>(loop_.get(), w_in_.get(), "wf", "w");
  w_dial_->SetTls(certs.For("w"));
  w_dial_->SetPeers({{"u", u_addr_, "edge"}});
  ASSERT_TRUE(RunUntil([&] { return u_tx_.size() == 0; })) << u_tx_.size() << " unacknowledged";
  EXPECT_TRUE(ToW().connected);
  EXPECT_TRUE(ToW().tls);
  EXPECT_EQ(u_in_->tls_refused(), refused);
  EXPECT_EQ(w_received_.size(), 3u);
  for (const auto& [seq, n] : w_received_) EXPECT_EQ(n, 1) << seq;
}

}  // namespace
}  // namespace jb
