// Software VFs (macvlans) on a real lab: the provider creates them through
// rtnetlink on <lab>-pf0 / <lab>-pf1, iproute2 and sysfs check what the
// kernel made of it, a restarted provider adopts them, deletion removes
// them, and the error paths meet the real kernel. Frames from the ToR
// reach the software VF, and the host never answers ARP from the guest MAC.
//
// Every macvlan sits on a lab port and dies with the lab (vfo-lab down
// deletes the ports); the only other object, a veth used for a name clash,
// has its peer named <lab>-clash so that the lab removes it too.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <fstream>

#include "vfo/netlink/link_message.h"
#include "vfo/netlink/netlink_socket.h"
#include "vfo/sriov/software_vf_provider.h"
#include "vfo/sriov/sysfs_io.h"
#include "vfo/sriov/vf_pairs.h"
#include "vfo/testing/lab.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace vfo::sriov {
namespace {

using namespace std::chrono_literals;
using testing::run;
using testing::waitFor;

VfConfig cfg(const std::string& m, lag::VlanId vlan = 0) {
  VfConfig c;
  c.mac = *MacAddress::parse(m);
  c.vlan = vlan;
  return c;
}

int ifindexOf(const std::string& dev) {
  std::ifstream f("/sys/class/net/" + dev + "/ifindex");
  int i = 0;
  f >> i;
  return i;
}

std::string readSys(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

bool linkExists(const std::string& dev) {
  return run({"ip", "link", "show", "dev", dev}, 10s).ok();
}

class SoftwareVfItest : public testing::LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (HasFatalFailure()) return;
    auto s = netlink::RtNetlinkSocket::open();
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    sock_ = std::move(*s);
    opts_.capacity = 8;
    opts_.proc_sys = &proc_;
  }
  std::string pf(int i) const { return lab_->pf(i); }

  std::unique_ptr<netlink::RtNetlinkSocket> sock_;
  DirectorySysfsIo proc_{"/proc/sys"};
  SoftwareVfOptions opts_;
};

TEST_F(SoftwareVfItest, PairOnBothPortsAdoptedAfterRestartAndDeleted) {
  SoftwareVfProvider p(*sock_, opts_);
  auto mgr = VfPairManager::create({"g0", {pf(0), pf(1)}}, p);
  ASSERT_TRUE(mgr.isOk());
  const VfConfig guest = cfg("02:5e:10:00:00:01", 100);
  auto port = mgr->createPort("vm1/net0", guest);
  ASSERT_TRUE(port.isOk()) << port.status().toString();
  ASSERT_EQ(port->vfs.size(), 2u);

  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(pf(i));
    const VfState& vf = port->vfs[i];
    const std::string name = softwareVfName(ifindexOf(pf(i)), 0);
    EXPECT_EQ(vf.netdev, name);
    EXPECT_EQ(vf.devargs, fmt::format("net_af_packet_{},iface={}", name, name));
    // What the kernel says, through iproute2.
    auto shown = run({"ip", "-d", "link", "show", "dev", name}, 10s);
    ASSERT_TRUE(shown.ok()) << shown.describe();
    EXPECT_NE(shown.out.find(name + "@" + pf(i)), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("macvlan mode bridge"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("link/ether 02:5e:10:00:00:01"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("NOARP"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find(",UP"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("addrgenmode none"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("alias vfo-swvf vlan=100 spoof_check=on trust=off link_state=auto"),
              std::string::npos)
        << shown.out;
    EXPECT_EQ(readSys("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6"), "1");
    auto v6 = run({"ip", "-6", "addr", "show", "dev", name}, 10s);
    EXPECT_EQ(v6.out, "");  // no link-local address, so no DAD / RS / MLD from the guest MAC
    // The host end of the lab port carries the lab's carrier, so the VF is up too.
    EXPECT_TRUE(
        waitFor([&] { return readSys("/sys/class/net/" + name + "/operstate") == "up"; }, 10s));
  }

  // list() reports the slots with the recorded settings.
  auto vfs = p.list(pf(1));
  ASSERT_TRUE(vfs.isOk()) << vfs.status().toString();
  ASSERT_EQ(vfs->size(), 8u);
  EXPECT_EQ((*vfs)[0].config, guest);
  EXPECT_FALSE((*vfs)[1].inUse());

  // "Restart": a new socket, provider and manager adopt what is there.
  auto s2 = netlink::RtNetlinkSocket::open();
  ASSERT_TRUE(s2.isOk());
  SoftwareVfProvider restarted(**s2, opts_);
  auto mgr2 = VfPairManager::create({"g0", {pf(0), pf(1)}}, restarted);
  AdoptReport rep = mgr2->adopt({{"vm1/net0", guest}});
  EXPECT_EQ(rep.adopted.size(), 2u);
  EXPECT_TRUE(rep.configured.empty());
  EXPECT_TRUE(rep.failed.empty());
  EXPECT_TRUE(rep.foreign.empty());
  auto macvlans = run({"ip", "-o", "link", "show", "type", "macvlan"}, 10s);
  size_t ours = 0;
  for (size_t at = 0; (at = macvlans.out.find("02:5e:10:00:00:01", at)) != std::string::npos; ++at)
    ++ours;
  EXPECT_EQ(ours, 2u) << macvlans.out;  // nothing duplicated

  // Deleting the port removes both macvlans.
  const std::string n0 = port->vfs[0].netdev, n1 = port->vfs[1].netdev;
  ASSERT_TRUE(mgr2->deletePort("vm1/net0").isOk());
  EXPECT_FALSE(linkExists(n0));
  EXPECT_FALSE(linkExists(n1));
  EXPECT_TRUE(restarted.reset({pf(0), 0}).isOk());  // already clean
}

TEST_F(SoftwareVfItest, ReceivesTheGuestsFramesAndNeverAnswersArp) {
  SoftwareVfProvider p(*sock_, opts_);
  auto vf = p.configure({pf(0), 0}, cfg("02:5e:10:00:00:02"));
  ASSERT_TRUE(vf.isOk()) << vf.status().toString();
  const std::string rx = "/sys/class/net/" + vf->netdev + "/statistics/rx_packets";
  const long before = std::stol(readSys(rx));

  // The remote host sends to the guest's IP and MAC; the ToR floods the
  // unknown MAC to both ports, and pf0's macvlan receives it.
  const std::string rem = lab_->remoteNs();
  auto neigh = lab_->execIn(rem, {"ip", "neigh", "replace", "198.18.0.10", "lladdr",
                                  "02:5e:10:00:00:02", "dev", "eth0", "nud", "permanent"});
  ASSERT_TRUE(neigh.ok()) << neigh.describe();
  lab_->ping(rem, "198.18.0.10", 3, 100ms);  // nobody answers; only the frames matter
  EXPECT_TRUE(waitFor([&] { return std::stol(readSys(rx)) >= before + 3; }, 10s))
      << "rx_packets " << readSys(rx) << " (was " << before << ")";

  // A local address the remote host asks for: pf1 answers (it owns it);
  // a control macvlan without NOARP answers too, with its own MAC; the
  // software VF never does.
  ASSERT_TRUE(run({"ip", "addr", "add", "198.18.0.50/32", "dev", pf(1)}, 10s).ok());
  const std::string ctl = lab_->name() + "-ctl";
  auto made = run({"sh", "-c",
                   fmt::format("ip link add link {} name {} address 02:5e:10:00:00:ff type macvlan "
                               "mode bridge && ip link set {} up",
                               pf(0), ctl, ctl)},
                  10s);
  ASSERT_TRUE(made.ok()) << made.describe();
  auto arp = lab_->execIn(rem, {"arping", "-c", "3", "-i", "eth0", "198.18.0.50"}, 20s);
  EXPECT_NE(arp.out.find("02:5e:10:00:00:ff"), std::string::npos)
      << "control macvlan did not answer, so this check proves nothing:\n"
      << arp.out << arp.err;
  EXPECT_EQ(arp.out.find("02:5e:10:00:00:02"), std::string::npos) << arp.out;
  // And the software VF itself sent nothing at all (no ARP, no IPv6).
  EXPECT_EQ(readSys("/sys/class/net/" + vf->netdev + "/statistics/tx_packets"), "0");
}

TEST_F(SoftwareVfItest, ErrorPathsAgainstTheRealKernel) {
  SoftwareVfProvider p(*sock_, opts_);
  // A member that does not exist.
  auto missing = p.configure({lab_->name() + "-pf9", 0}, cfg("02:5e:10:00:00:03"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().toString();
  EXPECT_EQ(p.list(lab_->name() + "-pf9").status().code(), StatusCode::kNotFound);

  // Slot 1's name taken by a veth: a clash, left alone.
  const std::string clash = softwareVfName(ifindexOf(pf(0)), 1);
  auto made = run(
      {"ip", "link", "add", clash, "type", "veth", "peer", "name", lab_->name() + "-clash"}, 10s);
  ASSERT_TRUE(made.ok()) << made.describe();
  auto s = p.configure({pf(0), 1}, cfg("02:5e:10:00:00:04"));
  EXPECT_EQ(s.status().code(), StatusCode::kAlreadyExists) << s.status().toString();
  EXPECT_NE(s.status().message().find("name clash"), std::string::npos);
  EXPECT_EQ(p.reset({pf(0), 1}).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(linkExists(clash));
  auto vfs = p.list(pf(0));
  ASSERT_TRUE(vfs.isOk());
  EXPECT_EQ(vfs->size(), 7u);  // slot 1 unusable

  // The kernel's own EEXIST for our NEWLINK bytes (the race the provider
  // cannot see coming), and its ENODEV for a missing lower device.
  ASSERT_TRUE(p.configure({pf(0), 2}, cfg("02:5e:10:00:00:05")).isOk());
  const std::string slot2 = softwareVfName(ifindexOf(pf(0)), 2);
  Status again =
      sock_->transact(buildNewMacvlan(ifindexOf(pf(0)), slot2,
                                      *MacAddress::parse("02:5e:10:00:00:06"), MACVLAN_MODE_BRIDGE),
                      nullptr, 2s);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.toString();
  Status no_lower =
      sock_->transact(buildNewMacvlan(0x7ffffff0, lab_->name() + "-x",
                                      *MacAddress::parse("02:5e:10:00:00:07"), MACVLAN_MODE_BRIDGE),
                      nullptr, 2s);
  EXPECT_EQ(no_lower.code(), StatusCode::kNotFound) << no_lower.toString();
  EXPECT_FALSE(linkExists(lab_->name() + "-x"));

  // The same guest MAC twice on one member is refused before the kernel's
  // EADDRINUSE; the member's own MAC too.
  auto dup = p.configure({pf(0), 3}, cfg("02:5e:10:00:00:05"));
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status().toString();
  auto own = p.configure({pf(0), 3}, cfg(lab_->macOf("", pf(0))));
  EXPECT_EQ(own.status().code(), StatusCode::kAlreadyExists) << own.status().toString();
  EXPECT_FALSE(linkExists(softwareVfName(ifindexOf(pf(0)), 3)));

  // A moved MAC and a new VLAN update the macvlan in place.
  const int before = ifindexOf(slot2);
  auto moved = p.configure({pf(0), 2}, cfg("02:5e:10:00:00:08", 7));
  ASSERT_TRUE(moved.isOk()) << moved.status().toString();
  EXPECT_EQ(ifindexOf(slot2), before);
  EXPECT_EQ(lab_->macOf("", slot2), "02:5e:10:00:00:08");
  EXPECT_TRUE(p.reset({pf(0), 2}).isOk());
  EXPECT_FALSE(linkExists(slot2));
}

}  // namespace
}  // namespace vfo::sriov
