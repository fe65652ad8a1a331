// Hash vectors for every balance-flow policy. The expected values come from
// flow_hash_vectors.py next to this file: an independent Python model of
// Linux 6.1 bond_xmit_hash() written from the kernel formulas (see its
// docstring). Regenerate with: python3 tests/unit/lag-core/flow_hash_vectors.py
// Two values checked by hand:
//   ipv4_tcp layer2   = dst[5] 0x0a ^ src[5] 0x56 ^ 0x0800 = 0x085c
//   ipv4_tcp layer2+3 = 0x085c ^ (0x010012c6 ^ 0x020012c6) = 0x0300085c,
//                       ^>>16 -> 0x03000b5c, ^>>8 -> 0x03030b57
#include "vfo/lag/flow_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "vfo/lag/live_set.h"

namespace vfo::lag {
namespace {

struct Vector {
  const char* name;
  const char* hex;
  uint32_t expected[5];  // layer2, layer2+3, layer3+4, encap2+3, encap3+4
};

const Vector kVectors[] = {
    {"ipv4_tcp",
     "02000000000a5254001234560800450000280001000040060000c6120001c61200029c40005000000000000000000"
     "000000000000000",
     {0x0000085c, 0x03030b57, 0x29a989c7, 0x03030b57, 0x29a989c7}},
    {"ipv4_udp",
     "02000000000a5254001234560800450000280001000040110000c6120107c613020914e912b500000000000000000"
     "000000000000000",
     {0x0000085c, 0x0e0d0458, 0x5dd5212b, 0x0e0d0458, 0x5dd5212b}},
    {"vlan_ipv4_tcp",
     "02000000000a525400123456810000640800450000280001000040060000c6120001c61200029c400050000000000"
     "00000000000000000000000",
     {0x0000085c, 0x03030b57, 0x29a989c7, 0x03030b57, 0x29a989c7}},
    {"ipv6_tcp",
     "02000000000a52540012345686dd600000000014064020010db800000000000000000000000120010db8000000000"
     "0000000beef000280e801bb00000000000000000000000000000000",
     {0x00008681, 0x03036a55, 0x5c5cdf40, 0x03036a55, 0x5c5cdf40}},
    {"vlan_ipv6_udp",
     "02000000000a5254001234568100002a86dd600000000014114020010db800000000000000000000000120010db80"
     "000000000000000beef00020222022300000000000000000000000000000000",
     {0x00008681, 0x03036a55, 0x101177a9, 0x03036a55, 0x101177a9}},
    {"ipv4_frag_tcp",
     "02000000000a5254001234560800450000280001200040060000c6120001c61200029c40005000000000000000000"
     "000000000000000",
     {0x0000085c, 0x03030b57, 0x01818181, 0x03030b57, 0x01818181}},
    {"ipv4_icmp_echo",
     "02000000000a52540012345608004500001c0001000040010000c6120001c61200020800000012340001",
     {0x0000085c, 0x03030b57, 0x08929296, 0x03030b57, 0x08929296}},
    {"ipv4_icmp_unreach",
     "02000000000a5254001234560800450000440001000040010000c6120009c61200010303000000000001450000280"
     "001000040110000c6120001c61200029c41003500000000000000000000000000000000",
     {0x0000085c, 0x03030b57, 0x1b1b3bf5, 0x0808005c, 0x04040404}},
    {"ipv6_hbh_udp",
     "02000000000a52540012345686dd60000000001c004020010db800000000000000000000000120010db8000000000"
     "0000000beef0002110005020000010003e807d000000000000000000000000000000000",
     {0x00008681, 0x03036a55, 0x0181f629, 0x03036a55, 0x69ea69b7}},
    {"ipv6_frag_udp",
     "02000000000a52540012345686dd60000000001c2c4020010db800000000000000000000000120010db8000000000"
     "0000000beef0002110000000000000703e807d000000000000000000000000000000000",
     {0x00008681, 0x03036a55, 0x0181f629, 0x03036a55, 0x0181f629}},
    {"ipip_tcp",
     "02000000000a52540012345608004500003c0001000040040000c6120901c6120902450000280001000040060000c"
     "6120001c61200029c40005000000000000000000000000000000000",
     {0x0000085c, 0x03030b57, 0x01818181, 0x03030b57, 0x29a989c7}},
    {"qinq_ipv4_udp",
     "02000000000a5254001234568100000a810000140800450000280001000040110000c6120001c6120002000700090"
     "0000000000000000000000000000000",
     {0x0000815c, 0x0000815c, 0x0000815c, 0x030382de, 0x05050686}},
    {"arp",
     "02000000000a52540012345608060001080006040001525400123456c6120001000000000000c6120002",
     {0x0000085a, 0x0000085a, 0x0000085a, 0x00000852, 0x00000000}},
    {"ipv6_icmp_echo",
     "02000000000a52540012345686dd6000000000083a4020010db800000000000000000000000120010db8000000000"
     "0000000beef00028000000000000001",
     {0x00008681, 0x03036a55, 0x018176e9, 0x03036a55, 0x018176e9}},
    {"ipv4_ah",
     "02000000000a5254001234560800450000280001000040330000c6120001c6120002060400000000abcd000000000"
     "000000000000000",
     {0x0000085c, 0x03030b57, 0x6732b2b2, 0x03030b57, 0x6732b2b2}},
    {"ipv4_sctp",
     "02000000000a5254001234560800450000280001000040840000c6120001c61200020b590b5900000000000000000"
     "000000000000000",
     {0x0000085c, 0x03030b57, 0x2d288401, 0x03030b57, 0x2d288401}},
    {"ipv4_ihl4",
     "02000000000a5254001234560800440000280001000040060000c6120001c61200029c40005000000000000000000"
     "000000000000000",
     {0x0000085c, 0x03030b57, 0x008089ea, 0x0000085c, 0x0000085c}},
    {"truncated_ipv4",
     "02000000000a5254001234560800450000280001000040060000c6120001",
     {0x0000085c, 0x0000085c, 0x0000085c, 0x0000085c, 0x0000085c}},
    {"runt",
     "02000000000a52540012345608",
     {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000}},
};

const HashPolicy kPolicies[] = {HashPolicy::kLayer2, HashPolicy::kLayer23, HashPolicy::kLayer34,
                                HashPolicy::kEncap23, HashPolicy::kEncap34};

std::vector<uint8_t> fromHex(const char* hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; hex[i] && hex[i + 1]; i += 2)
    out.push_back(uint8_t(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  return out;
}

TEST(FlowHash, KernelVectorsForEveryPolicy) {
  for (const Vector& v : kVectors) {
    const std::vector<uint8_t> f = fromHex(v.hex);
    for (int p = 0; p < 5; ++p) {
      EXPECT_EQ(bondXmitHash(kPolicies[p], f.data(), f.size()), v.expected[p])
          << v.name << " policy " << hashPolicyName(kPolicies[p]);
    }
  }
}

TEST(FlowHash, VlanTagIsTransparentForIpPolicies) {
  // A tag only changes nothing: the untagged and tagged TCP frames hash alike.
  const auto plain = fromHex(kVectors[0].hex);
  const auto tagged = fromHex(kVectors[2].hex);
  for (HashPolicy p : kPolicies)
    EXPECT_EQ(bondXmitHash(p, plain.data(), plain.size()),
              bondXmitHash(p, tagged.data(), tagged.size()))
        << hashPolicyName(p);
}

TEST(FlowHash, Layer34PortsChangeTheHashLayer23DoesNot) {
  auto f = fromHex(kVectors[0].hex);
  const uint32_t l23 = bondXmitHash(HashPolicy::kLayer23, f.data(), f.size());
  const uint32_t l34 = bondXmitHash(HashPolicy::kLayer34, f.data(), f.size());
  f[14 + 20 + 1] ^= 0x01;  // source port low byte
  EXPECT_EQ(bondXmitHash(HashPolicy::kLayer23, f.data(), f.size()), l23);
  EXPECT_NE(bondXmitHash(HashPolicy::kLayer34, f.data(), f.size()), l34);
}

TEST(FlowHash, NeverReadsPastTheEnd) {
  // Every prefix of every vector: the hash must be computable from the
  // prefix alone (run under ASan to catch over-reads), and equal to the value
  // for a heap copy of exactly that length.
  for (const Vector& v : kVectors) {
    const std::vector<uint8_t> f = fromHex(v.hex);
    for (size_t n = 0; n <= f.size(); ++n) {
      std::vector<uint8_t> prefix(f.begin(), f.begin() + n);
      for (HashPolicy p : kPolicies) (void)bondXmitHash(p, prefix.data(), prefix.size());
    }
  }
}

TEST(LiveSet, ModCountEqualsModuloForAllCounts) {
  std::mt19937 rng(7);
  for (uint32_t n = 1; n <= kMaxMembers; ++n) {
    LiveSet s;
    MemberId ids[kMaxMembers];
    for (uint32_t i = 0; i < n; ++i) ids[i] = i;
    s.setMembers(ids, n);
    for (uint32_t a : {0u, 1u, 2u, 7u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu})
      EXPECT_EQ(s.modCount(a), a % n) << a << " % " << n;
    for (int i = 0; i < 100000; ++i) {
      const uint32_t a = rng();
      ASSERT_EQ(s.modCount(a), a % n) << a << " % " << n;
    }
  }
}

TEST(LiveSet, SelectFlowIsHashModuloLiveMembers) {
  LiveSet s;
  s.policy = HashPolicy::kLayer34;
  const MemberId live[] = {1, 3, 4};  // members 0 and 2 are down
  s.setMembers(live, 3);
  for (const Vector& v : kVectors) {
    const auto f = fromHex(v.hex);
    EXPECT_EQ(s.selectFlow(f.data(), f.size()), live[v.expected[2] % 3]) << v.name;
  }
  LiveSet empty;
  const auto f = fromHex(kVectors[0].hex);
  EXPECT_EQ(empty.selectFlow(f.data(), f.size()), kNoMember);
}

}  // namespace
}  // namespace vfo::lag
