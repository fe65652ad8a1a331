// The software-VF provider (macvlans) without a kernel: request bytes
// against hand-written golden bytes, a golden kernel-6.1 macvlan dump entry,
// and the provider's create / update / rollback / adoption logic against
// FakeRtnl. The real kernel runs the same code in
// tests/integration/software_vf_itest.cc.
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "fake_rtnl.h"
#include "sriov_golden.h"
#include "vfo/netlink/fake_netlink_socket.h"
#include "vfo/sriov/software_vf_provider.h"
#include "vfo/sriov/vf_pairs.h"
#include "vfo/testing/names.h"

namespace vfo::sriov {
namespace {

using netlink::Bytes;
using netlink::FakeNetlinkSocket;
using testing::FakeRtnl;

static_assert(MACVLAN_MODE_BRIDGE == 4 && IFLA_MACVLAN_MODE == 1 && IFLA_INET6_ADDR_GEN_MODE == 8 &&
              IN6_ADDR_GEN_MODE_NONE == 1 && IFLA_AF_SPEC == 26 && IFF_NOARP == 0x80);

VfConfig cfg(const char* m, lag::VlanId vlan = 0) {
  VfConfig c;
  c.mac = *MacAddress::parse(m);
  c.vlan = vlan;
  return c;
}

netlink::Message single(const Bytes& b) {
  netlink::MessageReader r(b);
  netlink::Message m;
  EXPECT_TRUE(r.next(&m)) << r.status().toString();
  return m;
}

// ---- names, devargs, settings record ------------------------------------------------

TEST(SoftwareVfNames, DerivedFromMemberIfindexAndSlot) {
  EXPECT_EQ(softwareVfName(42, 0), "vfo2as0");
  EXPECT_EQ(softwareVfName(7, 63), "vfo7s3f");
  // The longest possible name fits IFNAMSIZ - 1.
  EXPECT_EQ(softwareVfName(0x7fffffff, 0xfff), "vfo7fffffffsfff");
  EXPECT_EQ(softwareVfName(0x7fffffff, 0xfff).size(), 15u);
  EXPECT_EQ(parseSoftwareVfName("vfo2as0"), std::make_pair(42, 0u));
  EXPECT_EQ(parseSoftwareVfName("vfo7fffffffsfff"), std::make_pair(0x7fffffff, 0xfffu));
  for (const char* bad : {"vfo02as0", "vfo2As0", "vfo2as", "vfos0", "vfo2as1000", "vfo0s0",
                          "vfo2as00", "eth0", "vfo2as0x", "vfo80000000s0", "vfo2a"})
    EXPECT_EQ(parseSoftwareVfName(bad), std::nullopt) << bad;
}

TEST(SoftwareVfNames, Devargs) {
  EXPECT_EQ(softwareVfDevargs(SoftwareVfPmd::kAfPacket, "vfo2as0"),
            "net_af_packet_vfo2as0,iface=vfo2as0");
  EXPECT_EQ(softwareVfDevargs(SoftwareVfPmd::kAfXdp, "vfo2as1"),
            "net_af_xdp_vfo2as1,iface=vfo2as1");
}

TEST(SoftwareVfRecord, RoundTripAndStrictness) {
  VfConfig c = cfg("52:54:00:00:00:01", 100);
  c.trust = true;
  c.link_state = VfLinkState::kDisable;
  const std::string alias = encodeSoftwareVfAlias(c);
  EXPECT_EQ(alias, "vfo-swvf vlan=100 spoof_check=on trust=on link_state=disable");
  VfConfig back;
  back.mac = c.mac;
  ASSERT_TRUE(decodeSoftwareVfAlias(alias, &back).isOk());
  EXPECT_EQ(back, c);
  for (const char* bad :
       {"", "something else", "vfo-swvf vlan=4095", "vfo-swvf vlan=x", "vfo-swvf trust=maybe",
        "vfo-swvf link_state=up", "vfo-swvf color=red", "vfo-swvf vlan"}) {
    VfConfig untouched = c;
    Status s = decodeSoftwareVfAlias(bad, &untouched);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(untouched, c) << bad;
  }
}

// ---- request bytes --------------------------------------------------------------------

TEST(SoftwareVfBytes, NewMacvlan) {
  const Bytes want = golden::cat({
      {0x5c, 0x00, 0x00, 0x00},  // nlmsg_len 92
      {0x10, 0x00},              // RTM_NEWLINK (16)
      {0x05, 0x06},              // NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL (0x200)|NLM_F_CREATE (0x400)
      golden::zeros(8),          // seq, pid
      {0x00, 0x00, 0x00, 0x00},  // ifi_family AF_UNSPEC, pad, ifi_type 0
      {0x00, 0x00, 0x00, 0x00},  // ifi_index 0: a new link
      {0x80, 0x00, 0x00, 0x00},  // ifi_flags IFF_NOARP (created down)
      {0x80, 0x00, 0x00, 0x00},  // ifi_change IFF_NOARP
      {0x0c, 0x00, 0x03, 0x00, 'v', 'f', 'o', '2', 'a', 's', '0', 0x00},  // IFLA_IFNAME len 12
      {0x08, 0x00, 0x05, 0x00, 0x2a, 0x00, 0x00, 0x00},  // IFLA_LINK (5) member ifindex 42
      {0x0a, 0x00, 0x01, 0x00, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00,
       0x00},                                                             // IFLA_ADDRESS guest
      {0x1c, 0x00, 0x12, 0x00},                                           // IFLA_LINKINFO len 28
      {0x0c, 0x00, 0x01, 0x00, 'm', 'a', 'c', 'v', 'l', 'a', 'n', 0x00},  // IFLA_INFO_KIND
      {0x0c, 0x00, 0x02, 0x00},                          // IFLA_INFO_DATA (2) len 12
      {0x08, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00},  // IFLA_MACVLAN_MODE bridge (4)
  });
  EXPECT_EQ(
      buildNewMacvlan(42, "vfo2as0", *MacAddress::parse("52:54:00:12:34:56"), MACVLAN_MODE_BRIDGE),
      want);
}

TEST(SoftwareVfBytes, SettingsRecordAndIpv6Off) {
  const Bytes want = golden::cat({
      {0x44, 0x00, 0x00, 0x00},  // nlmsg_len 68
      {0x13, 0x00, 0x05, 0x00},  // RTM_SETLINK, REQUEST|ACK
      golden::zeros(8),          // seq, pid
      {0x00, 0x00, 0x00, 0x00},  // AF_UNSPEC
      {0x2b, 0x00, 0x00, 0x00},  // ifi_index 43: the macvlan
      golden::zeros(8),          // flags, change: none
      {0x13, 0x00, 0x14, 0x00, 'v', 'f', 'o', '-', 's', 'w', 'v',
       'f',  ' ',  'v',  'l',  'a', 'n', '=', '7', 0x00},  // IFLA_IFALIAS (20) len 19: no NUL, as
                                                           // iproute2; 1 byte padding
      {0x10, 0x00, 0x1a, 0x00},                            // IFLA_AF_SPEC (26) len 16
      {0x0c, 0x00, 0x0a, 0x00},                            // AF_INET6 (10) len 12
      {0x05, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00},    // IFLA_INET6_ADDR_GEN_MODE none (1)
  });
  EXPECT_EQ(buildSetSoftwareVf(43, std::nullopt, "vfo-swvf vlan=7", true), want);
  // With a MAC and without the IPv6 part.
  const Bytes mac_only = golden::cat({
      {0x30, 0x00, 0x00, 0x00},  // nlmsg_len 48
      {0x13, 0x00, 0x05, 0x00},  // RTM_SETLINK, REQUEST|ACK
      golden::zeros(8),
      {0x00, 0x00, 0x00, 0x00},
      {0x2b, 0x00, 0x00, 0x00},  // ifi_index 43
      golden::zeros(8),
      {0x0a, 0x00, 0x01, 0x00, 0x52, 0x54, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00},  // IFLA_ADDRESS
      {0x04, 0x00, 0x14, 0x00},  // IFLA_IFALIAS empty: clears the alias
  });
  EXPECT_EQ(buildSetSoftwareVf(43, *MacAddress::parse("52:54:00:00:00:09"), "", false), mac_only);
}

TEST(SoftwareVfBytes, DelLink) {
  const Bytes want = golden::cat({
      {0x20, 0x00, 0x00, 0x00},  // nlmsg_len 32
      {0x11, 0x00, 0x05, 0x00},  // RTM_DELLINK (17), REQUEST|ACK
      golden::zeros(8),          // seq, pid
      {0x00, 0x00, 0x00, 0x00},  // AF_UNSPEC
      {0x2b, 0x00, 0x00, 0x00},  // ifi_index 43
      golden::zeros(8),          // flags, change
  });
  EXPECT_EQ(netlink::buildDelLink(43), want);
}

TEST(SoftwareVfParse, GoldenMacvlanDumpEntry) {
  Bytes m = golden::macvlanVfo2as0();
  uint32_t len = 0;
  std::memcpy(&len, m.data(), 4);
  ASSERT_EQ(len, m.size());
  ASSERT_EQ(m.size(), 1544u);
  auto lm = netlink::parseLinkMessage(single(m));
  ASSERT_TRUE(lm.isOk()) << lm.status().toString();
  // The generic fields lag-core decodes for us.
  EXPECT_EQ(lm->link, 42u);
  EXPECT_EQ(lm->address, (Bytes{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  EXPECT_EQ(lm->ifalias, "vfo-swvf vlan=100 spoof_check=on trust=off link_state=auto");
  auto mv = macvlanOf(*lm);
  ASSERT_TRUE(mv.isOk()) << mv.status().toString();
  ASSERT_TRUE(mv->has_value());
  const MacvlanLink& v = **mv;
  EXPECT_EQ(v.ifindex, 43);
  EXPECT_EQ(v.ifname, "vfo2as0");
  EXPECT_EQ(v.lower, 42);
  EXPECT_EQ(v.mac.toString(), "52:54:00:12:34:56");
  EXPECT_EQ(v.mode, uint32_t(MACVLAN_MODE_BRIDGE));
  EXPECT_TRUE(v.admin_up);
  EXPECT_TRUE(v.noarp);
  VfConfig c;
  ASSERT_TRUE(decodeSoftwareVfAlias(v.alias, &c).isOk());
  EXPECT_EQ(c.vlan, 100);
  // A bond (not a macvlan) is not one.
  auto bond = netlink::parseLinkMessage(single(lag::golden::bondActiveBackup(2, false)));
  ASSERT_TRUE(bond.isOk());
  EXPECT_FALSE(macvlanOf(*bond)->has_value());
}

// ---- the provider against FakeRtnl -----------------------------------------------------

class SoftwareVfTest : public ::testing::Test {
 protected:
  SoftwareVfTest() {
    rtnl.setNextIfindex(42);
    rtnl.addLink("l1-pf0", "02:00:00:00:00:01");  // 42 = 0x2a
    rtnl.addLink("l1-pf1", "02:00:00:00:00:02");  // 43 = 0x2b
  }
  SoftwareVfOptions opts(uint32_t capacity = 4) {
    SoftwareVfOptions o;
    o.capacity = capacity;
    return o;
  }
  std::vector<uint16_t> sentTypes() const {
    std::vector<uint16_t> t;
    for (const auto& b : sock.sent()) t.push_back(single(b).type);
    return t;
  }
  size_t count(uint16_t type) const {
    size_t n = 0;
    for (auto t : sentTypes()) n += t == type;
    return n;
  }

  FakeClock clock;
  FakeNetlinkSocket sock{clock};
  FakeRtnl rtnl{sock};
};

TEST_F(SoftwareVfTest, OptionsAreValidated) {
  EXPECT_TRUE(SoftwareVfProvider::validate(opts()).isOk());
  EXPECT_EQ(SoftwareVfProvider::validate(opts(0)).code(), StatusCode::kInvalidArgument);
  Status big = SoftwareVfProvider::validate(opts(4097));
  EXPECT_NE(big.message().find("capacity: 4097 is outside 1..4096"), std::string::npos);
}

TEST_F(SoftwareVfTest, CreatesAQuietMacvlanAndThenSetsItUp) {
  SoftwareVfProvider p(sock, opts());
  EXPECT_EQ(p.kind(), "software");
  auto s = p.configure({"l1-pf0", 0}, cfg("52:54:00:12:34:56", 100));
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->ref, (VfRef{"l1-pf0", 0}));
  EXPECT_EQ(s->netdev, "vfo2as0");
  EXPECT_EQ(s->devargs, "net_af_packet_vfo2as0,iface=vfo2as0");
  EXPECT_EQ(s->pci_address, "");
  EXPECT_EQ(s->config, cfg("52:54:00:12:34:56", 100));
  // Order: create (down, NOARP), record + IPv6 off, then up.
  EXPECT_EQ(rtnl.log,
            (std::vector<std::string>{"NEWLINK vfo2as0", "SETLINK vfo2as0 alias",
                                      "SETLINK vfo2as0 addr_gen_mode 1", "SETLINK vfo2as0 up"}));
  const FakeRtnl::Link* l = rtnl.link("vfo2as0");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->kind, "macvlan");
  EXPECT_EQ(l->lower, 42);
  EXPECT_EQ(l->macvlan_mode, uint32_t(MACVLAN_MODE_BRIDGE));
  EXPECT_TRUE(l->flags & IFF_NOARP);
  EXPECT_TRUE(l->flags & IFF_UP);
  EXPECT_EQ(l->alias, "vfo-swvf vlan=100 spoof_check=on trust=off link_state=auto");
  // The NEWLINK on the wire is the golden shape (the socket added seq and ACK).
  Bytes newlink;
  for (const auto& b : sock.sent())
    if (single(b).type == RTM_NEWLINK) newlink = b;
  Bytes want =
      buildNewMacvlan(42, "vfo2as0", *MacAddress::parse("52:54:00:12:34:56"), MACVLAN_MODE_BRIDGE);
  netlink::patchHeader(want, single(newlink).seq, 0);
  EXPECT_EQ(newlink, want);
  EXPECT_EQ(p.stats().created, 1u);
  EXPECT_EQ(p.stats().rollbacks, 0u);
}

TEST_F(SoftwareVfTest, DisablesIpv6ThroughProcSysWhenGiven) {
  const std::string root = vfo::testing::makeTempDir("vfo-procsys-");
  std::filesystem::create_directories(root + "/net/ipv6/conf/vfo2as1");
  std::ofstream(root + "/net/ipv6/conf/vfo2as1/disable_ipv6") << "0\n";
  DirectorySysfsIo proc(root);
  SoftwareVfOptions o = opts();
  o.proc_sys = &proc;
  SoftwareVfProvider p(sock, o);
  ASSERT_TRUE(p.configure({"l1-pf0", 1}, cfg("52:54:00:00:00:01")).isOk());
  EXPECT_EQ(*proc.read("net/ipv6/conf/vfo2as1/disable_ipv6"), "1");
  // No such sysctl (the directory is missing): addr_gen_mode none is enough.
  ASSERT_TRUE(p.configure({"l1-pf0", 2}, cfg("52:54:00:00:00:02")).isOk());
  vfo::testing::removeTree(root);
}

TEST_F(SoftwareVfTest, KernelWithoutIpv6GetsNoAfSpec) {
  rtnl.disableIpv6();
  SoftwareVfProvider p(sock, opts());
  ASSERT_TRUE(p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01")).isOk());
  EXPECT_EQ(rtnl.log, (std::vector<std::string>{"NEWLINK vfo2as0", "SETLINK vfo2as0 alias",
                                                "SETLINK vfo2as0 up"}));
}

TEST_F(SoftwareVfTest, FailureAfterCreationDeletesTheMacvlan) {
  SoftwareVfProvider p(sock, opts());
  for (int step = 0; step < 2; ++step) {  // 0: record + IPv6, 1: up
    SCOPED_TRACE(step);
    rtnl.log.clear();
    rtnl.failNthSetLink(step, EIO);
    auto s = p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01"));
    EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(s.status().message().find("software VF l1-pf0/vf0 (vfo2as0)"), std::string::npos)
        << s.status().message();
    EXPECT_EQ(rtnl.link("vfo2as0"), nullptr);
    EXPECT_EQ(rtnl.log.back(), "DELLINK vfo2as0");
  }
  EXPECT_EQ(p.stats().rollbacks, 2u);
  EXPECT_EQ(p.stats().rollback_errors, 0u);
  EXPECT_EQ(p.stats().created, 0u);
}

TEST_F(SoftwareVfTest, EexistFromTheKernel) {
  SoftwareVfProvider p(sock, opts());
  sock.failNext(RTM_NEWLINK, EEXIST);
  auto s = p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01"));
  EXPECT_EQ(s.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.status().message().find("appeared meanwhile"), std::string::npos);
  EXPECT_EQ(count(RTM_DELLINK), 0u);  // not ours: never deleted
}

TEST_F(SoftwareVfTest, NameClashIsLeftAlone) {
  rtnl.addLink("vfo2as0", "02:00:00:00:00:99", "veth");
  SoftwareVfProvider p(sock, opts());
  auto s = p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01"));
  EXPECT_EQ(s.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.status().message().find("name clash"), std::string::npos);
  auto vfs = p.list("l1-pf0");
  ASSERT_TRUE(vfs.isOk());
  ASSERT_EQ(vfs->size(), 3u);  // slot 0 unusable
  EXPECT_EQ((*vfs)[0].ref.index, 1u);
  EXPECT_EQ(p.reset({"l1-pf0", 0}).code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(rtnl.link("vfo2as0"), nullptr);
  EXPECT_EQ(count(RTM_NEWLINK) + count(RTM_DELLINK) + count(RTM_SETLINK), 0u);
  EXPECT_EQ(p.stats().clashes, 1u);
}

TEST_F(SoftwareVfTest, MissingMemberMacInUseAndSlotRange) {
  SoftwareVfProvider p(sock, opts());
  auto s = p.configure({"l1-pf9", 0}, cfg("52:54:00:00:00:01"));
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("member l1-pf9"), std::string::npos);
  EXPECT_EQ(p.list("l1-pf9").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(p.reset({"l1-pf9", 0}).isOk());  // its macvlans died with it
  EXPECT_EQ(p.configure({"l1-pf0", 4}, cfg("52:54:00:00:00:01")).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(p.configure({"l1-pf0", 0}, cfg("01:00:00:00:00:01")).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01")).isOk());
  auto dup = p.configure({"l1-pf0", 1}, cfg("52:54:00:00:00:01"));
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("already used by vfo2as0"), std::string::npos);
  auto own = p.configure({"l1-pf0", 1}, cfg("02:00:00:00:00:01"));
  EXPECT_EQ(own.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(own.status().message().find("member's own address"), std::string::npos);
  // The same MAC on the other member is fine (that is the VF pair).
  EXPECT_TRUE(p.configure({"l1-pf1", 0}, cfg("52:54:00:00:00:01")).isOk());
  EXPECT_EQ(count(RTM_NEWLINK), 2u);
}

TEST_F(SoftwareVfTest, ReconfigureUpdatesInPlace) {
  SoftwareVfProvider p(sock, opts());
  ASSERT_TRUE(p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01", 10)).isOk());
  const int32_t ifindex = rtnl.link("vfo2as0")->ifindex;
  rtnl.log.clear();
  // Same settings: reads only.
  ASSERT_TRUE(p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01", 10)).isOk());
  EXPECT_TRUE(rtnl.log.empty());
  // New VLAN: the record changes, the macvlan stays.
  auto s = p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01", 20));
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->config.vlan, 20);
  EXPECT_EQ(rtnl.log, (std::vector<std::string>{"SETLINK vfo2as0 alias", "SETLINK vfo2as0 up"}));
  // New MAC: moved in place.
  rtnl.log.clear();
  s = p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:02", 20));
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(rtnl.link("vfo2as0")->ifindex, ifindex);
  EXPECT_EQ(rtnl.log.front(), "SETLINK vfo2as0 address 52:54:00:00:00:02");
  // A failed update puts the previous MAC and record back.
  rtnl.failNthSetLink(1, EIO);  // the "up" after the update
  auto bad = p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:03", 30));
  EXPECT_FALSE(bad.isOk());
  EXPECT_EQ(rtnl.link("vfo2as0")->mac.toString(), "52:54:00:00:00:02");
  EXPECT_EQ(rtnl.link("vfo2as0")->alias, encodeSoftwareVfAlias(cfg("52:54:00:00:00:02", 20)));
  EXPECT_EQ(p.stats().created, 1u);
  EXPECT_EQ(p.stats().updated, 2u);
  EXPECT_EQ(p.stats().rollbacks, 1u);
}

TEST_F(SoftwareVfTest, ListReportsSlotsAndLeftovers) {
  SoftwareVfOptions big = opts(8);
  SoftwareVfProvider p8(sock, big);
  ASSERT_TRUE(p8.configure({"l1-pf0", 1}, cfg("52:54:00:00:00:01", 5)).isOk());
  ASSERT_TRUE(p8.configure({"l1-pf0", 6}, cfg("52:54:00:00:00:06")).isOk());
  ASSERT_TRUE(p8.configure({"l1-pf1", 0}, cfg("52:54:00:00:00:07")).isOk());
  SoftwareVfProvider p4(sock, opts(4));
  auto vfs = p4.list("l1-pf0");
  ASSERT_TRUE(vfs.isOk()) << vfs.status().toString();
  ASSERT_EQ(vfs->size(), 5u);
  EXPECT_FALSE((*vfs)[0].inUse());
  EXPECT_EQ((*vfs)[0].netdev, "");
  EXPECT_TRUE((*vfs)[1].inUse());
  EXPECT_EQ((*vfs)[1].netdev, "vfo2as1");
  EXPECT_EQ((*vfs)[1].config.vlan, 5);
  EXPECT_EQ((*vfs)[4].ref.index, 6u);  // above the capacity, still reported
  EXPECT_EQ((*vfs)[4].netdev, "vfo2as6");
  // A leftover slot can be reset; then it is gone from the list.
  ASSERT_TRUE(p4.reset({"l1-pf0", 6}).isOk());
  EXPECT_EQ(p4.list("l1-pf0")->size(), 4u);
}

TEST_F(SoftwareVfTest, ResetDeletesAndIsIdempotent) {
  SoftwareVfProvider p(sock, opts());
  ASSERT_TRUE(p.configure({"l1-pf0", 2}, cfg("52:54:00:00:00:01")).isOk());
  ASSERT_TRUE(p.reset({"l1-pf0", 2}).isOk());
  EXPECT_EQ(rtnl.link("vfo2as2"), nullptr);
  EXPECT_EQ(rtnl.log.back(), "DELLINK vfo2as2");
  size_t dels = count(RTM_DELLINK);
  ASSERT_TRUE(p.reset({"l1-pf0", 2}).isOk());
  EXPECT_EQ(count(RTM_DELLINK), dels);
  EXPECT_EQ(p.stats().deleted, 1u);
  EXPECT_EQ(p.reset({"l1-pf0", 4096}).code(), StatusCode::kOutOfRange);
}

TEST_F(SoftwareVfTest, PairsAndAdoptionAfterRestart) {
  SoftwareVfProvider p(sock, opts());
  auto mgr = VfPairManager::create({"g0", {"l1-pf0", "l1-pf1"}}, p);
  ASSERT_TRUE(mgr.isOk());
  ASSERT_TRUE(mgr->createPort("vm1/net0", cfg("52:54:00:00:01:01", 100)).isOk());
  ASSERT_TRUE(mgr->createPort("vm2/net0", cfg("52:54:00:00:02:01")).isOk());
  EXPECT_NE(rtnl.link("vfo2as1"), nullptr);
  EXPECT_NE(rtnl.link("vfo2bs1"), nullptr);
  // A macvlan of ours nobody claims any more (its port was deleted while vfod was down).
  ASSERT_TRUE(p.configure({"l1-pf0", 3}, cfg("52:54:00:00:09:09")).isOk());

  const size_t links = rtnl.size();
  SoftwareVfProvider restarted(sock, opts());
  auto mgr2 = VfPairManager::create({"g0", {"l1-pf0", "l1-pf1"}}, restarted);
  AdoptReport rep = mgr2->adopt(
      {{"vm1/net0", cfg("52:54:00:00:01:01", 100)}, {"vm2/net0", cfg("52:54:00:00:02:01")}});
  EXPECT_EQ(rep.adopted.size(), 4u);
  EXPECT_TRUE(rep.configured.empty());
  EXPECT_TRUE(rep.failed.empty()) << rep.failed.front();
  ASSERT_EQ(rep.foreign.size(), 1u);
  EXPECT_NE(rep.foreign[0].find("l1-pf0/vf3"), std::string::npos);
  EXPECT_EQ(rtnl.size(), links);  // nothing duplicated
  EXPECT_EQ(mgr2->find("vm1/net0")->vfs[0].netdev, "vfo2as0");
  ASSERT_TRUE(mgr2->deletePort("vm1/net0").isOk());
  EXPECT_EQ(rtnl.link("vfo2as0"), nullptr);
  EXPECT_EQ(rtnl.link("vfo2bs0"), nullptr);
}

TEST_F(SoftwareVfTest, AdoptionBringsUpAVfLeftDownBetweenTwoSteps) {
  SoftwareVfOptions o = opts();
  o.park_on_reset = true;
  SoftwareVfProvider p(sock, o);
  auto mgr = VfPairManager::create({"g0", {"l1-pf0", "l1-pf1"}}, p);
  ASSERT_TRUE(mgr.isOk());
  ASSERT_TRUE(mgr->createPort("vm1/net0", cfg("52:54:00:00:01:01", 100)).isOk());
  // A configure of a parked slot writes the record, then sets it up: a
  // crash in between leaves the record of the port on a down macvlan.
  rtnl.link("vfo2as0")->flags &= ~uint32_t(IFF_UP);
  auto vfs = p.list("l1-pf0");
  ASSERT_TRUE(vfs.isOk());
  EXPECT_TRUE((*vfs)[0].inUse());
  EXPECT_TRUE((*vfs)[0].netdev_down);

  SoftwareVfProvider restarted(sock, o);
  auto mgr2 = VfPairManager::create({"g0", {"l1-pf0", "l1-pf1"}}, restarted);
  AdoptReport rep = mgr2->adopt({{"vm1/net0", cfg("52:54:00:00:01:01", 100)}});
  EXPECT_TRUE(rep.failed.empty()) << rep.failed.front();
  EXPECT_EQ(rep.adopted, std::vector<std::string>{"vm1/net0 on l1-pf1/vf0"});
  EXPECT_EQ(rep.configured, std::vector<std::string>{"vm1/net0 on l1-pf0/vf0"});
  EXPECT_TRUE(rtnl.link("vfo2as0")->flags & IFF_UP) << "configured again: up";
  EXPECT_EQ(rtnl.link("vfo2as0")->mac.toString(), "52:54:00:00:01:01");
}

TEST_F(SoftwareVfTest, ReclaimForeignResetsOnlyTheVfsNoPortHolds) {
  SoftwareVfProvider p(sock, opts());
  auto mgr = VfPairManager::create({"g0", {"l1-pf0", "l1-pf1"}}, p);
  ASSERT_TRUE(mgr.isOk());
  ASSERT_TRUE(mgr->createPort("vm1/net0", cfg("52:54:00:00:01:01", 100)).isOk());
  // The pair of a port whose deletion was cut off after the daemon dropped
  // it from its desired state.
  ASSERT_TRUE(mgr->createPort("vm2/net0", cfg("52:54:00:00:02:01")).isOk());

  SoftwareVfProvider restarted(sock, opts());
  auto mgr2 = VfPairManager::create({"g0", {"l1-pf0", "l1-pf1"}}, restarted);
  AdoptReport rep = mgr2->adopt({{"vm1/net0", cfg("52:54:00:00:01:01", 100)}});
  ASSERT_EQ(rep.foreign.size(), 2u);
  mgr2->reclaimForeign(&rep);
  EXPECT_TRUE(rep.foreign.empty());
  EXPECT_TRUE(rep.failed.empty()) << rep.failed.front();
  ASSERT_EQ(rep.reclaimed.size(), 2u);
  EXPECT_NE(rep.reclaimed[0].find("l1-pf0/vf1 mac 52:54:00:00:02:01"), std::string::npos)
      << rep.reclaimed[0];
  EXPECT_NE(rep.reclaimed[1].find("l1-pf1/vf1 mac 52:54:00:00:02:01"), std::string::npos)
      << rep.reclaimed[1];
  EXPECT_EQ(rtnl.link("vfo2as1"), nullptr);
  EXPECT_EQ(rtnl.link("vfo2bs1"), nullptr);
  EXPECT_NE(rtnl.link("vfo2as0"), nullptr) << "the adopted port keeps its VFs";
  EXPECT_NE(rtnl.link("vfo2bs0"), nullptr);
  // Nothing left to reclaim: a second call changes nothing.
  const size_t dels = count(RTM_DELLINK);
  AdoptReport again;
  mgr2->reclaimForeign(&again);
  EXPECT_TRUE(again.reclaimed.empty());
  EXPECT_EQ(count(RTM_DELLINK), dels);
}

}  // namespace
}  // namespace vfo::sriov

namespace vfo::sriov {
namespace {

TEST_F(SoftwareVfTest, ParkingKeepsTheMacvlanForTheNextPort) {
  SoftwareVfOptions o = opts();
  o.park_on_reset = true;
  SoftwareVfProvider p(sock, o);
  ASSERT_TRUE(p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01")).isOk());
  const int32_t ifindex = rtnl.link("vfo2as0")->ifindex;
  rtnl.log.clear();
  ASSERT_TRUE(p.reset({"l1-pf0", 0}).isOk());
  EXPECT_EQ(rtnl.log, (std::vector<std::string>{"SETLINK vfo2as0 down", "SETLINK vfo2as0 alias"}))
      << "no MAC move, no delete";
  EXPECT_FALSE(rtnl.link("vfo2as0")->flags & IFF_UP);
  EXPECT_EQ(rtnl.link("vfo2as0")->alias, "vfo-swvf parked");
  ASSERT_TRUE(p.reset({"l1-pf0", 0}).isOk());  // idempotent
  EXPECT_EQ(p.stats().parked, 1u);

  // Parked: listed free, with its netdev and the MAC it still carries.
  auto vfs = p.list("l1-pf0");
  ASSERT_TRUE(vfs.isOk());
  EXPECT_FALSE((*vfs)[0].inUse());
  EXPECT_EQ((*vfs)[0].netdev, "vfo2as0");
  ASSERT_TRUE((*vfs)[0].parked_mac.has_value());
  EXPECT_EQ((*vfs)[0].parked_mac->toString(), "52:54:00:00:00:01");

  // The same MAC again: the record changes, nothing else.
  rtnl.log.clear();
  ASSERT_TRUE(p.configure({"l1-pf0", 0}, cfg("52:54:00:00:00:01")).isOk());
  EXPECT_EQ(rtnl.link("vfo2as0")->ifindex, ifindex);
  EXPECT_EQ(rtnl.log, (std::vector<std::string>{"SETLINK vfo2as0 alias", "SETLINK vfo2as0 up"}));

  // Another slot wanting a MAC a parked slot holds: the parked one moves to
  // its parking MAC first.
  ASSERT_TRUE(p.reset({"l1-pf0", 0}).isOk());
  ASSERT_TRUE(p.configure({"l1-pf0", 1}, cfg("52:54:00:00:00:01")).isOk());
  EXPECT_EQ(rtnl.link("vfo2as0")->mac, softwareVfParkingMac(0x2a, 0));
  EXPECT_EQ(rtnl.link("vfo2as1")->mac.toString(), "52:54:00:00:00:01");

  // purgeParked deletes only parked slots.
  auto n = p.purgeParked("l1-pf0");
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(rtnl.link("vfo2as0"), nullptr);
  EXPECT_NE(rtnl.link("vfo2as1"), nullptr);
  EXPECT_EQ(*p.purgeParked("l1-pf9"), 0) << "a missing member has nothing parked";
}

}  // namespace
}  // namespace vfo::sriov
