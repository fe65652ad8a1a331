// The testpmd guest against a real testpmd vhost backend, and the launchers'
// option checks. Two testpmds never share a forwarding core: the backend
// uses main lcore 1 (forwards on 0), the guest main lcore 0 (forwards on 1).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "vfo/testing/guest.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace vfo::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class TestpmdGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("vfo-guest-it-");
    socket_ = dir_ + "/" + uniqueName("vu") + ".sock";
  }
  void TearDown() override { removeTree(dir_); }

  // A net_vhost backend in `mode` on the test's socket.
  TestpmdOptions backend(TestpmdMode mode) const {
    TestpmdOptions o;
    o.socket = socket_;
    o.pmd = TestpmdPmd::kVhost;
    o.mode = mode;
    o.main_lcore = 1;
    return o;
  }
  // A virtio-user guest in `mode` on the test's socket.
  TestpmdOptions guest(TestpmdMode mode) const {
    TestpmdOptions o;
    o.socket = socket_;
    o.mode = mode;
    o.main_lcore = 0;
    o.mac = "52:54:00:12:00:01";
    return o;
  }

  static bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

  std::string dir_;
  std::string socket_;
};

TEST_F(TestpmdGuestTest, TxonlyGuestIntoRxonlyBackendAndCleanExit) {
  TestpmdGuest vhost(backend(TestpmdMode::kRxOnly));
  ASSERT_TRUE(vhost.start().isOk());
  ASSERT_TRUE(vhost.waitReady(seconds(20)).isOk()) << vhost.log();
  ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(socket_); }, seconds(10)));

  TestpmdGuest virtio(guest(TestpmdMode::kTxOnly));
  ASSERT_TRUE(virtio.start().isOk());
  Status ready = virtio.waitReady(seconds(20));
  ASSERT_TRUE(ready.isOk()) << ready.toString();
  EXPECT_EQ(virtio.portMac(), "52:54:00:12:00:01");
  EXPECT_NE(vhost.filePrefix(), virtio.filePrefix());

  // The backend's periodic statistics show the guest's frames arriving.
  bool flowing = waitFor(
      [&] {
        auto s = vhost.freshStats(seconds(3));
        return s.isOk() && s->rx_packets > 0;
      },
      seconds(15));
  ASSERT_TRUE(flowing) << vhost.log();
  auto rx_live = vhost.freshStats(seconds(3));
  ASSERT_TRUE(rx_live.isOk()) << rx_live.status().toString();
  EXPECT_GT(rx_live->rx_bytes, 0u);
  EXPECT_EQ(rx_live->tx_packets, 0u);  // rxonly sends nothing

  const pid_t guest_pid = virtio.pid();
  const pid_t backend_pid = vhost.pid();
  EXPECT_EQ(virtio.stop(), 0) << virtio.log();
  EXPECT_EQ(vhost.stop(), 0) << vhost.log();
  EXPECT_FALSE(alive(guest_pid));
  EXPECT_FALSE(alive(backend_pid));

  auto sent = virtio.forwardStats();
  auto got = vhost.forwardStats();
  ASSERT_TRUE(sent.isOk()) << virtio.log();
  ASSERT_TRUE(got.isOk()) << vhost.log();
  EXPECT_GT(sent->tx_packets, 0u);
  EXPECT_GT(got->rx_packets, 0u);
  EXPECT_LE(got->rx_packets, sent->tx_packets);
  EXPECT_EQ(got->tx_packets, 0u);
  // Clean exits leave no EAL runtime directory behind.
  EXPECT_FALSE(std::filesystem::exists("/var/run/dpdk/" + virtio.filePrefix()));
  EXPECT_FALSE(std::filesystem::exists("/var/run/dpdk/" + vhost.filePrefix()));
}

// Roles swapped (the guest listens, the backend connects), interactive
// statistics on demand, macswap echoing the backend's frames.
TEST_F(TestpmdGuestTest, ServerGuestMacswapWithInteractiveStats) {
  TestpmdOptions g = guest(TestpmdMode::kMacSwap);
  g.role = TestpmdSocketRole::kServer;
  g.interactive = true;
  TestpmdGuest virtio(g);
  ASSERT_TRUE(virtio.start().isOk());
  // A listening virtio-user port waits in device probe for its peer, so
  // forwarding starts only once the backend has connected.
  ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(socket_); }, seconds(10)))
      << virtio.log();

  TestpmdOptions b = backend(TestpmdMode::kTxOnly);
  b.role = TestpmdSocketRole::kClient;
  b.extra_args = {"--txpkts=64", "--eth-peer=0,52:54:00:12:00:01"};
  TestpmdGuest vhost(b);
  ASSERT_TRUE(vhost.start().isOk());
  ASSERT_TRUE(vhost.waitReady(seconds(20)).isOk()) << vhost.log();
  ASSERT_TRUE(virtio.waitReady(seconds(20)).isOk()) << virtio.log();

  bool echoed = waitFor(
      [&] {
        auto s = virtio.freshStats(seconds(3));
        return s.isOk() && s->rx_packets > 0 && s->tx_packets > 0;
      },
      seconds(15));
  EXPECT_TRUE(echoed) << virtio.log();
  EXPECT_EQ(vhost.stop(), 0) << vhost.log();
  EXPECT_EQ(virtio.stop(), 0) << virtio.log();
}

TEST_F(TestpmdGuestTest, MissingBackendIsReportedNotHung) {
  TestpmdGuest virtio(guest(TestpmdMode::kIcmpEcho));  // client, nobody listening
  ASSERT_TRUE(virtio.start().isOk());
  Status s = virtio.waitReady(seconds(20));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.toString();
  EXPECT_FALSE(virtio.running());
  EXPECT_FALSE(std::filesystem::exists("/var/run/dpdk/" + virtio.filePrefix()));
}

TEST_F(TestpmdGuestTest, BadOptionsNameTheField) {
  auto code = [](TestpmdOptions o) {
    TestpmdGuest g(o);
    Status s = g.start();
    EXPECT_FALSE(g.running());
    return s;
  };
  TestpmdOptions o = guest(TestpmdMode::kIcmpEcho);
  o.mac = "01:00:5e:00:00:01";
  Status s = code(o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("mac"), std::string::npos) << s.message();

  o = backend(TestpmdMode::kIcmpEcho);
  o.mac = "52:54:00:00:00:01";  // net_vhost has no mac option
  s = code(o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("mac"), std::string::npos) << s.message();

  o = guest(TestpmdMode::kIcmpEcho);
  o.queues = 0;
  s = code(o);
  EXPECT_NE(s.message().find("queues"), std::string::npos) << s.message();

  o = guest(TestpmdMode::kIcmpEcho);
  o.socket = dir_ + "/a,b.sock";
  s = code(o);
  EXPECT_NE(s.message().find("socket"), std::string::npos) << s.message();

  o = guest(TestpmdMode::kIcmpEcho);
  o.cores = "0,,1";
  s = code(o);
  EXPECT_NE(s.message().find("cores"), std::string::npos) << s.message();

  o = guest(TestpmdMode::kIcmpEcho);
  o.file_prefix = "a b";
  s = code(o);
  EXPECT_NE(s.message().find("file_prefix"), std::string::npos) << s.message();

  o = guest(TestpmdMode::kIcmpEcho);
  o.stats_period_s = 0;
  s = code(o);
  EXPECT_NE(s.message().find("stats_period_s"), std::string::npos) << s.message();
}

TEST(QemuGuestOptionsTest, BadOptionsNameTheFieldAndStartNothing) {
  struct Case {
    std::function<void(QemuGuestOptions&)> set;
    const char* field;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.mac = "ff:ff:ff:ff:ff:ff"; }, "mac"},
      {[](auto& o) { o.queues = 17; }, "queues"},
      {[](auto& o) { o.ips = {"198.18.0.300/24"}; }, "ips"},
      {[](auto& o) { o.ips = {"198.18.0.1"}; }, "ips"},
      {[](auto& o) { o.ip6s = {"2001:2::1"}; }, "ip6s"},
      {[](auto& o) { o.gw = "198.18.0"; }, "gw"},
      {[](auto& o) { o.vlan = 4095; }, "vlan"},
      {[](auto& o) { o.mtu = 20; }, "mtu"},
      {[](auto& o) { o.memory_mb = 16; }, "memory_mb"},
      {[](auto& o) { o.cpus = 0; }, "cpus"},
      {[](auto& o) { o.socket = "a,b"; }, "socket"},
  };
  for (const auto& c : cases) {
    QemuGuestOptions o;
    o.socket = "/nonexistent/vfo-test.sock";
    c.set(o);
    QemuGuest g(o);
    Status s = g.start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field << ": " << s.toString();
    EXPECT_EQ(s.message().rfind(c.field, 0), 0u) << c.field << ": " << s.message();
    EXPECT_FALSE(g.running());
  }
}

TEST(GuestLaunchers, RejectBadOptionsNamingThem) {
  const std::string g = sourceDir() + "/tests/guest/";
  struct Case {
    std::vector<std::string> argv;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {{g + "run-qemu-guest", "--no-nic", "--vlan", "0"}, "--vlan"},
      {{g + "run-qemu-guest", "--socket", "/x.sock", "--mac", "zz"}, "--mac"},
      {{g + "run-qemu-guest", "--socket", "/x.sock", "--ip", "198.18.0.1"}, "--ip"},
      {{g + "run-qemu-guest", "--socket", "/x.sock", "--hold", "2"}, "--hold"},
      {{g + "run-qemu-guest"}, "--socket"},
      {{g + "run-qemu-guest", "--no-nic", "--script", std::string(2000, 'x')}, "2047"},
      {{g + "run-qemu-guest", "--bogus"}, "--bogus"},
      {{g + "run-testpmd-guest", "--socket", "/x.sock", "--mode", "warp"}, "--mode"},
      {{g + "run-testpmd-guest", "--socket", "/x.sock", "--pmd", "tap"}, "--pmd"},
      {{g + "run-testpmd-guest", "--socket", "/x.sock", "--stats-period", "0"}, "--stats-period"},
      {{g + "run-testpmd-guest"}, "--socket"},
  };
  for (const auto& c : cases) {
    RunResult r = run(c.argv, seconds(20));
    EXPECT_EQ(r.exit_code, 2) << c.needle << "\n" << r.describe();
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.describe();
  }
}

// The QEMU command line carries LAB.md's workarounds.
TEST(GuestLaunchers, QemuCommandLineHasTheWorkarounds) {
  const std::string dir = makeTempDir("vfo-guest-dry-");
  RunResult r = run({sourceDir() + "/tests/guest/run-qemu-guest",
                     "--guest-dir",
                     dir,
                     "--dry-run",
                     "--socket",
                     dir + "/vu.sock",
                     "--queues",
                     "2",
                     "--mac",
                     "52:54:00:00:00:07",
                     "--ip",
                     "198.18.0.10/24",
                     "--ip",
                     "198.18.1.10/24",
                     "--vlan",
                     "7",
                     "--qmp",
                     dir + "/qmp.sock",
                     "--incoming",
                     "defer",
                     "--",
                     "-smp",
                     "1"},
                    seconds(60));
  removeTree(dir);
  ASSERT_TRUE(r.ok()) << r.describe();
  // The line is shell-quoted for copy and paste: drop the quoting backslashes.
  std::string line;
  for (char c : r.out)
    if (c != '\\') line += c;
  for (const char* want : {"-accel tcg", "memory-backend-memfd,id=mem,size=256M,share=on",
                           "-numa node,memdev=mem", "vhost-user,id=n0,chardev=vu0,queues=2",
                           "virtio-net-pci,netdev=n0,vectors=0,mq=on,mac=52:54:00:00:00:07",
                           "reconnect=1", "vfo.ip=198.18.0.10/24,198.18.1.10/24", "vfo.vlan=7",
                           "-qmp unix:", "-incoming defer", "-smp 1"})
    EXPECT_NE(line.find(want), std::string::npos) << want << "\n" << line;
}

}  // namespace
}  // namespace vfo::testing
