// Hardware-LAG mode: the kernel bond's active-member changes (golden kernel
// 6.1 bond messages fed through lag-core's BondFollower, as no bonding module
// exists here) become "announce on member X" decisions without a datapath
// switch, and VFs are allocated once per port on the bond's first PF
// (SysfsSriovProvider against the fake sysfs tree and FakeRtnl).
#include "vfo/sriov/hardware_lag.h"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include "../lag-core/bond_golden.h"
#include "fake_rtnl.h"
#include "fake_sysfs.h"
#include "vfo/netlink/fake_netlink_socket.h"

namespace vfo::sriov {
namespace {

using namespace std::chrono_literals;
using lag::kNoMember;
using netlink::FakeNetlinkSocket;
namespace golden = lag::golden;

HardwareLagConfig config() {
  return {"bond0", {"ens1f0", "ens1f1"}};
}

class HardwareLagModeTest : public ::testing::Test {
 protected:
  void start(std::vector<netlink::Bytes> dump) {
    sock.setDumpReply(RTM_GETLINK, std::move(dump));
    follower = std::make_unique<lag::BondFollower>(&sock, provider_config, mode.callbacks());
    ASSERT_TRUE(follower->start(clock.now()).isOk());
    clock.advance(1ms);
    drain();
  }
  void drain() { ASSERT_TRUE(follower->onReadable(clock.now()).isOk()); }

  // The follower config the provider derives (members 0, 1 = ens1f0, ens1f1).
  lag::BondFollowerConfig provider_config = [] {
    lag::BondFollowerConfig f;
    f.bond = "bond0";
    f.slaves = {{"ens1f0", 0}, {"ens1f1", 1}};
    return f;
  }();
  FakeClock clock;
  FakeNetlinkSocket sock{clock};
  std::vector<HardwareLagAction> actions;
  HardwareLagMode mode{[this](const HardwareLagAction& a) { actions.push_back(a); }};
  std::unique_ptr<lag::BondFollower> follower;
};

TEST_F(HardwareLagModeTest, FailoverIsAnAnnounceWithoutDatapathSwitch) {
  start({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, HardwareLagActionKind::kRecord);  // start: nothing moved
  EXPECT_EQ(actions[0].member, 0u);
  EXPECT_EQ(mode.announces(), 0u);

  // ens1f0 loses carrier; bonding makes ens1f1 active (the NIC moves the
  // VF queues with it) and sends the failover notification.
  clock.advance(5ms);
  sock.pushMessages({golden::ens1f0Down()});
  sock.pushMessages({golden::ens1f1Active()});
  sock.pushMessages({golden::bondActiveBackup(3, true)});
  drain();
  ASSERT_EQ(actions.size(), 2u);
  const HardwareLagAction& a = actions[1];
  EXPECT_EQ(a.kind, HardwareLagActionKind::kAnnounce);
  EXPECT_EQ(a.member, 1u);
  EXPECT_EQ(a.previous, 0u);
  EXPECT_EQ(a.ifname, "ens1f1");
  EXPECT_FALSE(a.switch_datapath);
  EXPECT_TRUE(a.kernel_failover);
  EXPECT_EQ(a.seen_at, clock.now());
  EXPECT_EQ(mode.activeMember(), 1u);
  EXPECT_EQ(mode.announces(), 1u);

  // The same state again: nothing to do.
  sock.pushMessages({golden::bondActiveBackup(3, false)});
  drain();
  EXPECT_EQ(actions.size(), 2u);
}

TEST_F(HardwareLagModeTest, NoActiveMemberOfOursThenBack) {
  start({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  // A slave vfo was not told about becomes active: no member of ours is.
  sock.pushMessages({golden::ens2f0Backup()});
  sock.pushMessages({golden::bondActiveBackup(5, true)});
  drain();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[1].kind, HardwareLagActionKind::kNoActiveMember);
  EXPECT_EQ(actions[1].member, kNoMember);
  EXPECT_EQ(actions[1].ifname, "ens2f0");
  // ens1f0 is made active again: announce there.
  sock.pushMessages({golden::bondActiveBackup(2, true)});
  drain();
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[2].kind, HardwareLagActionKind::kAnnounce);
  EXPECT_EQ(actions[2].member, 0u);
  EXPECT_FALSE(actions[2].switch_datapath);
}

TEST_F(HardwareLagModeTest, LacpModeHasNoSingleActivePort) {
  start({golden::ens1f0Active(), golden::ens1f1Backup(), golden::bondActiveBackup(2, false)});
  sock.pushMessages({golden::bond8023ad()});
  drain();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[1].kind, HardwareLagActionKind::kNoActiveMember);
  EXPECT_EQ(mode.announces(), 0u);
  // Deleting the bond changes nothing more (still none).
  sock.pushMessages({golden::bondDeleted()});
  drain();
  EXPECT_EQ(actions.size(), 2u);
}

TEST(HardwareLagProvider, OneVfPerPortOnTheFirstPf) {
  testing::FakeSysfsTree tree;
  testing::KernelLikeSysfsIo io(tree);
  SriovSysfs sysfs(io);
  tree.addPf("ens1f0", "0000:01:00.0", 4);
  tree.addPf("ens1f1", "0000:02:00.0", 4);
  ASSERT_TRUE(sysfs.setNumVfs("ens1f0", 2, {}).isOk());
  FakeClock clock;
  FakeNetlinkSocket sock(clock);
  testing::FakeRtnl rtnl(sock);
  rtnl.addPf("ens1f0", "02:00:00:00:00:01", 2);
  rtnl.addPf("ens1f1", "02:00:00:00:00:02", 0);
  VfNetlink nl(sock);
  SysfsSriovProvider vfs(sysfs, nl);

  HardwareLagProvider p(config(), vfs);
  EXPECT_EQ(p.kind(), "hardware-lag");
  EXPECT_TRUE(HardwareLagProvider::movesQueuesInHardware());
  EXPECT_EQ(p.primary(), "ens1f0");
  auto other = p.list("ens1f1");
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("first PF ens1f0 only"), std::string::npos);
  EXPECT_EQ(p.list("eth9").status().code(), StatusCode::kNotFound);
  lag::BondFollowerConfig f = p.followerConfig();
  EXPECT_EQ(f.bond, "bond0");
  ASSERT_EQ(f.slaves.size(), 2u);
  EXPECT_EQ(f.slaves[1].ifname, "ens1f1");
  EXPECT_EQ(f.slaves[1].member, 1u);
  EXPECT_TRUE(lag::BondFollower::validate(f).isOk());

  auto mgr = VfPairManager::create(p.pairGroup("hw0"), p);
  ASSERT_TRUE(mgr.isOk());
  VfConfig c;
  c.mac = *MacAddress::parse("52:54:00:00:00:01");
  auto port = mgr->createPort("vm1/net0", c);
  ASSERT_TRUE(port.isOk()) << port.status().toString();
  ASSERT_EQ(port->vfs.size(), 1u);  // one VF, no standby: the NIC moves it
  EXPECT_EQ(port->vfs[0].ref, (VfRef{"ens1f0", 0}));
  EXPECT_EQ(port->vfs[0].devargs, "0000:01:02.0");
  EXPECT_EQ(rtnl.vf("ens1f0", 0).mac, c.mac);
  EXPECT_EQ(p.configure({"ens1f1", 0}, c).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.reset({"ens1f1", 0}).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mgr->deletePort("vm1/net0").isOk());
  EXPECT_TRUE(rtnl.vf("ens1f0", 0).mac.isZero());
}

TEST(HardwareLagProvider, ConfigValidation) {
  EXPECT_TRUE(HardwareLagProvider::validate(config()).isOk());
  auto bad = [](HardwareLagConfig c) { return HardwareLagProvider::validate(c); };
  EXPECT_NE(bad({"", {"a"}}).message().find("bond"), std::string::npos);
  EXPECT_NE(bad({"bond0", {}}).message().find("members: 0 given"), std::string::npos);
  EXPECT_NE(bad({"bond0", {"a", "a"}}).message().find("a is listed twice"), std::string::npos);
  EXPECT_NE(bad({"bond0", {"bond0"}}).message().find("the bond itself"), std::string::npos);
  EXPECT_EQ(bad({"bond0", {"a/b"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({"bond0", {"a", "b", "c", "d", "e", "f", "g", "h", "i"}}).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vfo::sriov
