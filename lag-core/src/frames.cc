#include "vfo/lag/frames.h"

#include <algorithm>

#include "vfo/lag/inet_checksum.h"
#include "wire.h"

namespace vfo::lag {

namespace {

using namespace wire;

// Sequential big-endian writer over a buffer the caller sized beforehand.
class Writer {
 public:
  explicit Writer(uint8_t* p) : start_(p), p_(p) {}
  void u8(uint8_t v) { *p_++ = v; }
  void u16(uint16_t v) {
    put16(p_, v);
    p_ += 2;
  }
  void u32(uint32_t v) {
    u16(uint16_t(v >> 16));
    u16(uint16_t(v));
  }
  void bytes(const uint8_t* b, size_t n) {
    std::memcpy(p_, b, n);
    p_ += n;
  }
  void mac(const MacAddress& m) { bytes(m.data(), 6); }
  void ip(const Ipv4Address& a) { bytes(a.data(), 4); }
  void ip(const Ipv6Address& a) { bytes(a.data(), 16); }
  void zeros(size_t n) {
    std::memset(p_, 0, n);
    p_ += n;
  }
  uint8_t* pos() const { return p_; }
  size_t length() const { return size_t(p_ - start_); }
  // Zero-pads up to `len` bytes in total (no-op when already longer).
  void padTo(size_t len) {
    if (length() < len) zeros(len - length());
  }

 private:
  uint8_t* start_;
  uint8_t* p_;
};

size_t l2HeaderLen(VlanId vlan) {
  return kEthHeaderLen + (vlan != kNoVlan ? kVlanTagLen : 0);
}
size_t minLen(VlanId vlan) {
  return vlan != kNoVlan ? kMinTaggedFrameLen : kMinFrameLen;
}
size_t arpFrameLen(VlanId vlan) {
  return std::max(l2HeaderLen(vlan) + kArpLen, minLen(vlan));
}
size_t ndFrameLen(VlanId vlan, bool with_option) {
  size_t len = l2HeaderLen(vlan) + kIpv6HeaderLen + kNdMessageLen;
  if (with_option) len += kNdLinkAddrOptLen;
  return std::max(len, minLen(vlan));
}

void writeEthernet(Writer& w, const MacAddress& dst, const MacAddress& src, uint16_t type,
                   VlanId vlan) {
  w.mac(dst);
  w.mac(src);
  if (vlan != kNoVlan) {
    w.u16(kEtherTypeVlan);
    w.u16(uint16_t(vlan & kVlanIdMask));  // PCP 0, DEI 0
  }
  w.u16(type);
}

// ARP body for Ethernet/IPv4 (RFC 826).
void writeArpBody(Writer& w, uint16_t op, const MacAddress& sha, const Ipv4Address& spa,
                  const MacAddress& tha, const Ipv4Address& tpa) {
  w.u16(kArpHwEthernet);
  w.u16(kEtherTypeIpv4);
  w.u8(6);
  w.u8(4);
  w.u16(op);
  w.mac(sha);
  w.ip(spa);
  w.mac(tha);
  w.ip(tpa);
}

size_t writeArpFamily(std::span<uint8_t> out, uint16_t ether_type, uint16_t op,
                      const MacAddress& eth_src, const MacAddress& sha, const Ipv4Address& spa,
                      const MacAddress& tha, const Ipv4Address& tpa, VlanId vlan) {
  if (vlan > kMaxVlanId) return 0;
  const size_t len = arpFrameLen(vlan);
  if (out.size() < len) return 0;
  Writer w(out.data());
  writeEthernet(w, MacAddress::broadcast(), eth_src, ether_type, vlan);
  writeArpBody(w, op, sha, spa, tha, tpa);
  w.padTo(len);
  return w.length();
}

// IPv6 header plus an ND message (type, flags byte, target) with an optional
// link-layer address option, checksum filled in.
size_t writeNd(std::span<uint8_t> out, const MacAddress& eth_dst, const MacAddress& eth_src,
               const Ipv6Address& ip_src, const Ipv6Address& ip_dst, uint8_t type, uint8_t flags,
               const Ipv6Address& target, uint8_t option_type, bool with_option, VlanId vlan) {
  if (vlan > kMaxVlanId) return 0;
  const size_t len = ndFrameLen(vlan, with_option);
  if (out.size() < len) return 0;
  const uint16_t icmp_len = uint16_t(kNdMessageLen + (with_option ? kNdLinkAddrOptLen : 0));

  Writer w(out.data());
  writeEthernet(w, eth_dst, eth_src, kEtherTypeIpv6, vlan);
  w.u32(0x60000000);  // version 6, traffic class 0, flow label 0
  w.u16(icmp_len);
  w.u8(kNextHeaderIcmpv6);
  w.u8(kNdHopLimit);
  w.ip(ip_src);
  w.ip(ip_dst);

  uint8_t* icmp = w.pos();
  w.u8(type);
  w.u8(0);   // code
  w.u16(0);  // checksum, filled below
  w.u8(flags);
  w.zeros(3);  // reserved
  w.ip(target);
  if (with_option) {
    w.u8(option_type);
    w.u8(1);  // length in units of 8 bytes
    w.mac(eth_src);
  }
  put16(icmp + 2, icmpv6Checksum(ip_src, ip_dst, {icmp, icmp_len}));
  w.padTo(len);
  return w.length();
}

StatusOr<std::vector<uint8_t>> toVector(size_t capacity, auto&& write) {
  std::vector<uint8_t> frame(capacity);
  size_t n = write(std::span<uint8_t>(frame));
  if (n == 0) return internalError("frame builder wrote nothing for validated arguments");
  frame.resize(n);
  return frame;
}

}  // namespace

std::string_view frameKindName(FrameKind kind) {
  switch (kind) {
    case FrameKind::kRarpAnnounce:
      return "rarp_announce";
    case FrameKind::kGarpRequest:
      return "garp_request";
    case FrameKind::kGarpReply:
      return "garp_reply";
    case FrameKind::kUnsolicitedNa:
      return "unsolicited_na";
    case FrameKind::kArpRequest:
      return "arp_request";
    case FrameKind::kNeighborSolicitation:
      return "neighbor_solicitation";
  }
  return "unknown";
}

size_t frameLength(FrameKind kind, VlanId vlan) {
  switch (kind) {
    case FrameKind::kRarpAnnounce:
    case FrameKind::kGarpRequest:
    case FrameKind::kGarpReply:
    case FrameKind::kArpRequest:
      return arpFrameLen(vlan);
    case FrameKind::kUnsolicitedNa:
    case FrameKind::kNeighborSolicitation:
      return ndFrameLen(vlan, true);
  }
  return 0;
}

size_t writeRarpAnnounce(std::span<uint8_t> out, const MacAddress& mac, VlanId vlan) {
  return writeArpFamily(out, kEtherTypeRarp, kArpOpReverseRequest, mac, mac, Ipv4Address(), mac,
                        Ipv4Address(), vlan);
}

size_t writeGratuitousArp(std::span<uint8_t> out, GarpForm form, const MacAddress& mac,
                          const Ipv4Address& ip, VlanId vlan) {
  const bool reply = form == GarpForm::kReply;
  return writeArpFamily(out, kEtherTypeArp, reply ? kArpOpReply : kArpOpRequest, mac, mac, ip,
                        reply ? mac : MacAddress(), ip, vlan);
}

size_t writeUnsolicitedNa(std::span<uint8_t> out, const MacAddress& mac, const Ipv6Address& target,
                          VlanId vlan) {
  const Ipv6Address all_nodes = Ipv6Address::allNodes();
  return writeNd(out, all_nodes.multicastMac(), mac, target, all_nodes,
                 kIcmpv6NeighborAdvertisement, kNaFlagOverride, target, kNdOptTargetLinkAddr, true,
                 vlan);
}

size_t writeArpRequest(std::span<uint8_t> out, const MacAddress& sender_mac,
                       const Ipv4Address& sender_ip, const Ipv4Address& target_ip, VlanId vlan) {
  return writeArpFamily(out, kEtherTypeArp, kArpOpRequest, sender_mac, sender_mac, sender_ip,
                        MacAddress(), target_ip, vlan);
}

size_t writeNeighborSolicitation(std::span<uint8_t> out, const MacAddress& sender_mac,
                                 const Ipv6Address& sender_ip, const Ipv6Address& target,
                                 VlanId vlan) {
  const Ipv6Address group = target.solicitedNodeMulticast();
  return writeNd(out, group.multicastMac(), sender_mac, sender_ip, group,
                 kIcmpv6NeighborSolicitation, 0, target, kNdOptSourceLinkAddr,
                 !sender_ip.isUnspecified(), vlan);
}

Status checkSourceMac(const MacAddress& mac, std::string_view field) {
  if (mac.isMulticast())
    return invalidArgument(std::string(field) + ": " + mac.toString() +
                           " is a multicast address; frames must come from a unicast MAC");
  if (mac.isZero())
    return invalidArgument(std::string(field) + ": 00:00:00:00:00:00 is not a usable source MAC");
  return okStatus();
}

Status checkVlan(VlanId vlan, std::string_view field) {
  if (vlan > kMaxVlanId)
    return invalidArgument(std::string(field) + ": " + std::to_string(vlan) +
                           " is out of range 0..4094 (0 = untagged)");
  return okStatus();
}

Status checkHostAddress(const Ipv4Address& ip, std::string_view field) {
  if (!ip.isUsableUnicast())
    return invalidArgument(std::string(field) + ": " + ip.toString() +
                           " is not a unicast address a host can own");
  return okStatus();
}

Status checkHostAddress(const Ipv6Address& ip, std::string_view field) {
  if (!ip.isUsableUnicast())
    return invalidArgument(std::string(field) + ": " + ip.toString() +
                           " is not a unicast address a host can own");
  return okStatus();
}

StatusOr<std::vector<uint8_t>> buildRarpAnnounce(const MacAddress& mac, VlanId vlan) {
  VFO_RETURN_IF_ERROR(checkSourceMac(mac, "mac"));
  VFO_RETURN_IF_ERROR(checkVlan(vlan, "vlan"));
  return toVector(kMaxBuiltFrameLen,
                  [&](std::span<uint8_t> out) { return writeRarpAnnounce(out, mac, vlan); });
}

StatusOr<std::vector<uint8_t>> buildGratuitousArp(GarpForm form, const MacAddress& mac,
                                                  const Ipv4Address& ip, VlanId vlan) {
  VFO_RETURN_IF_ERROR(checkSourceMac(mac, "mac"));
  VFO_RETURN_IF_ERROR(checkHostAddress(ip, "ip"));
  VFO_RETURN_IF_ERROR(checkVlan(vlan, "vlan"));
  return toVector(kMaxBuiltFrameLen, [&](std::span<uint8_t> out) {
    return writeGratuitousArp(out, form, mac, ip, vlan);
  });
}

StatusOr<std::vector<uint8_t>> buildUnsolicitedNa(const MacAddress& mac, const Ipv6Address& target,
                                                  VlanId vlan) {
  VFO_RETURN_IF_ERROR(checkSourceMac(mac, "mac"));
  VFO_RETURN_IF_ERROR(checkHostAddress(target, "target"));
  VFO_RETURN_IF_ERROR(checkVlan(vlan, "vlan"));
  return toVector(kMaxBuiltFrameLen, [&](std::span<uint8_t> out) {
    return writeUnsolicitedNa(out, mac, target, vlan);
  });
}

StatusOr<std::vector<uint8_t>> buildArpRequest(const MacAddress& sender_mac,
                                               const Ipv4Address& sender_ip,
                                               const Ipv4Address& target_ip, VlanId vlan) {
  VFO_RETURN_IF_ERROR(checkSourceMac(sender_mac, "sender_mac"));
  if (!sender_ip.isZero()) VFO_RETURN_IF_ERROR(checkHostAddress(sender_ip, "sender_ip"));
  VFO_RETURN_IF_ERROR(checkHostAddress(target_ip, "target_ip"));
  VFO_RETURN_IF_ERROR(checkVlan(vlan, "vlan"));
  return toVector(kMaxBuiltFrameLen, [&](std::span<uint8_t> out) {
    return writeArpRequest(out, sender_mac, sender_ip, target_ip, vlan);
  });
}

StatusOr<std::vector<uint8_t>> buildNeighborSolicitation(const MacAddress& sender_mac,
                                                         const Ipv6Address& sender_ip,
                                                         const Ipv6Address& target, VlanId vlan) {
  VFO_RETURN_IF_ERROR(checkSourceMac(sender_mac, "sender_mac"));
  if (!sender_ip.isUnspecified()) VFO_RETURN_IF_ERROR(checkHostAddress(sender_ip, "sender_ip"));
  VFO_RETURN_IF_ERROR(checkHostAddress(target, "target"));
  VFO_RETURN_IF_ERROR(checkVlan(vlan, "vlan"));
  return toVector(kMaxBuiltFrameLen, [&](std::span<uint8_t> out) {
    return writeNeighborSolicitation(out, sender_mac, sender_ip, target, vlan);
  });
}

}  // namespace vfo::lag
