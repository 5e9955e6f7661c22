// Outbound links and inbound streams over loopback, in one loop: items are acknowledged end to end
// and their holds released; a re-send of a done item is acknowledged again, not handed on twice;
// and the flow-control contract (worker.h): a producer is blocked while a link's backlog is full.
#include "worker/links.h"

#include <gtest/gtest.h>

#include <map>

#include "worker/inbound.h"

namespace jb {
namespace {

using namespace std::chrono_literals;

class LinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = EventLoop::Create();
    ASSERT_TRUE(l.ok());
    loop_ = std::move(*l);
    inbound_ = std::make_unique<InboundStreams>(loop_.get(), 4, [this](const AckRef& a, wire::Item& item) {
      ++received_[item.seq()];
      if (hold_acks_) {
        held_.push_back(a);
        return;
      }
      HoldId h = rx_ledger_.New(0);
      rx_ledger_.AddAck(h, a);
      rx_ledger_.Unref(h);  // safe at once
    });
    ASSERT_TRUE(inbound_->Listen("127.0.0.1:0").ok());
    links_ = std::make_unique<OutboundLinks>(loop_.get(), &tx_ledger_, "wf/a->", 77, 4);
  }
  bool RunUntil(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      loop_->RunOnce(10);
      links_->PumpAll();
      inbound_->FlushAcks();
    }
    return pred();
  }
  wire::Item Item(uint64_t seq) {
    wire::Item it;
    it.set_seq(seq);
    it.set_payload("p");
    return it;
  }

  std::unique_ptr<EventLoop> loop_;
  HoldLedger tx_ledger_{[](const AckRef&) {}, [](const std::string&) {}};
  HoldLedger rx_ledger_{[this](const AckRef& a) { inbound_->Ack(a); }, [](const std::string&) {}};
  std::unique_ptr<InboundStreams> inbound_;
  std::unique_ptr<OutboundLinks> links_;
  std::map<uint64_t, int> received_;
  bool hold_acks_ = false;
  std::vector<AckRef> held_;
};

TEST_F(LinksTest, ItemsAreAcknowledgedEndToEndAndTheirHoldsReleased) {
  auto& link = links_->Add("b", "127.0.0.1:" + std::to_string(inbound_->port()), "edge");
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    HoldId h = tx_ledger_.New(0);
    ASSERT_EQ(links_->Send(link, Item(seq), h), "");
    tx_ledger_.Unref(h);  // the link keeps its own reference
  }
  EXPECT_EQ(tx_ledger_.size(), 20);
  ASSERT_TRUE(RunUntil([&] { return tx_ledger_.size() == 0; }));
  EXPECT_EQ(received_.size(), 20u);
  for (const auto& [seq, n] : received_) EXPECT_EQ(n, 1) << seq;
  EXPECT_EQ(inbound_->streams(), 1u);
  auto m = links_->Metrics(std::chrono::steady_clock::now());
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].connected);
  EXPECT_EQ(m[0].items, 20);
}

TEST_F(LinksTest, AProducerIsBlockedWhileALinksBacklogIsFull) {
  // No receiver yet: everything stays unacknowledged on the link.
  auto& link = links_->Add("b", "127.0.0.1:1", "edge");
  links_->SetProducerLinks({{"op", {"b"}}});
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    EXPECT_FALSE(links_->Blocked("op")) << seq;
    HoldId h = tx_ledger_.New(0);
    ASSERT_EQ(links_->Send(link, Item(seq), h), "");
    tx_ledger_.Unref(h);
  }
  EXPECT_TRUE(links_->Blocked("op")) << "window 4 reached";
  EXPECT_FALSE(links_->Blocked("other")) << "a producer that does not use the link";
  // Retired (no route names it): the items come back with their references, for re-routing.
  auto retired = links_->Retire({});
  ASSERT_EQ(retired.size(), 1u);
  EXPECT_EQ(retired[0].second.size(), 4u);
  for (auto& [id, out] : retired[0].second) tx_ledger_.Unref(out.hold);
  EXPECT_EQ(tx_ledger_.size(), 0);
  EXPECT_FALSE(links_->Blocked("op"));
}

TEST_F(LinksTest, AnItemInProgressIsHandedOnOnceAndAcknowledgedWhenDone) {
  hold_acks_ = true;
  auto& link = links_->Add("b", "127.0.0.1:" + std::to_string(inbound_->port()), "edge");
  HoldId h = tx_ledger_.New(0);
  ASSERT_EQ(links_->Send(link, Item(1), h), "");
  tx_ledger_.Unref(h);
  ASSERT_TRUE(RunUntil([&] { return held_.size() == 1; }));
  // The receiver's connection breaks: the sender re-sends the unacknowledged item.
  links_->SetAddress(link, "127.0.0.1:" + std::to_string(inbound_->port()) + " ", "edge");  // a new address...
  links_->SetAddress(link, "127.0.0.1:" + std::to_string(inbound_->port()), "edge");        // ...and back: reconnect
  ASSERT_TRUE(RunUntil([&] { return links_->Metrics(std::chrono::steady_clock::now())[0].resent >= 1; }));
  // A second item behind the re-send on the same connection: once it arrives, so did the re-send.
  HoldId h2 = tx_ledger_.New(0);
  ASSERT_EQ(links_->Send(link, Item(2), h2), "");
  tx_ledger_.Unref(h2);
  ASSERT_TRUE(RunUntil([&] { return received_[2] == 1; }));
  EXPECT_EQ(received_[1], 1) << "a re-send of an item in progress is not handed on again";
  EXPECT_EQ(tx_ledger_.size(), 2);
  inbound_->Ack(held_[1]);
  inbound_->Ack(held_[0]);  // done
  ASSERT_TRUE(RunUntil([&] { return tx_ledger_.size() == 0; }));
}

}  // namespace
}  // namespace jb
