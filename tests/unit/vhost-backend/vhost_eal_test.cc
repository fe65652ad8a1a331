// The EAL command line vfod builds, the idle backoff and the stats text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vfo/vhost/daemon.h"
#include "vfo/vhost/eal.h"
#include "vfo/vhost/relay.h"

namespace vfo::vhost {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

VfodConfig baseConfig() {
  VfodConfig c;
  c.lag.members = {{"pf0", "eth0"}, {"pf1", "eth1"}};
  return c;
}

TEST(VhostEal, NoHugepagesMeansNoHuge) {
  VfodConfig c = baseConfig();
  HostFacts f;
  f.pid = 1234;
  auto args = ealArguments(c, f);
  ASSERT_TRUE(args.isOk());
  EXPECT_THAT(*args, ElementsAre("vfod", "--file-prefix=vfod-1234", "-l", "0,1", "--main-lcore=0",
                                 "--no-huge", "-m", "256", "--no-pci", "--no-telemetry"));
}

TEST(VhostEal, HugepagesWhenMountedAndFree) {
  VfodConfig c = baseConfig();
  c.eal.file_prefix = "a";
  c.eal.main_lcore = 2;
  c.eal.worker_lcores = {3, 5};
  c.memory.size_mb = 1024;
  HostFacts f{true, 512, 1};
  auto args = ealArguments(c, f);
  ASSERT_TRUE(args.isOk());
  EXPECT_THAT(*args, ElementsAre("vfod", "--file-prefix=a", "-l", "2,3,5", "--main-lcore=2", "-m",
                                 "1024", "--no-pci", "--no-telemetry"));
  // Mounted but none free: auto falls back, required refuses.
  f.free_hugepages = 0;
  EXPECT_THAT(*ealArguments(c, f), Contains("--no-huge"));
  c.memory.hugepages = HugepagePolicy::kRequired;
  auto refused = ealArguments(c, f);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("no hugepage is free"));
  c.memory.hugepages = HugepagePolicy::kNever;
  f.free_hugepages = 100;
  EXPECT_THAT(*ealArguments(c, f), Contains("--no-huge"));
}

TEST(VhostEal, PciUplinksAreAllowListed) {
  VfodConfig c = baseConfig();
  PortSettings p;
  p.id = "vm1";
  p.uplink_devargs = {"0000:03:00.2,foo=1", "net_af_packet_x,iface=eth1"};
  c.ports.push_back(p);
  auto args = ealArguments(c, HostFacts{});
  ASSERT_TRUE(args.isOk());
  EXPECT_THAT(*args, Not(Contains("--no-pci")));
  EXPECT_THAT(*args, Contains("0000:03:00.2"));
}

TEST(VhostEal, SriovVfsKeepThePciBusButProbeNothingAtStart) {
  VfodConfig c;
  c.eal.worker_lcores = {1};
  c.lag.vf_provider = VfProviderSetting::kSriov;
  auto args = ealArguments(c, HostFacts{});
  ASSERT_TRUE(args.isOk());
  EXPECT_THAT(*args, Not(Contains("--no-pci")));
  EXPECT_THAT(*args, Contains(std::string(kNoPciDevice)));
  c.lag.vf_provider = VfProviderSetting::kShared;
  EXPECT_THAT(*ealArguments(c, HostFacts{}), Contains("--no-pci"));
}

TEST(VhostRelay, IdleBackoffDoublesUpToTheMaximum) {
  using std::chrono::microseconds;
  const Duration max = microseconds(100);
  EXPECT_EQ(nextIdleSleep(kEmptyPollsBeforeSleep - 1, Duration(0), max).count(), 0);
  Duration d = nextIdleSleep(kEmptyPollsBeforeSleep, Duration(0), max);
  EXPECT_EQ(d, microseconds(1));
  std::vector<int64_t> seq;
  for (int i = 0; i < 9; ++i) {
    d = nextIdleSleep(kEmptyPollsBeforeSleep, d, max);
    seq.push_back(std::chrono::duration_cast<microseconds>(d).count());
  }
  EXPECT_THAT(seq, ElementsAre(2, 4, 8, 16, 32, 64, 100, 100, 100));
  EXPECT_EQ(nextIdleSleep(1000, microseconds(50), Duration(0)).count(), 0) << "0 disables";
}

TEST(VhostDaemon, StatsText) {
  PortStatsEntry e;
  e.record.settings.id = "vm1";
  e.record.state = PortState::kActive;
  e.record.vhost = VhostLink::kRunning;
  e.record.active_member = 1;
  e.report.total.guest_tx_packets = 5;
  e.report.total.drop_spoofed_source = 2;
  e.report.queues.resize(2);
  e.report.queues[1].guest_tx_packets = 5;
  e.report.members.resize(2);
  e.report.members[1].tx_packets = 3;
  e.report.events.vhost_connects = 1;
  WorkerStatsSnapshot w;
  w.loops = 10;
  const std::string text = renderStats(7, {e}, {w}, {"pf0", "pf1"});
  EXPECT_THAT(text, HasSubstr("# vfod stats snapshot 7\n"));
  EXPECT_THAT(text, HasSubstr("port vm1 state active vhost running active_member pf1\n"));
  EXPECT_THAT(text, HasSubstr("port vm1 guest_tx_packets 5\n"));
  EXPECT_THAT(text, HasSubstr("port vm1 drop_spoofed_source 2\n"));
  EXPECT_THAT(text, HasSubstr("port vm1 drop_standby_rx 0\n")) << "totals list every counter";
  EXPECT_THAT(text, HasSubstr("port vm1 queue 1 guest_tx_packets 5\n"));
  EXPECT_THAT(text, Not(HasSubstr("port vm1 queue 0 "))) << "queues list non-zero counters";
  EXPECT_THAT(text, HasSubstr("port vm1 member pf1 tx_packets 3\n"));
  EXPECT_THAT(text, HasSubstr("port vm1 member pf0 tx_packets 0\n"));
  EXPECT_THAT(text, HasSubstr("port vm1 event vhost_connects 1\n"));
  EXPECT_THAT(text, HasSubstr("worker 0 loops 10\n"));
}

}  // namespace
}  // namespace vfo::vhost
