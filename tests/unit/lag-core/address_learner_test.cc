// Address learner in virtual time: what is learned from what and in which
// direction, allowed MACs, VLANs, aging, the per-port cap, export/restore.
#include "vfo/lag/address_learner.h"

#include <gtest/gtest.h>

#include "frame_samples.h"
#include "vfo/lag/frames.h"

namespace vfo::lag {
namespace {

using namespace samples;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const MacAddress kGuest = *MacAddress::parse("52:54:00:12:34:56");
const MacAddress kGuest2 = *MacAddress::parse("52:54:00:12:34:57");
const MacAddress kStranger = *MacAddress::parse("52:54:00:99:99:99");
const MacAddress kServer = *MacAddress::parse("02:00:00:00:00:fe");
const Ipv4Address kRouter = *Ipv4Address::parse("198.18.0.1");
const Ipv6Address kIp6Router = *Ipv6Address::parse("2001:db8::1");

Ipv4Address ip4(int last) {
  return Ipv4Address::fromHostOrder(0xc6120000u | uint32_t(last));  // 198.18.0.<last>
}
Ipv6Address ip6(const char* text) {
  return *Ipv6Address::parse(text);
}

std::vector<uint8_t> garp(const MacAddress& mac, const Ipv4Address& ip, VlanId vlan = 0) {
  return *buildGratuitousArp(GarpForm::kRequest, mac, ip, vlan);
}
std::vector<uint8_t> dhcpAck(const MacAddress& chaddr, const Ipv4Address& yiaddr) {
  DhcpFields d;
  d.server_mac = kServer;
  d.server_ip = kRouter;
  d.chaddr = chaddr;
  d.yiaddr = yiaddr;
  return dhcpReply(d);
}

class AddressLearnerTest : public ::testing::Test {
 protected:
  void SetUp() override { make(AddressLearnerConfig{}); }
  void make(const AddressLearnerConfig& config) {
    auto l = AddressLearner::create(config);
    ASSERT_TRUE(l.isOk()) << l.status().toString();
    learner = std::move(*l);
    const MacAddress macs[] = {kGuest, kGuest2};
    ASSERT_TRUE(learner->addPort(kPort, macs).isOk());
  }
  LearnOutcome fromGuest(const std::vector<uint8_t>& f) {
    return learner->observe(kPort, FrameDirection::kFromGuest, f, clock.now());
  }
  LearnOutcome toGuest(const std::vector<uint8_t>& f) {
    return learner->observe(kPort, FrameDirection::kToGuest, f, clock.now());
  }
  std::vector<std::string> ips() {
    std::vector<std::string> out;
    for (const auto& e : learner->addresses(kPort))
      out.push_back(e.binding.family == IpFamily::kIpv4 ? e.binding.ipv4.toString()
                                                        : e.binding.ipv6.toString());
    std::sort(out.begin(), out.end());
    return out;
  }

  static constexpr PortIndex kPort = 3;
  FakeClock clock;
  std::unique_ptr<AddressLearner> learner;
};

TEST_F(AddressLearnerTest, LearnsFromEveryAddressFrameKind) {
  const TimePoint t0 = clock.now();
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(5))), LearnOutcome::kLearned);
  EXPECT_EQ(fromGuest(*buildArpRequest(kGuest, ip4(6), kRouter, 0)), LearnOutcome::kLearned);
  EXPECT_EQ(fromGuest(*buildUnsolicitedNa(kGuest, ip6("2001:db8::5"), 0)), LearnOutcome::kLearned);
  EXPECT_EQ(fromGuest(*buildNeighborSolicitation(kGuest, ip6("fe80::1"), kIp6Router, 0)),
            LearnOutcome::kLearned);
  EXPECT_EQ(toGuest(dhcpAck(kGuest, ip4(7))), LearnOutcome::kLearned);
  EXPECT_EQ(ips(), (std::vector<std::string>{"198.18.0.5", "198.18.0.6", "198.18.0.7",
                                             "2001:db8::5", "fe80::1"}));
  auto entries = learner->addresses(kPort);
  ASSERT_EQ(entries.size(), 5u);
  for (const auto& e : entries) {
    EXPECT_EQ(e.binding.mac, kGuest);
    EXPECT_EQ(e.binding.vlan, kNoVlan);
    EXPECT_EQ(e.first_seen, t0);
    EXPECT_EQ(e.last_seen, t0);
  }
  auto s = learner->stats();
  EXPECT_EQ(s.frames_seen, 5u);
  EXPECT_EQ(s.learned, 5u);
}

TEST_F(AddressLearnerTest, ArpAndNdFromTheNetworkAreNotLearned) {
  // A frame arriving from the network that claims the guest's MAC proves
  // nothing about the guest.
  EXPECT_EQ(toGuest(garp(kGuest, ip4(5))), LearnOutcome::kWrongDirection);
  EXPECT_EQ(toGuest(*buildUnsolicitedNa(kGuest, ip6("2001:db8::5"), 0)),
            LearnOutcome::kWrongDirection);
  EXPECT_TRUE(ips().empty());
  EXPECT_EQ(learner->stats().wrong_direction, 2u);
  // DHCP ACKs count in both directions.
  EXPECT_EQ(fromGuest(dhcpAck(kGuest, ip4(9))), LearnOutcome::kLearned);
}

TEST_F(AddressLearnerTest, OnlyAllowedMacsAreLearned) {
  EXPECT_EQ(fromGuest(garp(kStranger, ip4(5))), LearnOutcome::kMacNotAllowed);
  // A guest running a DHCP server hands out addresses to other MACs.
  EXPECT_EQ(fromGuest(dhcpAck(kStranger, ip4(50))), LearnOutcome::kMacNotAllowed);
  // An NA whose target link-layer option names a foreign MAC.
  NdFields n;
  n.eth_src = kGuest;
  n.eth_dst = Ipv6Address::allNodes().multicastMac();
  n.src = ip6("2001:db8::5");
  n.dst = Ipv6Address::allNodes();
  n.body = ndBody(0x20, n.src, 2, kStranger);
  EXPECT_EQ(fromGuest(nd(n)), LearnOutcome::kMacNotAllowed);
  EXPECT_TRUE(ips().empty());
  EXPECT_EQ(learner->stats().mac_not_allowed, 3u);
  // The second allowed MAC is fine.
  EXPECT_EQ(fromGuest(garp(kGuest2, ip4(6))), LearnOutcome::kLearned);
}

TEST_F(AddressLearnerTest, ProbesAndDadAreCountedNotLearned) {
  EXPECT_EQ(fromGuest(*buildArpRequest(kGuest, Ipv4Address(), ip4(5), 0)),
            LearnOutcome::kNoAddress);
  EXPECT_EQ(fromGuest(*buildNeighborSolicitation(kGuest, Ipv6Address(), ip6("2001:db8::5"), 0)),
            LearnOutcome::kNoAddress);
  DhcpFields offer;
  offer.server_mac = kServer;
  offer.chaddr = kGuest;
  offer.yiaddr = ip4(5);
  offer.message_type = 2;
  EXPECT_EQ(toGuest(dhcpReply(offer)), LearnOutcome::kNoAddress);
  EXPECT_TRUE(ips().empty());
  auto s = learner->stats();
  EXPECT_EQ(s.arp_probes, 1u);
  EXPECT_EQ(s.dad_solicitations, 1u);
  EXPECT_EQ(s.dhcp_not_ack, 1u);
  // After DAD, the guest's first NS from the address teaches it.
  EXPECT_EQ(fromGuest(*buildNeighborSolicitation(kGuest, ip6("2001:db8::5"), kIp6Router, 0)),
            LearnOutcome::kLearned);
}

TEST_F(AddressLearnerTest, MalformedFramesAreCountedByDefectAndChangeNothing) {
  auto bad_sender = garp(kGuest, ip4(5));
  std::fill(bad_sender.begin() + 6, bad_sender.begin() + 12, 0x66);  // eth src != sha
  EXPECT_EQ(fromGuest(bad_sender), LearnOutcome::kMalformed);
  auto na = *buildUnsolicitedNa(kGuest, ip6("2001:db8::5"), 0);
  na[14 + 40 + 2] ^= 0xff;  // checksum
  EXPECT_EQ(fromGuest(na), LearnOutcome::kMalformed);
  EXPECT_EQ(fromGuest(std::vector<uint8_t>(10, 0)), LearnOutcome::kMalformed);
  EXPECT_TRUE(ips().empty());
  EXPECT_EQ(learner->stats().frames_malformed, 3u);
  auto d = learner->defects();
  EXPECT_EQ(d.arp_sender_mismatch, 1u);
  EXPECT_EQ(d.nd_bad_checksum, 1u);
  EXPECT_EQ(d.eth_truncated, 1u);
  // Frames that are not address frames are only counted.
  EXPECT_EQ(fromGuest(*buildRarpAnnounce(kGuest, 0)), LearnOutcome::kNotRelevant);
  EXPECT_EQ(learner->stats().frames_not_relevant, 1u);
}

TEST_F(AddressLearnerTest, UnknownPort) {
  EXPECT_EQ(learner->observe(99, FrameDirection::kFromGuest, garp(kGuest, ip4(5)), clock.now()),
            LearnOutcome::kUnknownPort);
  EXPECT_EQ(learner->stats().frames_unknown_port, 1u);
  EXPECT_TRUE(learner->addresses(99).empty());
}

TEST_F(AddressLearnerTest, VlansKeepSeparateEntriesAndAddressesMoveBetweenAllowedMacs) {
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(5), 10)), LearnOutcome::kLearned);
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(5), 20)), LearnOutcome::kLearned);
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(5), 10)), LearnOutcome::kRefreshed);
  EXPECT_EQ(learner->addresses(kPort).size(), 2u);
  // The same address on VLAN 10 now announced by the second MAC.
  EXPECT_EQ(fromGuest(garp(kGuest2, ip4(5), 10)), LearnOutcome::kMoved);
  for (const auto& e : learner->addresses(kPort))
    EXPECT_EQ(e.binding.mac, e.binding.vlan == 10 ? kGuest2 : kGuest);
  auto s = learner->stats();
  EXPECT_EQ(s.learned, 2u);
  EXPECT_EQ(s.refreshed, 1u);
  EXPECT_EQ(s.moved, 1u);
}

TEST_F(AddressLearnerTest, PortsAreIndependent) {
  const MacAddress other_macs[] = {kStranger};
  ASSERT_TRUE(learner->addPort(4, other_macs).isOk());
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(5))), LearnOutcome::kLearned);
  EXPECT_EQ(learner->observe(4, FrameDirection::kFromGuest, garp(kGuest, ip4(5)), clock.now()),
            LearnOutcome::kMacNotAllowed);
  EXPECT_EQ(learner->observe(4, FrameDirection::kFromGuest, garp(kStranger, ip4(5)), clock.now()),
            LearnOutcome::kLearned);
  EXPECT_EQ(learner->addresses(kPort).size(), 1u);
  EXPECT_EQ(learner->addresses(4).size(), 1u);
}

TEST_F(AddressLearnerTest, AgingRefreshAndDeadline) {
  AddressLearnerConfig config;
  config.max_age = minutes(10);
  make(config);
  EXPECT_EQ(learner->nextDeadline(), kNever);
  const TimePoint t0 = clock.now();
  fromGuest(garp(kGuest, ip4(5)));
  clock.advance(minutes(2));
  fromGuest(garp(kGuest, ip4(6)));
  EXPECT_EQ(learner->nextDeadline(), t0 + minutes(10));

  clock.advance(minutes(3));  // t0 + 5 min: refresh .5
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(5))), LearnOutcome::kRefreshed);
  // The deadline is a lower bound: at t0 + 10 min nothing has expired yet.
  clock.set(learner->nextDeadline());
  learner->expire(clock.now());
  EXPECT_EQ(ips(), (std::vector<std::string>{"198.18.0.5", "198.18.0.6"}));
  EXPECT_EQ(learner->nextDeadline(), t0 + minutes(12));  // .6, learned at t0 + 2 min

  clock.set(t0 + minutes(12) - milliseconds(1));
  learner->expire(clock.now());
  EXPECT_EQ(ips().size(), 2u);
  clock.set(t0 + minutes(12));
  learner->expire(clock.now());
  EXPECT_EQ(ips(), (std::vector<std::string>{"198.18.0.5"}));
  EXPECT_EQ(learner->nextDeadline(), t0 + minutes(15));
  clock.set(t0 + minutes(15));
  learner->expire(clock.now());
  EXPECT_TRUE(ips().empty());
  EXPECT_EQ(learner->nextDeadline(), kNever);
  EXPECT_EQ(learner->stats().aged_out, 2u);
}

TEST_F(AddressLearnerTest, CapEvictsTheLeastRecentlySeen) {
  AddressLearnerConfig config;
  config.max_addresses_per_port = 3;
  make(config);
  for (int i = 1; i <= 3; ++i) {
    fromGuest(garp(kGuest, ip4(i)));
    clock.advance(seconds(1));
  }
  fromGuest(garp(kGuest, ip4(1)));  // .1 is now the most recent; .2 the oldest
  clock.advance(seconds(1));
  EXPECT_EQ(fromGuest(garp(kGuest, ip4(4))), LearnOutcome::kLearned);
  EXPECT_EQ(ips(), (std::vector<std::string>{"198.18.0.1", "198.18.0.3", "198.18.0.4"}));
  clock.advance(seconds(1));
  EXPECT_EQ(fromGuest(*buildUnsolicitedNa(kGuest, ip6("2001:db8::9"), 0)), LearnOutcome::kLearned);
  EXPECT_EQ(ips(), (std::vector<std::string>{"198.18.0.1", "198.18.0.4", "2001:db8::9"}));
  EXPECT_EQ(learner->stats().evicted, 2u);
  // Most recently seen first.
  auto entries = learner->addresses(kPort);
  EXPECT_EQ(entries.front().binding.ipv6.toString(), "2001:db8::9");
}

TEST_F(AddressLearnerTest, LinkLocalCanBeSkipped) {
  AddressLearnerConfig config;
  config.learn_ipv6_link_local = false;
  make(config);
  EXPECT_EQ(fromGuest(*buildUnsolicitedNa(kGuest, ip6("fe80::5054:ff:fe12:3456"), 0)),
            LearnOutcome::kLinkLocalSkipped);
  EXPECT_EQ(fromGuest(*buildUnsolicitedNa(kGuest, ip6("2001:db8::5"), 0)), LearnOutcome::kLearned);
  EXPECT_EQ(learner->stats().link_local_skipped, 1u);
}

TEST_F(AddressLearnerTest, ChangingAllowedMacsDropsEntries) {
  fromGuest(garp(kGuest, ip4(5)));
  fromGuest(garp(kGuest2, ip4(6)));
  const MacAddress only_second[] = {kGuest2};
  ASSERT_TRUE(learner->setAllowedMacs(kPort, only_second).isOk());
  EXPECT_EQ(ips(), (std::vector<std::string>{"198.18.0.6"}));
  EXPECT_EQ(learner->stats().dropped_disallowed, 1u);
  ASSERT_TRUE(learner->removePort(kPort).isOk());
  EXPECT_EQ(learner->stats().dropped_port_removed, 1u);
  EXPECT_EQ(learner->removePort(kPort).code(), StatusCode::kNotFound);
  EXPECT_EQ(learner->setAllowedMacs(kPort, only_second).code(), StatusCode::kNotFound);
}

TEST_F(AddressLearnerTest, PortAndConfigErrorsNameTheField) {
  const MacAddress macs[] = {kGuest};
  EXPECT_EQ(learner->addPort(kPort, macs).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(learner->addPort(kNoPort, macs).code(), StatusCode::kInvalidArgument);
  const MacAddress bad[] = {kGuest, *MacAddress::parse("33:33:00:00:00:01")};
  Status s = learner->addPort(8, bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("allowed_macs[1]: 33:33:00:00:00:01 is a multicast"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(learner->addresses(8).empty());
  EXPECT_EQ(learner->observe(8, FrameDirection::kFromGuest, garp(kGuest, ip4(5)), clock.now()),
            LearnOutcome::kUnknownPort);  // nothing was added

  AddressLearnerConfig c;
  c.max_age = milliseconds(999);
  auto r = AddressLearner::create(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("max_age: 999 ms is out of range"), std::string::npos);
  c = AddressLearnerConfig{};
  c.max_addresses_per_port = 0;
  r = AddressLearner::create(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("max_addresses_per_port: 0 is out of range 1..4096"),
            std::string::npos);
}

TEST_F(AddressLearnerTest, ExportAndRestoreRoundTrip) {
  fromGuest(garp(kGuest, ip4(5), 10));
  clock.advance(seconds(30));
  fromGuest(*buildUnsolicitedNa(kGuest2, ip6("2001:db8::5"), 0));
  const auto exported = learner->addresses(kPort);
  ASSERT_EQ(exported.size(), 2u);

  auto fresh = AddressLearner::create(AddressLearnerConfig{}).value();
  const MacAddress macs[] = {kGuest, kGuest2};
  ASSERT_TRUE(fresh->addPort(kPort, macs).isOk());
  ASSERT_TRUE(fresh->restore(kPort, exported, clock.now()).isOk());
  EXPECT_EQ(fresh->addresses(kPort), exported);
  EXPECT_EQ(fresh->stats().restored, 2u);
  EXPECT_EQ(fresh->stats().learned, 0u);
  EXPECT_EQ(fresh->nextDeadline(), exported.back().last_seen + minutes(10));

  // Entries already too old are skipped; a newer one known locally wins.
  clock.advance(minutes(10));
  fromGuest(garp(kGuest, ip4(5), 10));  // refresh locally
  auto stale = exported;
  ASSERT_TRUE(learner->restore(kPort, stale, clock.now()).isOk());
  auto now_entries = learner->addresses(kPort);
  for (const auto& e : now_entries)
    if (e.binding.family == IpFamily::kIpv4) {
      EXPECT_EQ(e.last_seen, clock.now());
    }
  EXPECT_EQ(learner->stats().aged_out, 2u);  // both exported entries were older than max_age
}

TEST_F(AddressLearnerTest, RestoreIsAllOrNothing) {
  LearnedAddress good{
      {kGuest, 0, IpFamily::kIpv4, ip4(5), {}}, AddressSource::kDhcpAck, clock.now(), clock.now()};
  struct Case {
    LearnedAddress bad;
    const char* message;
  };
  std::vector<Case> cases;
  {
    auto e = good;
    e.binding.mac = kStranger;
    e.binding.ipv4 = ip4(6);
    cases.push_back({e, "entries[1].binding.mac: 52:54:00:99:99:99 is not allowed on port 3"});
    e = good;
    e.binding.ipv4 = *Ipv4Address::parse("224.0.0.1");
    cases.push_back({e, "entries[1].binding.ipv4: 224.0.0.1 is not a unicast address"});
    e = good;
    e.binding.family = IpFamily::kIpv6;
    e.binding.ipv6 = ip6("ff02::1");
    cases.push_back({e, "entries[1].binding.ipv6: ff02::1"});
    e = good;
    e.binding.vlan = 4095;
    e.binding.ipv4 = ip4(6);
    cases.push_back({e, "entries[1].binding.vlan: 4095 is out of range"});
    e = good;
    e.binding.ipv4 = ip4(6);
    e.last_seen = clock.now() + seconds(1);
    cases.push_back({e, "entries[1]: want first_seen <= last_seen <= now"});
    e = good;
    cases.push_back({e, "entries[1]: vlan 0 198.18.0.5 repeats entries[0]"});
  }
  for (const Case& c : cases) {
    const LearnedAddress batch[] = {good, c.bad};
    Status s = learner->restore(kPort, batch, clock.now());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
    EXPECT_TRUE(ips().empty()) << c.message;
  }
  const LearnedAddress batch[] = {good};
  EXPECT_EQ(learner->restore(77, batch, clock.now()).code(), StatusCode::kNotFound);
}

TEST_F(AddressLearnerTest, SnapshotAndFormatting) {
  const MacAddress macs[] = {kStranger};
  ASSERT_TRUE(learner->addPort(1, macs).isOk());
  fromGuest(garp(kGuest, ip4(5)));
  clock.advance(milliseconds(2500));
  auto snap = learner->snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].port, 1u);
  EXPECT_EQ(snap[1].port, kPort);
  EXPECT_EQ(snap[1].allowed_macs, (std::vector<MacAddress>{kGuest, kGuest2}));
  ASSERT_EQ(snap[1].addresses.size(), 1u);
  EXPECT_EQ(formatLearnedAddress(snap[1].addresses[0], clock.now()),
            "52:54:00:12:34:56 vlan 0 198.18.0.5 via gratuitous_arp, age 2.5 s");
}

}  // namespace
}  // namespace vfo::lag
