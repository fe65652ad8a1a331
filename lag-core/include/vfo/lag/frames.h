// Frame builders: the announce frames sent after a VM port moves to another
// member (RARP, gratuitous ARP, unsolicited IPv6 Neighbor Advertisement) and
// the probes of the probe monitor (ARP request, IPv6 Neighbor Solicitation).
//
// Every builder exists in two forms:
//  - writeX(out, ...) writes the frame into a caller buffer (for the datapath:
//    an mbuf's data area) and returns its length, or 0 when `out` is shorter
//    than the frame or `vlan` is above kMaxVlanId; nothing else is checked
//    and nothing is allocated. `out` may hold stale bytes: every byte of the
//    returned length is written, padding included.
//  - buildX(...) validates its arguments (unicast MAC, usable addresses,
//    VLAN range) and returns the frame as a vector, or INVALID_ARGUMENT
//    naming the offending field.
//
// Frames are complete Ethernet frames without FCS. `vlan` kNoVlan (0) builds
// an untagged frame; 1..4094 inserts an 802.1Q tag (TPID 0x8100, PCP 0,
// DEI 0). Short frames are zero-padded to 60 bytes untagged and 64 bytes
// tagged, so a frame stays at the Ethernet minimum when a switch strips the
// tag. Byte layouts are in docs/lag-frames.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "vfo/base/ip_address.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// Which frame a builder made (also what the announce scheduler counts).
enum class FrameKind : uint8_t {
  kRarpAnnounce,          // RARP reverse request, as QEMU's announce-self sends it
  kGarpRequest,           // gratuitous ARP, request form (op 1)
  kGarpReply,             // gratuitous ARP, reply form (op 2)
  kUnsolicitedNa,         // IPv6 unsolicited Neighbor Advertisement to ff02::1
  kArpRequest,            // ARP request for a target IP (probe monitor)
  kNeighborSolicitation,  // IPv6 Neighbor Solicitation for a target (probe monitor)
};
std::string_view frameKindName(FrameKind kind);  // "rarp_announce", "garp_request", ...

// Which gratuitous ARP form to send.
enum class GarpForm : uint8_t {
  kRequest,  // op 1, target hardware address zero (what Linux sends for NETDEV_NOTIFY_PEERS)
  kReply,    // op 2, target hardware address = sender (RFC 5944 section 4.6)
};

inline constexpr size_t kMinFrameLen = 60;        // Ethernet minimum without FCS
inline constexpr size_t kMinTaggedFrameLen = 64;  // 60 plus the 802.1Q tag
inline constexpr size_t kMaxBuiltFrameLen = 90;   // the largest frame built here (tagged NA/NS)
inline constexpr VlanId kMaxVlanId = 4094;        // 4095 is reserved by 802.1Q

// Length writeX() produces for `kind`; for kNeighborSolicitation it assumes
// a specified source address (with the source link-layer option).
size_t frameLength(FrameKind kind, VlanId vlan);

// RARP as QEMU's qemu_announce_self() sends it (net/announce.c): Ethernet
// dst ff:ff:ff:ff:ff:ff, src `mac`, type 0x8035; ARP body htype 1, ptype
// 0x0800, hlen 6, plen 4, op 3 (reverse request), sender and target hardware
// address `mac`, both protocol addresses 0.0.0.0. QEMU never tags; a tag is
// added here when `vlan` is set.
size_t writeRarpAnnounce(std::span<uint8_t> out, const MacAddress& mac, VlanId vlan);

// Gratuitous ARP for `ip` owned by `mac`: Ethernet dst broadcast, sender and
// target protocol address both `ip`, sender hardware address `mac`; target
// hardware address zero (request form) or `mac` (reply form).
size_t writeGratuitousArp(std::span<uint8_t> out, GarpForm form, const MacAddress& mac,
                          const Ipv4Address& ip, VlanId vlan);

// Unsolicited Neighbor Advertisement (RFC 4861 section 7.2.6) for `target`
// owned by `mac`: Ethernet dst 33:33:00:00:00:01; IPv6 src `target`, dst
// ff02::1, hop limit 255; ICMPv6 type 136 code 0, flags Override only,
// target `target`, one Target Link-Layer Address option carrying `mac`.
size_t writeUnsolicitedNa(std::span<uint8_t> out, const MacAddress& mac, const Ipv6Address& target,
                          VlanId vlan);

// ARP request asking for `target_ip`: Ethernet dst broadcast, src
// `sender_mac`; op 1, sender `sender_mac`/`sender_ip`, target hardware
// address zero. `sender_ip` 0.0.0.0 makes an RFC 5227 ARP probe.
size_t writeArpRequest(std::span<uint8_t> out, const MacAddress& sender_mac,
                       const Ipv4Address& sender_ip, const Ipv4Address& target_ip, VlanId vlan);

// Neighbor Solicitation for `target` (RFC 4861 section 7.2.2): Ethernet dst
// 33:33:ff:XX:XX:XX and IPv6 dst ff02::1:ffXX:XXXX (the solicited-node group
// of `target`), src `sender_mac`/`sender_ip`, hop limit 255; ICMPv6 type 135
// with a Source Link-Layer Address option carrying `sender_mac`. When
// `sender_ip` is :: (a DAD-style probe) the option is left out, as the RFC
// requires, and the frame is 8 bytes shorter.
size_t writeNeighborSolicitation(std::span<uint8_t> out, const MacAddress& sender_mac,
                                 const Ipv6Address& sender_ip, const Ipv6Address& target,
                                 VlanId vlan);

// Validating forms. Errors (INVALID_ARGUMENT) name the field: "mac:
// 01:00:5e:00:00:01 is a multicast address; ...", "vlan: 4095 is out of
// range 0..4094", "ip: 224.0.0.1 is not a unicast address a host can own".
StatusOr<std::vector<uint8_t>> buildRarpAnnounce(const MacAddress& mac, VlanId vlan);
StatusOr<std::vector<uint8_t>> buildGratuitousArp(GarpForm form, const MacAddress& mac,
                                                  const Ipv4Address& ip, VlanId vlan);
StatusOr<std::vector<uint8_t>> buildUnsolicitedNa(const MacAddress& mac, const Ipv6Address& target,
                                                  VlanId vlan);
StatusOr<std::vector<uint8_t>> buildArpRequest(const MacAddress& sender_mac,
                                               const Ipv4Address& sender_ip,
                                               const Ipv4Address& target_ip, VlanId vlan);
StatusOr<std::vector<uint8_t>> buildNeighborSolicitation(const MacAddress& sender_mac,
                                                         const Ipv6Address& sender_ip,
                                                         const Ipv6Address& target, VlanId vlan);

// Argument checks shared by the build forms and the announce scheduler.
// `field` names the argument in the error message.
Status checkSourceMac(const MacAddress& mac, std::string_view field);
Status checkVlan(VlanId vlan, std::string_view field);
Status checkHostAddress(const Ipv4Address& ip, std::string_view field);
Status checkHostAddress(const Ipv6Address& ip, std::string_view field);

}  // namespace vfo::lag
