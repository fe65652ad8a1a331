// Frame parser: accept/reject tables covering every verdict, every silent
// reason and every defect, plus truncation and bit-flip sweeps.
#include "vfo/lag/frame_parser.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "frame_samples.h"
#include "vfo/lag/frames.h"

namespace vfo::lag {
namespace {

using namespace samples;

const MacAddress kGuest = *MacAddress::parse("52:54:00:12:34:56");
const MacAddress kOther = *MacAddress::parse("52:54:00:aa:bb:cc");
const MacAddress kServer = *MacAddress::parse("02:00:00:00:00:fe");
const MacAddress kMcast = *MacAddress::parse("01:00:5e:00:00:01");
const Ipv4Address kIp = *Ipv4Address::parse("198.18.0.5");
const Ipv4Address kRouter = *Ipv4Address::parse("198.18.0.1");
const Ipv6Address kIp6 = *Ipv6Address::parse("2001:db8::5");
const Ipv6Address kIp6Router = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kLinkLocal = *Ipv6Address::parse("fe80::5054:ff:fe12:3456");
const Ipv6Address kAllNodes = Ipv6Address::allNodes();

std::vector<uint8_t> build(StatusOr<std::vector<uint8_t>> f) {
  EXPECT_TRUE(f.isOk()) << f.status().toString();
  return f.isOk() ? *f : std::vector<uint8_t>{};
}

ParsedFrame parse(const std::vector<uint8_t>& f) {
  // An exact-size heap copy, so that a sanitizer build catches any read past
  // the end.
  std::vector<uint8_t> exact(f);
  exact.shrink_to_fit();
  return parseAddressFrame(exact);
}

DhcpFields ack() {
  DhcpFields d;
  d.server_mac = kServer;
  d.chaddr = kGuest;
  d.server_ip = kRouter;
  d.yiaddr = kIp;
  return d;
}

NdFields na(const Ipv6Address& target, uint8_t flags = 0x20) {
  NdFields n;
  n.eth_src = kGuest;
  n.eth_dst = kAllNodes.multicastMac();
  n.src = target;
  n.dst = kAllNodes;
  n.type = 136;
  n.body = ndBody(flags, target, 2, kGuest);
  return n;
}

NdFields ns(const Ipv6Address& src, const Ipv6Address& target, bool sllao = true) {
  NdFields n;
  n.eth_src = kGuest;
  n.eth_dst = target.solicitedNodeMulticast().multicastMac();
  n.src = src;
  n.dst = target.solicitedNodeMulticast();
  n.type = 135;
  n.body = ndBody(0, target, sllao ? 1 : 0, kGuest);
  return n;
}

ArpFields arpFields(uint16_t op, const Ipv4Address& spa, const Ipv4Address& tpa) {
  ArpFields a;
  a.op = op;
  a.sha = kGuest;
  a.spa = spa;
  a.tpa = tpa;
  return a;
}

// ---- accepted frames ---------------------------------------------------------

struct Accept {
  std::string name;
  std::vector<uint8_t> frame;
  AddressSource source;
  MacAddress mac;
  VlanId vlan;
  std::string ip;  // text form of the bound address
};

std::vector<Accept> acceptCases() {
  std::vector<Accept> c;
  c.push_back({"garp request (builder)",
               build(buildGratuitousArp(GarpForm::kRequest, kGuest, kIp, 0)),
               AddressSource::kGratuitousArp, kGuest, 0, "198.18.0.5"});
  c.push_back({"garp reply tagged (builder)",
               build(buildGratuitousArp(GarpForm::kReply, kGuest, kIp, 100)),
               AddressSource::kGratuitousArp, kGuest, 100, "198.18.0.5"});
  c.push_back({"arp request (builder)", build(buildArpRequest(kGuest, kIp, kRouter, 7)),
               AddressSource::kArpRequest, kGuest, 7, "198.18.0.5"});
  c.push_back({"arp reply", arp(arpFields(2, kIp, kRouter)), AddressSource::kArpReply, kGuest, 0,
               "198.18.0.5"});
  {
    auto a = arpFields(1, kIp, kRouter);
    a.vlan = 4094;
    c.push_back({"arp vlan 4094", arp(a), AddressSource::kArpRequest, kGuest, 4094, "198.18.0.5"});
  }
  {
    // Priority tag (VID 0, PCP 5): untagged for learning.
    auto f = arp(arpFields(1, kIp, kRouter));
    f.insert(f.begin() + 12, {0x81, 0x00, 0xa0, 0x00});
    c.push_back({"priority tagged arp", f, AddressSource::kArpRequest, kGuest, 0, "198.18.0.5"});
  }
  {
    // An unpadded ARP frame (42 bytes) is still complete.
    auto f = arp(arpFields(1, kIp, kRouter));
    f.resize(42);
    c.push_back({"unpadded arp", f, AddressSource::kArpRequest, kGuest, 0, "198.18.0.5"});
  }
  c.push_back({"unsolicited na (builder)", build(buildUnsolicitedNa(kGuest, kIp6, 0)),
               AddressSource::kNeighborAdvertisement, kGuest, 0, "2001:db8::5"});
  c.push_back({"na link-local tagged (builder)", build(buildUnsolicitedNa(kGuest, kLinkLocal, 9)),
               AddressSource::kNeighborAdvertisement, kGuest, 9, "fe80::5054:ff:fe12:3456"});
  {
    // Solicited NA to a unicast destination, no TLLA: owner = Ethernet source.
    auto n = na(kIp6, 0x60);  // S + O
    n.dst = kIp6Router;
    n.eth_dst = kServer;
    n.body = ndBody(0x60, kIp6, 0, kGuest);
    c.push_back({"solicited na without tlla", nd(n), AddressSource::kNeighborAdvertisement, kGuest,
                 0, "2001:db8::5"});
  }
  {
    // TLLA names another MAC than the Ethernet source: the option wins.
    auto n = na(kIp6);
    n.body = ndBody(0x20, kIp6, 2, kOther);
    c.push_back({"na tlla differs from eth src", nd(n), AddressSource::kNeighborAdvertisement,
                 kOther, 0, "2001:db8::5"});
  }
  {
    // Unknown options are skipped.
    auto n = na(kIp6);
    n.body.insert(n.body.end(), {14, 1, 0, 0, 0, 0, 0, 0});  // nonce option
    c.push_back({"na with extra option", nd(n), AddressSource::kNeighborAdvertisement, kGuest, 0,
                 "2001:db8::5"});
  }
  c.push_back({"ns from unicast (builder)",
               build(buildNeighborSolicitation(kGuest, kIp6, kIp6Router, 0)),
               AddressSource::kNeighborSolicitation, kGuest, 0, "2001:db8::5"});
  c.push_back({"ns from link-local without sllao", nd(ns(kLinkLocal, kIp6Router, false)),
               AddressSource::kNeighborSolicitation, kGuest, 0, "fe80::5054:ff:fe12:3456"});
  c.push_back({"dhcp ack", dhcpReply(ack()), AddressSource::kDhcpAck, kGuest, 0, "198.18.0.5"});
  {
    auto d = ack();
    d.vlan = 200;
    c.push_back(
        {"dhcp ack tagged", dhcpReply(d), AddressSource::kDhcpAck, kGuest, 200, "198.18.0.5"});
  }
  {
    auto d = ack();
    d.ip_options_words = 2;
    d.extra_options = {0, 0, 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 255, 255, 0};  // pads, lease, mask
    c.push_back({"dhcp ack with ip options and more dhcp options", dhcpReply(d),
                 AddressSource::kDhcpAck, kGuest, 0, "198.18.0.5"});
  }
  {
    // The message type comes last and there is no end option.
    auto d = ack();
    d.with_message_type = false;
    d.extra_options = {51, 4, 0, 0, 0x0e, 0x10, 53, 1, 5};
    auto f = dhcpReply(d);
    f.pop_back();  // the end option
    f[kDhcpUdpOffset + 4] = uint8_t((f.size() - kDhcpUdpOffset) >> 8);
    f[kDhcpUdpOffset + 5] = uint8_t(f.size() - kDhcpUdpOffset);
    f[kDhcpIpOffset + 2] = uint8_t((f.size() - kDhcpIpOffset) >> 8);
    f[kDhcpIpOffset + 3] = uint8_t(f.size() - kDhcpIpOffset);
    fixIpv4Checksum(f);
    c.push_back(
        {"dhcp ack without end option", f, AddressSource::kDhcpAck, kGuest, 0, "198.18.0.5"});
  }
  {
    // Ethernet padding after the IP packet is ignored.
    auto f = dhcpReply(ack());
    f.insert(f.end(), 20, 0xee);
    c.push_back(
        {"dhcp ack with trailing padding", f, AddressSource::kDhcpAck, kGuest, 0, "198.18.0.5"});
  }
  return c;
}

TEST(FrameParser, AcceptsAddressFrames) {
  for (const Accept& c : acceptCases()) {
    SCOPED_TRACE(c.name);
    ParsedFrame r = parse(c.frame);
    ASSERT_EQ(r.verdict, ParseVerdict::kAddress) << frameDefectName(r.defect);
    EXPECT_EQ(r.defect, FrameDefect::none);
    EXPECT_EQ(r.source, c.source) << addressSourceName(r.source);
    EXPECT_EQ(r.binding.mac, c.mac) << r.binding.mac.toString();
    EXPECT_EQ(r.binding.vlan, c.vlan);
    const std::string ip =
        r.binding.family == IpFamily::kIpv4 ? r.binding.ipv4.toString() : r.binding.ipv6.toString();
    EXPECT_EQ(ip, c.ip);
  }
}

// ---- valid frames that bind nothing -------------------------------------------

TEST(FrameParser, SilentFrames) {
  struct Case {
    std::string name;
    std::vector<uint8_t> frame;
    AddressSource source;
    SilentReason why;
  };
  std::vector<Case> cases;
  cases.push_back({"arp probe", build(buildArpRequest(kGuest, Ipv4Address(), kIp, 0)),
                   AddressSource::kArpRequest, SilentReason::kArpProbe});
  cases.push_back({"dad ns", nd(ns(Ipv6Address(), kIp6, false)),
                   AddressSource::kNeighborSolicitation, SilentReason::kDadSolicitation});
  cases.push_back({"dad ns (builder)", build(buildNeighborSolicitation(kGuest, {}, kIp6, 0)),
                   AddressSource::kNeighborSolicitation, SilentReason::kDadSolicitation});
  for (uint8_t type : {2, 6}) {  // OFFER, NAK
    auto d = ack();
    d.message_type = type;
    cases.push_back({"dhcp type " + std::to_string(type), dhcpReply(d), AddressSource::kDhcpAck,
                     SilentReason::kDhcpNotAck});
  }
  {
    auto d = ack();
    d.yiaddr = Ipv4Address();
    cases.push_back({"dhcp ack to inform", dhcpReply(d), AddressSource::kDhcpAck,
                     SilentReason::kDhcpNoAddress});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ParsedFrame r = parse(c.frame);
    EXPECT_EQ(r.verdict, ParseVerdict::kNoAddress) << frameDefectName(r.defect);
    EXPECT_EQ(r.source, c.source);
    EXPECT_EQ(r.silent, c.why);
  }
}

// ---- frames not looked at -----------------------------------------------------

TEST(FrameParser, IgnoresFramesThatAreNotAddressFrames) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> cases;
  cases.push_back({"rarp", build(buildRarpAnnounce(kGuest, 0))});
  cases.push_back({"unknown ethertype", ethernet(kServer, kGuest, 0x88cc)});
  {
    auto f = arp(arpFields(1, kIp, kRouter));
    f.insert(f.begin() + 12, {0x88, 0xa8, 0x00, 0x0a});  // S-tag in front
    cases.push_back({"qinq", f});
  }
  {
    auto f = arp(arpFields(1, kIp, kRouter));
    f.insert(f.begin() + 12, {0x81, 0x00, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x0b});
    cases.push_back({"double 8100 tag", f});
  }
  {
    auto d = ack();
    d.src_port = 68;
    d.dst_port = 67;
    cases.push_back({"dhcp client to server", dhcpReply(d)});
  }
  {
    auto d = ack();
    d.dst_port = 67;
    cases.push_back({"dhcp relay to server", dhcpReply(d)});
  }
  {
    auto d = ack();
    d.with_cookie = false;
    d.with_message_type = false;
    cases.push_back({"plain bootp", dhcpReply(d)});
  }
  {
    auto d = ack();
    d.with_message_type = false;
    cases.push_back({"bootp with cookie, no message type", dhcpReply(d)});
  }
  {
    auto f = dhcpReply(ack());
    f[kDhcpIpOffset + 9] = 6;  // TCP
    fixIpv4Checksum(f);
    cases.push_back({"ipv4 tcp", f});
  }
  {
    auto f = dhcpReply(ack());
    f[kDhcpIpOffset + 6] = 0x20;  // MF
    fixIpv4Checksum(f);
    cases.push_back({"ipv4 first fragment", f});
  }
  {
    auto f = dhcpReply(ack());
    f[kDhcpIpOffset + 7] = 0x10;  // offset 16
    fixIpv4Checksum(f);
    cases.push_back({"ipv4 later fragment", f});
  }
  {
    auto n = na(kIp6);
    n.type = 128;  // echo request
    cases.push_back({"icmpv6 echo", nd(n)});
  }
  {
    auto n = na(kIp6);
    n.next_header = 0;  // hop-by-hop
    cases.push_back({"ipv6 extension header", nd(n)});
  }
  for (const auto& [name, frame] : cases) {
    ParsedFrame r = parse(frame);
    EXPECT_EQ(r.verdict, ParseVerdict::kNotRelevant) << name << ": " << frameDefectName(r.defect);
  }
}

// ---- malformed frames: every defect -----------------------------------------

struct Reject {
  std::string name;
  std::vector<uint8_t> frame;
  FrameDefect defect;
};

std::vector<Reject> rejectCases() {
  std::vector<Reject> c;
  auto garp = build(buildGratuitousArp(GarpForm::kRequest, kGuest, kIp, 0));
  c.push_back({"13 bytes", std::vector<uint8_t>(garp.begin(), garp.begin() + 13),
               FrameDefect::eth_truncated});
  c.push_back({"empty", {}, FrameDefect::eth_truncated});
  {
    auto a = arpFields(1, kIp, kRouter);
    a.sha = kMcast;
    c.push_back({"arp from multicast", arp(a), FrameDefect::eth_bad_source});
  }
  {
    auto f = garp;
    f.insert(f.begin() + 12, {0x81, 0x00, 0x00, 0x64});
    f.resize(16);
    c.push_back({"tag cut", f, FrameDefect::vlan_truncated});
  }
  {
    auto f = garp;
    f.insert(f.begin() + 12, {0x81, 0x00, 0x0f, 0xff});
    c.push_back({"vlan 4095", f, FrameDefect::vlan_bad_id});
  }
  c.push_back({"arp 27 bytes", std::vector<uint8_t>(garp.begin(), garp.begin() + 14 + 27),
               FrameDefect::arp_truncated});
  {
    auto a = arpFields(1, kIp, kRouter);
    a.hlen = 8;
    c.push_back({"arp hlen 8", arp(a), FrameDefect::arp_bad_format});
    a = arpFields(1, kIp, kRouter);
    a.ptype = 0x86dd;
    c.push_back({"arp ptype ipv6", arp(a), FrameDefect::arp_bad_format});
    a = arpFields(1, kIp, kRouter);
    a.htype = 6;
    c.push_back({"arp htype 6", arp(a), FrameDefect::arp_bad_format});
    a = arpFields(1, kIp, kRouter);
    a.plen = 16;
    c.push_back({"arp plen 16", arp(a), FrameDefect::arp_bad_format});
  }
  for (uint16_t op : {0, 3, 4, 8, 9}) {
    c.push_back({"arp op " + std::to_string(op), arp(arpFields(op, kIp, kRouter)),
                 FrameDefect::arp_bad_opcode});
  }
  for (const char* bad : {"224.0.0.5", "255.255.255.255", "127.0.0.1", "240.0.0.1", "0.1.2.3"}) {
    c.push_back({std::string("arp sender ") + bad,
                 arp(arpFields(1, *Ipv4Address::parse(bad), kRouter)),
                 FrameDefect::arp_bad_sender});
  }
  {
    auto a = arpFields(1, kIp, kRouter);
    a.eth_src = kOther;
    c.push_back({"arp sha != eth src", arp(a), FrameDefect::arp_sender_mismatch});
  }

  const auto dhcp = dhcpReply(ack());
  auto withIp = [&](size_t offset, uint8_t value, bool fix = true) {
    auto f = dhcp;
    f[kDhcpIpOffset + offset] = value;
    if (fix) fixIpv4Checksum(f);
    return f;
  };
  c.push_back({"ipv4 19 bytes", std::vector<uint8_t>(dhcp.begin(), dhcp.begin() + 14 + 19),
               FrameDefect::ipv4_truncated});
  {
    auto f = dhcp;
    f.pop_back();  // total length says one byte more
    c.push_back({"ipv4 total length past frame", f, FrameDefect::ipv4_truncated});
  }
  c.push_back({"ipv4 ihl 4", withIp(0, 0x44, false), FrameDefect::ipv4_bad_header});
  c.push_back({"ipv4 version 6", withIp(0, 0x65, false), FrameDefect::ipv4_bad_header});
  {
    auto f = dhcp;
    f[kDhcpIpOffset + 2] = 0;
    f[kDhcpIpOffset + 3] = 19;  // total length below the header
    c.push_back({"ipv4 total length 19", f, FrameDefect::ipv4_bad_header});
  }
  {
    auto f = dhcp;
    f[kDhcpIpOffset] = 0x4f;  // IHL 60 bytes: fits the frame but not the total length
    f[kDhcpIpOffset + 2] = 0;
    f[kDhcpIpOffset + 3] = 40;
    c.push_back({"ipv4 ihl above total length", f, FrameDefect::ipv4_bad_header});
  }
  c.push_back({"ipv4 bad checksum", withIp(8, 63, false), FrameDefect::ipv4_bad_checksum});
  {
    auto f = dhcp;
    f[kDhcpUdpOffset + 4] = 0;
    f[kDhcpUdpOffset + 5] = 7;
    c.push_back({"udp length 7", f, FrameDefect::udp_truncated});
    f = dhcp;
    f[kDhcpUdpOffset + 4] = 0x10;  // 4096+, beyond the IP payload
    c.push_back({"udp length past ip payload", f, FrameDefect::udp_truncated});
    f = dhcp;
    f[kDhcpIpOffset + 2] = 0;
    f[kDhcpIpOffset + 3] = 27;  // 20 + 7: no room for a UDP header
    fixIpv4Checksum(f);
    c.push_back({"ip payload shorter than udp header", f, FrameDefect::udp_truncated});
  }
  {
    // BOOTP 239 bytes: shrink UDP and IP lengths accordingly.
    auto f = dhcp;
    const size_t udp_len = 8 + 239;
    f[kDhcpUdpOffset + 4] = uint8_t(udp_len >> 8);
    f[kDhcpUdpOffset + 5] = uint8_t(udp_len);
    f[kDhcpIpOffset + 2] = uint8_t((20 + udp_len) >> 8);
    f[kDhcpIpOffset + 3] = uint8_t(20 + udp_len);
    fixIpv4Checksum(f);
    c.push_back({"bootp 239 bytes", f, FrameDefect::dhcp_truncated});
  }
  {
    auto d = ack();
    d.op = 1;
    c.push_back({"bootrequest from server port", dhcpReply(d), FrameDefect::dhcp_bad_format});
    d = ack();
    d.hlen = 16;
    c.push_back({"bootp hlen 16", dhcpReply(d), FrameDefect::dhcp_bad_format});
    d = ack();
    d.htype = 6;
    c.push_back({"bootp htype 6", dhcpReply(d), FrameDefect::dhcp_bad_format});
  }
  {
    auto d = ack();
    d.extra_options = {51, 200};  // claims 200 bytes, 1 follows (the end option)
    c.push_back({"dhcp option past end", dhcpReply(d), FrameDefect::dhcp_bad_option});
    d = ack();
    d.with_message_type = false;
    d.extra_options = {53, 2, 5, 0};
    c.push_back({"dhcp message type length 2", dhcpReply(d), FrameDefect::dhcp_bad_option});
    auto f = dhcpReply(ack());
    f.back() = 51;  // the end option became a code without a length byte
    c.push_back({"dhcp option without length", f, FrameDefect::dhcp_bad_option});
  }
  {
    auto d = ack();
    d.yiaddr = *Ipv4Address::parse("224.0.0.5");
    c.push_back({"dhcp yiaddr multicast", dhcpReply(d), FrameDefect::dhcp_bad_address});
    d = ack();
    d.chaddr = kMcast;
    c.push_back({"dhcp chaddr multicast", dhcpReply(d), FrameDefect::dhcp_bad_address});
    d = ack();
    d.chaddr = MacAddress();
    c.push_back({"dhcp chaddr zero", dhcpReply(d), FrameDefect::dhcp_bad_address});
    d = ack();
    d.server_mac = kMcast;
    c.push_back({"dhcp from multicast source", dhcpReply(d), FrameDefect::eth_bad_source});
  }

  const auto good_na = nd(na(kIp6));
  c.push_back({"ipv6 39 bytes", std::vector<uint8_t>(good_na.begin(), good_na.begin() + 14 + 39),
               FrameDefect::ipv6_truncated});
  c.push_back({"ipv6 payload cut", std::vector<uint8_t>(good_na.begin(), good_na.end() - 1),
               FrameDefect::ipv6_truncated});
  {
    auto f = good_na;
    f[14] = 0x40;
    c.push_back({"ipv6 version 4", f, FrameDefect::ipv6_bad_header});
  }
  for (uint8_t hop : {0, 1, 64, 254}) {
    auto n = na(kIp6);
    n.hop_limit = hop;
    c.push_back({"na hop limit " + std::to_string(hop), nd(n), FrameDefect::nd_bad_hop_limit});
  }
  {
    auto n = na(kIp6);
    n.body.resize(16);  // 4 + 16 = 20 bytes of ICMPv6
    c.push_back({"na 20 bytes", nd(n), FrameDefect::nd_truncated});
    n = na(kIp6);
    n.code = 1;
    c.push_back({"na code 1", nd(n), FrameDefect::nd_bad_code});
    n = na(kIp6);
    n.bad_checksum = true;
    c.push_back({"na bad checksum", nd(n), FrameDefect::nd_bad_checksum});
    auto f = nd(na(kIp6));
    f[14 + 8] ^= 1;  // source address changed after the checksum was computed
    c.push_back({"na source changed", f, FrameDefect::nd_bad_checksum});
  }
  {
    auto n = na(kIp6);
    n.body.insert(n.body.end(), {14, 0, 0, 0, 0, 0, 0, 0});
    c.push_back({"nd option length 0", nd(n), FrameDefect::nd_bad_option});
    n = na(kIp6);
    n.body.insert(n.body.end(), {14, 2, 0, 0, 0, 0, 0, 0});  // claims 16, 8 present
    c.push_back({"nd option past end", nd(n), FrameDefect::nd_bad_option});
    n = na(kIp6);
    n.body.insert(n.body.end(), {14});
    c.push_back({"nd option one byte", nd(n), FrameDefect::nd_bad_option});
    n = na(kIp6);
    n.body = ndBody(0x20, kIp6, 0, kGuest);
    n.body.insert(n.body.end(), {2, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0});
    c.push_back({"tlla 16 bytes", nd(n), FrameDefect::nd_bad_option});
    n = na(kIp6);
    n.body = ndBody(0x20, kIp6, 2, kMcast);
    c.push_back({"tlla multicast", nd(n), FrameDefect::nd_bad_option});
  }
  for (const char* bad : {"ff02::1", "::", "::1", "::ffff:198.18.0.5"}) {
    auto target = *Ipv6Address::parse(bad);
    auto n = na(kIp6);
    n.body = ndBody(0x20, target, 2, kGuest);
    c.push_back({std::string("na target ") + bad, nd(n), FrameDefect::nd_bad_target});
  }
  {
    auto n = ns(kIp6, kIp6Router);
    n.src = *Ipv6Address::parse("ff02::1");
    c.push_back({"ns from multicast", nd(n), FrameDefect::nd_bad_source});
    n = ns(Ipv6Address(), kIp6, false);
    n.dst = kAllNodes;
    c.push_back({"dad ns to all-nodes", nd(n), FrameDefect::nd_bad_source});
    n = ns(Ipv6Address(), kIp6, true);
    c.push_back({"dad ns with sllao", nd(n), FrameDefect::nd_bad_source});
    n = ns(*Ipv6Address::parse("::1"), kIp6Router);
    c.push_back({"ns from loopback", nd(n), FrameDefect::nd_bad_source});
    n = ns(kIp6, kIp6Router);
    n.eth_src = kMcast;
    n.body = ndBody(0, kIp6Router, 0, kGuest);
    c.push_back({"ns from multicast mac", nd(n), FrameDefect::eth_bad_source});
  }
  {
    auto n = na(kIp6, 0x60);  // S + O to ff02::1
    c.push_back({"na solicited to multicast", nd(n), FrameDefect::nd_bad_flags});
  }
  return c;
}

TEST(FrameParser, RejectsMalformedFramesWithTheirDefect) {
  std::set<FrameDefect> seen;
  for (const Reject& c : rejectCases()) {
    ParsedFrame r = parse(c.frame);
    EXPECT_EQ(r.verdict, ParseVerdict::kMalformed) << c.name;
    EXPECT_EQ(r.defect, c.defect) << c.name << ": got " << frameDefectName(r.defect) << ", want "
                                  << frameDefectName(c.defect);
    EXPECT_EQ(r.source, AddressSource::kNone) << c.name;
    seen.insert(c.defect);
  }
  // Every defect has at least one case.
  EXPECT_EQ(seen.size(), FrameDefectStats::kCount);
}

// Every prefix of every accepted frame parses without reading past its end
// (exact-size copies; a sanitizer build checks the reads), and a prefix that
// cuts into the meaningful part never yields a binding.
TEST(FrameParser, TruncationSweep) {
  for (const Accept& c : acceptCases()) {
    const ParsedFrame full = parse(c.frame);
    for (size_t len = 0; len < c.frame.size(); ++len) {
      std::vector<uint8_t> prefix(c.frame.begin(), c.frame.begin() + len);
      ParsedFrame r = parse(prefix);
      if (r.verdict == ParseVerdict::kAddress) {
        // Only padding may be cut: the result must be the same binding.
        EXPECT_EQ(r.binding.mac, full.binding.mac) << c.name << " len " << len;
        EXPECT_EQ(r.binding.ipv4, full.binding.ipv4) << c.name << " len " << len;
        EXPECT_EQ(r.binding.ipv6, full.binding.ipv6) << c.name << " len " << len;
      } else {
        EXPECT_EQ(r.verdict, ParseVerdict::kMalformed) << c.name << " len " << len;
      }
    }
  }
}

// Flipping any single bit of the IPv6 part of a valid NA: the checksum and
// the header checks reject every flip except those in the 28 traffic class
// and flow label bits, which the ND rules do not cover and which change
// nothing about the binding.
TEST(FrameParser, BitFlipsInNdAreCaught) {
  const auto good = build(buildUnsolicitedNa(kGuest, kIp6, 0));
  int accepted = 0;
  for (size_t byte = 14; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto f = good;
      f[byte] ^= uint8_t(1 << bit);
      ParsedFrame r = parse(f);
      if (r.verdict != ParseVerdict::kAddress) continue;
      ++accepted;
      EXPECT_TRUE(byte >= 14 && byte < 18 && !(byte == 14 && bit >= 4))
          << "byte " << byte << " bit " << bit;
      EXPECT_EQ(r.binding.ipv6, kIp6) << "byte " << byte << " bit " << bit;
      EXPECT_EQ(r.binding.mac, kGuest) << "byte " << byte << " bit " << bit;
    }
  }
  EXPECT_EQ(accepted, 28);
}

TEST(FrameParser, DefectNamesMatchCounters) {
  EXPECT_EQ(frameDefectName(FrameDefect::none), "none");
  EXPECT_EQ(frameDefectName(FrameDefect::eth_truncated), "eth_truncated");
  EXPECT_EQ(frameDefectName(FrameDefect::nd_bad_flags), "nd_bad_flags");
  FrameDefectStats stats;
  countDefect(stats, FrameDefect::nd_bad_checksum);
  countDefect(stats, FrameDefect::nd_bad_checksum);
  countDefect(stats, FrameDefect::none);
  auto snap = stats.snapshot();
  EXPECT_EQ(snap.nd_bad_checksum, 2u);
  uint64_t total = 0;
  snap.forEach([&](const StatInfo&, uint64_t v) { total += v; });
  EXPECT_EQ(total, 2u);
}

}  // namespace
}  // namespace vfo::lag
