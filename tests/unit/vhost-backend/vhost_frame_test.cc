// The relay's per-frame decisions over byte views.
#include <gtest/gtest.h>

#include <vector>

#include "vfo/vhost/frame.h"

namespace vfo::vhost {
namespace {

const MacAddress kGuest = *MacAddress::parse("52:54:00:00:00:01");
const MacAddress kGuest2 = *MacAddress::parse("52:54:00:00:00:02");
const MacAddress kOther = *MacAddress::parse("52:54:00:99:99:99");
const MacAddress kBcast = MacAddress::broadcast();

// A frame builder for tests: Ethernet header, optional 802.1Q tag, payload.
struct Frame {
  std::vector<uint8_t> b;
  Frame(const MacAddress& dst, const MacAddress& src, uint16_t type, int vlan = -1) {
    b.insert(b.end(), dst.bytes().begin(), dst.bytes().end());
    b.insert(b.end(), src.bytes().begin(), src.bytes().end());
    if (vlan >= 0) {
      put16(kEtherTypeVlan);
      put16(uint16_t(vlan));
    }
    put16(type);
  }
  void put16(uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
  }
  Frame& bytes(std::initializer_list<uint8_t> v) {
    b.insert(b.end(), v);
    return *this;
  }
  Frame& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  FrameView view() const { return FrameView{b.data(), uint32_t(b.size())}; }
};

Frame arp(const MacAddress& src, int vlan = -1) {
  Frame f(kBcast, src, kEtherTypeArp, vlan);
  f.zeros(28);
  return f;
}

// IPv4 + UDP with the given ports.
Frame udp4(const MacAddress& dst, const MacAddress& src, uint16_t sport, uint16_t dport,
           uint16_t frag = 0) {
  Frame f(dst, src, kEtherTypeIpv4);
  f.bytes({0x45, 0, 0,   48, 0, 1, uint8_t(frag >> 8), uint8_t(frag), 64, 17, 0, 0, 198, 18,
           0,    1, 198, 18, 0, 2});
  f.put16(sport);
  f.put16(dport);
  f.bytes({0, 28, 0, 0});
  f.zeros(20);
  return f;
}

Frame icmp6(const MacAddress& src, uint8_t type) {
  Frame f(kBcast, src, kEtherTypeIpv6);
  f.bytes({0x60, 0, 0, 0, 0, 24, 58, 255});
  f.zeros(32);  // addresses
  f.bytes({type, 0, 0, 0});
  f.zeros(20);
  return f;
}

MacSet guestMacs() {
  MacSet s;
  s.add(kGuest);
  s.add(kGuest2);
  return s;
}

TEST(VhostFrame, MacSetHoldsEightAndMatchesExactly) {
  MacSet s;
  for (uint8_t i = 0; i < 8; ++i) EXPECT_TRUE(s.add(MacAddress({0x52, 0x54, 0, 0, 0, i})));
  EXPECT_FALSE(s.add(kOther));
  EXPECT_EQ(s.size(), 8u);
  const uint8_t seven[6] = {0x52, 0x54, 0, 0, 0, 7};
  const uint8_t eight[6] = {0x52, 0x54, 0, 0, 0, 8};
  EXPECT_TRUE(s.contains(seven));
  EXPECT_FALSE(s.contains(eight));
}

TEST(VhostFrame, AntiSpoofDropsForeignSources) {
  const MacSet macs = guestMacs();
  EXPECT_EQ(
      classifyFromGuest(Frame(kOther, kGuest, kEtherTypeIpv4).zeros(46).view(), macs, 0).verdict,
      GuestVerdict::kForward);
  EXPECT_EQ(
      classifyFromGuest(Frame(kOther, kGuest2, kEtherTypeIpv4).zeros(46).view(), macs, 0).verdict,
      GuestVerdict::kForward);
  EXPECT_EQ(
      classifyFromGuest(Frame(kGuest, kOther, kEtherTypeIpv4).zeros(46).view(), macs, 0).verdict,
      GuestVerdict::kDropSpoofed);
  // A spoofed ARP is not learned either.
  const GuestDecision d = classifyFromGuest(arp(kOther).view(), macs, 0);
  EXPECT_EQ(d.verdict, GuestVerdict::kDropSpoofed);
  EXPECT_FALSE(d.learn);
  EXPECT_EQ(classifyFromGuest(FrameView{arp(kGuest).b.data(), 13}, macs, 0).verdict,
            GuestVerdict::kDropRunt);
}

TEST(VhostFrame, GuestTagsOnlyOnTransparentPorts) {
  const MacSet macs = guestMacs();
  const Frame tagged = Frame(kOther, kGuest, kEtherTypeIpv4, 100).zeros(46);
  EXPECT_EQ(classifyFromGuest(tagged.view(), macs, 0).verdict, GuestVerdict::kForward);
  EXPECT_EQ(classifyFromGuest(tagged.view(), macs, 100).verdict, GuestVerdict::kDropTagged);
  EXPECT_EQ(
      classifyFromGuest(Frame(kOther, kGuest, kEtherTypeIpv4).zeros(46).view(), macs, 100).verdict,
      GuestVerdict::kForward);
}

TEST(VhostFrame, LearnerGetsArpNdDhcpFromTheGuest) {
  const MacSet macs = guestMacs();
  EXPECT_TRUE(classifyFromGuest(arp(kGuest).view(), macs, 0).learn);
  EXPECT_TRUE(classifyFromGuest(arp(kGuest, 5).view(), macs, 0).learn);  // tagged, transparent
  EXPECT_EQ(learnKind(arp(kGuest).view(), Direction::kFromGuest), LearnKind::kArp);
  EXPECT_EQ(
      learnKind(Frame(kBcast, kGuest, kEtherTypeRarp).zeros(28).view(), Direction::kFromGuest),
      LearnKind::kRarp);
  EXPECT_EQ(learnKind(icmp6(kGuest, 135).view(), Direction::kFromGuest), LearnKind::kNd);
  EXPECT_EQ(learnKind(icmp6(kGuest, 136).view(), Direction::kFromGuest), LearnKind::kNd);
  EXPECT_EQ(learnKind(icmp6(kGuest, 128).view(), Direction::kFromGuest), LearnKind::kNone);
  EXPECT_EQ(learnKind(udp4(kBcast, kGuest, 68, 67).view(), Direction::kFromGuest),
            LearnKind::kDhcp4);
  EXPECT_EQ(learnKind(udp4(kBcast, kGuest, 67, 68).view(), Direction::kFromGuest),
            LearnKind::kNone);
  EXPECT_EQ(learnKind(udp4(kBcast, kGuest, 68, 67, 0x0010).view(), Direction::kFromGuest),
            LearnKind::kNone)
      << "a non-first fragment has no UDP header";
  EXPECT_FALSE(classifyFromGuest(udp4(kOther, kGuest, 1000, 53).view(), macs, 0).learn);
  // Truncated headers are not trusted.
  Frame nd = icmp6(kGuest, 135);
  EXPECT_EQ(learnKind(FrameView{nd.b.data(), 14 + 40}, Direction::kFromGuest), LearnKind::kNone);
}

TEST(VhostFrame, LearnerGetsDhcpRepliesTowardsTheGuestOnly) {
  EXPECT_EQ(learnKind(udp4(kGuest, kOther, 67, 68).view(), Direction::kToGuest), LearnKind::kDhcp4);
  EXPECT_EQ(learnKind(arp(kOther).view(), Direction::kToGuest), LearnKind::kNone);
  EXPECT_EQ(learnKind(icmp6(kOther, 136).view(), Direction::kToGuest), LearnKind::kNone);
  const UplinkDecision d =
      classifyFromUplink(udp4(kGuest, kOther, 67, 68).view(), {}, guestMacs(), 0, false);
  EXPECT_EQ(d.verdict, UplinkVerdict::kDeliver);
  EXPECT_TRUE(d.learn);
}

TEST(VhostFrame, UplinkUnicastFilter) {
  const MacSet macs = guestMacs();
  auto verdict = [&](const MacAddress& dst, bool foreign_ok) {
    return classifyFromUplink(Frame(dst, kOther, kEtherTypeIpv4).zeros(46).view(), {}, macs, 0,
                              foreign_ok)
        .verdict;
  };
  EXPECT_EQ(verdict(kGuest, false), UplinkVerdict::kDeliver);
  EXPECT_EQ(verdict(kGuest2, false), UplinkVerdict::kDeliver);
  EXPECT_EQ(verdict(kBcast, false), UplinkVerdict::kDeliver);
  EXPECT_EQ(verdict(*MacAddress::parse("33:33:00:00:00:01"), false), UplinkVerdict::kDeliver);
  EXPECT_EQ(verdict(kOther, false), UplinkVerdict::kDropNotForGuest);
  EXPECT_EQ(verdict(kOther, true), UplinkVerdict::kDeliver);
}

TEST(VhostFrame, UplinkVlanOnAccessPort) {
  const MacSet macs = guestMacs();
  const Frame in_band = Frame(kGuest, kOther, kEtherTypeIpv4, 0x2000 | 100).zeros(46);
  UplinkDecision d = classifyFromUplink(in_band.view(), {}, macs, 100, false);
  EXPECT_EQ(d.verdict, UplinkVerdict::kDeliver);
  EXPECT_EQ(d.tag, TagAction::kStripInband);
  // Another VLAN, or untagged, on a VLAN port.
  EXPECT_EQ(classifyFromUplink(in_band.view(), {}, macs, 200, false).verdict,
            UplinkVerdict::kDropVlan);
  const Frame untagged = Frame(kGuest, kOther, kEtherTypeIpv4).zeros(46);
  EXPECT_EQ(classifyFromUplink(untagged.view(), {}, macs, 100, false).verdict,
            UplinkVerdict::kDropVlan);
  // Tag already stripped by the driver.
  d = classifyFromUplink(untagged.view(), StrippedTag{true, 0x2000 | 100}, macs, 100, false);
  EXPECT_EQ(d.verdict, UplinkVerdict::kDeliver);
  EXPECT_EQ(d.tag, TagAction::kNone);
  EXPECT_EQ(classifyFromUplink(untagged.view(), StrippedTag{true, 101}, macs, 100, false).verdict,
            UplinkVerdict::kDropVlan);
  // Truncated tag.
  EXPECT_EQ(classifyFromUplink(FrameView{in_band.b.data(), 16}, {}, macs, 100, false).verdict,
            UplinkVerdict::kDropRunt);
  // The VLAN check comes before the unicast filter.
  EXPECT_EQ(classifyFromUplink(Frame(kOther, kOther, kEtherTypeIpv4, 100).zeros(46).view(), {},
                               macs, 100, false)
                .verdict,
            UplinkVerdict::kDropNotForGuest);
}

TEST(VhostFrame, UplinkTransparentPortKeepsTags) {
  const MacSet macs = guestMacs();
  const Frame untagged = Frame(kGuest, kOther, kEtherTypeIpv4).zeros(46);
  UplinkDecision d = classifyFromUplink(untagged.view(), StrippedTag{true, 42}, macs, 0, false);
  EXPECT_EQ(d.verdict, UplinkVerdict::kDeliver);
  EXPECT_EQ(d.tag, TagAction::kReinsertStripped);
  d = classifyFromUplink(Frame(kGuest, kOther, kEtherTypeIpv4, 42).zeros(46).view(), {}, macs, 0,
                         false);
  EXPECT_EQ(d.verdict, UplinkVerdict::kDeliver);
  EXPECT_EQ(d.tag, TagAction::kNone);
}

}  // namespace
}  // namespace vfo::vhost
