// vfod as a process: af_packet uplinks on veths, a dpdk-testpmd virtio-user
// guest, pings from a namespace through a bridge standing in for the ToR.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "vfod_lab.h"

namespace vfo::vhost::itest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string serverPort(const std::string& extra = "") {
  return std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" " + extra + " }\n";
}

class VfodTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(lab_.ok()); }
  std::string sock(const std::string& port = "vm1") const {
    return dir_.path + "/sock/" + port + ".sock";
  }

  MiniLab lab_;
  TempDir dir_;
};

TEST_F(VfodTest, PingReachesTheGuestAndStandbyCopiesAreDropped) {
  Vfod vfod(lab_, dir_.path, serverPort());
  ASSERT_TRUE(vfod.start());
  struct stat st;
  ASSERT_EQ(::stat(sock().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  Testpmd guest(dir_.path, TestpmdOptions(sock()));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod.log();
  auto out = lab_.pingUntilAnswered(kGuestIp, 10);
  ASSERT_TRUE(out.has_value()) << vfod.log();
  EXPECT_THAT(*out, HasSubstr("10 received"));
  EXPECT_THAT(*out, Not(HasSubstr("DUP!")));

  auto s = vfod.stats();
  EXPECT_GE(s["port vm1 guest_tx_packets"], 11u);  // echo replies (+ ARP reply)
  EXPECT_GE(s["port vm1 guest_rx_packets"], 11u);
  EXPECT_GE(s["port vm1 member pf0 tx_packets"], 11u);
  EXPECT_EQ(s["port vm1 member pf1 tx_packets"], 0u) << "pf1 is standby";
  // The bridge floods the ARP request to both members: pf1's copy dropped.
  EXPECT_GE(s["port vm1 member pf1 drop_standby_rx"], 1u);
  EXPECT_EQ(s["port vm1 member pf1 drop_standby_rx"], s["port vm1 member pf1 rx_packets"]);
  EXPECT_GE(s["port vm1 learner_copies"], 1u) << "the guest's ARP reply goes to the learner";
  EXPECT_EQ(s["port vm1 drop_spoofed_source"], 0u);
  EXPECT_EQ(s["port vm1 event vhost_connects"], 1u);
  EXPECT_EQ(MiniLab::counter(lab_.pf1, "tx_packets"), 0u);

  guest.stop();
  EXPECT_EQ(vfod.stop(), 0);
  EXPECT_THAT(vfod.log(), HasSubstr("[port vm1] deleted"));
  EXPECT_NE(::stat(sock().c_str(), &st), 0) << "the socket is removed on stop";
}

TEST_F(VfodTest, ForeignSourceMacIsDroppedAndCounted) {
  Vfod vfod(lab_, dir_.path, serverPort());
  ASSERT_TRUE(vfod.start());
  // testpmd txonly sends from the port's MAC: make it one vfod does not allow.
  Testpmd guest(dir_.path, TestpmdOptions(sock()).withMac("52:54:00:00:66:66").withMode("txonly"));
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return vfod.stat("port vm1 drop_spoofed_source") >= 1000; }, 20s, 100ms))
      << guest.log() << vfod.log();
  guest.stop();
  auto s = vfod.stats();
  EXPECT_EQ(s["port vm1 drop_spoofed_source"], s["port vm1 guest_tx_packets"]);
  EXPECT_EQ(s["port vm1 member pf0 tx_packets"], 0u);
  EXPECT_EQ(s["port vm1 member pf1 tx_packets"], 0u);
  EXPECT_EQ(MiniLab::counter(lab_.pf0, "tx_packets"), 0u) << "nothing left through the uplink";
  EXPECT_EQ(MiniLab::counter(lab_.pf1, "tx_packets"), 0u);
}

// Whether `r` is the guest's ICMP echo reply with identifier `id`.
bool isEchoReply(const RawSocket::Received& r, uint16_t id) {
  const std::array<uint8_t, 6> guest = {0x52, 0x54, 0x00, 0x00, 0x07, 0x01};
  const auto& b = r.bytes;
  if (b.size() < 14 || !std::equal(guest.begin(), guest.end(), b.begin() + 6)) return false;
  size_t off = 12;
  if (b[off] == 0x81 && b[off + 1] == 0x00) off += 4;
  if (b.size() < off + 2 + 20 + 8 || b[off] != 0x08 || b[off + 1] != 0x00) return false;
  const size_t icmp = off + 2 + size_t(b[off + 2] & 0x0f) * 4;
  return b[icmp] == 0 && (b[icmp + 4] << 8 | b[icmp + 5]) == id;
}

TEST_F(VfodTest, VlanPortTagsAndStrips) {
  // This kernel has no 802.1Q netdevs: the remote side crafts tagged frames
  // on a packet socket.
  Vfod vfod(lab_, dir_.path, serverPort("vlan: 100"));
  ASSERT_TRUE(vfod.start());
  Testpmd guest(dir_.path, TestpmdOptions(sock()));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms));
  RawSocket raw(lab_.ns, lab_.suffix() + "-p0");
  const std::array<uint8_t, 6> guest_mac = {0x52, 0x54, 0x00, 0x00, 0x07, 0x01};
  const std::array<uint8_t, 6> remote_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x64};

  // Tagged 100: vfod strips the tag, the guest answers untagged, vfod tags
  // the answer with 100. The first echo is repeated until the guest's RX
  // ring has buffers; after that every echo must be answered.
  uint16_t id = 1;
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] {
        ++id;
        raw.send(icmpEcho(guest_mac, remote_mac, 100, id));
        return raw.receive([&](const auto& r) { return isEchoReply(r, id); }, 200ms).has_value();
      },
      20s, 1ms))
      << vfod.log();
  for (int i = 0; i < 5; ++i) {
    ++id;
    ASSERT_TRUE(raw.send(icmpEcho(guest_mac, remote_mac, 100, id)));
    auto reply = raw.receive([&](const auto& r) { return isEchoReply(r, id); }, 3s);
    ASSERT_TRUE(reply.has_value()) << "no answer to tagged echo " << id;
    EXPECT_EQ(reply->vlan, 100);
  }
  // Untagged and VLAN 200 frames never reach the guest.
  ASSERT_TRUE(raw.send(icmpEcho(guest_mac, remote_mac, -1, 9050)));
  ASSERT_TRUE(raw.send(icmpEcho(guest_mac, remote_mac, 200, 9051)));
  EXPECT_FALSE(
      raw.receive([&](const auto& r) { return isEchoReply(r, 9050) || isEchoReply(r, 9051); }, 1s)
          .has_value());
  auto s = vfod.stats();
  EXPECT_GE(s["port vm1 drop_vlan"], 2u);
  EXPECT_GE(s["port vm1 guest_rx_packets"], 5u);
  EXPECT_GE(s["port vm1 guest_tx_packets"], 5u);
  EXPECT_EQ(s["port vm1 drop_guest_tagged"], 0u);
  EXPECT_EQ(s["port vm1 drop_tag_failed"], 0u);
}

TEST_F(VfodTest, FourQueuePairs) {
  Vfod vfod(lab_, dir_.path, serverPort("queue_pairs: 4"));
  ASSERT_TRUE(vfod.start());
  Testpmd guest(dir_.path, TestpmdOptions(sock()).withQueues(4));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod.log();
  EXPECT_THAT(vfod.log(), HasSubstr("4 queue pairs, features"));
  // Eight flows (eight source addresses) so the uplinks' flow hash spreads
  // them over the queues.
  std::string addrs;
  for (int i = 101; i <= 108; ++i)
    addrs += "ip addr add 198.18.0." + std::to_string(i) + "/24 dev br0 && ";
  ASSERT_TRUE(lab_.inNs("sh -c '" + addrs + "true'").ok());
  for (int i = 101; i <= 108; ++i) {
    auto out = lab_.pingUntilAnswered(kGuestIp, 3, "-I 198.18.0." + std::to_string(i));
    ASSERT_TRUE(out.has_value()) << "source 198.18.0." << i << "\n" << vfod.log();
    EXPECT_THAT(*out, HasSubstr("3 received"));
  }
  auto s = vfod.stats();
  int queues_used = 0;
  for (int q = 0; q < 4; ++q)
    if (s["port vm1 queue " + std::to_string(q) + " guest_rx_packets"] > 0) ++queues_used;
  EXPECT_GE(queues_used, 2) << "flows were spread over the queue pairs";
  EXPECT_GE(s["port vm1 guest_tx_packets"], 8u * 4);
}

TEST_F(VfodTest, GuestRestartInServerMode) {
  Vfod vfod(lab_, dir_.path, serverPort());
  ASSERT_TRUE(vfod.start());
  {
    Testpmd guest(dir_.path, TestpmdOptions(sock()));
    ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms));
    ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value());
    guest.kill();  // the guest's QEMU dies
  }
  ASSERT_TRUE(vfo::testing::waitFor([&] { return !vfod.guestRunning("vm1"); }, 10s, 100ms));
  EXPECT_FALSE(lab_.inNs("ping -c 1 -W 1 198.18.0.7").ok());
  Testpmd again(dir_.path, TestpmdOptions(sock()));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms))
      << again.log() << vfod.log();
  auto out = lab_.pingUntilAnswered(kGuestIp, 5);
  ASSERT_TRUE(out.has_value()) << vfod.log();
  EXPECT_THAT(*out, HasSubstr("5 received"));
  auto s = vfod.stats();
  EXPECT_EQ(s["port vm1 event vhost_connects"], 2u);
  EXPECT_EQ(s["port vm1 event vhost_disconnects"], 1u);
}

TEST_F(VfodTest, GuestKilledUnderLoad) {
  // destroy_device must wait until no worker touches the device: kill a
  // guest that floods vfod, three times, and vfod keeps running.
  Vfod vfod(lab_, dir_.path, serverPort());
  ASSERT_TRUE(vfod.start());
  for (int round = 0; round < 3; ++round) {
    const uint64_t before = vfod.stat("port vm1 guest_tx_packets");
    Testpmd guest(dir_.path, TestpmdOptions(sock()).withMode("txonly"));
    ASSERT_TRUE(vfo::testing::waitFor(
        [&] { return vfod.stat("port vm1 guest_tx_packets") > before + 20000; }, 20s, 50ms))
        << guest.log() << vfod.log();
    guest.kill();
    ASSERT_TRUE(vfo::testing::waitFor([&] { return !vfod.guestRunning("vm1"); }, 10s, 50ms));
  }
  auto s = vfod.stats();
  EXPECT_EQ(s["port vm1 event vhost_disconnects"], 3u);
  EXPECT_GT(s["port vm1 member pf0 tx_packets"], 60000u);
  EXPECT_EQ(vfod.stop(), 0) << vfod.log();
}

TEST_F(VfodTest, VfodRestartUnderAClientModeGuest) {
  // QEMU (testpmd) listens; vfod connects and must reconnect after it is
  // killed and started again.
  const std::string path = dir_.path + "/sock/vm1.sock";
  ASSERT_EQ(::mkdir((dir_.path + "/sock").c_str(), 0755), 0);
  Testpmd guest(dir_.path, TestpmdOptions(path).asServer());
  Vfod vfod(lab_, dir_.path, serverPort("role: SOCKET_ROLE_CLIENT"));
  ASSERT_TRUE(vfod.start());
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod.log();
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value()) << vfod.log();

  vfod.kill();  // crash: no cleanup at all
  EXPECT_TRUE(guest.running()) << "the guest survives its backend";
  EXPECT_FALSE(lab_.inNs("ping -c 1 -W 1 198.18.0.7").ok());
  ASSERT_TRUE(vfod.start());
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod.log();
  auto out = lab_.pingUntilAnswered(kGuestIp, 5);
  ASSERT_TRUE(out.has_value()) << vfod.log();
  EXPECT_THAT(*out, HasSubstr("5 received"));
  EXPECT_TRUE(guest.running());
  // A clean stop leaves QEMU's socket alone (it is the guest's).
  EXPECT_EQ(vfod.stop(), 0);
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
}

TEST_F(VfodTest, BadConfigIsRefusedWithFileAndLine) {
  Vfod vfod(lab_, dir_.path, serverPort("vlan: 4095"));
  RunResult r = vfo::testing::run({vfodBinary(), "--config", vfod.config()}, 10s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(vfod.config() + ":"));
  EXPECT_THAT(r.err, HasSubstr("ports[0].vlan: 4095 is out of range 1..4094"));
}

TEST_F(VfodTest, MissingNetdevFailsStartCleanly) {
  Vfod vfod(
      lab_, dir_.path,
      serverPort("uplinks { member: \"pf1\" devargs: \"net_af_packet_x,iface=nosuchdev0\" }"));
  auto proc = Process({vfodBinary(), "--config", vfod.config()}, dir_.path + "/fail.log");
  ASSERT_TRUE(proc.waitExit(30s));
  EXPECT_EQ(proc.exitCode(), 1);
  const std::string log = proc.log();
  EXPECT_THAT(log, HasSubstr("[port vm1] UNAVAILABLE: port vm1: uplink on member pf1: uplink "
                             "'net_af_packet_x,iface=nosuchdev0': rte_dev_probe failed"));
  EXPECT_THAT(log, HasSubstr("vfod stopped"));
  EXPECT_EQ(MiniLab::counter(lab_.pf0, "tx_packets"), 0u);
}

TEST_F(VfodTest, ALiveSocketIsNotTakenOver) {
  Vfod first(lab_, dir_.path, serverPort());
  ASSERT_TRUE(first.start());
  TempDir other;
  Vfod second(lab_, other.path, serverPort(), "", first.socketDir());
  auto proc = Process({vfodBinary(), "--config", second.config()}, other.path + "/second.log");
  ASSERT_TRUE(proc.waitExit(30s));
  EXPECT_EQ(proc.exitCode(), 1);
  EXPECT_THAT(proc.log(), HasSubstr("is in use: another process listens on it"));
  // The first vfod still serves its guest.
  Testpmd guest(dir_.path, TestpmdOptions(sock()));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return first.guestRunning("vm1"); }, 20s, 100ms))
      << first.log() << guest.log();
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value())
      << vfo::testing::run({vfodBinary(), "--stats", "--config", first.config()}).out
      << first.log();
}

// SR-IOV VFs on a netdev that has none (the lab's veths): vfod still starts
// (a PF may get VFs later), every port asking for VFs is refused with the
// PF named and nothing is left behind; the EAL keeps the PCI bus for
// hot-plugged VFs.
TEST_F(VfodTest, SriovVfsOnANetdevWithoutSriovAreRefusedClearly) {
  Vfod vfod(lab_, dir_.path, "", "", "", "  vf_provider: VF_PROVIDER_SRIOV\n");
  ASSERT_TRUE(vfod.start());
  EXPECT_THAT(vfod.log(), HasSubstr("-a ffff:ff:1f.7"));
  RunResult c = vfod.vfoctl({"port", "create", "vm1", "--mac", kGuestMac});
  EXPECT_EQ(c.exit_code, 7) << c.describe();
  EXPECT_THAT(c.err, HasSubstr(lab_.pf0));
  EXPECT_THAT(c.err, HasSubstr("SR-IOV"));
  EXPECT_THAT(vfod.vfoctl({"port", "list"}).out, Not(HasSubstr("vm1")));
  struct stat st;
  EXPECT_NE(::stat(sock().c_str(), &st), 0) << "no socket left";
  EXPECT_EQ(vfod.stop(), 0) << vfod.log();
}

}  // namespace
}  // namespace vfo::vhost::itest
