// Live migration of an unchanged guest between two vfods: a QEMU TCG guest
// pings the remote lab host every 50 ms while QEMU migrates it (QMP
// `migrate`) from a source QEMU on vfod A to a destination QEMU started with
// `-incoming` on vfod B. The two vfods play two hypervisors on one ToR: both
// use shared uplinks on the lab's two host ports (the software-VF provider
// cannot give two processes the same guest MAC on one member).
//
// vfod B's port is created `incoming` through the ops API (as the libvirt
// hook does for `migrate begin`): it drops the guest's frames until the
// destination QEMU starts the device, then becomes active and publishes a
// "migration completed" event. The guest's virtio-net has guest_announce
// off, so QEMU asks the backend to announce the guest
// (VHOST_USER_SEND_RARP): vfod B must send that RARP, from the guest MAC,
// on its active uplink, where the ToR sees it.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "../integration/vfod_lab.h"
#include "guest_lab.h"
#include "vfo/testing/guest.h"
#include "vfo/testing/lab.h"

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using vfo::Status;
using vfo::testing::GuestHold;
using vfo::testing::QemuGuest;
using vfo::testing::QemuGuestOptions;
using vfo::testing::RunResult;
using vfo::testing::VhostUserRole;
using vfo::vhost::itest::RawSocket;
using vfo::vhost::itest::Vfod;

constexpr const char* kGuestMac = "52:54:00:18:00:2c";
constexpr std::array<uint8_t, 6> kGuestMacBytes{0x52, 0x54, 0x00, 0x18, 0x00, 0x2c};
constexpr int kPings = 300;          // the guest's pings
constexpr int kPingIntervalMs = 50;  // their interval
constexpr const char* kShared = "  vf_provider: VF_PROVIDER_SHARED\n  primary: \"pf0\"\n";

class VfodMigrationE2eTest : public vfo::e2e::GuestLabTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(setUpGuestLab("vfo-e2e-migrate-", {"a", "b", "a/sock", "b/sock", "q"}));
  }
  RunResult vfoctl(const Vfod& vfod, const std::vector<std::string>& args) {
    return vfod.vfoctl(args);
  }
  // The guest: same device and script on both sides (QEMU needs the same
  // machine on the destination); only the socket, QMP and -incoming differ.
  QemuGuestOptions guest(const std::string& socket, const std::string& qmp) const {
    QemuGuestOptions o;
    o.socket = socket;
    o.role = VhostUserRole::kClient;  // vfod listens (libvirt's default)
    o.mac = kGuestMac;
    o.ips = {"198.18.0.44/24"};
    o.work_dir = dir_ + "/q";
    o.qmp_socket = qmp;
    o.timeout = 200s;
    o.hold = GuestHold::kSleep;
    // QEMU announces the guest through the backend (SEND_RARP) only when
    // the guest cannot announce itself.
    o.extra_qemu_args = {"-global", "virtio-net-pci.guest_announce=off"};
    o.script = vfo::testing::pingGapScript(vfo::testing::Lab::kRemoteIp, kPings, kPingIntervalMs);
    return o;
  }
};

TEST_F(VfodMigrationE2eTest, GuestMovesBetweenTwoVfodsAndItsRarpGoesOutOnTheActiveUplink) {
  Vfod a(lab_->name() + "a", lab_->pf(0), lab_->pf(1), dir_ + "/a", "", "", "", kShared);
  Vfod b(lab_->name() + "b", lab_->pf(0), lab_->pf(1), dir_ + "/b", "", "", "", kShared);
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  const std::string sock_a = dir_ + "/a/sock/vm1.sock", sock_b = dir_ + "/b/sock/vm1.sock";
  RunResult c = vfoctl(a, {"port", "create", "vm1", "--mac", kGuestMac, "--socket-path", sock_a});
  ASSERT_TRUE(c.ok()) << c.describe() << a.log();
  c = vfoctl(b,
             {"port", "create", "vm1", "--mac", kGuestMac, "--socket-path", sock_b, "--incoming"});
  ASSERT_TRUE(c.ok()) << c.describe() << b.log();
  EXPECT_THAT(vfoctl(b, {"port", "show", "vm1"}).out, HasSubstr("incoming"));

  const std::string qmp_src = dir_ + "/q/src.qmp", qmp_dst = dir_ + "/q/dst.qmp";
  QemuGuest src(guest(sock_a, qmp_src));
  const Status src_started = src.start();
  ASSERT_TRUE(src_started.isOk()) << src_started.toString();
  QemuGuestOptions dst_options = guest(sock_b, qmp_dst);
  dst_options.incoming = "unix:" + dir_ + "/q/migrate.sock";
  QemuGuest dst(dst_options);
  const Status dst_started = dst.start();
  ASSERT_TRUE(dst_started.isOk()) << dst_started.toString();

  // The guest's pings flow through vfod A; B's port drops what it sees.
  ASSERT_TRUE(vfo::testing::waitFor([&] { return a.stat("port vm1 member pf0 rx_packets") >= 20; },
                                    90s, 100ms))
      << src.console() << a.log();
  EXPECT_FALSE(b.guestRunning("vm1")) << "the destination QEMU starts the device only at the end";

  // The ToR side of pf0: the RARP must come from there.
  RawSocket tor(lab_->torNs(), lab_->torPort(0));
  auto mig =
      src.qmp(R"({"execute":"migrate","arguments":{"uri":"unix:)" + dir_ + R"(/q/migrate.sock"}})");
  ASSERT_TRUE(mig.isOk()) << mig.status().toString();
  const auto started = std::chrono::steady_clock::now();
  std::string status;
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] {
        auto q = src.qmp(R"({"execute":"query-migrate"})");
        status = q.isOk() ? *q : q.status().toString();
        return status.find("\"completed\"") != std::string::npos ||
               status.find("\"failed\"") != std::string::npos;
      },
      90s, 50ms))
      << status;
  ASSERT_THAT(status, HasSubstr("\"completed\"")) << dst.log() << b.log();
  const double migrate_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  auto rarp = tor.receive(
      [](const RawSocket::Received& r) {
        return r.bytes.size() >= 14 &&
               std::equal(kGuestMacBytes.begin(), kGuestMacBytes.end(), r.bytes.begin() + 6) &&
               r.bytes[12] == 0x80 && r.bytes[13] == 0x35;
      },
      10s);
  ASSERT_TRUE(rarp.has_value()) << "no RARP from the guest MAC on the ToR's pf0 port\n" << b.log();
  EXPECT_EQ(rarp->bytes[0], 0xff) << "broadcast";

  // B's port is active now and said so; the guest's traffic goes through B.
  ASSERT_TRUE(vfo::testing::waitFor([&] { return b.guestRunning("vm1"); }, 10s, 100ms)) << b.log();
  EXPECT_THAT(vfoctl(b, {"port", "show", "vm1"}).out, HasSubstr("active"));
  EXPECT_THAT(vfoctl(b, {"events"}).out, HasSubstr("migration"));
  const uint64_t via_b = b.stat("port vm1 member pf0 tx_packets");
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return b.stat("port vm1 member pf0 tx_packets") >= via_b + 10; }, 20s, 100ms))
      << b.log();

  auto rc = dst.waitDone(90s);
  ASSERT_TRUE(rc.isOk()) << rc.status().toString() << dst.console();
  EXPECT_EQ(*rc, 0) << dst.console();
  auto r = dst.results();
  const int gap = std::atoi(r["gap"].c_str());
  std::printf(
      "[ figure ] migration took %.2f s; guest's view: %s of %s pings answered, longest gap %d "
      "pings (~%d ms)\n[ figure ] %s\n",
      migrate_s, r["rx"].c_str(), r["tx"].c_str(), gap, gap * kPingIntervalMs, status.c_str());
  RecordProperty("guest_gap_ms", gap * kPingIntervalMs);
  EXPECT_EQ(r["tx"], std::to_string(kPings));
  // The guest kept its network across the move: a short pause, no more.
  EXPECT_LE(gap * kPingIntervalMs, 2000) << dst.console();

  // The source side is what libvirt's `release` would delete.
  src.stop();
  EXPECT_TRUE(vfoctl(a, {"port", "delete", "vm1"}).ok());
  EXPECT_EQ(dst.stop(), 0) << dst.log();
  EXPECT_EQ(a.stop(), 0) << a.log();
  EXPECT_EQ(b.stop(), 0) << b.log();
}

}  // namespace
