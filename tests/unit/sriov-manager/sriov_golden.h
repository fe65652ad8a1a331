// Golden RTM_NEWLINK messages for the SR-IOV manager, written by hand byte
// for byte as Linux 6.1 builds them on x86-64 (little endian; 64-bit
// attributes need no IFLA_PAD there). No SR-IOV NIC exists on this machine,
// so no kernel can produce the PF reply here.
//
// Attribute order: net/core/rtnetlink.c rtnl_fill_ifinfo() (6.1): IFNAME,
// TXQLEN .. TSO_MAX_SEGS, NUM_RX_QUEUES, [MASTER], CARRIER, QDISC,
// [IFALIAS], CARRIER_CHANGES, CARRIER_UP/DOWN_COUNT, PROTO_DOWN, [EVENT],
// MAP, ADDRESS, BROADCAST, [PHYS_PORT_ID/NAME, PHYS_SWITCH_ID], STATS64,
// STATS, NUM_VF + VFINFO_LIST (rtnl_fill_vf, only with RTEXT_FILTER_VF),
// [VF_PORTS], XDP, [LINKINFO], [LINK], PERM_ADDRESS, AF_SPEC, [PROP_LIST],
// PARENT_DEV_NAME, PARENT_DEV_BUS_NAME. Each IFLA_VF_INFO follows
// rtnl_fill_vfinfo(): MAC, BROADCAST, VLAN, RATE, TX_RATE, SPOOFCHK,
// LINK_STATE, RSS_QUERY_EN, TRUST, VLAN_LIST{VLAN_INFO}, then STATS unless
// RTEXT_FILTER_SKIP_STATS. The shared pieces (NIC scalars, IFLA_MAP, stats,
// XDP, AF_SPEC) come from lag-core's bond golden file.
//
// The scene: PF enp59s0f0 (ifindex 6, MAC 3c:fd:fe:a0:00:10, PCI
// 0000:3b:00.0, ice), its driver reporting no phys port id/name or switch
// id, with 2 VFs; the macvlan vfo2as0 (ifindex 43) on the lab port with
// ifindex 42.
#pragma once

#include "../lag-core/bond_golden.h"

namespace vfo::sriov::golden {

using lag::golden::Bytes;
using lag::golden::cat;
using lag::golden::zeros;

// One VF's settings as the driver reports them (ndo_get_vf_config).
struct GoldenVf {
  uint8_t vf;          // index
  uint8_t mac[6];      // ivi.mac
  uint8_t vlan_lo;     // port VLAN, low byte
  uint8_t vlan_hi;     // port VLAN, high byte
  uint8_t spoof[4];    // ivi.spoofchk as 4 LE bytes (ff ff ff ff = not reported)
  uint8_t link_state;  // IFLA_VF_LINK_STATE_*
  uint8_t trust[4];    // ivi.trusted as 4 LE bytes
};

// IFLA_VF_INFO, 196 bytes (0xc4), or 296 (0x128) with IFLA_VF_STATS.
inline Bytes vfInfo(const GoldenVf& v, bool with_stats) {
  const uint8_t n = v.vf;
  Bytes out = cat({
      {uint8_t(with_stats ? 0x28 : 0xc4), uint8_t(with_stats ? 0x01 : 0x00), 0x01,
       0x00},                                         // IFLA_VF_INFO (1) len 196 / 296
      {0x28, 0x00, 0x01, 0x00, n, 0x00, 0x00, 0x00},  // IFLA_VF_MAC (1) len 40, vf
      {v.mac[0], v.mac[1], v.mac[2], v.mac[3], v.mac[4], v.mac[5]},  // mac[0..5]
      zeros(26),                                                     // mac[6..31]
      {0x24, 0x00, 0x0d, 0x00},                          // IFLA_VF_BROADCAST (13) len 36
      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},              // the PF's broadcast (addr_len 6)
      zeros(26),                                         // the rest of broadcast[32]
      {0x10, 0x00, 0x02, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_VLAN (2) len 16, vf
      {v.vlan_lo, v.vlan_hi, 0x00, 0x00},                // vlan
      {0x00, 0x00, 0x00, 0x00},                          // qos 0
      {0x10, 0x00, 0x06, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_RATE (6) len 16, vf
      zeros(8),                                          // min_tx_rate 0, max_tx_rate 0
      {0x0c, 0x00, 0x03, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_TX_RATE (3) len 12, vf
      zeros(4),                                          // rate 0
      {0x0c, 0x00, 0x04, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_SPOOFCHK (4) len 12, vf
      {v.spoof[0], v.spoof[1], v.spoof[2], v.spoof[3]},  // setting
      {0x0c, 0x00, 0x05, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_LINK_STATE (5) len 12, vf
      {v.link_state, 0x00, 0x00, 0x00},                  // link_state
      {0x0c, 0x00, 0x07, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_RSS_QUERY_EN (7) len 12
      {0xff, 0xff, 0xff, 0xff},                          // -1: ice does not report it
      {0x0c, 0x00, 0x09, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_TRUST (9) len 12, vf
      {v.trust[0], v.trust[1], v.trust[2], v.trust[3]},  // setting
      {0x18, 0x00, 0x0c, 0x00},                          // IFLA_VF_VLAN_LIST (12) len 24
      {0x14, 0x00, 0x01, 0x00, n, 0x00, 0x00, 0x00},     // IFLA_VF_VLAN_INFO (1) len 20, vf
      {v.vlan_lo, v.vlan_hi, 0x00, 0x00},                // vlan
      {0x00, 0x00, 0x00, 0x00},                          // qos 0
      {0x81, 0x00, 0x00, 0x00},  // vlan_proto 0x8100 big-endian, 2 bytes struct tail padding
  });
  if (with_stats) {
    out = cat({out,
               {0x64, 0x00, 0x08, 0x00},  // IFLA_VF_STATS (8) len 100: 8 x u64
               {0x0c, 0x00, 0x00, 0x00, 0x10, 0x27, 0, 0, 0, 0, 0, 0},     // RX_PACKETS (0) 10000
               {0x0c, 0x00, 0x01, 0x00, 0x20, 0x4e, 0, 0, 0, 0, 0, 0},     // TX_PACKETS (1) 20000
               {0x0c, 0x00, 0x02, 0x00, 0x00, 0x24, 0xf4, 0, 0, 0, 0, 0},  // RX_BYTES (2) 16000000
               {0x0c, 0x00, 0x03, 0x00, 0x00, 0x48, 0xe8, 0x01, 0, 0, 0, 0},  // TX_BYTES (3)
               {0x0c, 0x00, 0x04, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0},           // BROADCAST (4) 5
               {0x0c, 0x00, 0x05, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0},           // MULTICAST (5) 7
               {0x0c, 0x00, 0x07, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0},           // RX_DROPPED (7) 0
               {0x0c, 0x00, 0x08, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0}});         // TX_DROPPED (8) 0
  }
  return out;
}

// vf0: guest 52:54:00:12:34:56 on VLAN 100, spoof check on, trust off, auto.
inline GoldenVf vf0Guest() {
  return {0, {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 0x64, 0x00, {1, 0, 0, 0}, 0, {0, 0, 0, 0}};
}
// vf1: clean (zero MAC, no VLAN, spoof check on, trust off, auto).
inline GoldenVf vf1Clean() {
  return {1, {0, 0, 0, 0, 0, 0}, 0x00, 0x00, {1, 0, 0, 0}, 0, {0, 0, 0, 0}};
}
// vf1 of a driver without spoof check or trust queries (both -1), link
// state forced up.
inline GoldenVf vf1Unreported() {
  return {1, {0, 0, 0, 0, 0, 0}, 0x00, 0x00, {0xff, 0xff, 0xff, 0xff}, 1, {0xff, 0xff, 0xff, 0xff}};
}

// The PF's reply to RTM_GETLINK (flags 0, seq/pid patched by the fake) with
// two VFs. Without VF stats (RTEXT_FILTER_SKIP_STATS): nlmsg_len 1856
// (0x740), IFLA_VFINFO_LIST len 396 (0x18c). With them: 2056 (0x808) and
// 596 (0x254).
inline Bytes pfReply(const GoldenVf& a, const GoldenVf& b, bool with_stats) {
  return cat({
      {uint8_t(with_stats ? 0x08 : 0x40), uint8_t(with_stats ? 0x08 : 0x07), 0x00,
       0x00},                    // nlmsg_len
      {0x10, 0x00},              // RTM_NEWLINK (16)
      {0x00, 0x00},              // nlmsg_flags
      {0x00, 0x00, 0x00, 0x00},  // nlmsg_seq
      {0x00, 0x00, 0x00, 0x00},  // nlmsg_pid
      {0x00, 0x00, 0x01, 0x00},  // ifi_family AF_UNSPEC, pad, ifi_type ARPHRD_ETHER
      {0x06, 0x00, 0x00, 0x00},  // ifi_index 6
      {0x43, 0x10, 0x01, 0x00},  // ifi_flags UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
      {0x00, 0x00, 0x00, 0x00},  // ifi_change 0
      {0x0e, 0x00, 0x03, 0x00, 'e', 'n', 'p', '5', '9', 's', '0', 'f', '0', 0x00, 0x00,
       0x00},                                            // IFLA_IFNAME (3) len 14
      lag::golden::nicScalars(),                         // IFLA_TXQLEN .. IFLA_TSO_MAX_SEGS
      {0x08, 0x00, 0x20, 0x00, 0x08, 0x00, 0x00, 0x00},  // IFLA_NUM_RX_QUEUES (32) 8
      {0x05, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00},  // IFLA_CARRIER (33) 1
      {0x07, 0x00, 0x06, 0x00, 'm', 'q', 0x00, 0x00},    // IFLA_QDISC (6) "mq"
      {0x08, 0x00, 0x23, 0x00, 0x01, 0x00, 0x00, 0x00},  // IFLA_CARRIER_CHANGES (35) 1
      {0x08, 0x00, 0x2f, 0x00, 0x01, 0x00, 0x00, 0x00},  // IFLA_CARRIER_UP_COUNT (47) 1
      {0x08, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_CARRIER_DOWN_COUNT (48) 0
      {0x05, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_PROTO_DOWN (39) 0
      lag::golden::mapAttr(),                            // IFLA_MAP
      {0x0a, 0x00, 0x01, 0x00, 0x3c, 0xfd, 0xfe, 0xa0, 0x00, 0x10, 0x00, 0x00},  // IFLA_ADDRESS
      {0x0a, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00},  // BROADCAST
      lag::golden::statsAttrs(),                         // IFLA_STATS64, IFLA_STATS
      {0x08, 0x00, 0x15, 0x00, 0x02, 0x00, 0x00, 0x00},  // IFLA_NUM_VF (21) 2
      {uint8_t(with_stats ? 0x54 : 0x8c), uint8_t(with_stats ? 0x02 : 0x01), 0x16,
       0x00},  // IFLA_VFINFO_LIST (22)
      vfInfo(a, with_stats),
      vfInfo(b, with_stats),
      lag::golden::xdpAttr(),  // IFLA_XDP
      {0x0a, 0x00, 0x36, 0x00, 0x3c, 0xfd, 0xfe, 0xa0, 0x00, 0x10, 0x00,
       0x00},                     // IFLA_PERM_ADDRESS (54)
      lag::golden::afSpecFull(),  // IFLA_AF_SPEC (AF_INET, AF_INET6)
      {0x11, 0x00, 0x38, 0x00, '0', '0',  '0',  '0',  ':', '3', 'b',
       ':',  '0',  '0',  '.',  '0', 0x00, 0x00, 0x00, 0x00},  // IFLA_PARENT_DEV_NAME (56) len 17
      {0x08, 0x00, 0x39, 0x00, 'p', 'c', 'i', 0x00},          // IFLA_PARENT_DEV_BUS_NAME (57)
  });
}

// The macvlan software VF vfo2as0 as a 6.1 link dump shows it: up, NOARP,
// mode bridge, on ifindex 42, with its settings record in IFLA_IFALIAS.
// nlmsg_len 1544 (0x608).
inline Bytes macvlanVfo2as0() {
  return cat({
      {0x08, 0x06, 0x00, 0x00},  // nlmsg_len 1544
      {0x10, 0x00, 0x00, 0x00},  // RTM_NEWLINK, flags 0 (a dump adds NLM_F_MULTI)
      {0x00, 0x00, 0x00, 0x00},  // seq
      {0x00, 0x00, 0x00, 0x00},  // pid
      {0x00, 0x00, 0x01, 0x00},  // AF_UNSPEC, ARPHRD_ETHER
      {0x2b, 0x00, 0x00, 0x00},  // ifi_index 43
      {0xc3, 0x10, 0x01, 0x00},  // ifi_flags UP|BROADCAST|RUNNING|NOARP|MULTICAST|LOWER_UP
      {0x00, 0x00, 0x00, 0x00},  // ifi_change 0
      {0x0c, 0x00, 0x03, 0x00, 'v', 'f', 'o', '2', 'a', 's', '0', 0x00},  // IFLA_IFNAME len 12
      {0x08, 0x00, 0x0d, 0x00, 0xe8, 0x03, 0x00, 0x00},                   // IFLA_TXQLEN 1000
      {0x05, 0x00, 0x10, 0x00, 0x06, 0x00, 0x00, 0x00},                   // IFLA_OPERSTATE UP
      {0x05, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00},                   // IFLA_LINKMODE 0
      {0x08, 0x00, 0x04, 0x00, 0xdc, 0x05, 0x00, 0x00},                   // IFLA_MTU 1500
      {0x08, 0x00, 0x32, 0x00, 0x44, 0x00, 0x00, 0x00},                   // IFLA_MIN_MTU 68
      {0x08, 0x00, 0x33, 0x00, 0xff, 0xff, 0x00, 0x00},  // IFLA_MAX_MTU 65535 (the veth's)
      {0x08, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_GROUP 0
      {0x08, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_PROMISCUITY 0
      {0x08, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_ALLMULTI 0
      {0x08, 0x00, 0x1f, 0x00, 0x01, 0x00, 0x00, 0x00},  // IFLA_NUM_TX_QUEUES 1
      {0x08, 0x00, 0x28, 0x00, 0xff, 0xff, 0x00, 0x00},  // IFLA_GSO_MAX_SEGS 65535
      {0x08, 0x00, 0x29, 0x00, 0x00, 0x00, 0x01, 0x00},  // IFLA_GSO_MAX_SIZE 65536
      {0x08, 0x00, 0x3a, 0x00, 0x00, 0x00, 0x01, 0x00},  // IFLA_GRO_MAX_SIZE 65536
      {0x08, 0x00, 0x3b, 0x00, 0x00, 0x00, 0x01, 0x00},  // IFLA_TSO_MAX_SIZE 65536
      {0x08, 0x00, 0x3c, 0x00, 0xff, 0xff, 0x00, 0x00},  // IFLA_TSO_MAX_SEGS 65535
      {0x08, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00},  // IFLA_NUM_RX_QUEUES 1
      {0x05, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00},  // IFLA_CARRIER 1
      {0x0c, 0x00, 0x06, 0x00, 'n', 'o', 'q', 'u', 'e', 'u', 'e', 0x00},  // IFLA_QDISC noqueue
      {0x3f, 0x00, 0x14, 0x00},  // IFLA_IFALIAS (20) len 63: 58 characters and NUL
      {'v', 'f', 'o', '-', 's', 'w', 'v', 'f', ' ', 'v', 'l',  'a', 'n', '=', '1', '0',
       '0', ' ', 's', 'p', 'o', 'o', 'f', '_', 'c', 'h', 'e',  'c', 'k', '=', 'o', 'n',
       ' ', 't', 'r', 'u', 's', 't', '=', 'o', 'f', 'f', ' ',  'l', 'i', 'n', 'k', '_',
       's', 't', 'a', 't', 'e', '=', 'a', 'u', 't', 'o', 0x00, 0x00},  // ...and one byte of padding
      {0x08, 0x00, 0x23, 0x00, 0x01, 0x00, 0x00, 0x00},                // IFLA_CARRIER_CHANGES 1
      {0x08, 0x00, 0x2f, 0x00, 0x01, 0x00, 0x00, 0x00},                // IFLA_CARRIER_UP_COUNT 1
      {0x08, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00},                // IFLA_CARRIER_DOWN_COUNT 0
      {0x05, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00},                // IFLA_PROTO_DOWN 0
      lag::golden::mapAttr(),
      {0x0a, 0x00, 0x01, 0x00, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00},  // IFLA_ADDRESS
      {0x0a, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00},  // BROADCAST
      lag::golden::statsAttrs(),
      lag::golden::xdpAttr(),
      {0x3c, 0x00, 0x12, 0x00},  // IFLA_LINKINFO (18) len 60
      {0x0c, 0x00, 0x01, 0x00, 'm', 'a', 'c', 'v', 'l', 'a', 'n', 0x00},  // IFLA_INFO_KIND
      {0x2c, 0x00, 0x02, 0x00},                          // IFLA_INFO_DATA (2) len 44
      {0x08, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00},  // IFLA_MACVLAN_MODE (1) bridge
      {0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_MACVLAN_FLAGS (2) u16 0
      {0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00},  // IFLA_MACVLAN_MACADDR_COUNT (6) 0
      {0x08, 0x00, 0x07, 0x00, 0xe8, 0x03, 0x00, 0x00},  // IFLA_MACVLAN_BC_QUEUE_LEN (7) 1000
      {0x08, 0x00, 0x08, 0x00, 0xe8, 0x03, 0x00, 0x00},  // BC_QUEUE_LEN_USED (8) 1000
      {0x08, 0x00, 0x05, 0x00, 0x2a, 0x00, 0x00, 0x00},  // IFLA_LINK (5) 42
      lag::golden::afSpecFull(),                         // IFLA_AF_SPEC
  });
}

}  // namespace vfo::sriov::golden
