// vfod survives its own crash without the VM noticing more than a pause:
// a QEMU TCG guest (unchanged virtio-net driver) pings the remote lab host
// every 50 ms while vfod, whose port was created through the ops API with
// software VFs, is killed with SIGKILL and started again. The port comes
// back from the persisted desired state, its VFs are adopted, vfod
// reconnects to QEMU (QEMU listens: vfod is the vhost-user client), and the
// guest's pings resume within 2 s. QEMU is never restarted or touched.
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
using vfo::testing::GuestHold;
using vfo::testing::QemuGuest;
using vfo::testing::QemuGuestOptions;
using vfo::testing::RunResult;
using vfo::testing::VhostUserRole;
using vfo::vhost::itest::Vfod;

constexpr const char* kGuestMac = "52:54:00:18:00:1b";
constexpr int kPings = 300;          // the guest's pings
constexpr int kPingIntervalMs = 50;  // their interval
constexpr int kMaxOutageMs = 2000;   // the bound for the pause

class VfodRestartE2eTest : public vfo::e2e::GuestLabTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(setUpGuestLab("vfo-e2e-restart-")); }
  RunResult vfoctl(const Vfod& vfod, const std::vector<std::string>& args) {
    return vfod.vfoctl(args);
  }
  // `vfoctl port list` without the live columns (state, guest, active member).
  std::string portConfig(const Vfod& vfod) {
    RunResult r =
        vfo::testing::sh("'" + vfo::testing::binaryDir() + "/proto/vfoctl' --socket " +
                         vfod.apiTarget() + " port list | awk '{print $1, $5, $6, $7, $8}'");
    EXPECT_TRUE(r.ok()) << r.describe();
    return r.out;
  }
  int macvlans() const {
    RunResult r = vfo::testing::sh("ip -o link show type macvlan | grep -cE '@(" + lab_->pf(0) +
                                   "|" + lab_->pf(1) + "):' || true");
    return std::atoi(r.out.c_str());
  }
};

TEST_F(VfodRestartE2eTest, SigkillAndRestartPausesTheGuestForLessThanTwoSeconds) {
  const std::string socket = dir_ + "/sock/vm1.sock";
  QemuGuestOptions o;
  o.socket = socket;
  o.role = VhostUserRole::kServer;  // QEMU listens, vfod reconnects after its restart
  o.mac = kGuestMac;
  o.ips = {"198.18.0.27/24"};
  o.work_dir = dir_;
  o.timeout = 150s;
  // The longest run of lost replies, from the guest's own ping output.
  o.script = vfo::testing::pingGapScript(vfo::testing::Lab::kRemoteIp, kPings, kPingIntervalMs);
  QemuGuest guest(o);
  ASSERT_TRUE(guest.start().isOk());
  ASSERT_TRUE(vfo::testing::waitFor([&] { return std::filesystem::exists(socket); }, 30s))
      << guest.log();
  const pid_t qemu = guest.pid();

  Vfod vfod(lab_->name(), lab_->pf(0), lab_->pf(1), dir_, "", "", "",
            "  vf_provider: VF_PROVIDER_SOFTWARE\n");
  ASSERT_TRUE(vfod.start());
  RunResult c = vfoctl(vfod, {"port", "create", "vm1", "--mac", kGuestMac, "--role", "client",
                              "--socket-path", socket, "--domain-name", "e2e-guest"});
  ASSERT_TRUE(c.ok()) << c.describe() << vfod.log();
  // Wait until the guest's pings flow through vfod.
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return vfod.stat("port vm1 member pf0 rx_packets") >= 10; }, 90s, 100ms))
      << guest.console() << vfod.log();
  const std::string before = portConfig(vfod);

  const auto killed = std::chrono::steady_clock::now();
  vfod.kill();
  ASSERT_TRUE(vfod.start());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return vfod.stat("port vm1 member pf0 rx_packets") >= 3; }, 10s, 10ms))
      << vfod.log();
  const auto resumed = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf(
      "[ figure ] SIGKILL -> vfod running again: %lld ms; -> guest traffic again: %lld ms\n",
      (long long)ms(started - killed), (long long)ms(resumed - killed));

  auto rc = guest.waitDone(90s);
  ASSERT_TRUE(rc.isOk()) << rc.status().toString() << guest.console();
  EXPECT_EQ(*rc, 0) << guest.console();
  auto r = guest.results();
  EXPECT_EQ(r.count("carrier"), 0u);
  const int gap = std::atoi(r["gap"].c_str());
  const int lost = std::atoi(r["tx"].c_str()) - std::atoi(r["rx"].c_str());
  std::printf("[ figure ] guest's view: %s of %s pings answered, longest gap %d pings (~%d ms)\n",
              r["rx"].c_str(), r["tx"].c_str(), gap, gap * kPingIntervalMs);
  RecordProperty("guest_gap_ms", gap * kPingIntervalMs);
  EXPECT_GT(gap, 1) << "the kill must show in the guest's pings, or the test proves nothing";
  EXPECT_LE(gap * kPingIntervalMs, kMaxOutageMs) << guest.console();
  EXPECT_LE(lost * kPingIntervalMs, kMaxOutageMs + 500);

  // Nothing was lost and nothing was duplicated; the guest was not touched.
  const std::string after = portConfig(vfod);
  EXPECT_EQ(before, after);
  EXPECT_THAT(after, HasSubstr(kGuestMac));
  EXPECT_THAT(vfoctl(vfod, {"--json", "port", "show", "vm1"}).out, HasSubstr("e2e-guest"));
  EXPECT_EQ(macvlans(), 2) << "adopted, not duplicated";
  EXPECT_EQ(guest.pid(), qemu);
  EXPECT_EQ(vfod.stat("port vm1 event vhost_connects"), 1u) << "one reconnect after the restart";
  EXPECT_EQ(vfod.stop(), 0) << vfod.log();
  EXPECT_EQ(guest.stop(), 0) << guest.log();
}

}  // namespace
