// Frame builders: every byte of every frame kind, derived by hand from the
// RFCs (and QEMU's net/announce.c for RARP), plus an ICMPv6 checksum
// computed here independently of the library's checksum code.
#include "vfo/lag/frames.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vfo::lag {
namespace {

// "ff ff 01" -> {0xff, 0xff, 0x01}; '|' and whitespace separate fields.
std::vector<uint8_t> hex(const std::string& text) {
  std::vector<uint8_t> out;
  std::string digits;
  for (char c : text)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  EXPECT_EQ(digits.size() % 2, 0u) << text;
  for (size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(uint8_t(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<uint8_t> zeros(size_t n) {
  return std::vector<uint8_t>(n, 0);
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string dump(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    s += buf;
    s += (i % 16 == 15) ? '\n' : ' ';
  }
  return s;
}

#define EXPECT_BYTES(actual, expected) \
  EXPECT_EQ(actual, expected) << "actual:\n" << dump(actual) << "\nexpected:\n" << dump(expected)

// Independent ICMPv6 checksum: builds the RFC 8200 section 8.1 pseudo-header
// as bytes, appends the message, and sums 16-bit words folding the carry at
// every step (the library sums in 64 bits and folds once).
uint16_t referenceIcmpv6Checksum(const std::vector<uint8_t>& ipv6_packet) {
  std::vector<uint8_t> pseudo(ipv6_packet.begin() + 8, ipv6_packet.begin() + 40);  // src, dst
  const size_t len = ipv6_packet.size() - 40;
  pseudo.push_back(uint8_t(len >> 24));
  pseudo.push_back(uint8_t(len >> 16));
  pseudo.push_back(uint8_t(len >> 8));
  pseudo.push_back(uint8_t(len));
  pseudo.insert(pseudo.end(), {0, 0, 0, 58});
  std::vector<uint8_t> message(ipv6_packet.begin() + 40, ipv6_packet.end());
  message[2] = message[3] = 0;
  pseudo.insert(pseudo.end(), message.begin(), message.end());
  if (pseudo.size() % 2) pseudo.push_back(0);
  uint32_t sum = 0;
  for (size_t i = 0; i < pseudo.size(); i += 2) {
    sum += uint32_t(pseudo[i]) << 8 | pseudo[i + 1];
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return uint16_t(~sum & 0xffff);
}

const MacAddress kMac = *MacAddress::parse("52:54:00:12:34:56");
const Ipv4Address kIp4 = *Ipv4Address::parse("198.18.0.5");
const Ipv4Address kIp4Target = *Ipv4Address::parse("198.18.0.1");
const Ipv6Address kIp6 = *Ipv6Address::parse("2001:db8::5");
const Ipv6Address kIp6Target = *Ipv6Address::parse("2001:db8::1");
constexpr VlanId kVlan = 100;  // 0x064

const std::string kMacHex = "52 54 00 12 34 56";
const std::string kBroadcast = "ff ff ff ff ff ff";
const std::string kTag100 = "81 00 00 64";  // TPID, PCP 0 / DEI 0 / VID 100

TEST(Frames, RarpAnnounceMatchesQemu) {
  // qemu_announce_self(): dst broadcast, src MAC, type 0x8035; htype 1,
  // ptype 0x0800, hlen 6, plen 4, op 3; sha = tha = MAC; spa = tpa = 0;
  // zero padding to 60 bytes.
  auto frame = buildRarpAnnounce(kMac, kNoVlan);
  ASSERT_TRUE(frame.isOk()) << frame.status().toString();
  auto expected = cat({hex(kBroadcast + kMacHex + "80 35"), hex("00 01 | 08 00 | 06 | 04 | 00 03"),
                       hex(kMacHex + "00 00 00 00"), hex(kMacHex + "00 00 00 00"), zeros(18)});
  ASSERT_EQ(expected.size(), 60u);
  EXPECT_BYTES(*frame, expected);
}

TEST(Frames, RarpAnnounceTagged) {
  auto frame = buildRarpAnnounce(kMac, kVlan);
  ASSERT_TRUE(frame.isOk());
  auto expected =
      cat({hex(kBroadcast + kMacHex + kTag100 + "80 35"), hex("00 01 08 00 06 04 00 03"),
           hex(kMacHex + "00 00 00 00"), hex(kMacHex + "00 00 00 00"), zeros(18)});
  ASSERT_EQ(expected.size(), 64u);  // 60 + tag: still 60 once a switch strips the tag
  EXPECT_BYTES(*frame, expected);
}

TEST(Frames, GratuitousArpRequest) {
  // op 1; sender = target protocol address; target hardware address zero.
  auto frame = buildGratuitousArp(GarpForm::kRequest, kMac, kIp4, kNoVlan);
  ASSERT_TRUE(frame.isOk());
  auto expected =
      cat({hex(kBroadcast + kMacHex + "08 06"), hex("00 01 08 00 06 04 00 01"),
           hex(kMacHex + "c6 12 00 05"), hex("00 00 00 00 00 00 | c6 12 00 05"), zeros(18)});
  ASSERT_EQ(expected.size(), 60u);
  EXPECT_BYTES(*frame, expected);
}

TEST(Frames, GratuitousArpReplyTagged) {
  // op 2; target hardware address = sender (RFC 5944 4.6).
  auto frame = buildGratuitousArp(GarpForm::kReply, kMac, kIp4, kVlan);
  ASSERT_TRUE(frame.isOk());
  auto expected =
      cat({hex(kBroadcast + kMacHex + kTag100 + "08 06"), hex("00 01 08 00 06 04 00 02"),
           hex(kMacHex + "c6 12 00 05"), hex(kMacHex + "c6 12 00 05"), zeros(18)});
  ASSERT_EQ(expected.size(), 64u);
  EXPECT_BYTES(*frame, expected);
}

TEST(Frames, ArpRequestForProbe) {
  auto frame = buildArpRequest(kMac, kIp4, kIp4Target, kNoVlan);
  ASSERT_TRUE(frame.isOk());
  auto expected =
      cat({hex(kBroadcast + kMacHex + "08 06"), hex("00 01 08 00 06 04 00 01"),
           hex(kMacHex + "c6 12 00 05"), hex("00 00 00 00 00 00 | c6 12 00 01"), zeros(18)});
  EXPECT_BYTES(*frame, expected);
  // Sender 0.0.0.0: an RFC 5227 ARP probe.
  auto probe = buildArpRequest(kMac, Ipv4Address(), kIp4Target, kNoVlan);
  ASSERT_TRUE(probe.isOk());
  EXPECT_EQ(std::vector<uint8_t>(probe->begin() + 28, probe->begin() + 32), hex("00 00 00 00"));
}

// The NA for 2001:db8::5 from 52:54:00:12:34:56, checksum worked out by hand:
//   pseudo-header: src 2001+0db8+0005 = 2dbe, dst ff02+0001 = ff03,
//                  length 0020, next header 003a
//   message: 8800 2000 2001 0db8 0005 0201 5254 0012 3456 = 15e7b
//   total 28b96 -> fold 8b98 -> complement 7467
TEST(Frames, UnsolicitedNeighborAdvertisement) {
  auto frame = buildUnsolicitedNa(kMac, kIp6, kNoVlan);
  ASSERT_TRUE(frame.isOk());
  const std::string ip6 = "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 05";
  auto expected = cat({
      hex("33 33 00 00 00 01" + kMacHex + "86 dd"),
      hex("60 00 00 00 | 00 20 | 3a | ff"),  // v6, payload 32, ICMPv6, hop limit 255
      hex(ip6),                              // source: the target itself
      hex("ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01"),  // ff02::1
      hex("88 00 | 74 67 | 20 00 00 00"),  // type 136, code 0, checksum, flags O only
      hex(ip6),                            // target
      hex("02 01" + kMacHex),              // target link-layer address option
  });
  ASSERT_EQ(expected.size(), 86u);
  EXPECT_BYTES(*frame, expected);
  EXPECT_EQ(referenceIcmpv6Checksum({frame->begin() + 14, frame->end()}), 0x7467);
}

TEST(Frames, UnsolicitedNaTaggedLinkLocal) {
  const Ipv6Address ll = *Ipv6Address::parse("fe80::5054:ff:fe12:3456");
  auto frame = buildUnsolicitedNa(kMac, ll, kVlan);
  ASSERT_TRUE(frame.isOk());
  ASSERT_EQ(frame->size(), 90u);
  EXPECT_EQ(std::vector<uint8_t>(frame->begin(), frame->begin() + 18),
            hex("33 33 00 00 00 01" + kMacHex + kTag100 + "86 dd"));
  const std::vector<uint8_t> ipv6(frame->begin() + 18, frame->end());
  const uint16_t stored = uint16_t(ipv6[42] << 8 | ipv6[43]);
  EXPECT_EQ(stored, referenceIcmpv6Checksum(ipv6));
  EXPECT_EQ(std::vector<uint8_t>(ipv6.begin() + 8, ipv6.begin() + 24),
            std::vector<uint8_t>(ll.bytes().begin(), ll.bytes().end()));
}

// NS from 2001:db8::5 for 2001:db8::1, checksum by hand:
//   src 2dbe; dst ff02+0001+ff00+0001 = 1fe04; length 0020; next header 003a
//   message: 8700 + target (2001+0db8+0001 = 2dba) + 0101 5254 0012 3456 = 13c77
//   total 36893 -> fold 6896 -> complement 9769
TEST(Frames, NeighborSolicitationForProbe) {
  auto frame = buildNeighborSolicitation(kMac, kIp6, kIp6Target, kNoVlan);
  ASSERT_TRUE(frame.isOk());
  auto expected = cat({
      hex("33 33 ff 00 00 01" + kMacHex + "86 dd"),  // solicited-node group MAC
      hex("60 00 00 00 00 20 3a ff"), hex("20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 05"),
      hex("ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 00 01"),  // ff02::1:ff00:1
      hex("87 00 | 97 69 | 00 00 00 00"), hex("20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"),
      hex("01 01" + kMacHex),  // source link-layer address option
  });
  EXPECT_BYTES(*frame, expected);
  EXPECT_EQ(referenceIcmpv6Checksum({frame->begin() + 14, frame->end()}), 0x9769);
}

TEST(Frames, NeighborSolicitationFromUnspecifiedHasNoOption) {
  auto frame = buildNeighborSolicitation(kMac, Ipv6Address(), kIp6Target, kVlan);
  ASSERT_TRUE(frame.isOk());
  ASSERT_EQ(frame->size(), 82u);  // 18 + 40 + 24
  const std::vector<uint8_t> ipv6(frame->begin() + 18, frame->end());
  EXPECT_EQ(ipv6[4], 0);
  EXPECT_EQ(ipv6[5], 24);  // payload length: no option
  EXPECT_EQ(uint16_t(ipv6[42] << 8 | ipv6[43]), referenceIcmpv6Checksum(ipv6));
}

TEST(Frames, WriteFormOverwritesStaleBytesAndReportsLength) {
  std::vector<uint8_t> buf(128, 0xaa);
  const size_t n = writeGratuitousArp(buf, GarpForm::kRequest, kMac, kIp4, kNoVlan);
  ASSERT_EQ(n, 60u);
  EXPECT_EQ(n, frameLength(FrameKind::kGarpRequest, kNoVlan));
  std::vector<uint8_t> written(buf.begin(), buf.begin() + n);
  EXPECT_BYTES(written, *buildGratuitousArp(GarpForm::kRequest, kMac, kIp4, kNoVlan));
  EXPECT_EQ(buf[n], 0xaa);  // nothing past the frame
}

TEST(Frames, WriteFormRefusesShortBufferAndBadVlan) {
  struct Kind {
    FrameKind kind;
    std::function<size_t(std::span<uint8_t>, VlanId)> write;
  };
  const std::vector<Kind> kinds = {
      {FrameKind::kRarpAnnounce, [](auto b, VlanId v) { return writeRarpAnnounce(b, kMac, v); }},
      {FrameKind::kGarpRequest,
       [](auto b, VlanId v) { return writeGratuitousArp(b, GarpForm::kRequest, kMac, kIp4, v); }},
      {FrameKind::kGarpReply,
       [](auto b, VlanId v) { return writeGratuitousArp(b, GarpForm::kReply, kMac, kIp4, v); }},
      {FrameKind::kUnsolicitedNa,
       [](auto b, VlanId v) { return writeUnsolicitedNa(b, kMac, kIp6, v); }},
      {FrameKind::kArpRequest,
       [](auto b, VlanId v) { return writeArpRequest(b, kMac, kIp4, kIp4Target, v); }},
      {FrameKind::kNeighborSolicitation,
       [](auto b, VlanId v) { return writeNeighborSolicitation(b, kMac, kIp6, kIp6Target, v); }},
  };
  std::vector<uint8_t> buf(kMaxBuiltFrameLen);
  for (const Kind& k : kinds) {
    for (VlanId vlan : {kNoVlan, VlanId(1), kMaxVlanId}) {
      const size_t len = frameLength(k.kind, vlan);
      EXPECT_LE(len, kMaxBuiltFrameLen);
      EXPECT_GE(len, vlan ? kMinTaggedFrameLen : kMinFrameLen);
      EXPECT_EQ(k.write(std::span<uint8_t>(buf.data(), len), vlan), len)
          << frameKindName(k.kind) << " vlan " << vlan;
      EXPECT_EQ(k.write(std::span<uint8_t>(buf.data(), len - 1), vlan), 0u)
          << frameKindName(k.kind) << " vlan " << vlan;
    }
    EXPECT_EQ(k.write(buf, 4095), 0u) << frameKindName(k.kind);
  }
}

TEST(Frames, BuildFormRejectsBadArgumentsNamingTheField) {
  const MacAddress mcast = *MacAddress::parse("01:00:5e:00:00:01");
  struct Case {
    StatusOr<std::vector<uint8_t>> result;
    const char* message;
  };
  const std::vector<Case> cases = {
      {buildRarpAnnounce(mcast, 0), "mac: 01:00:5e:00:00:01 is a multicast address"},
      {buildRarpAnnounce(MacAddress(), 0), "mac: 00:00:00:00:00:00 is not a usable source MAC"},
      {buildRarpAnnounce(kMac, 4095), "vlan: 4095 is out of range 0..4094"},
      {buildGratuitousArp(GarpForm::kRequest, kMac, *Ipv4Address::parse("224.0.0.1"), 0),
       "ip: 224.0.0.1 is not a unicast address a host can own"},
      {buildGratuitousArp(GarpForm::kReply, kMac, Ipv4Address(), 0),
       "ip: 0.0.0.0 is not a unicast address"},
      {buildUnsolicitedNa(kMac, Ipv6Address::allNodes(), 0),
       "target: ff02::1 is not a unicast address"},
      {buildUnsolicitedNa(kMac, Ipv6Address(), 0), "target: :: is not a unicast address"},
      {buildArpRequest(kMac, kIp4, *Ipv4Address::parse("255.255.255.255"), 0),
       "target_ip: 255.255.255.255"},
      {buildArpRequest(mcast, kIp4, kIp4Target, 0), "sender_mac: 01:00:5e:00:00:01"},
      {buildNeighborSolicitation(kMac, *Ipv6Address::parse("ff02::2"), kIp6Target, 0),
       "sender_ip: ff02::2"},
      {buildNeighborSolicitation(kMac, kIp6, kIp6, 5000), "vlan: 5000 is out of range"},
  };
  for (const Case& c : cases) {
    ASSERT_FALSE(c.result.isOk()) << c.message;
    EXPECT_EQ(c.result.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.result.status().message().find(c.message), std::string::npos)
        << c.result.status().message();
  }
}

TEST(Frames, KindNames) {
  EXPECT_EQ(frameKindName(FrameKind::kRarpAnnounce), "rarp_announce");
  EXPECT_EQ(frameKindName(FrameKind::kUnsolicitedNa), "unsolicited_na");
  EXPECT_EQ(frameKindName(FrameKind::kNeighborSolicitation), "neighbor_solicitation");
}

}  // namespace
}  // namespace vfo::lag
