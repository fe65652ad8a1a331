#include "vfo/vhost/frame.h"

namespace vfo::vhost {

namespace {

inline uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}

// Offset of the payload after the Ethernet header and at most two tags,
// with its EtherType; false when truncated.
bool payloadOf(FrameView f, uint32_t* offset, uint16_t* ethertype) {
  if (f.len < kEthHeaderLen) return false;
  uint32_t off = 12;
  uint16_t type = be16(f.data + off);
  for (int tags = 0; tags < 2 && (type == kEtherTypeVlan || type == kEtherTypeQinQ); ++tags) {
    off += kVlanTagLen;
    if (f.len < off + 2) return false;
    type = be16(f.data + off);
  }
  *offset = off + 2;
  *ethertype = type;
  return true;
}

constexpr uint8_t kIpProtoUdp = 17;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
constexpr uint16_t kDhcpServerPort = 67;
constexpr uint16_t kDhcpClientPort = 68;

bool isDhcp4(FrameView f, uint32_t off, Direction dir) {
  if (f.len < off + 20) return false;
  const uint8_t* ip = f.data + off;
  if ((ip[0] >> 4) != 4) return false;
  const uint32_t ihl = uint32_t(ip[0] & 0x0f) * 4;
  if (ihl < 20 || ip[9] != kIpProtoUdp) return false;
  // Fragments other than the first carry no UDP header.
  if ((be16(ip + 6) & 0x1fff) != 0) return false;
  if (f.len < off + ihl + 8) return false;
  const uint8_t* udp = ip + ihl;
  const uint16_t sport = be16(udp), dport = be16(udp + 2);
  if (dir == Direction::kFromGuest) return sport == kDhcpClientPort && dport == kDhcpServerPort;
  return sport == kDhcpServerPort && dport == kDhcpClientPort;
}

bool isNeighborDiscovery(FrameView f, uint32_t off) {
  // Fixed IPv6 header (40 bytes) directly followed by ICMPv6. Guests send
  // NS/NA without extension headers; an ND message behind extension
  // headers is not copied (the learner would only see it as noise).
  if (f.len < off + 41) return false;
  const uint8_t* ip6 = f.data + off;
  if ((ip6[0] >> 4) != 6 || ip6[6] != kIpProtoIcmpv6) return false;
  const uint8_t type = ip6[40];
  return type == kIcmpv6NeighborSolicitation || type == kIcmpv6NeighborAdvertisement;
}

}  // namespace

bool MacSet::add(const MacAddress& mac) {
  if (count_ == kCapacity) return false;
  keys_[count_++] = key(mac.data());
  return true;
}

LearnKind learnKind(FrameView frame, Direction dir) {
  uint32_t off;
  uint16_t type;
  if (!payloadOf(frame, &off, &type)) return LearnKind::kNone;
  switch (type) {
    case kEtherTypeArp:
      return dir == Direction::kFromGuest ? LearnKind::kArp : LearnKind::kNone;
    case kEtherTypeRarp:
      return dir == Direction::kFromGuest ? LearnKind::kRarp : LearnKind::kNone;
    case kEtherTypeIpv6:
      return dir == Direction::kFromGuest && isNeighborDiscovery(frame, off) ? LearnKind::kNd
                                                                             : LearnKind::kNone;
    case kEtherTypeIpv4:
      return isDhcp4(frame, off, dir) ? LearnKind::kDhcp4 : LearnKind::kNone;
    default:
      return LearnKind::kNone;
  }
}

GuestDecision classifyFromGuest(FrameView frame, const MacSet& allowed, lag::VlanId port_vlan) {
  GuestDecision d;
  if (frame.len < kEthHeaderLen) {
    d.verdict = GuestVerdict::kDropRunt;
    return d;
  }
  if (!allowed.contains(frame.data + 6)) {
    d.verdict = GuestVerdict::kDropSpoofed;
    return d;
  }
  if (port_vlan != lag::kNoVlan) {
    const uint16_t type = be16(frame.data + 12);
    if (type == kEtherTypeVlan || type == kEtherTypeQinQ) {
      d.verdict = GuestVerdict::kDropTagged;
      return d;
    }
  }
  d.learn = learnKind(frame, Direction::kFromGuest) != LearnKind::kNone;
  return d;
}

UplinkDecision classifyFromUplink(FrameView frame, StrippedTag stripped, const MacSet& port_macs,
                                  lag::VlanId port_vlan, bool deliver_foreign_unicast) {
  UplinkDecision d;
  if (frame.len < kEthHeaderLen) {
    d.verdict = UplinkVerdict::kDropRunt;
    return d;
  }
  const uint16_t type = be16(frame.data + 12);
  if (port_vlan != lag::kNoVlan) {
    // Access port: exactly the port's VLAN, delivered untagged.
    if (stripped.present) {
      if ((stripped.tci & 0x0fff) != port_vlan) {
        d.verdict = UplinkVerdict::kDropVlan;
        return d;
      }
    } else if (type == kEtherTypeVlan) {
      if (frame.len < kEthHeaderLen + kVlanTagLen) {
        d.verdict = UplinkVerdict::kDropRunt;
        return d;
      }
      if ((be16(frame.data + 14) & 0x0fff) != port_vlan) {
        d.verdict = UplinkVerdict::kDropVlan;
        return d;
      }
      d.tag = TagAction::kStripInband;
    } else {
      d.verdict = UplinkVerdict::kDropVlan;
      return d;
    }
  } else if (stripped.present) {
    // Transparent port: the guest sees the frame as it was on the wire.
    d.tag = TagAction::kReinsertStripped;
  }
  const uint8_t* dst = frame.data;
  if (!deliver_foreign_unicast && !(dst[0] & 0x01) && !port_macs.contains(dst)) {
    d.verdict = UplinkVerdict::kDropNotForGuest;
    return d;
  }
  d.learn = learnKind(frame, Direction::kToGuest) != LearnKind::kNone;
  return d;
}

}  // namespace vfo::vhost
