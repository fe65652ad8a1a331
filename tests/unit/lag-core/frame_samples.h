// Test-only frame crafting for parser and learner tests: frames the library
// does not build (DHCP replies, arbitrary ARP and ND with any field set),
// written here field by field so that tests can break one field at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "vfo/base/ip_address.h"
#include "vfo/base/mac_address.h"
#include "vfo/lag/types.h"

namespace vfo::lag::samples {

inline void put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(uint8_t(v >> 8));
  f.push_back(uint8_t(v));
}
inline void putBytes(std::vector<uint8_t>& f, const uint8_t* p, size_t n) {
  f.insert(f.end(), p, p + n);
}
inline void putMac(std::vector<uint8_t>& f, const MacAddress& m) {
  putBytes(f, m.data(), 6);
}

// Ethernet header, tagged when vlan != 0.
inline std::vector<uint8_t> ethernet(const MacAddress& dst, const MacAddress& src, uint16_t type,
                                     VlanId vlan = kNoVlan) {
  std::vector<uint8_t> f;
  putMac(f, dst);
  putMac(f, src);
  if (vlan) {
    put16(f, 0x8100);
    put16(f, vlan);
  }
  put16(f, type);
  return f;
}

inline void padTo60(std::vector<uint8_t>& f) {
  if (f.size() < 60) f.resize(60, 0);
}

// Any ARP frame; eth src = sha unless given.
struct ArpFields {
  uint16_t htype = 1;
  uint16_t ptype = 0x0800;
  uint8_t hlen = 6;
  uint8_t plen = 4;
  uint16_t op = 1;
  MacAddress sha;
  Ipv4Address spa;
  MacAddress tha;
  Ipv4Address tpa;
  VlanId vlan = kNoVlan;
  MacAddress eth_src;  // zero = use sha
};
inline std::vector<uint8_t> arp(const ArpFields& a) {
  auto f =
      ethernet(MacAddress::broadcast(), a.eth_src.isZero() ? a.sha : a.eth_src, 0x0806, a.vlan);
  put16(f, a.htype);
  put16(f, a.ptype);
  f.push_back(a.hlen);
  f.push_back(a.plen);
  put16(f, a.op);
  putMac(f, a.sha);
  putBytes(f, a.spa.data(), 4);
  putMac(f, a.tha);
  putBytes(f, a.tpa.data(), 4);
  padTo60(f);
  return f;
}

inline uint16_t foldComplement(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// DHCP server reply: Ethernet / IPv4 (header checksum set) / UDP 67->68
// (checksum 0) / BOOTP with magic cookie and `options` (message type
// first, then end).
struct DhcpFields {
  MacAddress server_mac;
  MacAddress chaddr;
  Ipv4Address server_ip;
  Ipv4Address yiaddr;
  uint8_t message_type = 5;  // ACK
  VlanId vlan = kNoVlan;
  uint8_t op = 2;
  uint8_t htype = 1;
  uint8_t hlen = 6;
  uint16_t src_port = 67;
  uint16_t dst_port = 68;
  uint8_t ip_options_words = 0;  // extra IHL words (NOP options)
  bool with_cookie = true;
  std::vector<uint8_t> extra_options;  // appended after the message type option
  bool with_message_type = true;
};
inline std::vector<uint8_t> dhcpReply(const DhcpFields& d) {
  std::vector<uint8_t> bootp(236, 0);
  bootp[0] = d.op;
  bootp[1] = d.htype;
  bootp[2] = d.hlen;
  std::copy(d.yiaddr.bytes().begin(), d.yiaddr.bytes().end(), bootp.begin() + 16);
  std::copy(d.server_ip.bytes().begin(), d.server_ip.bytes().end(), bootp.begin() + 20);
  std::copy(d.chaddr.bytes().begin(), d.chaddr.bytes().end(), bootp.begin() + 28);
  if (d.with_cookie)
    bootp.insert(bootp.end(), {99, 130, 83, 99});
  else
    bootp.insert(bootp.end(), 63, 0);  // RFC 951 vendor area (64 bytes with the end byte)
  if (d.with_message_type) bootp.insert(bootp.end(), {53, 1, d.message_type});
  bootp.insert(bootp.end(), d.extra_options.begin(), d.extra_options.end());
  bootp.push_back(255);

  const size_t ihl_bytes = 20 + 4 * d.ip_options_words;
  const size_t udp_len = 8 + bootp.size();
  std::vector<uint8_t> ip;
  ip.push_back(uint8_t(0x40 | (ihl_bytes / 4)));
  ip.push_back(0);
  put16(ip, uint16_t(ihl_bytes + udp_len));
  put16(ip, 0x1234);  // id
  put16(ip, 0x4000);  // DF
  ip.push_back(64);
  ip.push_back(17);
  put16(ip, 0);  // checksum below
  putBytes(ip, d.server_ip.data(), 4);
  const Ipv4Address bcast = Ipv4Address::fromHostOrder(0xffffffff);
  putBytes(ip, bcast.data(), 4);
  for (int i = 0; i < d.ip_options_words * 4; ++i) ip.push_back(1);  // NOP
  uint32_t sum = 0;
  for (size_t i = 0; i < ihl_bytes; i += 2) sum += uint32_t(ip[i]) << 8 | ip[i + 1];
  const uint16_t csum = foldComplement(sum);
  ip[10] = uint8_t(csum >> 8);
  ip[11] = uint8_t(csum);

  auto f = ethernet(MacAddress::broadcast(), d.server_mac, 0x0800, d.vlan);
  f.insert(f.end(), ip.begin(), ip.end());
  put16(f, d.src_port);
  put16(f, d.dst_port);
  put16(f, uint16_t(udp_len));
  put16(f, 0);
  f.insert(f.end(), bootp.begin(), bootp.end());
  return f;
}

// Offsets into an untagged dhcpReply() without IP options.
inline constexpr size_t kDhcpIpOffset = 14;
inline constexpr size_t kDhcpUdpOffset = 34;
inline constexpr size_t kDhcpBootpOffset = 42;

// Recomputes the IPv4 header checksum of an untagged frame after a test
// changed a header field.
inline void fixIpv4Checksum(std::vector<uint8_t>& f, size_t ip_offset = kDhcpIpOffset) {
  const size_t ihl = size_t(f[ip_offset] & 0x0f) * 4;
  f[ip_offset + 10] = f[ip_offset + 11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < ihl; i += 2) sum += uint32_t(f[ip_offset + i]) << 8 | f[ip_offset + i + 1];
  const uint16_t csum = foldComplement(sum);
  f[ip_offset + 10] = uint8_t(csum >> 8);
  f[ip_offset + 11] = uint8_t(csum);
}

// Any NS/NA: `body` is everything after the checksum (flags/reserved,
// target, options). The ICMPv6 checksum is computed unless `bad_checksum`.
struct NdFields {
  MacAddress eth_src;
  MacAddress eth_dst;
  Ipv6Address src;
  Ipv6Address dst;
  uint8_t hop_limit = 255;
  uint8_t type = 136;
  uint8_t code = 0;
  std::vector<uint8_t> body;
  bool bad_checksum = false;
  VlanId vlan = kNoVlan;
  uint8_t next_header = 58;
};
inline std::vector<uint8_t> nd(const NdFields& n) {
  std::vector<uint8_t> icmp = {n.type, n.code, 0, 0};
  icmp.insert(icmp.end(), n.body.begin(), n.body.end());
  uint32_t sum = 0;
  auto add = [&](const uint8_t* p, size_t len) {
    for (size_t i = 0; i < len; i += 2) sum += uint32_t(p[i]) << 8 | (i + 1 < len ? p[i + 1] : 0);
  };
  add(n.src.data(), 16);
  add(n.dst.data(), 16);
  sum += uint32_t(icmp.size());
  sum += 58;
  add(icmp.data(), icmp.size());
  uint16_t csum = foldComplement(sum);
  if (n.bad_checksum) csum ^= 0x0100;
  icmp[2] = uint8_t(csum >> 8);
  icmp[3] = uint8_t(csum);

  auto f = ethernet(n.eth_dst, n.eth_src, 0x86dd, n.vlan);
  f.insert(f.end(), {0x60, 0, 0, 0});
  put16(f, uint16_t(icmp.size()));
  f.push_back(n.next_header);
  f.push_back(n.hop_limit);
  putBytes(f, n.src.data(), 16);
  putBytes(f, n.dst.data(), 16);
  f.insert(f.end(), icmp.begin(), icmp.end());
  return f;
}

// NS/NA body: flags byte, 3 reserved, target, then an optional link-layer
// option of `opt_type` (0 = none) carrying `mac`.
inline std::vector<uint8_t> ndBody(uint8_t flags, const Ipv6Address& target, uint8_t opt_type,
                                   const MacAddress& mac) {
  std::vector<uint8_t> b = {flags, 0, 0, 0};
  putBytes(b, target.data(), 16);
  if (opt_type) {
    b.push_back(opt_type);
    b.push_back(1);
    putMac(b, mac);
  }
  return b;
}

}  // namespace vfo::lag::samples
