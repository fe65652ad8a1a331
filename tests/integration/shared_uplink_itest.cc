// Shared uplinks (lag.vf_provider VF_PROVIDER_SHARED) against a real vfod:
// one af_packet uplink per member carries every port. Proves that received
// frames reach the right guest by destination MAC (and broadcast reaches
// each guest once), that a cut member moves every port, that two local
// guests on one member reach each other inside vfod (the ToR never sends a
// frame back out of the port it came in on), and that one vfod holds more
// ports than it has ethdevs for (the per-port uplink limit is 16).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vfod_lab.h"

namespace vfo::vhost::itest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kShared = "  vf_provider: VF_PROVIDER_SHARED\n  primary: \"pf0\"\n";
constexpr const char* kGuest2Ip = "198.18.0.8";
constexpr const char* kGuest2Mac = "52:54:00:00:08:01";

class SharedUplinkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(lab_.ok()); }

  std::string sock(const std::string& port) const { return dir_.path + "/sock/" + port + ".sock"; }
  std::string port(const std::string& id, const std::string& mac) const {
    return "ports { id: \"" + id + "\" socket_path: \"" + sock(id) + "\" mac: \"" + mac + "\" }\n";
  }
  RunResult vfoctl(const Vfod& vfod, const std::vector<std::string>& args) {
    return vfod.vfoctl(args);
  }

  MiniLab lab_;
  TempDir dir_;
};

TEST_F(SharedUplinkTest, TwoGuestsOnOneUplinkEachGetTheirOwnFramesAndFailTogether) {
  Vfod vfod(lab_, dir_.path, port("vm1", kGuestMac) + port("vm2", kGuest2Mac), "", "", kShared);
  ASSERT_TRUE(vfod.start());
  Testpmd g1(dir_.path, TestpmdOptions(sock("vm1")).withMac(kGuestMac));
  Testpmd g2(dir_.path, TestpmdOptions(sock("vm2")).withMac(kGuest2Mac));
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return vfod.guestRunning("vm1") && vfod.guestRunning("vm2"); }, 30s, 100ms))
      << g1.log() << g2.log() << vfod.log();
  // testpmd's icmpecho answers ARP for any address: with two of them on one
  // network the remote host gets static neighbours instead.
  ASSERT_TRUE(lab_.inNs(std::string("ip neigh replace ") + kGuestIp + " lladdr " + kGuestMac +
                        " dev br0 nud permanent")
                  .ok());
  ASSERT_TRUE(lab_.inNs(std::string("ip neigh replace ") + kGuest2Ip + " lladdr " + kGuest2Mac +
                        " dev br0 nud permanent")
                  .ok());
  // One broadcast (a ping to the subnet broadcast) reaches both.
  lab_.inNs("ping -b -c 1 -W 1 198.18.0.255");

  for (const char* ip : {kGuestIp, kGuest2Ip}) {
    auto out = lab_.pingUntilAnswered(ip, 5);
    ASSERT_TRUE(out.has_value()) << ip << vfod.log();
    EXPECT_THAT(*out, HasSubstr("5 received")) << ip;
    EXPECT_THAT(*out, Not(HasSubstr("DUP!"))) << ip;
  }
  auto s = vfod.stats();
  EXPECT_EQ(s["shared pf0 ports"], 2u);
  EXPECT_EQ(s["shared pf0 macs"], 2u);
  EXPECT_GE(s["shared pf0 delivered"], 12u);
  // ARP requests are broadcast: each reached both guests' rings on pf0 ...
  EXPECT_GE(s["shared pf0 flood_copies"], 1u);
  // ... and the ToR's flood to pf1 reached nobody (both are standby there).
  EXPECT_GE(s["shared pf1 drop_standby"], 2u);
  EXPECT_EQ(s["shared pf1 delivered"], 0u);
  // Each guest answered only its own pings and ARP: the other's unicast
  // never reached it.
  EXPECT_EQ(s["port vm1 drop_not_for_guest"], 0u);
  EXPECT_EQ(s["port vm2 drop_not_for_guest"], 0u);
  EXPECT_GE(s["port vm1 member pf0 tx_packets"], 6u);
  EXPECT_GE(s["port vm2 member pf0 tx_packets"], 6u);
  EXPECT_EQ(s["port vm1 member pf1 tx_packets"], 0u);

  // Pull pf0's cable: both ports move to pf1 and keep answering.
  ASSERT_TRUE(lab_.inNs("ip link set " + lab_.suffix() + "-p0 down").ok());
  for (const char* ip : {kGuestIp, kGuest2Ip}) {
    auto out = lab_.pingUntilAnswered(ip, 5);
    ASSERT_TRUE(out.has_value()) << ip << vfod.log();
    EXPECT_THAT(*out, HasSubstr("5 received")) << ip;
  }
  s = vfod.stats();
  EXPECT_GE(s["port vm1 member pf1 tx_packets"], 6u);
  EXPECT_GE(s["port vm2 member pf1 tx_packets"], 6u);
  EXPECT_GE(s["shared pf1 delivered"], 12u);

  g1.stop();
  g2.stop();
  EXPECT_EQ(vfod.stop(), 0);
}

TEST_F(SharedUplinkTest, LocalGuestsOnOneMemberReachEachOtherInsideVfod) {
  Vfod vfod(lab_, dir_.path, port("vm1", kGuestMac) + port("vm2", kGuest2Mac), "", "", kShared);
  ASSERT_TRUE(vfod.start());
  Testpmd receiver(dir_.path, TestpmdOptions(sock("vm1")).withMac(kGuestMac));
  TestpmdOptions to(sock("vm2"));
  to.withMac(kGuest2Mac).withMode("txonly");
  to.extra = {"--txpkts=64", std::string("--eth-peer=0,") + kGuestMac,
              std::string("--tx-ip=") + kGuest2Ip + "," + kGuestIp};
  Testpmd sender(dir_.path, to);
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod.stat("port vm1 guest_rx_packets") >= 2000; },
                                    30s, 100ms))
      << sender.log() << vfod.log();
  sender.stop();
  const uint64_t wire = MiniLab::counter(lab_.pf0, "tx_packets");
  auto s = vfod.stats();
  EXPECT_GE(s["port vm2 local_switched"], 2000u);
  // Switched frames never went out: pf0 sent what the relay sent, which is
  // not the switched ones.
  EXPECT_LT(s["port vm2 member pf0 tx_packets"], s["port vm2 local_switched"] / 10);
  EXPECT_LT(wire, s["port vm2 local_switched"] / 10);
  EXPECT_EQ(s["port vm1 drop_not_for_guest"], 0u);
  EXPECT_EQ(s["port vm2 drop_spoofed_source"], 0u);
  receiver.stop();
  EXPECT_EQ(vfod.stop(), 0);
}

TEST_F(SharedUplinkTest, MorePortsThanEthdevsThroughTheApi) {
  const std::string msock = dir_.path + "/metrics.sock";
  Vfod vfod(lab_, dir_.path, "", "metrics { listen: \"unix://" + msock + "\" }\n", "", kShared);
  ASSERT_TRUE(vfod.start());
  constexpr int kPorts = 40;  // per-port uplinks stop at 16 (RTE_MAX_ETHPORTS 32)
  for (int i = 0; i < kPorts; ++i) {
    const std::string mac = fmt::format("52:54:00:10:{:02x}:01", i);
    RunResult c = vfoctl(vfod, {"port", "create", fmt::format("p{}", i), "--mac", mac});
    ASSERT_TRUE(c.ok()) << i << c.describe() << vfod.log();
  }
  EXPECT_EQ(vfod.stat("shared pf0 ports"), uint64_t(kPorts));
  RunResult list = vfoctl(vfod, {"--json", "port", "list"});
  ASSERT_TRUE(list.ok()) << list.describe();
  EXPECT_THAT(list.out, HasSubstr("\"p39\""));
  // A guest on the last port still gets its traffic.
  ASSERT_TRUE(vfoctl(vfod, {"port", "delete", "p39"}).ok());
  ASSERT_TRUE(vfoctl(vfod, {"port", "create", "p39", "--mac", kGuestMac}).ok());
  Testpmd guest(dir_.path, TestpmdOptions(sock("p39")).withMac(kGuestMac));
  auto out = lab_.pingUntilAnswered(kGuestIp, 5);
  ASSERT_TRUE(out.has_value()) << vfod.log();
  EXPECT_THAT(*out, HasSubstr("5 received"));
  // The demultiplexer's counters are exported too.
  RunResult m = vfo::testing::sh(
      "printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' | socat -t 5 - UNIX-CONNECT:" + msock);
  EXPECT_THAT(m.out, HasSubstr("vfo_shared_uplink_ports{member=\"pf0\"} 40"));
  EXPECT_THAT(m.out, ::testing::ContainsRegex(
                         "vfo_shared_uplink_delivered_total\\{member=\"pf0\"\\} [1-9]"));
  EXPECT_THAT(m.out, HasSubstr("# HELP vfo_shared_uplink_drop_standby_total"));
  guest.stop();
  for (int i = 0; i < kPorts; ++i)
    ASSERT_TRUE(vfoctl(vfod, {"port", "delete", fmt::format("p{}", i)}).ok()) << i;
  EXPECT_EQ(vfod.stat("shared pf0 ports"), 0u);
  EXPECT_EQ(vfod.stop(), 0);
}

}  // namespace
}  // namespace vfo::vhost::itest
