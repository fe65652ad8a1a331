// SR-IOV VF configuration over rtnetlink without SR-IOV hardware: request
// bytes checked against hand-written golden bytes, replies parsed from
// golden messages in the kernel 6.1 layout, and the transactional apply()
// run against FakeRtnl, which applies VF attributes the way do_setvfinfo
// does (fixed order, stop at the first driver error, earlier changes stay).
#include "vfo/sriov/vf_netlink.h"

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>

#include "fake_rtnl.h"
#include "sriov_golden.h"
#include "vfo/netlink/fake_netlink_socket.h"

namespace vfo::sriov {
namespace {

using netlink::Bytes;
using netlink::FakeNetlinkSocket;
using testing::FakeRtnl;

// The attribute numbers the golden bytes rely on.
static_assert(IFLA_NUM_VF == 21 && IFLA_VFINFO_LIST == 22 && IFLA_EXT_MASK == 29 &&
              IFLA_PERM_ADDRESS == 54 && IFLA_PARENT_DEV_NAME == 56 &&
              IFLA_PARENT_DEV_BUS_NAME == 57 && IFLA_IFALIAS == 20 && IFLA_LINK == 5);
static_assert(IFLA_VF_INFO == 1 && IFLA_VF_MAC == 1 && IFLA_VF_VLAN == 2 && IFLA_VF_TX_RATE == 3 &&
              IFLA_VF_SPOOFCHK == 4 && IFLA_VF_LINK_STATE == 5 && IFLA_VF_RATE == 6 &&
              IFLA_VF_RSS_QUERY_EN == 7 && IFLA_VF_STATS == 8 && IFLA_VF_TRUST == 9 &&
              IFLA_VF_VLAN_LIST == 12 && IFLA_VF_BROADCAST == 13 && IFLA_VF_VLAN_INFO == 1);
static_assert(RTEXT_FILTER_VF == 1 && RTEXT_FILTER_SKIP_STATS == 8);

MacAddress mac(const char* s) {
  return *MacAddress::parse(s);
}

netlink::Message single(const Bytes& b) {
  netlink::MessageReader r(b);
  netlink::Message m;
  EXPECT_TRUE(r.next(&m)) << r.status().toString();
  return m;
}

uint32_t lenOf(const Bytes& b) {
  uint32_t len = 0;
  std::memcpy(&len, b.data(), 4);
  return len;
}

// ---- request bytes ---------------------------------------------------------------

TEST(VfNetlinkBytes, SetVfWithEveryAttribute) {
  VfChange c;
  c.vf = 3;
  c.mac = mac("52:54:00:12:34:56");
  c.vlan = 100;
  c.spoof_check = true;
  c.link_state = VfLinkState::kEnable;
  c.trust = false;
  const Bytes want = golden::cat({
      {0x8c, 0x00, 0x00, 0x00},              // nlmsg_len 140
      {0x13, 0x00},                          // RTM_SETLINK (19)
      {0x05, 0x00},                          // NLM_F_REQUEST | NLM_F_ACK
      {0x00, 0x00, 0x00, 0x00},              // nlmsg_seq (the socket sets it)
      {0x00, 0x00, 0x00, 0x00},              // nlmsg_pid
      {0x00, 0x00, 0x00, 0x00},              // ifi_family AF_UNSPEC, pad, ifi_type 0
      {0x06, 0x00, 0x00, 0x00},              // ifi_index 6: the PF
      {0x00, 0x00, 0x00, 0x00},              // ifi_flags 0
      {0x00, 0x00, 0x00, 0x00},              // ifi_change 0: no flag changes
      {0x6c, 0x00, 0x16, 0x00},              // IFLA_VFINFO_LIST (22) len 108
      {0x68, 0x00, 0x01, 0x00},              // IFLA_VF_INFO (1) len 104
      {0x28, 0x00, 0x01, 0x00},              // IFLA_VF_MAC (1) len 40
      {0x03, 0x00, 0x00, 0x00},              // .vf 3
      {0x52, 0x54, 0x00, 0x12, 0x34, 0x56},  // .mac[0..5]
      golden::zeros(26),                     // .mac[6..31]
      {0x18, 0x00, 0x0c, 0x00},              // IFLA_VF_VLAN_LIST (12) len 24
      {0x14, 0x00, 0x01, 0x00},              // IFLA_VF_VLAN_INFO (1) len 20
      {0x03, 0x00, 0x00, 0x00},              // .vf 3
      {0x64, 0x00, 0x00, 0x00},              // .vlan 100
      {0x00, 0x00, 0x00, 0x00},              // .qos 0
      {0x81, 0x00},                          // .vlan_proto htons(ETH_P_8021Q)
      {0x00, 0x00},                          // struct tail padding (sizeof 16)
      {0x0c, 0x00, 0x04, 0x00},              // IFLA_VF_SPOOFCHK (4) len 12
      {0x03, 0x00, 0x00, 0x00},              // .vf 3
      {0x01, 0x00, 0x00, 0x00},              // .setting on
      {0x0c, 0x00, 0x05, 0x00},              // IFLA_VF_LINK_STATE (5) len 12
      {0x03, 0x00, 0x00, 0x00},              // .vf 3
      {0x01, 0x00, 0x00, 0x00},              // .link_state IFLA_VF_LINK_STATE_ENABLE
      {0x0c, 0x00, 0x09, 0x00},              // IFLA_VF_TRUST (9) len 12
      {0x03, 0x00, 0x00, 0x00},              // .vf 3
      {0x00, 0x00, 0x00, 0x00},              // .setting off
  });
  EXPECT_EQ(buildSetVf(6, c), want);
  EXPECT_EQ(lenOf(want), want.size());
}

TEST(VfNetlinkBytes, SetVfLegacyVlanOnly) {
  VfChange c;
  c.vf = 1;
  c.vlan = 4094;
  const Bytes want = golden::cat({
      {0x38, 0x00, 0x00, 0x00},  // nlmsg_len 56
      {0x13, 0x00, 0x05, 0x00},  // RTM_SETLINK, REQUEST|ACK
      golden::zeros(8),          // seq, pid
      {0x00, 0x00, 0x00, 0x00},  // AF_UNSPEC
      {0x06, 0x00, 0x00, 0x00},  // ifi_index 6
      golden::zeros(8),          // flags, change
      {0x18, 0x00, 0x16, 0x00},  // IFLA_VFINFO_LIST len 24
      {0x14, 0x00, 0x01, 0x00},  // IFLA_VF_INFO len 20
      {0x10, 0x00, 0x02, 0x00},  // IFLA_VF_VLAN (2) len 16
      {0x01, 0x00, 0x00, 0x00},  // .vf 1
      {0xfe, 0x0f, 0x00, 0x00},  // .vlan 4094
      {0x00, 0x00, 0x00, 0x00},  // .qos 0
  });
  EXPECT_EQ(buildSetVf(6, c, VfVlanAttr::kLegacy), want);
}

TEST(VfNetlinkBytes, GetPfWithVfFilter) {
  const Bytes want = golden::cat({
      {0x38, 0x00, 0x00, 0x00},  // nlmsg_len 56
      {0x12, 0x00},              // RTM_GETLINK (18)
      {0x01, 0x00},              // NLM_F_REQUEST (not a dump: one link)
      golden::zeros(8),          // seq, pid
      golden::zeros(16),         // ifinfomsg: AF_UNSPEC, ifi_index 0 (by name)
      {0x0e, 0x00, 0x03, 0x00, 'e', 'n', 'p', '5', '9', 's', '0', 'f', '0', 0x00, 0x00,
       0x00},                                            // IFLA_IFNAME len 14, padded
      {0x08, 0x00, 0x1d, 0x00, 0x09, 0x00, 0x00, 0x00},  // IFLA_EXT_MASK (29) VF | SKIP_STATS
  });
  EXPECT_EQ(buildGetPfVfs("enp59s0f0"), want);
}

TEST(VfNetlinkBytes, DescribeNamesTheFields) {
  VfChange c;
  EXPECT_EQ(c.describe(), "nothing");
  c.mac = mac("52:54:00:00:00:01");
  c.vlan = 7;
  c.trust = true;
  EXPECT_EQ(c.describe(), "mac 52:54:00:00:00:01 vlan 7 trust on");
}

// ---- parsing golden replies ---------------------------------------------------------

TEST(VfNetlinkParse, GoldenPfReplyWithoutStats) {
  Bytes m = golden::pfReply(golden::vf0Guest(), golden::vf1Clean(), false);
  ASSERT_EQ(lenOf(m), m.size());
  ASSERT_EQ(m.size(), 1856u);
  auto r = parsePfVfReport(single(m));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->ifindex, 6);
  EXPECT_EQ(r->ifname, "enp59s0f0");
  EXPECT_EQ(r->num_vfs, 2u);
  EXPECT_TRUE(r->has_vf_list);
  ASSERT_EQ(r->vfs.size(), 2u);
  const VfLinkInfo& a = r->vfs[0];
  EXPECT_EQ(a.vf, 0u);
  EXPECT_EQ(a.mac.toString(), "52:54:00:12:34:56");
  EXPECT_EQ(a.vlan, 100);
  EXPECT_EQ(a.qos, 0u);
  EXPECT_EQ(a.vlan_proto, 0x8100);
  EXPECT_EQ(a.spoof_check, true);
  EXPECT_EQ(a.trust, false);
  EXPECT_EQ(a.link_state, VfLinkState::kAuto);
  const VfLinkInfo& b = r->vfs[1];
  EXPECT_EQ(b.vf, 1u);
  EXPECT_TRUE(b.mac.isZero());
  EXPECT_EQ(b.vlan, 0);
  EXPECT_EQ(r->find(1), &r->vfs[1]);
  EXPECT_EQ(r->find(2), nullptr);
  VfConfig c = toConfig(a);
  EXPECT_EQ(c.mac, a.mac);
  EXPECT_EQ(c.vlan, 100);
  EXPECT_TRUE(c.spoof_check);
}

TEST(VfNetlinkParse, GoldenPfReplyWithVfStatsGivesTheSameVfs) {
  Bytes with = golden::pfReply(golden::vf0Guest(), golden::vf1Clean(), true);
  ASSERT_EQ(lenOf(with), with.size());
  ASSERT_EQ(with.size(), 2056u);
  Bytes without = golden::pfReply(golden::vf0Guest(), golden::vf1Clean(), false);
  auto a = parsePfVfReport(single(with));
  auto b = parsePfVfReport(single(without));
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(a->vfs, b->vfs);
}

TEST(VfNetlinkParse, UnreportedSpoofCheckAndTrust) {
  Bytes m = golden::pfReply(golden::vf0Guest(), golden::vf1Unreported(), false);
  auto r = parsePfVfReport(single(m));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->vfs[1].spoof_check, std::nullopt);
  EXPECT_EQ(r->vfs[1].trust, std::nullopt);
  EXPECT_EQ(r->vfs[1].link_state, VfLinkState::kEnable);
  // Unreported reads as the defaults in a VfConfig.
  VfConfig c = toConfig(r->vfs[1]);
  EXPECT_TRUE(c.spoof_check);
  EXPECT_FALSE(c.trust);
}

// A PF message with one hand-made IFLA_VF_INFO.
Bytes pfWith(const std::function<void(netlink::MessageBuilder&)>& fill_vf_info) {
  netlink::MessageBuilder b(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_index = 6;
  b.family(ifi);
  b.putString(IFLA_IFNAME, "pf0");
  b.putU32(IFLA_NUM_VF, 1);
  size_t list = b.beginNested(IFLA_VFINFO_LIST);
  size_t info = b.beginNested(IFLA_VF_INFO);
  fill_vf_info(b);
  b.endNested(info);
  b.endNested(list);
  return b.bytes();
}

void putMac(netlink::MessageBuilder& b, uint32_t vf) {
  ifla_vf_mac m{};
  m.vf = vf;
  b.put(IFLA_VF_MAC, &m, sizeof(m));
}

TEST(VfNetlinkParse, MalformedVfAttributesAreRejected) {
  auto code = [](const Bytes& m) { return parsePfVfReport(single(m)).status(); };
  // IFLA_VF_MAC one byte short.
  Status s = code(pfWith([](auto& b) {
    uint8_t raw[35] = {};
    b.put(IFLA_VF_MAC, raw, sizeof raw);
  }));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("IFLA_VF_MAC: payload is 35 bytes, want 36"), std::string::npos)
      << s.message();
  // No IFLA_VF_MAC at all.
  s = code(pfWith([](auto& b) {
    ifla_vf_spoofchk sc{0, 1};
    b.put(IFLA_VF_SPOOFCHK, &sc, sizeof sc);
  }));
  EXPECT_NE(s.message().find("no IFLA_VF_MAC"), std::string::npos) << s.message();
  // Attributes of one VF that disagree on the VF index.
  s = code(pfWith([](auto& b) {
    putMac(b, 0);
    ifla_vf_spoofchk sc{1, 1};
    b.put(IFLA_VF_SPOOFCHK, &sc, sizeof sc);
  }));
  EXPECT_NE(s.message().find("IFLA_VF_SPOOFCHK: vf 1 disagrees"), std::string::npos) << s.message();
  // Link state outside auto/enable/disable.
  s = code(pfWith([](auto& b) {
    putMac(b, 0);
    ifla_vf_link_state ls{0, 3};
    b.put(IFLA_VF_LINK_STATE, &ls, sizeof ls);
  }));
  EXPECT_NE(s.message().find("IFLA_VF_LINK_STATE: 3"), std::string::npos) << s.message();
  // Spoof check neither 0, 1 nor -1.
  s = code(pfWith([](auto& b) {
    putMac(b, 0);
    ifla_vf_spoofchk sc{0, 2};
    b.put(IFLA_VF_SPOOFCHK, &sc, sizeof sc);
  }));
  EXPECT_NE(s.message().find("setting 2"), std::string::npos) << s.message();
  // VLAN above 4095.
  s = code(pfWith([](auto& b) {
    putMac(b, 0);
    ifla_vf_vlan v{0, 5000, 0};
    b.put(IFLA_VF_VLAN, &v, sizeof v);
  }));
  EXPECT_NE(s.message().find("vlan 5000"), std::string::npos) << s.message();
  // Something other than IFLA_VF_VLAN_INFO inside IFLA_VF_VLAN_LIST.
  s = code(pfWith([](auto& b) {
    putMac(b, 0);
    size_t vl = b.beginNested(IFLA_VF_VLAN_LIST);
    b.putU32(2, 7);
    b.endNested(vl);
  }));
  EXPECT_NE(s.message().find("not IFLA_VF_VLAN_INFO"), std::string::npos) << s.message();
  // Every rejection names the PF.
  EXPECT_NE(s.message().find("PF pf0"), std::string::npos);
  // Not a link message.
  EXPECT_EQ(parsePfVfReport(single(netlink::buildDone(1, 2))).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(VfNetlinkParse, LegacyVlanIsUsedWithoutAVlanList) {
  auto r = parsePfVfReport(single(pfWith([](auto& b) {
    putMac(b, 0);
    ifla_vf_vlan v{0, 42, 3};
    b.put(IFLA_VF_VLAN, &v, sizeof v);
  })));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->vfs[0].vlan, 42);
  EXPECT_EQ(r->vfs[0].qos, 3u);
  // No spoof check / trust attributes at all: not reported.
  EXPECT_EQ(r->vfs[0].spoof_check, std::nullopt);
}

TEST(VfNetlinkDiff, OnlyWhatDiffers) {
  VfLinkInfo cur;
  cur.vf = 2;
  cur.mac = mac("52:54:00:00:00:01");
  cur.vlan = 10;
  cur.spoof_check = true;
  cur.trust = false;
  VfConfig want = toConfig(cur);
  EXPECT_TRUE(diffVf(cur, want).empty());
  want.vlan = 11;
  want.trust = true;
  VfChange c = diffVf(cur, want);
  EXPECT_EQ(c.vf, 2u);
  EXPECT_FALSE(c.mac);
  EXPECT_EQ(c.vlan, 11);
  EXPECT_EQ(c.trust, true);
  EXPECT_FALSE(c.spoof_check);
  EXPECT_FALSE(c.link_state);
  // A qos or an 802.1ad VLAN on the VF is replaced even with the same id.
  cur.vlan = 11;
  cur.trust = true;
  cur.qos = 5;
  EXPECT_EQ(diffVf(cur, want).vlan, 11);
  cur.qos = 0;
  cur.vlan_proto = 0x88a8;
  EXPECT_EQ(diffVf(cur, want).vlan, 11);
  // Unreported spoof check is always requested; unreported trust only to turn it on.
  cur.vlan_proto = 0x8100;
  cur.spoof_check.reset();
  cur.trust.reset();
  want.trust = false;
  c = diffVf(cur, want);
  EXPECT_EQ(c.spoof_check, true);
  EXPECT_FALSE(c.trust);
  want.trust = true;
  EXPECT_EQ(diffVf(cur, want).trust, true);
}

// ---- VfNetlink against scripted and stateful fakes -----------------------------------

TEST(VfNetlinkRead, GoldenReplyThroughTheFakeSocket) {
  FakeClock clock;
  FakeNetlinkSocket sock(clock);
  sock.setReply(RTM_GETLINK, {golden::pfReply(golden::vf0Guest(), golden::vf1Clean(), false)});
  VfNetlink nl(sock);
  auto r = nl.read("enp59s0f0");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->vfs.size(), 2u);
  ASSERT_EQ(sock.sent().size(), 1u);
  Bytes req = buildGetPfVfs("enp59s0f0");
  netlink::addFlags(req, NLM_F_ACK);
  netlink::patchHeader(req, 1, 0);
  EXPECT_EQ(sock.sent()[0], req);
  sock.failNext(RTM_GETLINK, ENODEV);
  auto gone = nl.read("enp59s0f0");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("PF enp59s0f0 does not exist"), std::string::npos);
}

class VfNetlinkApply : public ::testing::Test {
 protected:
  VfNetlinkApply() {
    rtnl.addPf("pf0", "3c:fd:fe:a0:00:10", 4);
    want.mac = mac("52:54:00:00:00:01");
    want.vlan = 100;
  }
  size_t setlinks() const {
    size_t n = 0;
    for (const auto& b : sock.sent()) n += single(b).type == RTM_SETLINK;
    return n;
  }
  FakeClock clock;
  FakeNetlinkSocket sock{clock};
  FakeRtnl rtnl{sock};
  VfNetlink nl{sock};
  VfConfig want;
};

TEST_F(VfNetlinkApply, SetsAndReadsBack) {
  auto r = nl.apply("pf0", 2, want);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->mac, want.mac);
  EXPECT_EQ(r->vlan, 100);
  EXPECT_EQ(rtnl.vf("pf0", 2).mac, want.mac);
  // One read, one set (MAC and VLAN only: spoof check is already on), one read back.
  ASSERT_EQ(sock.sent().size(), 3u);
  EXPECT_EQ(rtnl.log, (std::vector<std::string>{"VF 2 mac 52:54:00:00:00:01", "VF 2 vlan 100"}));
  // Applying it again sends nothing but the read.
  auto again = nl.apply("pf0", 2, want);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(sock.sent().size(), 4u);
  EXPECT_EQ(setlinks(), 1u);
  EXPECT_EQ(nl.stats().sets, 1u);
  EXPECT_EQ(nl.stats().unchanged, 1u);
  EXPECT_EQ(nl.stats().reads, 3u);
  EXPECT_EQ(nl.stats().restores, 0u);
}

TEST_F(VfNetlinkApply, SetLinkReturnsEbusy) {
  sock.failNext(RTM_SETLINK, EBUSY);
  auto r = nl.apply("pf0", 1, want);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("PF pf0 VF 1: set mac 52:54:00:00:00:01 vlan 100"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Device or resource busy"), std::string::npos);
  // Nothing moved, so nothing to restore: one failed SETLINK only.
  EXPECT_EQ(setlinks(), 1u);
  EXPECT_TRUE(rtnl.vf("pf0", 1).mac.isZero());
}

TEST_F(VfNetlinkApply, PartialKernelFailureIsRolledBack) {
  // The kernel applies MAC and VLAN, then the driver refuses trust: the MAC
  // and VLAN stay set in the kernel; apply() must put them back.
  rtnl.failVfAttr(IFLA_VF_TRUST, EOPNOTSUPP);
  want.trust = true;
  auto r = nl.apply("pf0", 0, want);
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("trust on"), std::string::npos) << r.status().message();
  EXPECT_EQ(rtnl.log, (std::vector<std::string>{"VF 0 mac 52:54:00:00:00:01", "VF 0 vlan 100",
                                                "VF 0 mac 00:00:00:00:00:00", "VF 0 vlan 0"}));
  const VfLinkInfo& v = rtnl.vf("pf0", 0);
  EXPECT_TRUE(v.mac.isZero());
  EXPECT_EQ(v.vlan, 0);
  EXPECT_EQ(v.trust, false);
  EXPECT_EQ(nl.stats().set_errors, 1u);
  EXPECT_EQ(nl.stats().restores, 1u);
  EXPECT_EQ(nl.stats().sets, 1u);  // the restore
}

TEST_F(VfNetlinkApply, ReadBackMismatchIsAnErrorAndRolledBack) {
  rtnl.ignoreVfAttr(IFLA_VF_VLAN_LIST);  // the driver says yes and does nothing
  auto r = nl.apply("pf0", 0, want);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("accepted the request but reports vlan 0"), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(rtnl.vf("pf0", 0).mac.isZero());
  EXPECT_EQ(nl.stats().mismatches, 1u);
  EXPECT_EQ(nl.stats().restores, 1u);
}

TEST_F(VfNetlinkApply, FailedRestoreIsReported) {
  rtnl.failVfAttr(IFLA_VF_LINK_STATE, EIO);
  rtnl.failNthSetLink(1, EBUSY);  // the restore
  want.link_state = VfLinkState::kDisable;
  auto r = nl.apply("pf0", 3, want);
  EXPECT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("restoring the previous settings failed too"),
            std::string::npos)
      << r.status().message();
  // The kernel kept the half-applied change: the message is all we can do.
  EXPECT_EQ(rtnl.vf("pf0", 3).mac, want.mac);
  EXPECT_EQ(nl.stats().restore_errors, 1u);
}

TEST_F(VfNetlinkApply, MissingPfVfOrVfReport) {
  EXPECT_EQ(nl.apply("nosuch", 0, want).status().code(), StatusCode::kNotFound);
  auto r = nl.apply("pf0", 4, want);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("PF pf0 VF 4 does not exist (the PF has 4 VFs)"),
            std::string::npos)
      << r.status().message();
  rtnl.link("pf0")->reports_vf_config = false;
  r = nl.apply("pf0", 0, want);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(setlinks(), 0u);
}

TEST_F(VfNetlinkApply, LegacyVlanAttribute) {
  VfNetlink legacy(sock, {std::chrono::seconds(1), VfVlanAttr::kLegacy});
  ASSERT_TRUE(legacy.apply("pf0", 1, want).isOk());
  EXPECT_EQ(rtnl.log.back(), "VF 1 vlan 100 (legacy)");
}

TEST_F(VfNetlinkApply, DriverWithoutTrust) {
  FakeRtnl::Link* pf = rtnl.link("pf0");
  pf->reports_trust = false;
  // Trust off needs no request (such a driver never trusts a VF).
  ASSERT_TRUE(nl.apply("pf0", 0, want).isOk());
  // Trust on fails loudly and leaves the VF as it was.
  VfConfig t = want;
  t.mac = mac("52:54:00:00:00:02");
  t.trust = true;
  auto r = nl.apply("pf0", 0, t);
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(rtnl.vf("pf0", 0).mac, want.mac);
}

}  // namespace
}  // namespace vfo::sriov
