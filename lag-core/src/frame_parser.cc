#include "vfo/lag/frame_parser.h"

#include "vfo/lag/frames.h"
#include "vfo/lag/inet_checksum.h"
#include "wire.h"

namespace vfo::lag {

namespace {

using namespace wire;

ParsedFrame malformed(FrameDefect defect) {
  ParsedFrame r;
  r.verdict = ParseVerdict::kMalformed;
  r.defect = defect;
  return r;
}

ParsedFrame notRelevant() {
  return ParsedFrame{};
}

ParsedFrame silent(AddressSource source, SilentReason why) {
  ParsedFrame r;
  r.verdict = ParseVerdict::kNoAddress;
  r.source = source;
  r.silent = why;
  return r;
}

ParsedFrame bound(AddressSource source, const MacAddress& mac, VlanId vlan, const Ipv4Address& ip) {
  ParsedFrame r;
  r.verdict = ParseVerdict::kAddress;
  r.source = source;
  r.binding.mac = mac;
  r.binding.vlan = vlan;
  r.binding.family = IpFamily::kIpv4;
  r.binding.ipv4 = ip;
  return r;
}

ParsedFrame bound(AddressSource source, const MacAddress& mac, VlanId vlan, const Ipv6Address& ip) {
  ParsedFrame r;
  r.verdict = ParseVerdict::kAddress;
  r.source = source;
  r.binding.mac = mac;
  r.binding.vlan = vlan;
  r.binding.family = IpFamily::kIpv6;
  r.binding.ipv6 = ip;
  return r;
}

bool usableSourceMac(const MacAddress& mac) {
  return !mac.isMulticast() && !mac.isZero();
}

// ARP (RFC 826). `p` points at the ARP body, `len` bytes remain (padding
// included: only the first 28 are read).
ParsedFrame parseArp(const uint8_t* p, size_t len, const MacAddress& eth_src, VlanId vlan) {
  if (len < kArpLen) return malformed(FrameDefect::arp_truncated);
  if (get16(p + arp::kHtype) != kArpHwEthernet || get16(p + arp::kPtype) != kEtherTypeIpv4 ||
      p[arp::kHlen] != 6 || p[arp::kPlen] != 4)
    return malformed(FrameDefect::arp_bad_format);
  const uint16_t op = get16(p + arp::kOp);
  if (op != kArpOpRequest && op != kArpOpReply) return malformed(FrameDefect::arp_bad_opcode);
  const MacAddress sha = MacAddress::fromBytes(p + arp::kSha);
  const Ipv4Address spa = Ipv4Address::fromBytes(p + arp::kSpa);
  const Ipv4Address tpa = Ipv4Address::fromBytes(p + arp::kTpa);
  if (sha != eth_src) return malformed(FrameDefect::arp_sender_mismatch);
  const AddressSource source = spa == tpa            ? AddressSource::kGratuitousArp
                               : op == kArpOpRequest ? AddressSource::kArpRequest
                                                     : AddressSource::kArpReply;
  if (spa.isZero()) return silent(source, SilentReason::kArpProbe);
  if (!spa.isUsableUnicast()) return malformed(FrameDefect::arp_bad_sender);
  return bound(source, sha, vlan, spa);
}

// IPv4 -> UDP 67->68 -> BOOTP reply -> DHCP message type ACK.
ParsedFrame parseIpv4(const uint8_t* p, size_t len, const MacAddress& eth_src, VlanId vlan) {
  if (len < kIpv4MinHeaderLen) return malformed(FrameDefect::ipv4_truncated);
  const uint8_t version = p[0] >> 4;
  const size_t header_len = size_t(p[0] & 0x0f) * 4;
  const size_t total_len = get16(p + 2);
  if (version != 4 || header_len < kIpv4MinHeaderLen || total_len < header_len)
    return malformed(FrameDefect::ipv4_bad_header);
  if (header_len > len || total_len > len) return malformed(FrameDefect::ipv4_truncated);
  // Fragments cannot be parsed on their own: MF set or a non-zero offset.
  if ((get16(p + 6) & 0x3fff) != 0) return notRelevant();
  if (p[9] != kIpProtoUdp) return notRelevant();
  if (checksumFinish(checksumAdd(0, {p, header_len})) != 0)
    return malformed(FrameDefect::ipv4_bad_checksum);

  const uint8_t* udp = p + header_len;
  const size_t ip_payload = total_len - header_len;
  if (ip_payload < kUdpHeaderLen) return malformed(FrameDefect::udp_truncated);
  const size_t udp_len = get16(udp + 4);
  if (udp_len < kUdpHeaderLen || udp_len > ip_payload) return malformed(FrameDefect::udp_truncated);
  // Only server -> client messages carry an assignment. The UDP checksum is
  // not verified: a virtio guest may leave it to offload (NEEDS_CSUM).
  if (get16(udp) != kBootpServerPort || get16(udp + 2) != kBootpClientPort) return notRelevant();
  if (!usableSourceMac(eth_src)) return malformed(FrameDefect::eth_bad_source);

  const uint8_t* m = udp + kUdpHeaderLen;
  const size_t m_len = udp_len - kUdpHeaderLen;
  if (m_len < bootp::kOptions) return malformed(FrameDefect::dhcp_truncated);
  if (m[bootp::kOp] != bootp::kOpReply || m[bootp::kHtype] != kArpHwEthernet ||
      m[bootp::kHlen] != 6)
    return malformed(FrameDefect::dhcp_bad_format);
  if (get32(m + bootp::kCookie) != bootp::kMagicCookie) return notRelevant();  // plain BOOTP

  int message_type = -1;
  for (size_t i = bootp::kOptions; i < m_len;) {
    const uint8_t code = m[i];
    if (code == bootp::kOptEnd) break;
    if (code == bootp::kOptPad) {
      ++i;
      continue;
    }
    if (i + 1 >= m_len) return malformed(FrameDefect::dhcp_bad_option);
    const size_t opt_len = m[i + 1];
    if (i + 2 + opt_len > m_len) return malformed(FrameDefect::dhcp_bad_option);
    if (code == bootp::kOptMessageType && message_type < 0) {
      if (opt_len != 1) return malformed(FrameDefect::dhcp_bad_option);
      message_type = m[i + 2];
    }
    i += 2 + opt_len;
  }
  if (message_type < 0) return notRelevant();  // BOOTP with a cookie but no DHCP type
  if (message_type != bootp::kDhcpAck)
    return silent(AddressSource::kDhcpAck, SilentReason::kDhcpNotAck);
  const Ipv4Address yiaddr = Ipv4Address::fromBytes(m + bootp::kYiaddr);
  const MacAddress chaddr = MacAddress::fromBytes(m + bootp::kChaddr);
  if (yiaddr.isZero()) return silent(AddressSource::kDhcpAck, SilentReason::kDhcpNoAddress);
  if (!yiaddr.isUsableUnicast() || !usableSourceMac(chaddr))
    return malformed(FrameDefect::dhcp_bad_address);
  return bound(AddressSource::kDhcpAck, chaddr, vlan, yiaddr);
}

// IPv6 -> ICMPv6 NS/NA (RFC 4861 sections 7.1.1 and 7.1.2).
ParsedFrame parseIpv6(const uint8_t* p, size_t len, const MacAddress& eth_src, VlanId vlan) {
  if (len < kIpv6HeaderLen) return malformed(FrameDefect::ipv6_truncated);
  if ((p[0] >> 4) != 6) return malformed(FrameDefect::ipv6_bad_header);
  const size_t payload_len = get16(p + ip6::kPayloadLen);
  if (payload_len > len - kIpv6HeaderLen) return malformed(FrameDefect::ipv6_truncated);
  // ND messages carry no extension headers in practice; anything else is
  // not looked at.
  if (p[ip6::kNextHeader] != kNextHeaderIcmpv6) return notRelevant();
  const uint8_t* icmp = p + kIpv6HeaderLen;
  if (payload_len < 1) return notRelevant();
  const uint8_t type = icmp[0];
  if (type != kIcmpv6NeighborSolicitation && type != kIcmpv6NeighborAdvertisement)
    return notRelevant();
  const bool is_na = type == kIcmpv6NeighborAdvertisement;

  if (!usableSourceMac(eth_src)) return malformed(FrameDefect::eth_bad_source);
  if (p[ip6::kHopLimit] != kNdHopLimit) return malformed(FrameDefect::nd_bad_hop_limit);
  if (payload_len < kNdMessageLen) return malformed(FrameDefect::nd_truncated);
  if (icmp[1] != 0) return malformed(FrameDefect::nd_bad_code);
  const Ipv6Address src = Ipv6Address::fromBytes(p + ip6::kSrc);
  const Ipv6Address dst = Ipv6Address::fromBytes(p + ip6::kDst);
  if (icmpv6Checksum(src, dst, {icmp, payload_len}) != 0)
    return malformed(FrameDefect::nd_bad_checksum);
  const Ipv6Address target = Ipv6Address::fromBytes(icmp + kNdTarget);
  if (!target.isUsableUnicast()) return malformed(FrameDefect::nd_bad_target);
  if (src.isMulticast()) return malformed(FrameDefect::nd_bad_source);

  // Options: type(1) length(1, in units of 8 bytes, never 0) data.
  const uint8_t wanted_option = is_na ? kNdOptTargetLinkAddr : kNdOptSourceLinkAddr;
  const uint8_t* link_addr = nullptr;
  for (size_t i = kNdMessageLen; i < payload_len;) {
    if (payload_len - i < 2) return malformed(FrameDefect::nd_bad_option);
    const size_t opt_len = size_t(icmp[i + 1]) * 8;
    if (opt_len == 0 || opt_len > payload_len - i) return malformed(FrameDefect::nd_bad_option);
    const uint8_t opt_type = icmp[i];
    if (opt_type == kNdOptSourceLinkAddr || opt_type == kNdOptTargetLinkAddr) {
      if (opt_len != kNdLinkAddrOptLen) return malformed(FrameDefect::nd_bad_option);
      if (opt_type == wanted_option && link_addr == nullptr) link_addr = icmp + i + 2;
    }
    i += opt_len;
  }
  const MacAddress owner = link_addr ? MacAddress::fromBytes(link_addr) : eth_src;

  if (is_na) {
    if (dst.isMulticast() && (icmp[4] & kNaFlagSolicited))
      return malformed(FrameDefect::nd_bad_flags);
    if (!usableSourceMac(owner)) return malformed(FrameDefect::nd_bad_option);
    return bound(AddressSource::kNeighborAdvertisement, owner, vlan, target);
  }
  if (src.isUnspecified()) {
    // DAD: must go to the target's solicited-node group, without a source
    // link-layer option.
    if (dst != target.solicitedNodeMulticast() || link_addr != nullptr)
      return malformed(FrameDefect::nd_bad_source);
    return silent(AddressSource::kNeighborSolicitation, SilentReason::kDadSolicitation);
  }
  if (!src.isUsableUnicast()) return malformed(FrameDefect::nd_bad_source);
  if (!usableSourceMac(owner)) return malformed(FrameDefect::nd_bad_option);
  return bound(AddressSource::kNeighborSolicitation, owner, vlan, src);
}

}  // namespace

std::string_view frameDefectName(FrameDefect defect) {
  const auto i = static_cast<size_t>(defect);
  if (i == 0 || i > FrameDefectStats::kCount) return "none";
  return FrameDefectStats::kInfo[i - 1].name;
}

void countDefect(FrameDefectStats& stats, FrameDefect defect) {
#define VFO_FRAME_DEFECT_CASE_(name, help) \
  case FrameDefect::name:                  \
    bump(stats.name);                      \
    return;
  switch (defect) {
    case FrameDefect::none:
      return;
      VFO_FRAME_DEFECTS(VFO_FRAME_DEFECT_CASE_)
  }
#undef VFO_FRAME_DEFECT_CASE_
}

std::string_view addressSourceName(AddressSource source) {
  switch (source) {
    case AddressSource::kNone:
      return "none";
    case AddressSource::kArpRequest:
      return "arp_request";
    case AddressSource::kArpReply:
      return "arp_reply";
    case AddressSource::kGratuitousArp:
      return "gratuitous_arp";
    case AddressSource::kNeighborSolicitation:
      return "neighbor_solicitation";
    case AddressSource::kNeighborAdvertisement:
      return "neighbor_advertisement";
    case AddressSource::kDhcpAck:
      return "dhcp_ack";
  }
  return "unknown";
}

ParsedFrame parseAddressFrame(std::span<const uint8_t> frame) {
  const uint8_t* p = frame.data();
  size_t len = frame.size();
  if (len < kEthHeaderLen) return malformed(FrameDefect::eth_truncated);
  const MacAddress eth_src = MacAddress::fromBytes(p + 6);
  uint16_t type = get16(p + 12);
  size_t offset = kEthHeaderLen;
  VlanId vlan = kNoVlan;
  if (type == kEtherTypeVlan) {
    if (len < kEthHeaderLen + kVlanTagLen) return malformed(FrameDefect::vlan_truncated);
    vlan = get16(p + 14) & kVlanIdMask;
    if (vlan > kMaxVlanId) return malformed(FrameDefect::vlan_bad_id);
    type = get16(p + 16);
    offset += kVlanTagLen;
  }
  const uint8_t* l3 = p + offset;
  const size_t l3_len = len - offset;
  switch (type) {
    case kEtherTypeArp:
      if (!usableSourceMac(eth_src)) return malformed(FrameDefect::eth_bad_source);
      return parseArp(l3, l3_len, eth_src, vlan);
    case kEtherTypeIpv4:
      return parseIpv4(l3, l3_len, eth_src, vlan);
    case kEtherTypeIpv6:
      return parseIpv6(l3, l3_len, eth_src, vlan);
    default:
      return notRelevant();  // includes a second tag (QinQ) and RARP
  }
}

}  // namespace vfo::lag
