// What every end-to-end test sets up first: the lab (vfo::testing::LabTest),
// the QEMU guest image, and a scratch directory; and, for tests that name
// their uplinks themselves, the "software VFs" made by hand: one macvlan per
// lab port carrying the guest's MAC, named <lab>-vfN, silent on the host side
// (no IPv6, no address). TearDown removes the macvlans and the directory,
// also when a test fails; the lab's own teardown follows.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "vfo/testing/guest.h"
#include "vfo/testing/lab.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"

namespace vfo::e2e {

class GuestLabTest : public vfo::testing::LabTest {
 protected:
  // The lab, the image (image_), dir_ from makeTempDir(dir_prefix) and its
  // `subdirs` (in order, mode 0755). Fails the test on any error: call it
  // from SetUp inside ASSERT_NO_FATAL_FAILURE.
  void setUpGuestLab(const std::string& dir_prefix,
                     const std::vector<std::string>& subdirs = {"sock"}) {
    LabTest::SetUp();
    ASSERT_NE(lab_, nullptr);
    auto img = vfo::testing::ensureGuestImage();
    ASSERT_TRUE(img.isOk()) << img.status().toString();
    image_ = *img;
    dir_ = vfo::testing::makeTempDir(dir_prefix);
    for (const auto& d : subdirs) ASSERT_EQ(::mkdir((dir_ + "/" + d).c_str(), 0755), 0) << d;
  }
  void TearDown() override {
    if (lab_ && software_vfs_)
      for (int i = 0; i < 2; ++i) vfo::testing::sh("ip link del " + vfName(i) + " 2>/dev/null");
    if (!dir_.empty()) vfo::testing::removeTree(dir_);
    LabTest::TearDown();
  }

  // The software VF on lab port i.
  std::string vfName(int i) const { return lab_->name() + "-vf" + std::to_string(i); }
  // Makes both software VFs with `mac`, up.
  void makeSoftwareVfs(const std::string& mac) {
    software_vfs_ = true;
    for (int i = 0; i < 2; ++i) {
      const std::string vf = vfName(i);
      auto r = vfo::testing::sh("set -e\nip link add " + vf + " link " + lab_->pf(i) + " address " +
                                mac + " type macvlan mode bridge\n" + "ip link set " + vf +
                                " addrgenmode none\n" + "sysctl -qw net.ipv6.conf." + vf +
                                ".disable_ipv6=1\n" + "ip link set " + vf + " up\n");
      ASSERT_TRUE(r.ok()) << r.describe();
    }
  }

  vfo::testing::GuestImage image_;  // the built guest
  std::string dir_;                 // scratch directory, removed in TearDown
 private:
  bool software_vfs_ = false;  // makeSoftwareVfs() was called
};

}  // namespace vfo::e2e
