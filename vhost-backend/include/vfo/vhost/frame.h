// Per-frame decisions of the relay, as pure functions over a byte view.
//
// Contract: no DPDK, no allocation, no locks; safe on any thread. The
// relay applies the returned decision to the rte_mbuf (drop, strip, tag).
// Frames are Ethernet II with optional 802.1Q/802.1ad tags; lengths are of
// the first contiguous segment (at least the headers the decision needs).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "vfo/base/mac_address.h"
#include "vfo/lag/types.h"

namespace vfo::vhost {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeRarp = 0x8035;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;  // 802.1ad
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint32_t kEthHeaderLen = 14;
inline constexpr uint32_t kVlanTagLen = 4;

// A contiguous frame, starting at the destination MAC.
struct FrameView {
  const uint8_t* data = nullptr;  // first byte of the Ethernet header
  uint32_t len = 0;               // bytes readable at data
};

// The port's allowed MACs, compared as 48-bit integers. Up to 8 entries
// (the guest MAC plus 7 more).
class MacSet {
 public:
  static constexpr uint32_t kCapacity = 8;

  // Returns false when full.
  bool add(const MacAddress& mac);
  bool contains(const uint8_t* mac) const {
    const uint64_t k = key(mac);
    for (uint32_t i = 0; i < count_; ++i)
      if (keys_[i] == k) return true;
    return false;
  }
  uint32_t size() const { return count_; }
  // The members' keys (key() of each MAC): for lookup tables keyed alike.
  std::span<const uint64_t> keys() const { return {keys_.data(), count_}; }

  // A MAC's 48-bit key. Two loads combined in registers: a 6-byte memcpy
  // into a zeroed uint64_t goes through the stack and stalls
  // store-to-load forwarding per frame.
  static uint64_t key(const uint8_t* mac) {
    uint32_t lo;
    uint16_t hi;
    std::memcpy(&lo, mac, 4);
    std::memcpy(&hi, mac + 4, 2);
    return uint64_t(lo) | uint64_t(hi) << 32;
  }

 private:
  std::array<uint64_t, kCapacity> keys_{};  // 48-bit keys, host byte order of memcpy
  uint32_t count_ = 0;                      // used entries
};

// Frames the address learner wants a copy of.
enum class LearnKind : uint8_t {
  kNone,   // not interesting
  kArp,    // ARP request/reply, including gratuitous ARP (guest -> network)
  kRarp,   // reverse ARP, as QEMU's announce sends it (guest -> network)
  kNd,     // IPv6 neighbour solicitation/advertisement, incl. DAD (guest -> network)
  kDhcp4,  // DHCPv4: client messages (guest -> network), server replies (network -> guest)
};

// Direction of a frame through the relay.
enum class Direction : uint8_t {
  kFromGuest,  // guest -> uplink
  kToGuest,    // uplink -> guest
};

// What to do with a frame the guest sent.
enum class GuestVerdict : uint8_t {
  kForward,      // send it on the selected member
  kDropRunt,     // shorter than an Ethernet header
  kDropSpoofed,  // source MAC is not one of the port's allowed MACs
  kDropTagged,   // the guest sent an 802.1Q/802.1ad frame on a VLAN (access) port
};

struct GuestDecision {
  GuestVerdict verdict = GuestVerdict::kForward;  // see GuestVerdict
  bool learn = false;                             // also copy it to the address learner
};

// The VLAN tag a driver already removed from the frame (DPDK
// RTE_MBUF_F_RX_VLAN_STRIPPED with mbuf->vlan_tci).
struct StrippedTag {
  bool present = false;  // the driver stripped a tag
  uint16_t tci = 0;      // its TCI (PCP, DEI, VID)
};

// What to do with a frame received from an uplink.
enum class UplinkVerdict : uint8_t {
  kDeliver,          // enqueue it to the guest (after the tag action)
  kDropRunt,         // shorter than an Ethernet header (or a truncated tag)
  kDropVlan,         // untagged or another VLAN on a VLAN port
  kDropNotForGuest,  // unicast to a MAC the port does not own
};

// How the frame's tag must change before the guest sees it.
enum class TagAction : uint8_t {
  kNone,              // deliver the bytes as they are
  kStripInband,       // remove the 802.1Q header that is in the frame
  kReinsertStripped,  // put back the tag the driver stripped (transparent port)
};

struct UplinkDecision {
  UplinkVerdict verdict = UplinkVerdict::kDeliver;  // see UplinkVerdict
  TagAction tag = TagAction::kNone;                 // applied only when delivering
  bool learn = false;                               // also copy it to the learner
};

// ---- implementation (inline: called per frame on the workers) -------------

namespace frame_detail {

inline uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}

// Offset of the payload after the Ethernet header and at most two tags,
// with its EtherType; false when truncated.
inline bool payloadOf(FrameView f, uint32_t* offset, uint16_t* ethertype) {
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

inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
inline constexpr uint16_t kDhcpServerPort = 67;
inline constexpr uint16_t kDhcpClientPort = 68;

inline bool isDhcp4(FrameView f, uint32_t off, Direction dir) {
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

inline bool isNeighborDiscovery(FrameView f, uint32_t off) {
  // Fixed IPv6 header (40 bytes) directly followed by ICMPv6. Guests send
  // NS/NA without extension headers; an ND message behind extension
  // headers is not copied (the learner would only see it as noise).
  if (f.len < off + 41) return false;
  const uint8_t* ip6 = f.data + off;
  if ((ip6[0] >> 4) != 6 || ip6[6] != kIpProtoIcmpv6) return false;
  const uint8_t type = ip6[40];
  return type == kIcmpv6NeighborSolicitation || type == kIcmpv6NeighborAdvertisement;
}

}  // namespace frame_detail

// What the learner would get from this frame (kNone: nothing).
inline LearnKind learnKind(FrameView frame, Direction dir) {
  uint32_t off;
  uint16_t type;
  if (!frame_detail::payloadOf(frame, &off, &type)) return LearnKind::kNone;
  switch (type) {
    case kEtherTypeArp:
      return dir == Direction::kFromGuest ? LearnKind::kArp : LearnKind::kNone;
    case kEtherTypeRarp:
      return dir == Direction::kFromGuest ? LearnKind::kRarp : LearnKind::kNone;
    case kEtherTypeIpv6:
      return dir == Direction::kFromGuest && frame_detail::isNeighborDiscovery(frame, off)
                 ? LearnKind::kNd
                 : LearnKind::kNone;
    case kEtherTypeIpv4:
      return frame_detail::isDhcp4(frame, off, dir) ? LearnKind::kDhcp4 : LearnKind::kNone;
    default:
      return LearnKind::kNone;
  }
}

// `port_vlan` is the port's VLAN (kNoVlan = transparent: frames pass as the
// guest built them).
inline GuestDecision classifyFromGuest(FrameView frame, const MacSet& allowed,
                                       lag::VlanId port_vlan) {
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
    const uint16_t type = frame_detail::be16(frame.data + 12);
    if (type == kEtherTypeVlan || type == kEtherTypeQinQ) {
      d.verdict = GuestVerdict::kDropTagged;
      return d;
    }
  }
  d.learn = learnKind(frame, Direction::kFromGuest) != LearnKind::kNone;
  return d;
}

inline UplinkDecision classifyFromUplink(FrameView frame, StrippedTag stripped,
                                         const MacSet& port_macs, lag::VlanId port_vlan,
                                         bool deliver_foreign_unicast) {
  UplinkDecision d;
  if (frame.len < kEthHeaderLen) {
    d.verdict = UplinkVerdict::kDropRunt;
    return d;
  }
  const uint16_t type = frame_detail::be16(frame.data + 12);
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
      if ((frame_detail::be16(frame.data + 14) & 0x0fff) != port_vlan) {
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
