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

 private:
  static uint64_t key(const uint8_t* mac) {
    uint64_t k = 0;
    std::memcpy(&k, mac, 6);
    return k;
  }
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

LearnKind learnKind(FrameView frame, Direction dir);

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

// `port_vlan` is the port's VLAN (kNoVlan = transparent: frames pass as the
// guest built them).
GuestDecision classifyFromGuest(FrameView frame, const MacSet& allowed, lag::VlanId port_vlan);

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

UplinkDecision classifyFromUplink(FrameView frame, StrippedTag stripped, const MacSet& port_macs,
                                  lag::VlanId port_vlan, bool deliver_foreign_unicast);

}  // namespace vfo::vhost
