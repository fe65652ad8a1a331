// Implementation of bondXmitHash() (see flow_hash.h for the contract and
// the kernel functions each piece mirrors). Inline so the datapath's
// per-packet selection compiles to straight-line code without a call.
// Our own implementation, written from the kernel's behaviour.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vfo/lag/lag_config.h"

namespace vfo::lag {
namespace detail {

constexpr uint16_t kEthIp = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthRarp = 0x8035;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;

constexpr int kProtoHop = 0;
constexpr int kProtoIcmp = 1;
constexpr int kProtoIpip = 4;
constexpr int kProtoTcp = 6;
constexpr int kProtoUdp = 17;
constexpr int kProtoDccp = 33;
constexpr int kProtoIpv6 = 41;
constexpr int kProtoRouting = 43;
constexpr int kProtoFragment = 44;
constexpr int kProtoEsp = 50;
constexpr int kProtoAh = 51;
constexpr int kProtoIcmpv6 = 58;
constexpr int kProtoDest = 60;
constexpr int kProtoSctp = 132;
constexpr int kProtoUdplite = 136;

// MAX_FLOW_DISSECT_HDRS in the 6.1 flow dissector.
constexpr int kMaxDissectHeaders = 15;

inline uint16_t loadBe16(const uint8_t* p) {
  return uint16_t((p[0] << 8) | p[1]);
}

// A __be32 field read as a native u32 on a little-endian kernel.
inline uint32_t loadWire32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// ipv6_addr_hash(): XOR of the address's four 32-bit words.
inline uint32_t foldIpv6(const uint8_t* a) {
  return loadWire32(a) ^ loadWire32(a + 4) ^ loadWire32(a + 8) ^ loadWire32(a + 12);
}

// The subset of struct flow_keys that bond_xmit_hash() reads.
struct Keys {
  uint32_t src = 0;    // flow_get_u32_src(); 0 when no address was found
  uint32_t dst = 0;    // flow_get_u32_dst()
  uint32_t ports = 0;  // flow.ports.ports as a native u32
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint16_t icmp_id = 0;  // 0 = no id (kernel convention)
};

// The frame after L2 parsing: where the network header starts and which
// ethertype describes it (skb->protocol for an untagged or hw-tagged skb).
struct L2 {
  uint32_t eth_hash;  // bond_eth_hash(): dst[5] ^ src[5] ^ be16_to_cpu(h_proto)
  uint16_t proto;     // l2_proto
  size_t nhoff;       // network header offset
};

inline L2 parseL2(const uint8_t* f, size_t len) {
  uint16_t proto = loadBe16(f + 12);
  size_t nhoff = 14;
  // One outer tag is the out-of-band tag of a VLAN device on the bond: the
  // skb the bond hashes has it in vlan_tci, not in the data.
  if ((proto == kEthVlan || proto == kEthQinQ) && len >= 18) {
    proto = loadBe16(f + 16);
    nhoff = 18;
  }
  return L2{uint32_t(f[5] ^ f[11] ^ proto), proto, nhoff};
}

// proto_ports_offset() + __skb_flow_get_ports().
inline uint32_t portsAt(const uint8_t* f, size_t len, size_t thoff, int ip_proto) {
  size_t poff;
  switch (ip_proto) {
    case kProtoTcp:
    case kProtoUdp:
    case kProtoDccp:
    case kProtoEsp:
    case kProtoSctp:
    case kProtoUdplite:
      poff = 0;
      break;
    case kProtoAh:
      poff = 4;
      break;
    default:
      return 0;
  }
  if (thoff + poff + 4 > len) return 0;
  return loadWire32(f + thoff + poff);
}

// icmp_has_id(): types with an identifier (ICMP and ICMPv6 values alike).
inline bool icmpHasId(uint8_t type) {
  switch (type) {
    case 0:    // ICMP_ECHOREPLY
    case 8:    // ICMP_ECHO
    case 13:   // ICMP_TIMESTAMP
    case 14:   // ICMP_TIMESTAMPREPLY
    case 128:  // ICMPV6_ECHO_REQUEST
    case 129:  // ICMPV6_ECHO_REPLY
      return true;
    default:
      return false;
  }
}

// skb_flow_get_icmp_tci(): needs a whole 8-byte icmphdr, else leaves keys.
inline void icmpTci(const uint8_t* f, size_t len, size_t thoff, Keys* k) {
  if (thoff + 8 > len) return;
  const uint8_t* ih = f + thoff;
  k->icmp_type = ih[0];
  k->icmp_code = ih[1];
  if (icmpHasId(ih[0])) {
    const uint16_t id = loadBe16(ih + 4);
    k->icmp_id = id ? id : 1;
  } else {
    k->icmp_id = 0;
  }
}

// icmp_is_err() / icmpv6_is_err().
inline bool icmpIsErr(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}
inline bool icmpv6IsErr(uint8_t type) {
  return type >= 1 && type <= 4;
}

// bond_flow_ip(): addresses (and ports when l34) of the IPv4/IPv6 header at
// *nhoff; advances *nhoff past it and sets *ip_proto (left alone for an IPv4
// fragment). false when the header is not IP or not all there.
inline bool bondFlowIp(const uint8_t* f, size_t len, uint16_t l2_proto, size_t* nhoff,
                       int* ip_proto, bool l34, Keys* k) {
  if (l2_proto == kEthIp) {
    if (*nhoff + 20 > len) return false;
    const uint8_t* iph = f + *nhoff;
    k->src = loadWire32(iph + 12);
    k->dst = loadWire32(iph + 16);
    *nhoff += size_t(iph[0] & 0x0f) << 2;
    // ip_is_fragment(): MF set or a non-zero offset.
    if ((loadBe16(iph + 6) & 0x3fff) == 0) *ip_proto = iph[9];
  } else if (l2_proto == kEthIpv6) {
    if (*nhoff + 40 > len) return false;
    const uint8_t* iph6 = f + *nhoff;
    k->src = foldIpv6(iph6 + 8);
    k->dst = foldIpv6(iph6 + 24);
    *nhoff += 40;
    *ip_proto = iph6[6];
  } else {
    return false;
  }
  if (l34 && *ip_proto >= 0) k->ports = portsAt(f, len, *nhoff, *ip_proto);
  return true;
}

// bond_flow_dissect() for layer2+3 and layer3+4.
inline bool bondFlowDissect(const uint8_t* f, size_t len, const L2& l2, bool l34, Keys* k) {
  size_t nhoff = l2.nhoff;
  int ip_proto = -1;
  if (!bondFlowIp(f, len, l2.proto, &nhoff, &ip_proto, l34, k)) return false;
  // ICMP errors carry the header of the packet that caused them: hash that
  // packet's flow so errors follow it.
  if (ip_proto == kProtoIcmp || ip_proto == kProtoIcmpv6) {
    icmpTci(f, len, nhoff, k);
    if (ip_proto == kProtoIcmp) {
      if (!icmpIsErr(k->icmp_type)) return true;
    } else {
      if (!icmpv6IsErr(k->icmp_type)) return true;
    }
    nhoff += 8;  // sizeof(struct icmphdr) == sizeof(struct icmp6hdr)
    return bondFlowIp(f, len, l2.proto, &nhoff, &ip_proto, l34, k);
  }
  return true;
}

// __skb_flow_dissect() with flow_keys_bonding and flags 0, reduced to the
// keys the bond reads (addresses, ports, ICMP). false = FLOW_DISSECT_RET_OUT_BAD.
inline bool flowDissect(const uint8_t* f, size_t len, const L2& l2, Keys* k) {
  uint16_t proto = l2.proto;
  size_t nhoff = l2.nhoff;
  int ip_proto = 0;
  int headers = 0;  // skb_flow_dissect_allowed() budget
  int vlan_tags = 0;
  bool fragment = false;

proto_again:
  switch (proto) {
    case kEthIp: {
      if (nhoff + 20 > len) return false;
      const uint8_t* iph = f + nhoff;
      const size_t ihl = iph[0] & 0x0f;
      if (ihl < 5) return false;
      nhoff += ihl * 4;
      ip_proto = iph[9];
      k->src = loadWire32(iph + 12);
      k->dst = loadWire32(iph + 16);
      if ((loadBe16(iph + 6) & 0x3fff) != 0) return true;  // fragment: no L4 (no PARSE_1ST_FRAG)
      break;
    }
    case kEthIpv6: {
      if (nhoff + 40 > len) return false;
      const uint8_t* iph6 = f + nhoff;
      ip_proto = iph6[6];
      nhoff += 40;
      k->src = foldIpv6(iph6 + 8);
      k->dst = foldIpv6(iph6 + 24);
      break;
    }
    case kEthVlan:
    case kEthQinQ:
      // The out-of-band tag took the VLAN key; one in-band tag gets the
      // CVLAN key; a further tag makes the dissector spin on PROTO_AGAIN
      // until its header budget runs out, then stop with what it has.
      // Budget: the out-of-band tag's pass and the in-band tag's pass each
      // cost one PROTO_AGAIN.
      if (vlan_tags++ >= 1) return true;
      if (nhoff + 4 > len) return false;
      proto = loadBe16(f + nhoff + 2);
      nhoff += 4;
      headers += 2;
      if (headers > kMaxDissectHeaders) return true;
      goto proto_again;
    case kEthArp:
    case kEthRarp:
      return true;  // no ARP key in flow_keys_bonding: good, no keys
    default:
      return false;
  }

ip_proto_again:
  switch (ip_proto) {
    case kProtoHop:
    case kProtoRouting:
    case kProtoDest: {
      if (proto != kEthIpv6) break;
      if (nhoff + 2 > len) return false;
      const uint8_t* opt = f + nhoff;
      ip_proto = opt[0];
      nhoff += (size_t(opt[1]) + 1) << 3;
      if (++headers > kMaxDissectHeaders) break;
      goto ip_proto_again;
    }
    case kProtoFragment: {
      if (proto != kEthIpv6) break;
      if (nhoff + 8 > len) return false;
      ip_proto = f[nhoff];
      nhoff += 8;
      fragment = true;  // first or not: no L4 without PARSE_1ST_FRAG
      break;
    }
    case kProtoIpip:
      proto = kEthIp;
      k->ports = 0;
      if (++headers > kMaxDissectHeaders) return true;
      goto proto_again;
    case kProtoIpv6:
      proto = kEthIpv6;
      k->ports = 0;
      if (++headers > kMaxDissectHeaders) return true;
      goto proto_again;
    case kProtoIcmp:
    case kProtoIcmpv6:
      icmpTci(f, len, nhoff, k);
      break;
    default:
      break;
  }
  if (!fragment) k->ports = portsAt(f, len, nhoff, ip_proto);
  return true;
}

// bond_ip_hash(): fold the addresses in; drop bit 0 only for the 3+4 policies.
inline uint32_t bondIpHash(uint32_t hash, const Keys& k, bool l34) {
  hash ^= k.dst ^ k.src;
  hash ^= hash >> 16;
  hash ^= hash >> 8;
  return l34 ? hash >> 1 : hash;
}

// The 4 bytes of struct flow_dissector_key_icmp {u8 type; u8 code; u16 id}
// copied into a u32 on little endian.
inline uint32_t icmpWord(const Keys& k) {
  return uint32_t(k.icmp_type) | uint32_t(k.icmp_code) << 8 | uint32_t(k.icmp_id) << 16;
}

}  // namespace detail

inline uint32_t bondXmitHash(HashPolicy policy, const uint8_t* frame, size_t len) {
  if (len < 14) return 0;  // bond_eth_hash() cannot pull an ethhdr
  const detail::L2 l2 = detail::parseL2(frame, len);
  if (policy == HashPolicy::kLayer2) return l2.eth_hash;

  detail::Keys k;
  const bool l34 = policy == HashPolicy::kLayer34 || policy == HashPolicy::kEncap34;
  const bool dissected = (policy == HashPolicy::kEncap23 || policy == HashPolicy::kEncap34)
                             ? detail::flowDissect(frame, len, l2, &k)
                             : detail::bondFlowDissect(frame, len, l2, l34, &k);
  if (!dissected) return l2.eth_hash;

  uint32_t hash;
  if (!l34)
    hash = l2.eth_hash;
  else
    hash = k.icmp_id ? detail::icmpWord(k) : k.ports;
  return detail::bondIpHash(hash, k, l34);
}

}  // namespace vfo::lag
