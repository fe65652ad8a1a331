// Frame parser for address learning: decides whether a frame binds an IP
// address to a MAC (ARP, IPv6 Neighbor Discovery, DHCPv4 ACK) and checks it
// strictly on the way.
//
// Contract: parseAddressFrame() is a pure function over untrusted bytes. It
// reads only inside `frame`, never allocates, never throws, and returns in
// time linear in the frame length (DHCP options are walked once). Every
// length field (IHL, IPv4 total length, UDP length, IPv6 payload length, ND
// and DHCP option lengths) is checked against what precedes and follows it;
// a frame that fails a check is reported as kMalformed with the defect, and
// nothing from it may be trusted. Callable from any thread.
//
// What counts as an address binding (the learner applies the per-port rules
// on top; see docs/lag-frames.md):
//   ARP request/reply (incl. gratuitous)   sender MAC -> sender IP, when the
//                                           sender IP is not 0.0.0.0
//   IPv6 NS with a unicast source          source link-layer option (or the
//                                           Ethernet source) -> IPv6 source
//   IPv6 NA                                 target link-layer option (or the
//                                           Ethernet source) -> target
//   DHCPv4 ACK (UDP 67 -> 68)               chaddr -> yiaddr
// Valid frames that bind nothing: ARP probes (sender IP 0.0.0.0), DAD
// Neighbor Solicitations (source ::), DHCP server messages other than ACK,
// ACKs to DHCPINFORM (yiaddr 0.0.0.0).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vfo/base/ip_address.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/stats.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// Why a frame was rejected. One list yields the FrameDefect enum (each
// enumerator spelled exactly like its counter, so the two cannot drift) and
// the FrameDefectStats counters.
#define VFO_FRAME_DEFECTS(X)                                                                \
  X(eth_truncated, "frame shorter than an Ethernet header")                                 \
  X(eth_bad_source, "Ethernet source address is multicast or zero")                         \
  X(vlan_truncated, "802.1Q tag cut short")                                                 \
  X(vlan_bad_id, "802.1Q VLAN id 4095 (reserved)")                                          \
  X(arp_truncated, "ARP body shorter than 28 bytes")                                        \
  X(arp_bad_format, "ARP hardware/protocol type or address length is not Ethernet/IPv4")    \
  X(arp_bad_opcode, "ARP opcode is neither request (1) nor reply (2)")                      \
  X(arp_bad_sender, "ARP sender IP is multicast, broadcast, loopback or reserved")          \
  X(arp_sender_mismatch, "ARP sender MAC differs from the Ethernet source")                 \
  X(ipv4_truncated, "IPv4 header or total length runs past the frame")                      \
  X(ipv4_bad_header, "IPv4 version is not 4, IHL below 5 or total length below the header") \
  X(ipv4_bad_checksum, "IPv4 header checksum does not verify")                              \
  X(udp_truncated, "UDP header cut short, or UDP length outside 8..IP payload")             \
  X(dhcp_truncated, "BOOTP reply shorter than 240 bytes (fixed part plus magic cookie)")    \
  X(dhcp_bad_format, "BOOTP reply with op, htype or hlen other than 2, 1, 6")               \
  X(dhcp_bad_option, "DHCP option runs past the message, or message type length is not 1")  \
  X(dhcp_bad_address, "DHCP ACK with a multicast/zero chaddr or an unusable yiaddr")        \
  X(ipv6_truncated, "IPv6 header cut short or payload length runs past the frame")          \
  X(ipv6_bad_header, "IPv6 version field is not 6")                                         \
  X(nd_bad_hop_limit, "Neighbor Discovery message with hop limit other than 255")           \
  X(nd_truncated, "NS/NA shorter than 24 bytes")                                            \
  X(nd_bad_code, "NS/NA with ICMPv6 code other than 0")                                     \
  X(nd_bad_checksum, "ICMPv6 checksum does not verify")                                     \
  X(nd_bad_option,                                                                          \
    "ND option with length 0, running past the message, or a link-layer "                   \
    "address option that is not 8 bytes")                                                   \
  X(nd_bad_target, "NS/NA target is multicast, unspecified, loopback or IPv4-mapped")       \
  X(nd_bad_source,                                                                          \
    "ND source is multicast, or a DAD NS not sent to the solicited-node group "             \
    "or carrying a source link-layer option")                                               \
  X(nd_bad_flags, "NA sent to a multicast address with the Solicited flag set")

#define VFO_FRAME_DEFECT_ENUM_(name, help) name,
// Why a frame was rejected as malformed; `none` for accepted frames. The
// meaning of each value is the help text in VFO_FRAME_DEFECTS.
enum class FrameDefect : uint8_t { none = 0, VFO_FRAME_DEFECTS(VFO_FRAME_DEFECT_ENUM_) };
#undef VFO_FRAME_DEFECT_ENUM_

VFO_DECLARE_STATS(FrameDefectStats, VFO_FRAME_DEFECTS)

// "arp_truncated", ...; "none" for FrameDefect::none.
std::string_view frameDefectName(FrameDefect defect);
// Bumps the counter of `defect` (no-op for none). Single writer, see stats.h.
void countDefect(FrameDefectStats& stats, FrameDefect defect);

// What the frame told.
enum class ParseVerdict : uint8_t {
  kAddress,      // a valid frame binding binding.ip to binding.mac
  kNoAddress,    // a valid ARP/ND/DHCP frame that binds nothing (see `silent`)
  kNotRelevant,  // not ARP, NS/NA or a DHCP server reply: not looked at further
  kMalformed,    // rejected; `defect` says why
};

// The kind of message a binding or a silent frame came from.
enum class AddressSource : uint8_t {
  kNone,                   // nothing (kNotRelevant / kMalformed)
  kArpRequest,             // ARP request with sender IP != target IP
  kArpReply,               // ARP reply with sender IP != target IP
  kGratuitousArp,          // ARP request or reply with sender IP == target IP
  kNeighborSolicitation,   // IPv6 NS
  kNeighborAdvertisement,  // IPv6 NA
  kDhcpAck,                // DHCPv4 ACK (kNoAddress: another DHCP server message)
};
std::string_view addressSourceName(AddressSource source);  // "arp_request", ...

// Why a valid address frame binds nothing.
enum class SilentReason : uint8_t {
  kNone,             // the frame binds an address (or is not an address frame at all)
  kArpProbe,         // ARP with sender IP 0.0.0.0 (RFC 5227 probe)
  kDadSolicitation,  // NS with source :: (Duplicate Address Detection, RFC 4862)
  kDhcpNotAck,       // DHCP server message other than DHCPACK (OFFER, NAK, ...)
  kDhcpNoAddress,    // DHCPACK with yiaddr 0.0.0.0 (answer to DHCPINFORM)
};

// IPv4 or IPv6.
enum class IpFamily : uint8_t {
  kIpv4,  // Ipv4Address field is meaningful
  kIpv6,  // Ipv6Address field is meaningful
};

// One IP address bound to one MAC, as read from a frame.
struct AddressBinding {
  MacAddress mac;         // the owner the frame names (ARP sha, ND link-layer option, DHCP chaddr)
  VlanId vlan = kNoVlan;  // 802.1Q id of the frame, kNoVlan when untagged or priority-tagged
  IpFamily family = IpFamily::kIpv4;  // which of ipv4/ipv6 is set
  Ipv4Address ipv4;                   // the address when family == kIpv4, else 0.0.0.0
  Ipv6Address ipv6;                   // the address when family == kIpv6, else ::

  friend bool operator==(const AddressBinding&, const AddressBinding&) = default;
};

// Result of parseAddressFrame().
struct ParsedFrame {
  ParseVerdict verdict = ParseVerdict::kNotRelevant;  // what the frame told
  FrameDefect defect = FrameDefect::none;             // set when verdict == kMalformed
  AddressSource source = AddressSource::kNone;        // set for kAddress and kNoAddress
  SilentReason silent = SilentReason::kNone;          // set for kNoAddress
  AddressBinding binding;                             // set for kAddress
};

// Parses one Ethernet frame (no FCS; trailing padding allowed). Frames with
// more than one VLAN tag, IPv4 fragments, IPv6 extension headers and plain
// BOOTP (no DHCP message type) are kNotRelevant.
ParsedFrame parseAddressFrame(std::span<const uint8_t> frame);

}  // namespace vfo::lag
