// Private: wire constants and big-endian byte access shared by the frame
// builders and the frame parser. Frames are handled as byte arrays with
// explicit offsets (no packed structs), so there are no alignment or
// aliasing concerns and every access is visibly bounds-checked by its caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vfo::lag::wire {

// EtherTypes.
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeRarp = 0x8035;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q C-tag
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

// Ethernet: dst(6) src(6) type(2); an 802.1Q tag inserts TPID(2) TCI(2)
// before the type.
inline constexpr size_t kEthHeaderLen = 14;
inline constexpr size_t kVlanTagLen = 4;
inline constexpr uint16_t kVlanIdMask = 0x0fff;

// ARP for Ethernet/IPv4 (RFC 826): htype(2) ptype(2) hlen(1) plen(1) op(2)
// sha(6) spa(4) tha(6) tpa(4) = 28 bytes.
inline constexpr size_t kArpLen = 28;
inline constexpr uint16_t kArpHwEthernet = 1;
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;
inline constexpr uint16_t kArpOpReverseRequest = 3;  // RFC 903
namespace arp {
inline constexpr size_t kHtype = 0, kPtype = 2, kHlen = 4, kPlen = 5, kOp = 6, kSha = 8, kSpa = 14,
                        kTha = 18, kTpa = 24;
}

// IPv4 (RFC 791).
inline constexpr size_t kIpv4MinHeaderLen = 20;
inline constexpr uint8_t kIpProtoUdp = 17;
// UDP (RFC 768).
inline constexpr size_t kUdpHeaderLen = 8;
inline constexpr uint16_t kBootpServerPort = 67;
inline constexpr uint16_t kBootpClientPort = 68;
// BOOTP/DHCP (RFC 2131): fixed part 236 bytes, then the magic cookie.
namespace bootp {
inline constexpr size_t kOp = 0, kHtype = 1, kHlen = 2, kYiaddr = 16, kChaddr = 28, kCookie = 236,
                        kOptions = 240;
inline constexpr uint8_t kOpReply = 2;
inline constexpr uint32_t kMagicCookie = 0x63825363;
inline constexpr uint8_t kOptPad = 0, kOptEnd = 255, kOptMessageType = 53;
inline constexpr uint8_t kDhcpAck = 5;
}  // namespace bootp

// IPv6 (RFC 8200): 40-byte fixed header.
inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr uint8_t kNextHeaderIcmpv6 = 58;
inline constexpr uint8_t kNdHopLimit = 255;
namespace ip6 {
inline constexpr size_t kVersionClassFlow = 0, kPayloadLen = 4, kNextHeader = 6, kHopLimit = 7,
                        kSrc = 8, kDst = 24;
}
// ICMPv6 Neighbor Discovery (RFC 4861): type(1) code(1) checksum(2)
// flags/reserved(4) target(16) = 24 bytes, then options of len*8 bytes.
inline constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
inline constexpr size_t kNdMessageLen = 24;
inline constexpr size_t kNdTarget = 8;
inline constexpr uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr uint8_t kNdOptTargetLinkAddr = 2;
inline constexpr size_t kNdLinkAddrOptLen = 8;  // type, len=1, 6-byte MAC
inline constexpr uint8_t kNaFlagRouter = 0x80;
inline constexpr uint8_t kNaFlagSolicited = 0x40;
inline constexpr uint8_t kNaFlagOverride = 0x20;

inline uint16_t get16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
inline uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

}  // namespace vfo::lag::wire
