// BondFollower fed with golden kernel-6.1 messages (bond_golden.h) through the
// fake netlink socket: this kernel has no bonding module.
#include "vfo/lag/bond_follower.h"

#include <gtest/gtest.h>
#include <linux/if_bonding.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstring>

#include "bond_golden.h"
#include "vfo/netlink/fake_netlink_socket.h"

namespace vfo::lag {
namespace {

using netlink::Bytes;
using netlink::FakeNetlinkSocket;
using namespace std::chrono_literals;

// The attribute numbers the golden bytes and the follower rely on, checked
// against the installed uapi headers.
static_assert(IFLA_LINKINFO == 18 && IFLA_EVENT == 44 && IFLA_MASTER == 10);
static_assert(IFLA_INFO_KIND == 1 && IFLA_INFO_DATA == 2 && IFLA_INFO_SLAVE_KIND == 4 &&
              IFLA_INFO_SLAVE_DATA == 5);
static_assert(IFLA_BOND_MODE == 1 && IFLA_BOND_ACTIVE_SLAVE == 2 && IFLA_BOND_PRIMARY == 11);
static_assert(IFLA_BOND_SLAVE_STATE == 1 && IFLA_BOND_SLAVE_MII_STATUS == 2 &&
              IFLA_BOND_SLAVE_LINK_FAILURE_COUNT == 3 && IFLA_BOND_SLAVE_PRIO == 9);
static_assert(IFLA_EVENT_BONDING_FAILOVER == 3);
static_assert(BOND_MODE_ACTIVEBACKUP == 1 && BOND_MODE_8023AD == 4);
static_assert(BOND_STATE_ACTIVE == 0 && BOND_STATE_BACKUP == 1);
static_assert(BOND_LINK_UP == 0 && BOND_LINK_DOWN == 2);
static_assert(uint8_t(BondMode::kActiveBackup) == BOND_MODE_ACTIVEBACKUP);
static_assert(uint8_t(BondMiiStatus::kBack) == BOND_LINK_BACK);

// Walks every attribute; recurses into the nests the golden messages have
// (`parent` is the enclosing attribute type, 0 at the top level).
void walk(netlink::ByteSpan data, int depth, uint16_t parent, int* count) {
  netlink::AttrReader r(data);
  netlink::Attr a;
  while (r.next(&a)) {
    ++*count;
    bool nested = false;
    if (depth == 0) {
      nested = a.type == IFLA_LINKINFO || a.type == IFLA_AF_SPEC || a.type == IFLA_XDP;
    } else if (parent == IFLA_LINKINFO) {
      nested = a.type == IFLA_INFO_DATA || a.type == IFLA_INFO_SLAVE_DATA;
    } else if (parent == IFLA_AF_SPEC) {
      nested = true;  // AF_INET, AF_INET6
    } else if (parent == IFLA_INFO_DATA && depth == 2) {
      nested = a.type == IFLA_BOND_AD_INFO;
    }
    if (nested) walk(a.payload, depth + 1, a.type, count);
  }
  ASSERT_TRUE(r.status().isOk()) << r.status().toString() << " at depth " << depth;
}

TEST(BondGolden, EveryMessageIsConsistent) {
  std::vector<std::pair<const char*, Bytes>> all = {
      {"bondActiveBackup", golden::bondActiveBackup(2, false)},
      {"bondFailover", golden::bondActiveBackup(3, true)},
      {"bond8023ad", golden::bond8023ad()},
      {"bondDeleted", golden::bondDeleted()},
      {"ens1f0Active", golden::ens1f0Active()},
      {"ens1f0Down", golden::ens1f0Down()},
      {"ens2f0Backup", golden::ens2f0Backup()},
  };
  for (const auto& [name, m] : all) {
    SCOPED_TRACE(name);
    uint32_t len = 0;
    std::memcpy(&len, m.data(), 4);
    EXPECT_EQ(len, m.size());
    netlink::MessageReader r(m);
    netlink::Message msg;
    ASSERT_TRUE(r.next(&msg));
    EXPECT_FALSE(r.next(&msg));
    ASSERT_TRUE(r.status().isOk()) << r.status().toString();
    r = netlink::MessageReader(m);
    ASSERT_TRUE(r.next(&msg));
    auto lm = netlink::parseLinkMessage(msg);
    ASSERT_TRUE(lm.isOk()) << lm.status().toString();
    int count = 0;
    walk(msg.payload.subspan(16), 0, 0, &count);
    EXPECT_GT(count, 40);
  }
  // Spot checks of decoded values.
  Bytes m = golden::bondActiveBackup(3, true);
  netlink::MessageReader r(m);
  netlink::Message msg;
  ASSERT_TRUE(r.next(&msg));
  auto lm = netlink::parseLinkMessage(msg);
  EXPECT_EQ(lm->ifname, "bond0");
  EXPECT_EQ(lm->event, uint32_t(IFLA_EVENT_BONDING_FAILOVER));
  EXPECT_EQ(lm->linkinfo->kind, "bond");
  EXPECT_EQ(lm->operstate, netlink::OperState::kUp);
  Bytes s = golden::ens1f0Down();
  netlink::MessageReader rs(s);
  ASSERT_TRUE(rs.next(&msg));
  auto sm = netlink::parseLinkMessage(msg);
  EXPECT_EQ(sm->ifname, "ens1f0");
  EXPECT_EQ(sm->master, 4u);
  EXPECT_EQ(sm->carrier, false);
  EXPECT_EQ(sm->linkinfo->kind, "");
  EXPECT_EQ(sm->linkinfo->slave_kind, "bond");
}

class BondFollowerTest : public ::testing::Test {
 protected:
  void make() {
    BondFollowerConfig c;
    c.bond = "bond0";
    c.slaves = {{"ens1f0", 0}, {"ens1f1", 1}};
    BondFollower::Callbacks cb;
    cb.on_status = [this](const BondStatusEvent& e) {
      statuses.push_back(e);
      log.push_back("status");
    };
    cb.on_active = [this](const BondActiveEvent& e) {
      actives.push_back(e);
      log.push_back("active");
    };
    cb.on_slave = [this](const BondSlaveEvent& e) {
      slaves.push_back(e);
      log.push_back("slave " + e.ifname);
    };
    f = std::make_unique<BondFollower>(&sock, c, cb);
  }
  void startWith(std::vector<Bytes> dump) {
    sock.setDumpReply(RTM_GETLINK, std::move(dump));
    make();
    ASSERT_TRUE(f->start(clock.now()).isOk());
    clock.advance(1ms);
    drain();
  }
  void drain() { ASSERT_TRUE(f->onReadable(clock.now()).isOk()); }
  void clearEvents() {
    statuses.clear();
    actives.clear();
    slaves.clear();
    log.clear();
  }

  FakeClock clock;
  FakeNetlinkSocket sock{clock};
  std::unique_ptr<BondFollower> f;
  std::vector<BondStatusEvent> statuses;
  std::vector<BondActiveEvent> actives;
  std::vector<BondSlaveEvent> slaves;
  std::vector<std::string> log;
};

TEST_F(BondFollowerTest, InitialDumpMirrorsActiveBackup) {
  // Kernel dump order is by ifindex: the slaves (2, 3) before the bond (4).
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_TRUE(statuses[0].present);
  EXPECT_EQ(statuses[0].ifindex, 4);
  EXPECT_EQ(statuses[0].mode, BondMode::kActiveBackup);
  ASSERT_EQ(slaves.size(), 2u);
  EXPECT_EQ(slaves[0].ifname, "ens1f0");
  EXPECT_EQ(slaves[0].member, 0u);
  EXPECT_TRUE(slaves[0].enslaved);
  EXPECT_EQ(slaves[0].state, BondSlaveState::kActive);
  EXPECT_EQ(slaves[0].mii, BondMiiStatus::kUp);
  EXPECT_EQ(slaves[1].member, 1u);
  EXPECT_EQ(slaves[1].state, BondSlaveState::kBackup);
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, 0u);
  EXPECT_EQ(actives[0].ifindex, 2);
  EXPECT_EQ(actives[0].ifname, "ens1f0");
  EXPECT_FALSE(actives[0].failover);
  EXPECT_EQ(actives[0].seen_at, clock.now());
  EXPECT_EQ(f->activeMember(), 0u);
  EXPECT_EQ(log, (std::vector<std::string>{"status", "slave ens1f0", "slave ens1f1", "active"}));
}

TEST_F(BondFollowerTest, KernelFailoverIsMirrored) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  clock.advance(5ms);
  // ens1f0 loses carrier; bonding makes ens1f1 active and sends the failover
  // notification for bond0.
  sock.pushMessages({golden::ens1f0Down()});
  sock.pushMessages({golden::ens1f1Active()});
  sock.pushMessages({golden::bondActiveBackup(3, true)});
  drain();
  ASSERT_EQ(slaves.size(), 2u);
  EXPECT_EQ(slaves[0].ifname, "ens1f0");
  EXPECT_EQ(slaves[0].state, BondSlaveState::kBackup);
  EXPECT_EQ(slaves[0].mii, BondMiiStatus::kDown);
  EXPECT_EQ(slaves[0].link_failure_count, 1u);
  EXPECT_EQ(slaves[1].state, BondSlaveState::kActive);
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, 1u);
  EXPECT_EQ(actives[0].ifname, "ens1f1");
  EXPECT_TRUE(actives[0].failover);
  EXPECT_EQ(actives[0].seen_at, clock.now());
  EXPECT_TRUE(statuses.empty());  // mode unchanged
  EXPECT_EQ(f->stats().failover_events, 1u);
  // The same bond message again changes nothing.
  sock.pushMessages({golden::bondActiveBackup(3, false)});
  drain();
  EXPECT_EQ(actives.size(), 1u);
}

TEST_F(BondFollowerTest, ActiveSlaveSeenBeforeItsSlaveMessageIsResolvedLater) {
  startWith({golden::bondActiveBackup(2, false), golden::ens1f0Active(), golden::ens1f1Backup()});
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, 0u);
  EXPECT_EQ(actives[0].ifname, "ens1f0");
  EXPECT_EQ(log, (std::vector<std::string>{"status", "slave ens1f0", "active", "slave ens1f1"}));
}

TEST_F(BondFollowerTest, ModeWithoutActiveSlaveReportsMode) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  sock.pushMessages({golden::bond8023ad()});
  drain();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].mode, BondMode::k8023ad);
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, kNoMember);
  EXPECT_EQ(actives[0].ifindex, 0);
  EXPECT_EQ(f->mode(), BondMode::k8023ad);
  EXPECT_FALSE(bondModeHasActiveSlave(BondMode::k8023ad));
  EXPECT_TRUE(bondModeHasActiveSlave(BondMode::kBalanceAlb));
}

TEST_F(BondFollowerTest, UnknownSlaveIsReportedWithoutMember) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  sock.pushMessages({golden::ens2f0Backup()});
  drain();
  ASSERT_EQ(slaves.size(), 1u);
  EXPECT_EQ(slaves[0].ifname, "ens2f0");
  EXPECT_EQ(slaves[0].member, kNoMember);
  EXPECT_EQ(f->stats().unknown_slaves, 1u);
  // The kernel makes the unknown slave active: no member of ours is active.
  sock.pushMessages({golden::bondActiveBackup(5, true)});
  drain();
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, kNoMember);
  EXPECT_EQ(actives[0].ifindex, 5);
  EXPECT_EQ(actives[0].ifname, "ens2f0");
}

TEST_F(BondFollowerTest, BondDeletedReleasesEverything) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  sock.pushMessages({golden::bondDeleted()});
  drain();
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, kNoMember);
  ASSERT_EQ(slaves.size(), 2u);
  EXPECT_FALSE(slaves[0].enslaved);
  EXPECT_FALSE(slaves[1].enslaved);
  EXPECT_FALSE(slaves[0].state);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_FALSE(statuses[0].present);
  EXPECT_FALSE(f->bondPresent());
  EXPECT_FALSE(f->slave("ens1f0"));
}

TEST_F(BondFollowerTest, ResyncAfterOverrunFindsTheBondGone) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  // Notifications were lost; the bond was deleted meanwhile. The re-dump has
  // no bond0 (its former slaves no longer carry slave info).
  sock.setDumpReply(RTM_GETLINK, {});
  sock.pushOverrun();
  drain();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_FALSE(statuses[0].present);
  EXPECT_EQ(actives.size(), 1u);
  EXPECT_EQ(slaves.size(), 2u);
}

TEST_F(BondFollowerTest, ResyncReportsOnlyDifferences) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  sock.setDumpReply(RTM_GETLINK, {golden::ens1f0Down(), golden::ens1f1Active(),
                                  golden::bondActiveBackup(3, false)});
  sock.pushOverrun();
  drain();
  EXPECT_TRUE(statuses.empty());
  EXPECT_EQ(slaves.size(), 2u);
  ASSERT_EQ(actives.size(), 1u);
  EXPECT_EQ(actives[0].member, 1u);
  EXPECT_FALSE(actives[0].failover);
}

TEST_F(BondFollowerTest, MalformedBondingAttributesAreNotTrusted) {
  startWith({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  clearEvents();
  // IFLA_BOND_MODE value 9 (no such mode). Its byte sits right after the
  // IFLA_INFO_DATA header: find "bond\0" of IFLA_INFO_KIND and step over.
  Bytes bad = golden::bondActiveBackup(3, true);
  const uint8_t kind[] = {'b', 'o', 'n', 'd', 0};
  auto it = std::search(bad.begin(), bad.end(), std::begin(kind), std::end(kind));
  ASSERT_NE(it, bad.end());
  size_t mode_value = size_t(it - bad.begin()) + 8 /*kind+pad*/ + 4 /*INFO_DATA hdr*/ + 4;
  ASSERT_EQ(bad[mode_value], 1);
  bad[mode_value] = 9;
  sock.pushMessages({bad});
  // A slave whose MII status is 7.
  Bytes bad_slave = golden::ens1f0Down();
  const uint8_t mii_hdr[] = {0x05, 0x00, 0x02, 0x00, 0x02};
  auto m = std::search(bad_slave.begin(), bad_slave.end(), std::begin(mii_hdr), std::end(mii_hdr));
  ASSERT_NE(m, bad_slave.end());
  m[4] = 7;
  sock.pushMessages({bad_slave});
  drain();
  EXPECT_TRUE(actives.empty());
  EXPECT_TRUE(slaves.empty());
  EXPECT_EQ(f->stats().malformed, 2u);
  EXPECT_EQ(f->activeMember(), 0u);
  // Truncated message: rejected by the stream before the follower sees it.
  Bytes cut = golden::bondActiveBackup(3, true);
  cut.resize(200);
  sock.pushDatagram(cut);
  drain();
  EXPECT_TRUE(actives.empty());
}

TEST_F(BondFollowerTest, DeviceNamedLikeTheBondButNotABondIsIgnored) {
  make();
  ASSERT_TRUE(f->start(clock.now()).isOk());
  drain();
  netlink::MessageBuilder b(RTM_NEWLINK, 0);
  ifinfomsg i{};
  i.ifi_index = 9;
  b.family(i);
  b.putString(IFLA_IFNAME, "bond0");
  size_t li = b.beginNested(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "veth");
  b.endNested(li);
  sock.pushMessages({b.bytes()});
  drain();
  EXPECT_TRUE(statuses.empty());
  EXPECT_EQ(f->stats().not_a_bond, 1u);
}

TEST(BondFollowerConfigTest, ValidationNamesTheField) {
  auto check = [](BondFollowerConfig c, std::string_view want) {
    Status s = BondFollower::validate(c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << want;
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  };
  check({"", {{"a", 0}}}, "bond");
  check({"bond0", {}}, "slaves");
  check({"bond0", {{"bond0", 0}}}, "the bond itself");
  check({"bond0", {{"a", 0}, {"a", 1}}}, "listed twice");
  check({"bond0", {{"a", 0}, {"b", 0}}}, "member 0 is used twice");
  check({"bond0", {{"a", kNoMember}}}, "no member id");
  EXPECT_TRUE(BondFollower::validate({"bond0", {{"a", 0}, {"b", 1}}}).isOk());
}

}  // namespace
}  // namespace vfo::lag
