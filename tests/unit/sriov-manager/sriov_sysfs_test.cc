// The sysfs SR-IOV provider against a fake sysfs tree (this machine has no
// SR-IOV hardware). The fake lays files and symlinks out as the kernel does
// and plays the kernel's reactions to writes.
#include "vfo/sriov/sriov_sysfs.h"

#include <gtest/gtest.h>

#include "fake_sysfs.h"

namespace vfo::sriov {
namespace {

using testing::FakeSysfsTree;
using testing::KernelLikeSysfsIo;

class SriovSysfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.addDriver("vfio-pci");
    tree.addPf("enp59s0f0", "0000:3b:00.0", 8);
    tree.addPf("enp59s0f1", "0000:3b:00.1", 8);
    tree.addNetdev("lo");
  }
  FakeSysfsTree tree;
  KernelLikeSysfsIo io{tree};
  SriovSysfs sysfs{io};
};

TEST_F(SriovSysfsTest, ListsOnlySriovCapableNetdevs) {
  auto pfs = sysfs.listPfNetdevs();
  ASSERT_TRUE(pfs.isOk()) << pfs.status().toString();
  EXPECT_EQ(*pfs, (std::vector<std::string>{"enp59s0f0", "enp59s0f1"}));
}

TEST_F(SriovSysfsTest, DiscoversPfAndVfs) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 4, {}).isOk());
  auto pf = sysfs.discoverPf("enp59s0f0");
  ASSERT_TRUE(pf.isOk()) << pf.status().toString();
  EXPECT_EQ(pf->pci_address, "0000:3b:00.0");
  EXPECT_EQ(pf->driver, "ice");
  EXPECT_EQ(pf->total_vfs, 8u);
  EXPECT_EQ(pf->num_vfs, 4u);
  ASSERT_EQ(pf->vfs.size(), 4u);
  EXPECT_EQ(pf->vfs[0].pci_address, "0000:3b:02.0");
  EXPECT_EQ(pf->vfs[3].index, 3u);
  EXPECT_EQ(pf->vfs[3].pci_address, "0000:3b:02.3");
  EXPECT_EQ(pf->vfs[1].driver, "iavf");
  EXPECT_EQ(pf->vfs[1].netdev, "enp59s0f0v1");
  EXPECT_EQ(pf->vfs[1].vendor_id, 0x8086);
  EXPECT_EQ(pf->vfs[1].device_id, 0x1889);
  EXPECT_TRUE(pf->vfs[1].driver_override.empty());
}

TEST_F(SriovSysfsTest, DiscoverErrorsAreSpecific) {
  EXPECT_EQ(sysfs.discoverPf("nosuch0").status().code(), StatusCode::kNotFound);
  auto lo = sysfs.discoverPf("lo");
  EXPECT_EQ(lo.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lo.status().message().find("not an SR-IOV physical function"), std::string::npos);
  for (const char* bad : {"../../etc", "", "a/b", "this-name-is-too-long"})
    EXPECT_EQ(sysfs.discoverPf(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST_F(SriovSysfsTest, ChangingVfCountWritesZeroFirst) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 2, {}).isOk());
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 6, {}).isOk());
  std::vector<std::string> values;
  for (auto& [p, v] : io.writes())
    if (p == "class/net/enp59s0f0/device/sriov_numvfs") values.push_back(v);
  EXPECT_EQ(values, (std::vector<std::string>{"2", "0", "6"}));
  EXPECT_EQ(sysfs.discoverPf("enp59s0f0")->vfs.size(), 6u);
}

TEST_F(SriovSysfsTest, SameCountWritesNothing) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 2, {}).isOk());
  size_t before = io.writes().size();
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 2, {}).isOk());
  EXPECT_EQ(io.writes().size(), before);
}

TEST_F(SriovSysfsTest, VfCountAboveTotalIsRefused) {
  Status s = sysfs.setNumVfs("enp59s0f0", 9, {});
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("sriov_totalvfs is 8"), std::string::npos) << s.message();
  EXPECT_TRUE(io.writes().empty());
}

TEST_F(SriovSysfsTest, VfCountChangeRefusedWhileVfsInUse) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 4, {}).isOk());
  size_t before = io.writes().size();
  Status s = sysfs.setNumVfs("enp59s0f0", 2, {"0000:3b:02.1"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("VF 1 (0000:3b:02.1) is in use"), std::string::npos) << s.message();
  ASSERT_TRUE(sysfs.bindDriver("0000:3b:02.2", "vfio-pci").isOk());
  s = sysfs.setNumVfs("enp59s0f0", 0, {});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("bound to vfio-pci"), std::string::npos) << s.message();
  EXPECT_EQ(sysfs.discoverPf("enp59s0f0")->num_vfs, 4u);
  (void)before;
}

TEST_F(SriovSysfsTest, KernelErrorOnVfCountIsReported) {
  io.failWrite("sriov_numvfs", ENOMEM);
  Status s = sysfs.setNumVfs("enp59s0f0", 4, {});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("enp59s0f0"), std::string::npos);
  EXPECT_EQ(sysfs.discoverPf("enp59s0f0")->num_vfs, 0u);
}

TEST_F(SriovSysfsTest, BindsVfToVfioPciWithDriverctlSequence) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 2, {}).isOk());
  size_t first = io.writes().size();
  ASSERT_TRUE(sysfs.bindDriver("0000:3b:02.1", "vfio-pci").isOk());
  std::vector<std::pair<std::string, std::string>> want = {
      {"bus/pci/devices/0000:3b:02.1/driver_override", "vfio-pci"},
      {"bus/pci/devices/0000:3b:02.1/driver/unbind", "0000:3b:02.1"},
      {"bus/pci/drivers_probe", "0000:3b:02.1"},
  };
  std::vector<std::pair<std::string, std::string>> got(io.writes().begin() + first,
                                                       io.writes().end());
  EXPECT_EQ(got, want);
  auto vf = sysfs.discoverVf("0000:3b:02.1");
  ASSERT_TRUE(vf.isOk());
  EXPECT_EQ(vf->driver, "vfio-pci");
  EXPECT_EQ(vf->driver_override, "vfio-pci");
  EXPECT_TRUE(vf->netdev.empty());
  // Idempotent: already bound, nothing written.
  size_t n = io.writes().size();
  ASSERT_TRUE(sysfs.bindDriver("0000:3b:02.1", "vfio-pci").isOk());
  EXPECT_EQ(io.writes().size(), n);
}

TEST_F(SriovSysfsTest, BindFailureRestoresPreviousDriver) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 2, {}).isOk());
  // A driver the kernel does not have: probe binds nothing.
  Status s = sysfs.bindDriver("0000:3b:02.0", "nosuchdrv");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("is the nosuchdrv module loaded?"), std::string::npos) << s.message();
  auto vf = sysfs.discoverVf("0000:3b:02.0");
  EXPECT_EQ(vf->driver, "iavf");
  EXPECT_TRUE(vf->driver_override.empty());
}

TEST_F(SriovSysfsTest, UnbindFailureLeavesOverrideCleared) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 2, {}).isOk());
  io.failWrite("/driver/unbind", EBUSY);
  Status s = sysfs.bindDriver("0000:3b:02.0", "vfio-pci");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("unbind from iavf"), std::string::npos) << s.message();
  auto vf = sysfs.discoverVf("0000:3b:02.0");
  EXPECT_EQ(vf->driver, "iavf");
  EXPECT_TRUE(vf->driver_override.empty());
}

TEST_F(SriovSysfsTest, RestoresDefaultDriver) {
  ASSERT_TRUE(sysfs.setNumVfs("enp59s0f0", 1, {}).isOk());
  ASSERT_TRUE(sysfs.bindDriver("0000:3b:02.0", "vfio-pci").isOk());
  ASSERT_TRUE(sysfs.restoreDefaultDriver("0000:3b:02.0").isOk());
  auto vf = sysfs.discoverVf("0000:3b:02.0");
  EXPECT_EQ(vf->driver, "iavf");
  EXPECT_TRUE(vf->driver_override.empty());
  EXPECT_FALSE(vf->netdev.empty());
}

TEST_F(SriovSysfsTest, RejectsPathEscapesInPciAndDriver) {
  for (const char* bad : {"../../../etc", "0000:3b:02.8", "0000:3B:02.0", "0000:3b:02.0/x", ""})
    EXPECT_EQ(sysfs.bindDriver(bad, "vfio-pci").code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_EQ(sysfs.bindDriver("0000:3b:02.0", "../x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sysfs.bindDriver("0000:3b:09.0", "vfio-pci").code(), StatusCode::kNotFound);
  EXPECT_TRUE(io.writes().empty());
}

}  // namespace
}  // namespace vfo::sriov
