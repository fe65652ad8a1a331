// The QEMU TCG test guest: boots from the installed Debian kernel, loads the
// virtio-net module chain, reports on the console, and pings through a real
// dpdk-testpmd vhost-user backend in icmpecho mode (which answers ARP for any
// target address and echoes ICMP). A TCG boot takes about 4 s on an idle
// machine and 15 s when both cores are busy; deadlines allow for the latter.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "vfo/testing/guest.h"
#include "vfo/testing/names.h"
#include "vfo/testing/wait.h"

namespace vfo::testing {
namespace {

using std::chrono::seconds;

class QemuGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto img = ensureGuestImage();
    ASSERT_TRUE(img.isOk()) << img.status().toString();
    dir_ = makeTempDir("vfo-qemu-e2e-");
    socket_ = dir_ + "/" + uniqueName("vu") + ".sock";
  }
  void TearDown() override {
    if (!dir_.empty()) removeTree(dir_);
  }

  // testpmd net_vhost in icmpecho mode on the test's socket, forwarding on
  // one core so QEMU keeps the other.
  std::unique_ptr<TestpmdGuest> startEchoBackend(TestpmdSocketRole role, int queues) {
    TestpmdOptions o;
    o.socket = socket_;
    o.pmd = TestpmdPmd::kVhost;
    o.role = role;
    o.queues = queues;
    o.mode = TestpmdMode::kIcmpEcho;
    o.main_lcore = 0;
    o.work_dir = dir_;
    auto t = std::make_unique<TestpmdGuest>(o);
    EXPECT_TRUE(t->start().isOk());
    return t;
  }

  static bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

  std::string dir_;
  std::string socket_;
};

// No NIC: the module chain loads, a script longer than the command line
// allows arrives through fw_cfg, and the console shell takes commands.
TEST_F(QemuGuestTest, BootsLoadsVirtioChainAndTakesShellCommands) {
  QemuGuestOptions o;
  o.hold = GuestHold::kShell;
  o.work_dir = dir_;
  o.timeout = seconds(90);
  // 1500 bytes of payload push the script past kMaxInlineScript.
  const std::string payload(1500, 'v');
  o.script =
      "for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci "
      "failover net_failover virtio_net 8021q; do\n"
      "  [ -d /sys/module/$m ] && result mod.$m loaded || result mod.$m missing\n"
      "done\n"
      "result kernel \"$(uname -r)\"\n"
      "cat >/tmp/blob <<'EOF'\n" +
      payload +
      "\nEOF\n"
      "result blob $(wc -c </tmp/blob)\n"
      "result nic \"$(ls /sys/class/net | tr '\\n' ' ')\"\n";
  ASSERT_GT(o.script.size(), QemuGuest::kMaxInlineScript);
  QemuGuest g(o);
  ASSERT_TRUE(g.start().isOk());

  auto rc = g.waitDone(seconds(100));
  ASSERT_TRUE(rc.isOk()) << rc.status().toString();
  EXPECT_EQ(*rc, 0) << g.console();
  auto r = g.results();
  for (const char* m : {"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                        "virtio_pci", "failover", "net_failover", "virtio_net", "8021q"})
    EXPECT_EQ(r[std::string("mod.") + m], "loaded") << m << "\n" << g.console();
  EXPECT_FALSE(r["kernel"].empty());
  EXPECT_EQ(r["blob"], "1501");
  EXPECT_EQ(r["nic"], "lo ");

  ASSERT_TRUE(g.waitForConsole("VFO-SHELL", seconds(10))) << g.console();
  g.sendConsole("result answer $((6 * 7))");
  EXPECT_TRUE(waitFor([&] { return g.results()["answer"] == "42"; }, seconds(10))) << g.console();
  g.sendConsole("poweroff -f");
  auto exit = g.waitExit(seconds(20));
  ASSERT_TRUE(exit.isOk()) << exit.status().toString();
  EXPECT_EQ(*exit, 0) << g.log();
}

// Guest -> vhost-user -> testpmd icmpecho: untagged and VLAN-tagged pings,
// IPv6 address configured, ARP resolved to testpmd's port MAC.
TEST_F(QemuGuestTest, PingsThroughTestpmdIcmpEcho) {
  auto echo = startEchoBackend(TestpmdSocketRole::kPmdDefault, 1);
  ASSERT_TRUE(echo->waitReady(seconds(20)).isOk()) << echo->log();
  const std::string echo_mac = echo->portMac();
  ASSERT_FALSE(echo_mac.empty()) << echo->log();

  QemuGuestOptions o;
  o.socket = socket_;
  o.mac = "52:54:00:18:00:0a";
  o.vlan = 100;
  o.ips = {"198.18.100.10/24"};
  o.ip6s = {"2001:2::10/64"};
  o.work_dir = dir_;
  o.timeout = seconds(90);
  o.script =
      "wait_carrier || result carrier timeout\n"
      "ip addr add 198.18.0.10/24 dev $VFO_DEV\n"
      "ping_stats p 198.18.0.1 -c 3 -i 0.2 -W 3\n"
      "ping_stats v 198.18.100.1 -c 3 -i 0.2 -W 3\n"
      "result neigh \"$(ip neigh show 198.18.0.1)\"\n"
      "result if \"$VFO_IF\"\n"
      "result ip6 \"$(ip -6 addr show dev $VFO_IF | grep -o '2001:2::10/64')\"\n";
  QemuGuest g(o);
  ASSERT_TRUE(g.start().isOk());
  auto rc = g.waitExit(seconds(100));
  ASSERT_TRUE(rc.isOk()) << rc.status().toString();
  EXPECT_EQ(*rc, 0) << g.log();

  auto r = g.results();
  EXPECT_EQ(r.count("carrier"), 0u) << g.console();
  EXPECT_EQ(r["p.tx"], "3") << g.console();
  EXPECT_GT(std::stoi(r["p.rx"]), 0) << g.console();
  EXPECT_GT(std::stoi(r["v.rx"]), 0) << g.console();
  EXPECT_NE(r["neigh"].find(echo_mac), std::string::npos) << r["neigh"] << " vs " << echo_mac;
  EXPECT_EQ(r["if"], "eth0.100");
  EXPECT_EQ(r["ip6"], "2001:2::10/64");

  EXPECT_EQ(echo->stop(), 0) << echo->log();
  auto fwd = echo->forwardStats();
  ASSERT_TRUE(fwd.isOk()) << echo->log();
  // At least: 2 ARP requests and 2x3 echo requests in, their replies out.
  EXPECT_GE(fwd->rx_packets, 8u);
  EXPECT_GE(fwd->tx_packets, 8u);
}

// QEMU listens (server mode), the backend connects; two queue pairs.
TEST_F(QemuGuestTest, ServerModeMultiqueuePings) {
  QemuGuestOptions o;
  o.socket = socket_;
  o.role = VhostUserRole::kServer;
  o.queues = 2;
  o.cpus = 2;  // the guest driver uses min(vCPUs, queue pairs)
  o.ips = {"198.18.0.20/24"};
  o.work_dir = dir_;
  o.timeout = seconds(90);
  o.hold = GuestHold::kSleep;
  o.qmp_socket = dir_ + "/qmp.sock";
  o.script =
      "wait_carrier || result carrier timeout\n"
      "result rxq $(ls -d /sys/class/net/$VFO_DEV/queues/rx-* | wc -l)\n"
      "result mq $(cut -c23 /sys/class/net/$VFO_DEV/device/features)\n"
      "ping_stats p 198.18.0.1 -c 3 -i 0.2 -W 3\n";
  QemuGuest g(o);
  ASSERT_TRUE(g.start().isOk());
  ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(socket_); }, seconds(10))) << g.log();
  auto echo = startEchoBackend(TestpmdSocketRole::kClient, 2);

  auto rc = g.waitDone(seconds(100));
  ASSERT_TRUE(rc.isOk()) << rc.status().toString() << "\n" << echo->log();
  EXPECT_EQ(*rc, 0) << g.console();
  auto r = g.results();
  EXPECT_EQ(r.count("carrier"), 0u) << g.console();
  EXPECT_EQ(r["rxq"], "2") << g.console();
  EXPECT_EQ(r["mq"], "1") << g.console();  // VIRTIO_NET_F_MQ (bit 22) negotiated
  EXPECT_GT(std::stoi(r["p.rx"]), 0) << g.console();

  // Held: still running after the script, until stopped.
  ASSERT_TRUE(g.waitForConsole("VFO-HOLD", seconds(5))) << g.console();
  EXPECT_TRUE(g.running());
  auto status = g.qmp(R"({"execute":"query-status"})");
  ASSERT_TRUE(status.isOk()) << status.status().toString();
  EXPECT_NE(status->find(R"("status": "running")"), std::string::npos) << *status;
  auto bad = g.qmp(R"({"execute":"no-such-command"})");
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition) << bad.status().toString();
  const pid_t launcher = g.pid();
  EXPECT_EQ(g.stop(), 0) << g.log();  // the launcher reports the script's rc
  EXPECT_FALSE(alive(launcher));
  EXPECT_EQ(echo->stop(), 0) << echo->log();
}

}  // namespace
}  // namespace vfo::testing
