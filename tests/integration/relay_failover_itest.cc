// The relay and PortManager in this process on a real EAL: failover by a
// store of the steering word, announcements through the worker command
// ring, moving a queue pair between workers, policy replacement.
//
// The EAL is initialised once per process (main lcore 0 on CPU 0, relay
// workers on lcores 1 and 2, both mapped to CPU 1, so they sleep when idle);
// the testpmd guest forwards on CPU 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vfo/vhost/eal.h"
#include "vfo/vhost/eal_dpdk_control.h"
#include "vfo/vhost/port_manager.h"
#include "vfo/vhost/relay.h"
#include "vfod_lab.h"

namespace vfo::vhost::itest {
namespace {

using ::testing::HasSubstr;

std::string g_prefix;

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_prefix = vfo::testing::uniqueName("vhrel");
    Status s = initEal({"relay_itest", "--file-prefix=" + g_prefix, "--lcores=0@0,1@1,2@1",
                        "--main-lcore=0", "--no-huge", "-m", "256", "--no-pci", "--no-telemetry"});
    ASSERT_TRUE(s.isOk()) << s.toString();
  }
  void TearDown() override { cleanupEal(g_prefix); }
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

// A gratuitous ARP from the guest's MAC, as lag-core's announce would build.
std::vector<uint8_t> garpFromGuest() {
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x00, 0x07, 0x01};
  std::vector<uint8_t> f(6, 0xff);
  f.insert(f.end(), mac, mac + 6);
  f.insert(f.end(), {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01});
  f.insert(f.end(), mac, mac + 6);
  f.insert(f.end(), {198, 18, 0, 7});
  f.insert(f.end(), 6, 0x00);
  f.insert(f.end(), {198, 18, 0, 7});
  f.resize(60, 0);
  return f;
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(lab_.ok());
    RelayOptions ro;
    ro.worker_lcores = {1, 2};
    ro.mbufs = 8192;
    auto relay = Relay::create(ro);
    ASSERT_TRUE(relay.isOk()) << relay.status().toString();
    relay_ = std::move(*relay);
    dpdk_ = std::make_unique<EalDpdkControl>(relay_->packetPool());
    PortManager::Options o;
    o.sockets.dir = dir_.path + "/sock";
    o.lag.members = {{"pf0", lab_.pf0}, {"pf1", lab_.pf1}};
    ports_ = std::make_unique<PortManager>(*dpdk_, *relay_, o);
    EalDpdkControl::setEventHandler(ports_.get());
    ASSERT_TRUE(relay_->start().isOk());

    PortSettings p;
    p.id = "vm1";
    p.socket_path = dir_.path + "/sock/vm1.sock";
    p.mac = *MacAddress::parse(kGuestMac);
    p.allowed_macs = {p.mac};
    p.queue_pairs = 1;
    p.uplink_devargs = {"", ""};
    Status s = ports_->createPort(p);
    ASSERT_TRUE(s.isOk()) << s.toString();
    guest_ = std::make_unique<Testpmd>(dir_.path, TestpmdOptions(p.socket_path));
    ASSERT_TRUE(vfo::testing::waitFor(
        [&] { return ports_->exportPort("vm1")->vhost == VhostLink::kRunning; }, 20s, 50ms))
        << guest_->log();
  }

  void TearDown() override {
    guest_.reset();
    if (ports_) ports_->closeAll();
    EalDpdkControl::setEventHandler(nullptr);
    if (relay_) relay_->stop();
    ports_.reset();
    dpdk_.reset();
    relay_.reset();
  }

  PortStatsReport stats() { return *ports_->portStats("vm1"); }
  bool pingOnce() { return lab_.inNs("ping -c 1 -W 1 " + std::string(kGuestIp)).ok(); }

  MiniLab lab_;
  TempDir dir_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<EalDpdkControl> dpdk_;
  std::unique_ptr<PortManager> ports_;
  std::unique_ptr<Testpmd> guest_;
};

TEST_F(RelayTest, FailoverSwitchesMembersAndTheAnnounceMovesTheSwitch) {
  auto out = lab_.pingUntilAnswered(kGuestIp, 3);
  ASSERT_TRUE(out.has_value());
  EXPECT_THAT(*out, HasSubstr("3 received"));
  EXPECT_GT(stats().members[0].tx_packets, 0u);
  EXPECT_EQ(stats().members[1].tx_packets, 0u);

  // Failover to pf1. The ToR (the bridge) still sends the guest's traffic
  // to pf0, which is now standby: dropped, like a bond's backup slave.
  ASSERT_TRUE(ports_->setActiveMember("vm1", 1).isOk());
  const uint64_t standby_before = stats().members[0].drop_standby_rx;
  EXPECT_FALSE(pingOnce());
  EXPECT_GT(stats().members[0].drop_standby_rx, standby_before);

  // The announce goes out on pf1 through the worker's command ring; the
  // bridge relearns the guest's MAC on pf1 and traffic flows again.
  ASSERT_TRUE(ports_->sendOnMember("vm1", 1, {garpFromGuest()}).isOk());
  ASSERT_TRUE(vfo::testing::waitFor([&] { return stats().total.announce_sent == 1; }, 5s));
  out = lab_.pingUntilAnswered(kGuestIp, 5);
  ASSERT_TRUE(out.has_value());
  EXPECT_THAT(*out, HasSubstr("5 received"));
  EXPECT_THAT(*out, ::testing::Not(HasSubstr("DUP!")));
  const auto s = stats();
  EXPECT_GE(s.members[1].tx_packets, 6u);  // the GARP and the echo replies
  EXPECT_EQ(s.events.active_member_changes, 1u);

  // And back.
  ASSERT_TRUE(ports_->setActiveMember("vm1", 0).isOk());
  ASSERT_TRUE(ports_->sendOnMember("vm1", 0, {garpFromGuest()}).isOk());
  out = lab_.pingUntilAnswered(kGuestIp, 3);
  ASSERT_TRUE(out.has_value());
  EXPECT_THAT(*out, HasSubstr("3 received"));
  EXPECT_EQ(stats().total.announce_sent, 2u);
}

TEST_F(RelayTest, NoLiveMemberDropsAndCounts) {
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 1).has_value());
  ASSERT_TRUE(ports_->setActiveMember("vm1", lag::kNoMember).isOk());
  EXPECT_FALSE(pingOnce());
  // Both members' copies are dropped as standby; nothing reaches the guest.
  const auto s = stats();
  EXPECT_GT(s.members[0].drop_standby_rx, 0u);
  ASSERT_TRUE(ports_->setActiveMember("vm1", 0).isOk());
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 1).has_value());
}

TEST_F(RelayTest, QueuePairsSpreadAndMoveBetweenWorkers) {
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 1).has_value());
  const uint64_t rx_before = stats().total.guest_rx_packets;
  // A second port with two queue pairs and no uplinks, next to the live one.
  DatapathPortSpec spec;
  spec.id = "scratch";
  spec.queue_pairs = 2;
  auto scratch = relay_->addPort(spec);
  ASSERT_TRUE(scratch.isOk());
  EXPECT_NE(relay_->ownerOf(*scratch, 0), relay_->ownerOf(*scratch, 1))
      << "queue pairs are spread over the workers";
  const int owner = relay_->ownerOf(*scratch, 0);
  ASSERT_TRUE(relay_->moveQueue(*scratch, 0, uint32_t(1 - owner)).isOk());
  EXPECT_EQ(relay_->ownerOf(*scratch, 0), 1 - owner);
  EXPECT_EQ(relay_->moveQueue(*scratch, 5, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(relay_->moveQueue(*scratch, 0, 7).code(), StatusCode::kInvalidArgument);
  relay_->removePort(*scratch);
  // The live port kept working throughout, and both workers ran.
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value());
  EXPECT_GT(stats().total.guest_rx_packets, rx_before);
  for (const auto& w : relay_->workerStats()) EXPECT_GT(w.loops, 0u);
}

TEST_F(RelayTest, PolicyUpdateTakesEffectAtOnce) {
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 1).has_value());
  // Withdraw the guest's MAC: unicast to it is no longer delivered, and its
  // answers to broadcast ARP are spoofed.
  const MacAddress other = *MacAddress::parse("52:54:00:00:99:99");
  ASSERT_TRUE(ports_->updatePortPolicy("vm1", 0, {other}).isOk());
  const auto before = stats().total;
  EXPECT_FALSE(pingOnce());
  EXPECT_GT(stats().total.drop_not_for_guest, before.drop_not_for_guest);
  ASSERT_TRUE(lab_.inNs("ip neigh flush dev br0").ok());
  EXPECT_FALSE(pingOnce());
  EXPECT_GT(stats().total.drop_spoofed_source, before.drop_spoofed_source);
  ASSERT_TRUE(ports_->updatePortPolicy("vm1", 0, {*MacAddress::parse(kGuestMac)}).isOk());
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value());
  EXPECT_EQ(ports_->exportPort("vm1")->settings.allowed_macs.size(), 1u);
}

lag::MemberId pickMember(const void* context, const uint8_t*, uint32_t) {
  return *static_cast<const lag::MemberId*>(context);
}

TEST_F(RelayTest, SelectorHookPicksTheMemberPerFrame) {
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 1).has_value());
  // A balance-mode selector that sends everything on pf1 and accepts RX
  // from both members.
  static const lag::MemberId kOne = 1;
  MemberSelector sel{&pickMember, &kOne};
  ASSERT_TRUE(ports_->setSelector("vm1", &sel, 0b11).isOk());
  const uint64_t pf1_before = stats().members[1].tx_packets;
  auto out = lab_.pingUntilAnswered(kGuestIp, 3);
  ASSERT_TRUE(out.has_value());
  EXPECT_THAT(*out, HasSubstr("3 received"));
  EXPECT_GE(stats().members[1].tx_packets, pf1_before + 3);
  ASSERT_TRUE(ports_->setSelector("vm1", nullptr, 0).isOk());
}

TEST_F(RelayTest, AnnounceToAMissingMemberIsRefused) {
  EXPECT_EQ(ports_->sendOnMember("vm1", 3, {garpFromGuest()}).code(), StatusCode::kInvalidArgument);
  Status s = ports_->sendOnMember("vm1", 0, {std::vector<uint8_t>(4, 0)});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("frame 0 has 4 bytes"));
}

}  // namespace
}  // namespace vfo::vhost::itest
