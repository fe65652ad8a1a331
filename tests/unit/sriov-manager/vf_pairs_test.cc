#include "vfo/sriov/vf_pairs.h"

#include <gtest/gtest.h>

#include "fake_vf_provider.h"

namespace vfo::sriov {
namespace {

using testing::FakeVfProvider;

MacAddress mac(const char* s) {
  return *MacAddress::parse(s);
}
VfConfig cfg(const char* m, lag::VlanId vlan = 0) {
  VfConfig c;
  c.mac = mac(m);
  c.vlan = vlan;
  return c;
}

class VfPairsTest : public ::testing::Test {
 protected:
  VfPairsTest() {
    provider.addPf("pf0", 2);
    provider.addPf("pf1", 2);
  }
  VfPairManager manager() {
    auto m = VfPairManager::create({"g0", {"pf0", "pf1"}}, provider);
    EXPECT_TRUE(m.isOk()) << m.status().toString();
    return std::move(*m);
  }
  FakeVfProvider provider;
};

TEST_F(VfPairsTest, CreatesOneVfPerMemberWithTheGuestMac) {
  auto mgr = manager();
  auto p = mgr.createPort("vm1/net0", cfg("52:54:00:00:00:01", 100));
  ASSERT_TRUE(p.isOk()) << p.status().toString();
  ASSERT_EQ(p->vfs.size(), 2u);
  EXPECT_EQ(p->vfs[0].ref, (VfRef{"pf0", 0}));
  EXPECT_EQ(p->vfs[1].ref, (VfRef{"pf1", 0}));
  for (auto& vf : p->vfs) {
    EXPECT_EQ(vf.config.mac.toString(), "52:54:00:00:00:01");
    EXPECT_EQ(vf.config.vlan, 100);
    EXPECT_TRUE(vf.config.spoof_check);
  }
  EXPECT_EQ(provider.inUse().size(), 2u);
}

TEST_F(VfPairsTest, SameRequestIsIdempotentOtherSettingsAlreadyExist) {
  auto mgr = manager();
  ASSERT_TRUE(mgr.createPort("vm1/net0", cfg("52:54:00:00:00:01")).isOk());
  int calls = provider.configureCalls();
  ASSERT_TRUE(mgr.createPort("vm1/net0", cfg("52:54:00:00:00:01")).isOk());
  EXPECT_EQ(provider.configureCalls(), calls);
  auto other = mgr.createPort("vm1/net0", cfg("52:54:00:00:00:01", 7));
  EXPECT_EQ(other.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(other.status().message().find("vlan 0"), std::string::npos);
  auto dup_mac = mgr.createPort("vm2/net0", cfg("52:54:00:00:00:01"));
  EXPECT_EQ(dup_mac.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup_mac.status().message().find("already used by port vm1/net0"), std::string::npos);
}

TEST_F(VfPairsTest, BadInputChangesNothing) {
  auto mgr = manager();
  EXPECT_EQ(mgr.createPort("vm1", cfg("01:00:5e:00:00:01")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(mgr.createPort("vm1", cfg("00:00:00:00:00:00")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(mgr.createPort("vm1", cfg("52:54:00:00:00:01", 4095)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(mgr.createPort("", cfg("52:54:00:00:00:01")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(provider.configureCalls(), 0);
  EXPECT_TRUE(mgr.ports().empty());
}

TEST_F(VfPairsTest, NoFreeVfIsResourceExhaustedAndRollsBack) {
  auto mgr = manager();
  ASSERT_TRUE(mgr.createPort("vm1", cfg("52:54:00:00:00:01")).isOk());
  ASSERT_TRUE(mgr.createPort("vm2", cfg("52:54:00:00:00:02")).isOk());
  // Both PFs are full; pf0, tried first, is named.
  auto p = mgr.createPort("vm3", cfg("52:54:00:00:00:03"));
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(p.status().message().find("member pf0: no free VF"), std::string::npos)
      << p.status().message();
  EXPECT_EQ(provider.inUse().size(), 4u);
  EXPECT_EQ(mgr.ports().size(), 2u);
}

// Rollback at every step: a failure configuring member m undoes members < m.
TEST_F(VfPairsTest, FailureAtEachStepUndoesEverything) {
  for (const char* failing : {"pf0", "pf1"}) {
    FakeVfProvider fresh;
    fresh.addPf("pf0", 2);
    fresh.addPf("pf1", 2);
    auto mgr = *VfPairManager::create({"g0", {"pf0", "pf1"}}, fresh);
    fresh.failNextConfigure(failing, EBUSY);
    auto p = mgr.createPort("vm1", cfg("52:54:00:00:00:01"));
    EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition) << failing;
    EXPECT_NE(p.status().message().find("port vm1"), std::string::npos);
    EXPECT_TRUE(fresh.inUse().empty()) << failing;
    EXPECT_TRUE(mgr.ports().empty());
    // The same request succeeds once the kernel cooperates.
    EXPECT_TRUE(mgr.createPort("vm1", cfg("52:54:00:00:00:01")).isOk());
  }
}

TEST_F(VfPairsTest, ListFailureIsReportedAndUndone) {
  auto mgr = manager();
  provider.failNextList("pf1", EIO);
  auto p = mgr.createPort("vm1", cfg("52:54:00:00:00:01"));
  EXPECT_FALSE(p.isOk());
  EXPECT_TRUE(provider.inUse().empty());
}

TEST_F(VfPairsTest, DeleteReturnsVfsClean) {
  auto mgr = manager();
  ASSERT_TRUE(mgr.createPort("vm1", cfg("52:54:00:00:00:01", 5)).isOk());
  ASSERT_TRUE(mgr.deletePort("vm1").isOk());
  EXPECT_TRUE(provider.inUse().empty());
  EXPECT_EQ(provider.slot({"pf0", 0})->config, VfConfig{});
  EXPECT_EQ(mgr.deletePort("vm1").code(), StatusCode::kNotFound);
}

TEST_F(VfPairsTest, DeleteFailureKeepsPortForRetry) {
  auto mgr = manager();
  ASSERT_TRUE(mgr.createPort("vm1", cfg("52:54:00:00:00:01")).isOk());
  provider.failNextReset("pf1", EIO);
  EXPECT_FALSE(mgr.deletePort("vm1").isOk());
  EXPECT_NE(mgr.find("vm1"), nullptr);
  ASSERT_TRUE(mgr.deletePort("vm1").isOk());
  EXPECT_TRUE(provider.inUse().empty());
}

TEST_F(VfPairsTest, AdoptsVfsConfiguredBeforeRestart) {
  {
    auto before = manager();
    ASSERT_TRUE(before.createPort("vm1", cfg("52:54:00:00:00:01")).isOk());
    ASSERT_TRUE(before.createPort("vm2", cfg("52:54:00:00:00:02", 9)).isOk());
  }  // vfod "restarts": the table is gone, the VFs stay configured
  auto after = manager();
  int calls = provider.configureCalls();
  AdoptReport r =
      after.adopt({{"vm1", cfg("52:54:00:00:00:01")}, {"vm2", cfg("52:54:00:00:00:02", 9)}});
  EXPECT_EQ(provider.configureCalls(), calls) << "adoption must not reconfigure";
  EXPECT_EQ(r.adopted.size(), 4u);
  EXPECT_TRUE(r.configured.empty());
  EXPECT_TRUE(r.foreign.empty());
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(after.find("vm2")->vfs[1].config.vlan, 9);
  EXPECT_EQ(provider.inUse().size(), 4u) << "no VF leaked or duplicated";
}

TEST_F(VfPairsTest, AdoptCompletesInterruptedCreateAndReportsForeign) {
  // Crash after pf0's VF was configured but before pf1's.
  provider.preset({"pf0", 1}, cfg("52:54:00:00:00:01"));
  // A VF someone else configured: never touched.
  provider.preset({"pf1", 1}, cfg("52:54:00:00:00:99"));
  auto mgr = manager();
  AdoptReport r = mgr.adopt({{"vm1", cfg("52:54:00:00:00:01")}});
  ASSERT_TRUE(r.failed.empty());
  EXPECT_EQ(r.adopted, (std::vector<std::string>{"vm1 on pf0/vf1"}));
  EXPECT_EQ(r.configured, (std::vector<std::string>{"vm1 on pf1/vf0"}));
  EXPECT_EQ(r.foreign, (std::vector<std::string>{"pf1/vf1 mac 52:54:00:00:00:99"}));
  EXPECT_EQ(provider.slot({"pf1", 1})->config.mac.toString(), "52:54:00:00:00:99");
}

TEST_F(VfPairsTest, AdoptReconfiguresDriftedVf) {
  VfConfig old_cfg = cfg("52:54:00:00:00:01", 3);
  provider.preset({"pf0", 0}, old_cfg);
  provider.preset({"pf1", 0}, old_cfg);
  auto mgr = manager();
  AdoptReport r = mgr.adopt({{"vm1", cfg("52:54:00:00:00:01", 4)}});
  EXPECT_EQ(r.configured.size(), 2u);
  EXPECT_EQ(provider.slot({"pf0", 0})->config.vlan, 4);
  EXPECT_EQ(provider.inUse().size(), 2u);
}

TEST(VfPairManagerConfig, RejectsBadGroups) {
  FakeVfProvider p;
  EXPECT_EQ(VfPairManager::create({"g", {}}, p).status().code(), StatusCode::kInvalidArgument);
  auto dup = VfPairManager::create({"g", {"pf0", "pf0"}}, p);
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("PF pf0 is listed twice"), std::string::npos);
}

}  // namespace
}  // namespace vfo::sriov

namespace vfo::sriov {
namespace {

TEST_F(VfPairsTest, UpdatePortReconfiguresBothVfsOrNeither) {
  auto mgr = manager();
  ASSERT_TRUE(mgr.createPort("vm1", cfg("52:54:00:00:00:01", 100)).isOk());
  ASSERT_TRUE(mgr.updatePort("vm1", cfg("52:54:00:00:00:01", 200)).isOk());
  EXPECT_EQ(provider.slot({"pf0", 0})->config.vlan, 200);
  EXPECT_EQ(provider.slot({"pf1", 0})->config.vlan, 200);
  EXPECT_EQ(mgr.find("vm1")->config.vlan, 200);

  provider.failNextConfigure("pf1", EIO);
  Status s = mgr.updatePort("vm1", cfg("52:54:00:00:00:01", 300));
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(provider.slot({"pf0", 0})->config.vlan, 200) << "pf0 put back";
  EXPECT_EQ(provider.slot({"pf1", 0})->config.vlan, 200);
  EXPECT_EQ(mgr.find("vm1")->config.vlan, 200);

  EXPECT_EQ(mgr.updatePort("vm1", cfg("52:54:00:00:00:09", 200)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(mgr.updatePort("nope", cfg("52:54:00:00:00:01")).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vfo::sriov
