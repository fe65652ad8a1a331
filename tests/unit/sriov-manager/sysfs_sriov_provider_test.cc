// The sysfs SR-IOV provider against the fake sysfs tree (discovery, VFIO
// binding) and FakeRtnl (VF settings through the PF's rtnetlink), and the
// VF pair manager running on it. No SR-IOV hardware is involved.
#include "vfo/sriov/sysfs_sriov_provider.h"

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>

#include "fake_rtnl.h"
#include "fake_sysfs.h"
#include "vfo/netlink/fake_netlink_socket.h"
#include "vfo/sriov/vf_pairs.h"

namespace vfo::sriov {
namespace {

using netlink::FakeNetlinkSocket;
using testing::FakeRtnl;
using testing::FakeSysfsTree;
using testing::KernelLikeSysfsIo;

VfConfig cfg(const char* m, lag::VlanId vlan = 0) {
  VfConfig c;
  c.mac = *MacAddress::parse(m);
  c.vlan = vlan;
  return c;
}

class SysfsSriovProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.addDriver("vfio-pci");
    tree.addPf("enp59s0f0", "0000:3b:00.0", 8);
    tree.addPf("enp94s0f0", "0000:5e:00.0", 8);
    ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 4, {}).isOk());
    ASSERT_TRUE(sysfs.setNumVfs("enp94s0f0", 4, {}).isOk());
    rtnl.addPf("enp59s0f0", "3c:fd:fe:a0:00:10", 4);
    rtnl.addPf("enp94s0f0", "3c:fd:fe:a0:00:11", 4);
  }
  size_t setlinks() const {
    size_t n = 0;
    for (const auto& b : sock.sent()) {
      netlink::MessageReader r(b);
      netlink::Message m;
      if (r.next(&m) && m.type == RTM_SETLINK) ++n;
    }
    return n;
  }

  FakeSysfsTree tree;
  KernelLikeSysfsIo io{tree};
  SriovSysfs sysfs{io};
  FakeClock clock;
  FakeNetlinkSocket sock{clock};
  FakeRtnl rtnl{sock};
  VfNetlink nl{sock};
};

TEST_F(SysfsSriovProviderTest, ListMergesSysfsAndRtnetlink) {
  SysfsSriovProvider p(sysfs, nl);
  EXPECT_EQ(p.kind(), "sysfs-sriov");
  rtnl.vf("enp59s0f0", 1).mac = *MacAddress::parse("52:54:00:00:00:09");
  rtnl.vf("enp59s0f0", 1).vlan = 7;
  auto vfs = p.list("enp59s0f0");
  ASSERT_TRUE(vfs.isOk()) << vfs.status().toString();
  ASSERT_EQ(vfs->size(), 4u);
  const VfState& v = (*vfs)[1];
  EXPECT_EQ(v.ref, (VfRef{"enp59s0f0", 1}));
  EXPECT_EQ(v.pci_address, "0000:3b:02.1");
  EXPECT_EQ(v.devargs, "0000:3b:02.1");
  EXPECT_EQ(v.netdev, "enp59s0f0v1");
  EXPECT_EQ(v.config.mac.toString(), "52:54:00:00:00:09");
  EXPECT_EQ(v.config.vlan, 7);
  EXPECT_TRUE(v.inUse());
  EXPECT_FALSE((*vfs)[0].inUse());
  EXPECT_EQ((*vfs)[3].pci_address, "0000:3b:02.3");
}

TEST_F(SysfsSriovProviderTest, ListErrors) {
  SysfsSriovProvider p(sysfs, nl);
  EXPECT_EQ(p.list("nosuch0").status().code(), StatusCode::kNotFound);
  rtnl.link("enp59s0f0")->reports_vf_config = false;
  auto r = p.list("enp59s0f0");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("driver ice"), std::string::npos) << r.status().message();
  // sysfs shows 4 VFs, rtnetlink 2: the count is being changed under us.
  rtnl.link("enp94s0f0")->vfs.resize(2);
  r = p.list("enp94s0f0");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("sysfs shows VF 2"), std::string::npos);
}

TEST_F(SysfsSriovProviderTest, ConfigureSetsEveryFieldAndReportsIt) {
  SysfsSriovProvider p(sysfs, nl);
  VfConfig c = cfg("52:54:00:00:00:01", 100);
  c.trust = true;
  c.link_state = VfLinkState::kEnable;
  auto s = p.configure({"enp59s0f0", 2}, c);
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->config, c);
  EXPECT_EQ(s->pci_address, "0000:3b:02.2");
  const VfLinkInfo& v = rtnl.vf("enp59s0f0", 2);
  EXPECT_EQ(v.mac, c.mac);
  EXPECT_EQ(v.vlan, 100);
  EXPECT_EQ(v.trust, true);
  EXPECT_EQ(v.spoof_check, true);
  EXPECT_EQ(v.link_state, VfLinkState::kEnable);
  EXPECT_EQ(tree.boundDriver("0000:3b:02.2"), "iavf");  // no VFIO binding asked for
}

TEST_F(SysfsSriovProviderTest, BadInputChangesNothing) {
  SysfsSriovProvider p(sysfs, nl);
  auto r = p.configure({"enp59s0f0", 0}, cfg("01:00:5e:00:00:01"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("mac: 01:00:5e:00:00:01 is a multicast"), std::string::npos);
  EXPECT_EQ(p.configure({"enp59s0f0", 0}, cfg("00:00:00:00:00:00")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(p.configure({"enp59s0f0", 0}, cfg("52:54:00:00:00:01", 4095)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(p.configure({"enp59s0f0", 9}, cfg("52:54:00:00:00:01")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(p.configure({"nosuch0", 0}, cfg("52:54:00:00:00:01")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(setlinks(), 0u);
}

TEST_F(SysfsSriovProviderTest, BindsToVfioAndBackOnReset) {
  SysfsSriovProvider p(sysfs, nl, {true, "vfio-pci"});
  auto s = p.configure({"enp94s0f0", 0}, cfg("52:54:00:00:00:02", 5));
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(tree.boundDriver("0000:5e:02.0"), "vfio-pci");
  EXPECT_EQ(s->netdev, "");  // no netdev while VFIO owns it
  EXPECT_EQ(s->devargs, "0000:5e:02.0");
  // Configuring again (same settings) keeps the binding, sends no SETLINK.
  size_t before = setlinks();
  ASSERT_TRUE(p.configure({"enp94s0f0", 0}, cfg("52:54:00:00:00:02", 5)).isOk());
  EXPECT_EQ(setlinks(), before);
  ASSERT_TRUE(p.reset({"enp94s0f0", 0}).isOk());
  EXPECT_EQ(tree.boundDriver("0000:5e:02.0"), "iavf");
  const VfLinkInfo& v = rtnl.vf("enp94s0f0", 0);
  EXPECT_TRUE(v.mac.isZero());
  EXPECT_EQ(v.vlan, 0);
  EXPECT_EQ(v.spoof_check, true);
  EXPECT_EQ(v.link_state, VfLinkState::kAuto);
  // Reset of a clean VF: success, nothing sent.
  before = setlinks();
  ASSERT_TRUE(p.reset({"enp94s0f0", 0}).isOk());
  EXPECT_EQ(setlinks(), before);
}

TEST_F(SysfsSriovProviderTest, FailedBindRestoresTheVfSettings) {
  SysfsSriovProvider p(sysfs, nl, {true, "vfio-pci"});
  rtnl.vf("enp59s0f0", 3).vlan = 9;  // previous settings to come back to
  io.failWrite("drivers_probe", EIO);
  auto s = p.configure({"enp59s0f0", 3}, cfg("52:54:00:00:00:03", 100));
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("enp59s0f0/vf3 (0000:3b:02.3)"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(tree.boundDriver("0000:3b:02.3"), "iavf");
  const VfLinkInfo& v = rtnl.vf("enp59s0f0", 3);
  EXPECT_TRUE(v.mac.isZero());
  EXPECT_EQ(v.vlan, 9);
}

TEST_F(SysfsSriovProviderTest, RtnetlinkErrorLeavesTheVfAlone) {
  SysfsSriovProvider p(sysfs, nl, {true, "vfio-pci"});
  sock.failNext(RTM_SETLINK, EBUSY);
  auto s = p.configure({"enp59s0f0", 0}, cfg("52:54:00:00:00:04"));
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rtnl.vf("enp59s0f0", 0).mac.isZero());
  EXPECT_EQ(tree.boundDriver("0000:3b:02.0"), "iavf");  // never got to binding
}

// The pair manager on the real provider logic: one VF per PF with the guest
// MAC, rollback, clean deletion, and adoption by a restarted manager.
TEST_F(SysfsSriovProviderTest, PairsCreateRollBackDeleteAndAdopt) {
  SysfsSriovProvider p(sysfs, nl);
  auto mgr = VfPairManager::create({"g0", {"enp59s0f0", "enp94s0f0"}}, p);
  ASSERT_TRUE(mgr.isOk());
  auto port = mgr->createPort("vm1/net0", cfg("52:54:00:00:01:01", 100));
  ASSERT_TRUE(port.isOk()) << port.status().toString();
  ASSERT_EQ(port->vfs.size(), 2u);
  EXPECT_EQ(port->vfs[0].ref, (VfRef{"enp59s0f0", 0}));
  EXPECT_EQ(port->vfs[1].ref, (VfRef{"enp94s0f0", 0}));
  EXPECT_EQ(rtnl.vf("enp94s0f0", 0).mac.toString(), "52:54:00:00:01:01");

  // The second member's SETLINK fails: the first member's VF is reset.
  rtnl.failNthSetLink(1, EBUSY);
  auto bad = mgr->createPort("vm2/net0", cfg("52:54:00:00:02:01"));
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rtnl.vf("enp59s0f0", 1).mac.isZero());
  EXPECT_TRUE(rtnl.vf("enp94s0f0", 1).mac.isZero());
  EXPECT_EQ(mgr->ports().size(), 1u);

  ASSERT_TRUE(mgr->createPort("vm3/net0", cfg("52:54:00:00:03:01", 300)).isOk());

  // vfod restarts: a new manager adopts both ports without configuring anything.
  size_t before = setlinks();
  auto mgr2 = VfPairManager::create({"g0", {"enp59s0f0", "enp94s0f0"}}, p);
  AdoptReport rep = mgr2->adopt(
      {{"vm1/net0", cfg("52:54:00:00:01:01", 100)}, {"vm3/net0", cfg("52:54:00:00:03:01", 300)}});
  EXPECT_EQ(rep.adopted.size(), 4u);
  EXPECT_TRUE(rep.configured.empty());
  EXPECT_TRUE(rep.failed.empty());
  EXPECT_TRUE(rep.foreign.empty());
  EXPECT_EQ(setlinks(), before);
  EXPECT_EQ(mgr2->find("vm3/net0")->vfs[1].ref, (VfRef{"enp94s0f0", 1}));

  ASSERT_TRUE(mgr2->deletePort("vm1/net0").isOk());
  EXPECT_TRUE(rtnl.vf("enp59s0f0", 0).mac.isZero());
  EXPECT_TRUE(rtnl.vf("enp94s0f0", 0).mac.isZero());
  EXPECT_EQ(rtnl.vf("enp94s0f0", 1).vlan, 300);
}

// A configured VF no port claims may be a VF passed through to a VM:
// reclaimForeign leaves SR-IOV VFs alone (only software VFs are vfod's own).
TEST_F(SysfsSriovProviderTest, ForeignVfsAreNeverReclaimed) {
  SysfsSriovProvider p(sysfs, nl);
  auto mgr = VfPairManager::create({"g0", {"enp59s0f0", "enp94s0f0"}}, p);
  ASSERT_TRUE(mgr.isOk());
  ASSERT_TRUE(mgr->createPort("vm1/net0", cfg("52:54:00:00:01:01")).isOk());
  auto mgr2 = VfPairManager::create({"g0", {"enp59s0f0", "enp94s0f0"}}, p);
  AdoptReport rep = mgr2->adopt({});
  EXPECT_EQ(rep.foreign.size(), 2u);
  const size_t before = setlinks();
  mgr2->reclaimForeign(&rep);
  EXPECT_EQ(rep.foreign.size(), 2u);
  EXPECT_TRUE(rep.reclaimed.empty());
  EXPECT_EQ(setlinks(), before);
  EXPECT_EQ(rtnl.vf("enp59s0f0", 0).mac.toString(), "52:54:00:00:01:01");
}

TEST_F(SysfsSriovProviderTest, NoFreeVfIsResourceExhausted) {
  SysfsSriovProvider p(sysfs, nl);
  auto mgr = VfPairManager::create({"g0", {"enp59s0f0", "enp94s0f0"}}, p);
  for (int i = 0; i < 4; ++i) {
    std::string m = fmt::format("52:54:00:00:10:{:02x}", i);
    ASSERT_TRUE(mgr->createPort(fmt::format("vm{}", i), cfg(m.c_str())).isOk());
  }
  auto full = mgr->createPort("vm9", cfg("52:54:00:00:10:99"));
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace vfo::sriov
