// balance-flow transmit hash, computed exactly like Linux bonding's
// bond_xmit_hash() (drivers/net/bonding/bond_main.c, kernel 6.1) for a frame
// given as linear bytes.
//
// What is mirrored, per policy (kernel function in brackets):
//   layer2    dst[5] ^ src[5] ^ ethertype                     [bond_eth_hash]
//   layer2+3  eth hash ^ ip_src ^ ip_dst, folded h ^= h>>16; h ^= h>>8
//                                             [bond_flow_dissect, bond_ip_hash]
//   layer3+4  (ICMP echo/timestamp: type|code<<8|id<<16, else the 4 port
//             bytes) ^ ip_src ^ ip_dst, folded, then >> 1
//                        [bond_flow_ip, skb_flow_get_icmp_tci, bond_ip_hash]
//   encap2+3  like layer2+3, addresses from the flow dissector
//                              [__skb_flow_dissect with flow_keys_bonding]
//   encap3+4  like layer3+4, addresses/ports/ICMP id from the flow dissector
// and member = hash % number of live members [bond_xmit_3ad_xor_slave_get].
// A frame the L3 step cannot parse falls back to the layer2 hash, as in the
// kernel. IPv6 addresses are folded to 32 bits by XOR of their four words
// [ipv6_addr_hash]. Address and port words are combined as the kernel does on
// a little-endian machine (x86-64): the 4 wire bytes b0..b3 of a __be32 act
// as the u32 b0 | b1<<8 | b2<<16 | b3<<24. The ethertype is the host value
// (be16_to_cpu). The result is the same on any host byte order.
//
// VLAN: one 802.1Q (0x8100) or 802.1ad (0x88a8) tag right after the MAC
// addresses is treated as the out-of-band (hardware-accelerated) tag a VLAN
// device on top of a bond produces: hashing sees the ethertype after it and
// the L3 header after it. The layer* policies do not look past a second tag
// (non-IP: layer2 hash with ethertype 0x8100); the encap* policies follow
// one more in-band tag as the flow dissector does.
// Fragments: layer3+4 uses no ports for any IPv4 fragment; encap3+4 uses
// none for IPv4 or IPv6 (fragment header) fragments. ICMP/ICMPv6 errors:
// layer2+3/layer3+4 hash the embedded header of the offending packet.
// encap*: IPv6 hop-by-hop, routing and destination options headers are
// skipped, IP-in-IP (4) and IPv6-in-IP (41) are followed to the inner
// header; ARP/RARP dissect with no keys (encap3+4 hash 0).
// Not mirrored (documented deviations): GRE and other tunnels the dissector
// follows (we hash the outer header with ports 0); TIPC, MPLS, PPPoE, FCoE
// and BATMAN ethertypes (we fall back to the layer2 hash); the encap3+4
// shortcut that returns skb->hash when the skb has an L4 hash (a raw frame
// has none); BPF flow dissector programs.
//
// Contract: datapath-safe. No allocation, no locks, no exceptions; reads at
// most `len` bytes from `frame`; any input (truncated, garbage) is valid.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vfo/lag/lag_config.h"

namespace vfo::lag {

// The 32-bit value bond_xmit_hash() returns for this frame under `policy`.
// Defined inline in flow_hash_impl.h.
inline uint32_t bondXmitHash(HashPolicy policy, const uint8_t* frame, size_t len);

}  // namespace vfo::lag

#include "vfo/lag/flow_hash_impl.h"
