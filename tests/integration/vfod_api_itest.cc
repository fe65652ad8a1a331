// The ops API against a real vfod: vfoctl (the gRPC client) creates,
// inspects, fails over and deletes ports whose software VFs are real
// macvlans and whose guest is a dpdk-testpmd virtio-user process; vfod is
// killed with SIGKILL and restarted and must bring every API port back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "vfod_lab.h"

namespace vfo::vhost::itest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kSoftwareVfs = "  vf_provider: VF_PROVIDER_SOFTWARE\n  primary: \"pf0\"\n";

class VfodApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(lab_.ok()); }

  std::unique_ptr<Vfod> makeVfod(const std::string& extra = "") {
    return std::make_unique<Vfod>(lab_, dir_.path, "", extra, "", kSoftwareVfs);
  }
  RunResult vfoctl(const Vfod& vfod, const std::vector<std::string>& args) {
    return vfod.vfoctl(args);
  }
  // Macvlans (software VFs) on the lab's two ports.
  int softwareVfs() const {
    RunResult r = vfo::testing::sh("ip -o link show type macvlan | grep -cE '@(" + lab_.pf0 + "|" +
                                   lab_.pf1 + "):' || true");
    return std::atoi(r.out.c_str());
  }
  // Of those, the ones parked (free, kept for reuse).
  int parkedSoftwareVfs() const {
    RunResult r = vfo::testing::sh("ip -o link show type macvlan | grep -E '@(" + lab_.pf0 + "|" +
                                   lab_.pf1 + "):' | grep -c 'alias vfo-swvf parked' || true");
    return std::atoi(r.out.c_str());
  }
  std::string sock(const std::string& port) const { return dir_.path + "/sock/" + port + ".sock"; }

  MiniLab lab_;
  TempDir dir_;
};

TEST_F(VfodApiTest, PortCreatedThroughTheApiCarriesTrafficAndDeleteRemovesEverything) {
  auto vfod = makeVfod();
  ASSERT_TRUE(vfod->start());
  RunResult c = vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac});
  ASSERT_TRUE(c.ok()) << c.describe() << vfod->log();
  struct stat st;
  ASSERT_EQ(::stat(sock("vm1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(softwareVfs(), 2) << "one macvlan per member";
  // The same request again is idempotent.
  EXPECT_TRUE(vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac}).ok());
  EXPECT_EQ(softwareVfs(), 2);

  Testpmd guest(dir_.path, TestpmdOptions(sock("vm1")));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod->guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod->log();
  auto out = lab_.pingUntilAnswered(kGuestIp, 5);
  ASSERT_TRUE(out.has_value()) << vfod->log();
  EXPECT_THAT(*out, HasSubstr("5 received"));

  RunResult show = vfoctl(*vfod, {"--json", "port", "show", "vm1"});
  ASSERT_TRUE(show.ok()) << show.describe();
  EXPECT_THAT(show.out, HasSubstr("PORT_STATE_ACTIVE"));
  EXPECT_THAT(show.out, HasSubstr("\"active_member\": \"pf0\""));
  EXPECT_THAT(show.out, HasSubstr(kGuestIp)) << "learned from the guest's ARP reply";
  RunResult stats = vfoctl(*vfod, {"stats", "--port", "vm1"});
  ASSERT_TRUE(stats.ok()) << stats.describe();
  EXPECT_THAT(stats.out, HasSubstr("guest_rx_packets"));

  guest.stop();
  RunResult d = vfoctl(*vfod, {"port", "delete", "vm1"});
  ASSERT_TRUE(d.ok()) << d.describe();
  EXPECT_NE(::stat(sock("vm1").c_str(), &st), 0) << "socket removed";
  EXPECT_EQ(softwareVfs(), 2) << "the VFs are parked for the next port";
  EXPECT_EQ(parkedSoftwareVfs(), 2) << "and marked free";
  EXPECT_EQ(vfoctl(*vfod, {"port", "show", "vm1"}).exit_code, 3) << "NOT_FOUND";
  // The same VM back: the parked VFs and their uplinks are reused.
  ASSERT_TRUE(vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac}).ok());
  EXPECT_EQ(parkedSoftwareVfs(), 0);
  EXPECT_THAT(vfod->log(), HasSubstr("taken back from the parked uplinks"));
  Testpmd again(dir_.path, TestpmdOptions(sock("vm1")));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod->guestRunning("vm1"); }, 20s, 100ms))
      << again.log() << vfod->log();
  auto back = lab_.pingUntilAnswered(kGuestIp, 3);
  ASSERT_TRUE(back.has_value()) << vfod->log();
  EXPECT_THAT(*back, HasSubstr("3 received"));
  again.stop();
  // A new VM (another MAC) on the parked VFs: they move to its MAC.
  ASSERT_TRUE(vfoctl(*vfod, {"port", "delete", "vm1"}).ok());
  const std::string mac2 = "52:54:00:00:07:02";
  ASSERT_TRUE(vfoctl(*vfod, {"port", "create", "vm2", "--mac", mac2}).ok());
  EXPECT_EQ(softwareVfs(), 2) << "the parked VFs were reused, none made";
  Testpmd other(dir_.path, TestpmdOptions(sock("vm2")).withMac(mac2));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod->guestRunning("vm2"); }, 20s, 100ms))
      << other.log() << vfod->log();
  ASSERT_TRUE(lab_.inNs("ip neigh flush dev br0").ok());
  auto moved = lab_.pingUntilAnswered(kGuestIp, 3);
  ASSERT_TRUE(moved.has_value()) << vfod->log();
  EXPECT_THAT(*moved, HasSubstr("3 received"));
  other.stop();
  EXPECT_EQ(vfod->stop(), 0);
  EXPECT_EQ(softwareVfs(), 0) << "a clean stop deletes every software VF, parked ones too";
}

TEST_F(VfodApiTest, BadRequestsGetPreciseErrorsAndChangeNothing) {
  auto vfod = makeVfod();
  ASSERT_TRUE(vfod->start());
  RunResult mc = vfoctl(*vfod, {"port", "create", "vm1", "--mac", "01:00:5e:00:00:01"});
  EXPECT_EQ(mc.exit_code, 2) << mc.describe();
  EXPECT_THAT(mc.err, HasSubstr("multicast"));
  RunResult outside = vfoctl(
      *vfod, {"port", "create", "vm1", "--mac", kGuestMac, "--socket-path", "/tmp/vm1.sock"});
  EXPECT_EQ(outside.exit_code, 2) << outside.describe();
  EXPECT_THAT(outside.err, HasSubstr("socket"));
  RunResult dotdot = vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac, "--socket-path",
                                    dir_.path + "/sock/../vm1.sock"});
  EXPECT_EQ(dotdot.exit_code, 2) << dotdot.describe();
  RunResult vlan = vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac, "--vlan", "4095"});
  EXPECT_EQ(vlan.exit_code, 2) << vlan.describe();
  RunResult pin = vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac, "--pin", "pf7"});
  EXPECT_EQ(pin.exit_code, 2) << pin.describe();
  EXPECT_THAT(pin.err, HasSubstr("pinned_member"));
  EXPECT_EQ(vfoctl(*vfod, {"port", "delete", "nope"}).exit_code, 3);
  RunResult lag = vfoctl(*vfod, {"lag", "set", "--mode", "balance-vm"});
  EXPECT_EQ(lag.exit_code, 7) << lag.describe();
  EXPECT_THAT(lag.err, HasSubstr("mode"));
  EXPECT_EQ(vfoctl(*vfod, {"lag", "failover", "pf9"}).exit_code, 3);

  RunResult list = vfoctl(*vfod, {"port", "list"});
  ASSERT_TRUE(list.ok()) << list.describe();
  EXPECT_THAT(list.out, HasSubstr("0 port(s)"));
  EXPECT_EQ(softwareVfs(), 0) << "no VF was left behind by a refused request";

  // A conflicting request for an existing port: ALREADY_EXISTS, port kept.
  ASSERT_TRUE(vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac}).ok());
  RunResult conflict = vfoctl(*vfod, {"port", "create", "vm1", "--mac", "52:54:00:00:07:09"});
  EXPECT_EQ(conflict.exit_code, 4) << conflict.describe();
  EXPECT_THAT(vfoctl(*vfod, {"port", "show", "vm1"}).out, HasSubstr(kGuestMac));
  EXPECT_EQ(softwareVfs(), 2);
}

TEST_F(VfodApiTest, SigkillAndRestartRestoresApiPortsAndTrafficResumes) {
  // QEMU-like guest listening (vfod in client role) so it survives vfod.
  ASSERT_EQ(::mkdir((dir_.path + "/sock").c_str(), 0755), 0);
  Testpmd guest(dir_.path, TestpmdOptions(sock("vm1")).asServer());
  auto vfod = makeVfod();
  ASSERT_TRUE(vfod->start());
  RunResult c = vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac, "--role", "client",
                               "--vlan", "0", "--domain-name", "guest1"});
  ASSERT_TRUE(c.ok()) << c.describe() << vfod->log();
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod->guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod->log();
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value()) << vfod->log();
  const std::string before = vfoctl(*vfod, {"port", "list"}).out;

  vfod->kill();  // no cleanup at all
  EXPECT_TRUE(guest.running());
  EXPECT_EQ(softwareVfs(), 2) << "the VFs outlive the crash";
  const auto restart = std::chrono::steady_clock::now();
  ASSERT_TRUE(vfod->start());
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return lab_.inNs(std::string("ping -c 1 -W 1 ") + kGuestIp).ok(); }, 20s, 10ms))
      << vfod->log();
  const auto resumed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - restart);
  RecordProperty("restart_to_ping_ms", int(resumed.count()));
  std::cout << "[ figure ] vfod SIGKILLed, started again -> first answered ping: "
            << resumed.count() << " ms\n";
  EXPECT_LT(resumed, 5s) << "vfod start (EAL) plus reconnect";
  EXPECT_THAT(vfod->log(), HasSubstr("restored 1 API ports"));
  EXPECT_EQ(softwareVfs(), 2) << "adopted, not duplicated";
  const std::string after = vfoctl(*vfod, {"port", "list"}).out;
  EXPECT_THAT(after, HasSubstr("vm1"));
  EXPECT_THAT(after, HasSubstr(kGuestMac));
  EXPECT_THAT(before, HasSubstr("1 port(s)"));
  EXPECT_THAT(after, HasSubstr("1 port(s)"));
  EXPECT_THAT(vfoctl(*vfod, {"--json", "port", "show", "vm1"}).out, HasSubstr("guest1"));
  EXPECT_TRUE(guest.running()) << "the guest was not touched";
}

TEST_F(VfodApiTest, OperatorFailoverMovesTrafficAndIsReportedAsAnEvent) {
  auto vfod = makeVfod();
  ASSERT_TRUE(vfod->start());
  ASSERT_TRUE(vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac}).ok());
  Testpmd guest(dir_.path, TestpmdOptions(sock("vm1")));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod->guestRunning("vm1"); }, 20s, 100ms))
      << guest.log() << vfod->log();
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 2).has_value());

  RunResult fo = vfoctl(*vfod, {"lag", "failover", "pf1"});
  ASSERT_TRUE(fo.ok()) << fo.describe();
  EXPECT_THAT(fo.out, HasSubstr("active member     pf1"));
  const uint64_t pf1_before = MiniLab::counter(lab_.pf1, "tx_packets");
  auto out = lab_.pingUntilAnswered(kGuestIp, 5);
  ASSERT_TRUE(out.has_value());
  EXPECT_THAT(*out, HasSubstr("5 received"));
  EXPECT_GE(MiniLab::counter(lab_.pf1, "tx_packets") - pf1_before, 5u) << "replies leave on pf1";
  RunResult ev = vfoctl(*vfod, {"events"});
  ASSERT_TRUE(ev.ok()) << ev.describe();
  EXPECT_THAT(ev.out, HasSubstr("failover port=vm1 pf0 -> pf1 reason=operator-set-active"));
  EXPECT_THAT(ev.out, HasSubstr("vhost-connected port=vm1"));

  // An unrelated setting leaves the operator's choice alone.
  ASSERT_TRUE(vfoctl(*vfod, {"lag", "set", "--downdelay-ms", "20"}).ok());
  EXPECT_THAT(vfoctl(*vfod, {"lag", "show"}).out, HasSubstr("active member     pf1"));
  RunResult health = vfoctl(*vfod, {"health"});
  EXPECT_TRUE(health.ok()) << health.describe();
}

TEST_F(VfodApiTest, PrometheusEndpointExportsPortLagAndFailoverCounters) {
  const std::string msock = dir_.path + "/metrics.sock";
  auto vfod = makeVfod("metrics { listen: \"unix://" + msock + "\" }\n");
  ASSERT_TRUE(vfod->start());
  ASSERT_TRUE(vfoctl(*vfod, {"port", "create", "vm1", "--mac", kGuestMac}).ok());
  Testpmd guest(dir_.path, TestpmdOptions(sock("vm1")));
  ASSERT_TRUE(vfo::testing::waitFor([&] { return vfod->guestRunning("vm1"); }, 20s, 100ms));
  ASSERT_TRUE(lab_.pingUntilAnswered(kGuestIp, 3).has_value());
  ASSERT_TRUE(vfoctl(*vfod, {"lag", "failover", "pf1"}).ok());
  auto scrape = [&] {
    return vfo::testing::sh(
        "printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' | socat -t 5 - UNIX-CONNECT:" + msock);
  };
  RunResult r;
  // The failover is counted when its announce bursts are done (~100 ms).
  EXPECT_TRUE(vfo::testing::waitFor(
      [&] {
        r = scrape();
        return r.out.find("vfo_failovers_total{reason=\"operator-set-active\"} 1") !=
               std::string::npos;
      },
      10s, 50ms))
      << r.describe();
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.0 200"));
  EXPECT_THAT(r.out, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("vfo_port_guest_rx_packets_total\\{port=\"vm1\"\\} [1-9]"));
  EXPECT_THAT(r.out, HasSubstr("# HELP vfo_port_drop_spoofed_source_total"));
  EXPECT_EQ(vfod->stop(), 0);
  struct stat st;
  EXPECT_NE(::stat(msock.c_str(), &st), 0) << "the metrics socket is removed at stop";
}

TEST_F(VfodApiTest, MetricsOnAPublicAddressIsRefusedAtStart) {
  Vfod vfod(lab_, dir_.path, "", "metrics { listen: \"0.0.0.0:9464\" }\n", "", kSoftwareVfs);
  RunResult r = vfo::testing::run({vfo::testing::binaryDir() + "/vhost-backend/vfod", "--config",
                                   vfod.config(), "--check-config"},
                                  10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("metrics.listen"));
}

}  // namespace
}  // namespace vfo::vhost::itest
