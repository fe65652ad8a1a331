// IPv4 and IPv6 address value types.
//
// Plain 4- and 16-byte values in network byte order: cheap to copy, totally
// ordered, hashable, usable as map keys. parse() accepts the usual text forms
// and returns INVALID_ARGUMENT with a message that quotes the input and says
// what is wrong with it; toString() writes the canonical form (dotted quad;
// RFC 5952 for IPv6). No function here allocates except parse()/toString().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"

namespace vfo {

class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;  // 0.0.0.0
  constexpr explicit Ipv4Address(const std::array<uint8_t, 4>& b) : bytes_(b) {}
  // From 4 bytes in network order (e.g. straight out of a frame).
  static Ipv4Address fromBytes(const uint8_t* b);
  // From a host-order integer: 0xc6120001 is 198.18.0.1.
  static constexpr Ipv4Address fromHostOrder(uint32_t v) {
    return Ipv4Address({uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
  }

  // Dotted quad, exactly four decimal octets 0..255 without leading zeros
  // ("198.18.0.1"). Errors: INVALID_ARGUMENT "'198.18.0.256' is not an IPv4
  // address: octet 4 is 256, above 255".
  static StatusOr<Ipv4Address> parse(std::string_view text);

  constexpr const std::array<uint8_t, 4>& bytes() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  constexpr uint32_t toHostOrder() const {
    return uint32_t(bytes_[0]) << 24 | uint32_t(bytes_[1]) << 16 | uint32_t(bytes_[2]) << 8 |
           bytes_[3];
  }

  constexpr bool isZero() const { return toHostOrder() == 0; }                // 0.0.0.0
  constexpr bool isBroadcast() const { return toHostOrder() == 0xffffffff; }  // limited bcast
  constexpr bool isMulticast() const { return (bytes_[0] & 0xf0) == 0xe0; }   // 224/4
  constexpr bool isLoopback() const { return bytes_[0] == 127; }              // 127/8
  constexpr bool isLinkLocal() const { return bytes_[0] == 169 && bytes_[1] == 254; }
  // An address a host can own on a LAN: not zero, broadcast, multicast,
  // loopback, or in 0/8 or 240/4 (reserved).
  constexpr bool isUsableUnicast() const {
    return bytes_[0] != 0 && !isMulticast() && !isLoopback() && bytes_[0] < 240;
  }

  std::string toString() const;  // "198.18.0.1"

  friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;

 private:
  std::array<uint8_t, 4> bytes_{};
};

class Ipv6Address {
 public:
  constexpr Ipv6Address() = default;  // ::
  constexpr explicit Ipv6Address(const std::array<uint8_t, 16>& b) : bytes_(b) {}
  static Ipv6Address fromBytes(const uint8_t* b);

  // RFC 4291 section 2.2 text forms: eight 16-bit hex groups, one "::" for a
  // run of zero groups, an optional dotted-quad tail ("::ffff:198.18.0.1").
  // No zone ("%eth0") and no prefix length. Errors: INVALID_ARGUMENT
  // "'2001:db8::g' is not an IPv6 address: 'g' is not a hex digit".
  static StatusOr<Ipv6Address> parse(std::string_view text);

  constexpr const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }

  constexpr bool isUnspecified() const {  // ::
    for (auto b : bytes_)
      if (b) return false;
    return true;
  }
  constexpr bool isLoopback() const {  // ::1
    for (int i = 0; i < 15; ++i)
      if (bytes_[i]) return false;
    return bytes_[15] == 1;
  }
  constexpr bool isMulticast() const { return bytes_[0] == 0xff; }  // ff00::/8
  constexpr bool isLinkLocal() const {                              // fe80::/10
    return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
  }
  constexpr bool isIpv4Mapped() const {  // ::ffff:0:0/96
    for (int i = 0; i < 10; ++i)
      if (bytes_[i]) return false;
    return bytes_[10] == 0xff && bytes_[11] == 0xff;
  }
  // An address a host can own on a LAN: not ::, ::1, multicast or
  // IPv4-mapped. Link-local addresses are usable.
  constexpr bool isUsableUnicast() const {
    return !isUnspecified() && !isLoopback() && !isMulticast() && !isIpv4Mapped();
  }

  // ff02::1:ffXX:XXXX, the solicited-node multicast group of this address
  // (RFC 4291 section 2.7.1): where Neighbor Solicitations for it are sent.
  constexpr Ipv6Address solicitedNodeMulticast() const {
    return Ipv6Address(
        {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, bytes_[13], bytes_[14], bytes_[15]});
  }
  // 33:33:XX:XX:XX:XX, the Ethernet group a multicast address maps to
  // (RFC 2464 section 7). Meaningful only when isMulticast().
  constexpr MacAddress multicastMac() const {
    return MacAddress({0x33, 0x33, bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
  }

  static constexpr Ipv6Address allNodes() {  // ff02::1
    return Ipv6Address({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  }

  // RFC 5952: lower case, leading zeros dropped, the longest run of two or
  // more zero groups (the first one on a tie) shown as "::", and
  // IPv4-mapped addresses as "::ffff:198.18.0.1".
  std::string toString() const;

  friend constexpr auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace vfo

template <>
struct std::hash<vfo::Ipv4Address> {
  size_t operator()(const vfo::Ipv4Address& a) const noexcept {
    return std::hash<uint32_t>{}(a.toHostOrder());
  }
};

template <>
struct std::hash<vfo::Ipv6Address> {
  size_t operator()(const vfo::Ipv6Address& a) const noexcept {
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; ++i) hi = (hi << 8) | a.bytes()[i];
    for (int i = 8; i < 16; ++i) lo = (lo << 8) | a.bytes()[i];
    return std::hash<uint64_t>{}(hi ^ (lo * 0x9e3779b97f4a7c15ull));
  }
};
