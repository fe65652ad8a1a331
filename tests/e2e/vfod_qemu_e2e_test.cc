// End to end: a QEMU TCG Linux guest with the unchanged virtio-net driver,
// vfod as its vhost-user backend, software VFs (macvlans) on both lab ports
// as vfod's uplinks, and the lab's remote host behind the ToR bridge.
//
//   guest eth0 198.18.0.10 ── vhost-user ── vfod ──┬── af_packet <lab>-vf0 (macvlan on <lab>-pf0,
//   active)
//                                                  └── af_packet <lab>-vf1 (macvlan on <lab>-pf1,
//                                                  standby)
//   <lab>-pf0/pf1 ── wires ── ToR br0 ── <lab>-rem 198.18.0.100
//
// The guest pings the remote host, then stays up (hold) while the remote host
// pings it back. Both vhost-user roles: vfod as server (QEMU connects, the
// libvirt default) and vfod as client (QEMU listens).
//
// vfod's worker sleeps with its idle backoff (up to 100 us) and QEMU's TCG
// thread shares the machine's two cores with it: each case checks that vfod
// used well under a core while the guest booted, and logs the boot time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../integration/vfod_lab.h"
#include "guest_lab.h"
#include "vfo/testing/guest.h"
#include "vfo/testing/lab.h"

namespace vfo::vhost::e2e {
namespace {

using namespace std::chrono_literals;
using vfo::testing::GuestHold;
using vfo::testing::QemuGuest;
using vfo::testing::QemuGuestOptions;
using vfo::testing::VhostUserRole;
using vfo::vhost::itest::Vfod;

constexpr const char* kGuestIp = "198.18.0.10";
constexpr const char* kGuestCidr = "198.18.0.10/24";
constexpr const char* kGuestMac = "52:54:00:18:00:0a";

// User + system CPU time of process `pid` (all its threads), from
// /proc/PID/stat; zero when it cannot be read.
std::chrono::duration<double> cpuTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::chrono::duration<double>(0);
  std::istringstream fields(text.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14, 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return std::chrono::duration<double>(double(utime + stime) / double(::sysconf(_SC_CLK_TCK)));
}

class VfodQemuE2eTest : public vfo::e2e::GuestLabTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(setUpGuestLab("vfo-e2e-"));
    // The software VFs: the guest's MAC on a macvlan per lab port.
    ASSERT_NO_FATAL_FAILURE(makeSoftwareVfs(kGuestMac));
  }

  std::string socket() const { return dir_ + "/sock/vm1.sock"; }

  // vfod's config: members pf0/pf1 are the lab ports, the port's uplinks are
  // af_packet on the software VFs; default idle backoff (100 us).
  std::unique_ptr<Vfod> makeVfod(const std::string& role) {
    const std::string port =
        std::string("ports {\n  id: \"vm1\"\n  mac: \"") + kGuestMac + "\"\n  role: " + role +
        "\n  uplinks { member: \"pf0\" devargs: \"net_af_packet_e0,iface=" + vfName(0) +
        "\" }\n  uplinks { member: \"pf1\" devargs: "
        "\"net_af_packet_e1,iface=" +
        vfName(1) + "\" }\n}\n";
    return std::make_unique<Vfod>(lab_->name(), lab_->pf(0), lab_->pf(1), dir_, port);
  }

  QemuGuestOptions guestOptions(VhostUserRole role) const {
    QemuGuestOptions o;
    o.socket = socket();
    o.role = role;
    o.mac = kGuestMac;
    o.ips = {kGuestCidr};
    o.work_dir = dir_;
    o.timeout = 120s;  // the launcher's own limit; the test's waits are shorter
    o.hold = GuestHold::kSleep;
    // The guest pings first (ARP and echo through vfod), then stays up.
    o.script = std::string("wait_carrier || result carrier timeout\n") + "ping_stats out " +
               vfo::testing::Lab::kRemoteIp + " -c 5 -i 0.2 -W 3\n";
    return o;
  }

  // The common part of both cases once QEMU and vfod are started: the guest's
  // ping out, the remote host's ping in, vfod's counters, and vfod's CPU use
  // while the guest booted.
  void checkPingsBothWays(QemuGuest& g, Vfod& vfod,
                          std::chrono::steady_clock::time_point launched) {
    const auto cpu0 = cpuTime(vfod.pid());
    auto rc = g.waitDone(60s);
    const auto booted = std::chrono::steady_clock::now();
    const auto cpu1 = cpuTime(vfod.pid());
    ASSERT_TRUE(rc.isOk()) << rc.status().toString() << "\nvfod:\n" << vfod.log();
    EXPECT_EQ(*rc, 0) << g.console();
    const double wall = std::chrono::duration<double>(booted - launched).count();
    const double vfod_cpu = (cpu1 - cpu0).count();
    std::printf("guest boot + script: %.1f s; vfod CPU meanwhile %.2f s (%.0f%% of one core)\n",
                wall, vfod_cpu, 100 * vfod_cpu / wall);
    RecordProperty("guest_boot_ms", int(wall * 1000));
    RecordProperty("vfod_cpu_ms", int(vfod_cpu * 1000));
    // The idle backoff keeps vfod's worker from taking the core QEMU needs:
    // a worker that busy-polled would show about 100% here.
    EXPECT_LT(vfod_cpu, 0.5 * wall) << "vfod's worker does not back off while idle";

    auto r = g.results();
    EXPECT_EQ(r.count("carrier"), 0u) << g.console();
    EXPECT_EQ(r["out.tx"], "5") << g.console();
    EXPECT_EQ(r["out.rx"], "5") << g.console();
    ASSERT_TRUE(g.waitForConsole("VFO-HOLD", 10s)) << g.console();

    // The remote host pings the guest back. The ToR has learned the guest's
    // MAC on pf0's port. The remote forgets the guest's MAC first, so its ARP
    // request is a broadcast the ToR floods to both ports: the guest must
    // get it once (pf1's copy dropped as standby RX) and answer once.
    EXPECT_EQ(lab_->fdbPortOf(kGuestMac).value_or("none"), lab_->torPort(0));
    auto flush = lab_->shIn(lab_->remoteNs(), "ip neigh flush dev eth0");
    ASSERT_TRUE(flush.ok()) << flush.describe();
    auto in = lab_->ping(lab_->remoteNs(), kGuestIp, 5);
    EXPECT_TRUE(in.allReceived()) << in.run.describe() << "\nvfod:\n" << vfod.log();
    EXPECT_EQ(in.run.out.find("DUP!"), std::string::npos) << in.run.out;
    EXPECT_TRUE(g.running()) << g.log();

    auto s = vfod.stats();
    EXPECT_EQ(s["port vm1 event vhost_connects"], 1u);
    // 5 echo requests out and 5 replies in, at least one ARP each way.
    EXPECT_GE(s["port vm1 guest_tx_packets"], 11u);
    EXPECT_GE(s["port vm1 guest_rx_packets"], 11u);
    EXPECT_EQ(s["port vm1 member pf0 tx_packets"], s["port vm1 guest_tx_packets"]);
    EXPECT_EQ(s["port vm1 member pf1 tx_packets"], 0u) << "pf1 is standby";
    EXPECT_EQ(s["port vm1 drop_spoofed_source"], 0u);
    EXPECT_EQ(s["port vm1 drop_guest_ring_full"], 0u);
    EXPECT_EQ(s["port vm1 drop_uplink_tx_full"], 0u);
    EXPECT_GE(s["port vm1 learner_copies"], 2u) << "the guest's ARP request and reply";
    // The remote's ARP request is flooded to both ports: pf1's copy is dropped.
    EXPECT_GE(s["port vm1 member pf1 drop_standby_rx"], 1u);
    EXPECT_EQ(s["port vm1 member pf1 drop_standby_rx"], s["port vm1 member pf1 rx_packets"]);
    // Only vfod transmits on the software VFs: the host stack stays silent.
    EXPECT_EQ(vfo::vhost::itest::MiniLab::counter(vfName(0), "tx_packets"),
              s["port vm1 member pf0 tx_packets"]);
    EXPECT_EQ(vfo::vhost::itest::MiniLab::counter(vfName(1), "tx_packets"), 0u);
    // The worker slept between frames and accounted its busy time.
    EXPECT_GT(s["worker 0 idle_sleeps"], 0u);
    EXPECT_GT(s["worker 0 busy_tsc_cycles"], 0u);
  }
};

// vfod listens, QEMU connects (libvirt's mode='client', the default).
TEST_F(VfodQemuE2eTest, GuestAndRemotePingEachOtherVfodServer) {
  auto vfod = makeVfod("SOCKET_ROLE_SERVER");
  ASSERT_TRUE(vfod->start());
  const auto launched = std::chrono::steady_clock::now();
  QemuGuest g(guestOptions(VhostUserRole::kClient));
  ASSERT_TRUE(g.start().isOk());
  checkPingsBothWays(g, *vfod, launched);
  EXPECT_EQ(g.stop(), 0) << g.log();
  ASSERT_TRUE(vfo::testing::waitFor([&] { return !vfod->guestRunning("vm1"); }, 10s, 100ms));
  EXPECT_EQ(vfod->stop(), 0) << vfod->log();
}

// QEMU listens, vfod connects (vfod in client mode).
TEST_F(VfodQemuE2eTest, GuestAndRemotePingEachOtherVfodClient) {
  const auto launched = std::chrono::steady_clock::now();
  QemuGuest g(guestOptions(VhostUserRole::kServer));
  ASSERT_TRUE(g.start().isOk());
  // QEMU waits for its backend before it boots the guest.
  ASSERT_TRUE(vfo::testing::waitFor([&] { return std::filesystem::exists(socket()); }, 20s))
      << g.log();
  auto vfod = makeVfod("SOCKET_ROLE_CLIENT");
  ASSERT_TRUE(vfod->start());
  checkPingsBothWays(g, *vfod, launched);
  EXPECT_EQ(g.stop(), 0) << g.log();
  EXPECT_EQ(vfod->stop(), 0) << vfod->log();
}

}  // namespace
}  // namespace vfo::vhost::e2e
