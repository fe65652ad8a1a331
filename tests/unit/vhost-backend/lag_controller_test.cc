// vfod's LAG wiring against fakes: the LAG section of the config file
// becomes lag-core's LagRuntimeConfig; LagController makes the software VF
// pair (FakeVfProvider), opens the uplinks with the VFs' devargs (fake
// DPDK), follows a carrier loss played through FakeNetlinkSocket by
// switching the port and announcing on the new member, feeds the learner,
// undoes a half-made port and resets the VFs when the port is deleted.
#include "vfo/vhost/lag_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "../lag-core/link_samples.h"
#include "../sriov-manager/fake_rtnl.h"
#include "../sriov-manager/fake_sysfs.h"
#include "../sriov-manager/fake_vf_provider.h"
#include "fake_dpdk.h"
#include "vfo/base/ip_address.h"
#include "vfo/lag/frames.h"
#include "vfo/netlink/fake_netlink_socket.h"
#include "vfo/sriov/sysfs_sriov_provider.h"
#include "vfo/v1/config.pb.h"

namespace vfo::vhost {
namespace {

using namespace std::chrono_literals;
using testing::CallLog;
using ::testing::Contains;
using testing::FakeDatapath;
using testing::FakeDpdkControl;
using ::testing::HasSubstr;

constexpr std::string_view kHead = R"(sockets { dir: "/run/vfo/sockets" }
)";

StatusOr<VfodConfig> parse(const std::string& lag_and_ports) {
  return parseConfigText(std::string(kHead) + lag_and_ports, "t.textproto");
}

void expectError(const std::string& text, const std::string& field, const std::string& reason) {
  auto c = parse(text);
  ASSERT_FALSE(c.isOk()) << text;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(field)) << c.status().toString();
  EXPECT_THAT(c.status().message(), HasSubstr(reason)) << c.status().toString();
}

TEST(LagConfigTranslation, DefaultsAreActiveBackupOnThePrimaryWithFailback) {
  auto c = parse(R"(lag { members { name: "pf0" netdev: "eth0" } members { name: "pf1" } })");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->lag.vf_provider, VfProviderSetting::kNetdev);
  auto rc = lagRuntimeConfigOf(c->lag);
  ASSERT_TRUE(rc.isOk()) << rc.status().toString();
  EXPECT_EQ(rc->lag.mode, lag::LagMode::kActiveBackup);
  EXPECT_EQ(rc->lag.primary, "pf0");
  EXPECT_TRUE(rc->lag.failback);
  EXPECT_EQ(rc->lag.updelay, Duration(0));
  EXPECT_EQ(rc->lag.downdelay, Duration(0));
  ASSERT_EQ(rc->lag.members.size(), 2u);
  EXPECT_EQ(rc->lag.members[1].name, "pf1");
  // A member without netdev is watched under its own name.
  EXPECT_EQ(rc->member_netdevs, (std::vector<std::string>{"eth0", "pf1"}));
}

TEST(LagConfigTranslation, EveryLagFieldReachesTheRuntime) {
  auto c = parse(R"(lag {
  mode: LAG_MODE_ACTIVE_BACKUP
  primary: "pf1"
  failback: false
  updelay { nanos: 200000000 }
  downdelay { seconds: 1 }
  vf_provider: VF_PROVIDER_SOFTWARE
  software_vf_capacity: 8
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" netdev: "eth1" }
})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->lag.vf_provider, VfProviderSetting::kSoftware);
  EXPECT_EQ(c->lag.software_vf_capacity, 8u);
  auto rc = lagRuntimeConfigOf(c->lag);
  ASSERT_TRUE(rc.isOk()) << rc.status().toString();
  EXPECT_EQ(rc->lag.primary, "pf1");
  EXPECT_FALSE(rc->lag.failback);
  EXPECT_EQ(rc->lag.updelay, Duration(200ms));
  EXPECT_EQ(rc->lag.downdelay, Duration(1s));
  EXPECT_EQ(rc->member_netdevs, (std::vector<std::string>{"eth0", "eth1"}));
}

TEST(LagConfigTranslation, BalanceVmWithPinsAndFailbackPolicy) {
  auto c = parse(R"(lag {
  mode: LAG_MODE_BALANCE_VM
  vm_failback_delay { seconds: 5 }
  members { name: "pf0" netdev: "eth0" pinned_ports: "vm1" }
  members { name: "pf1" netdev: "eth1" pinned_ports: ["vm2", "vm3"] }
})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  auto rc = lagRuntimeConfigOf(c->lag);
  ASSERT_TRUE(rc.isOk()) << rc.status().toString();
  EXPECT_EQ(rc->lag.mode, lag::LagMode::kBalanceVm);
  EXPECT_FALSE(rc->lag.primary.has_value()) << "primary is an active-backup notion";
  EXPECT_EQ(rc->lag.vm_failback_delay, std::optional<Duration>(5s));
  EXPECT_EQ(pinOf(c->lag, "vm1"), std::optional<lag::MemberId>(0));
  EXPECT_EQ(pinOf(c->lag, "vm3"), std::optional<lag::MemberId>(1));
  EXPECT_EQ(pinOf(c->lag, "vm9"), std::nullopt);

  auto stay = parse(R"(lag { mode: LAG_MODE_BALANCE_VM vm_failback_stay: true
                              members { name: "pf0" } })");
  ASSERT_TRUE(stay.isOk()) << stay.status().toString();
  EXPECT_EQ(lagRuntimeConfigOf(stay->lag)->lag.vm_failback_delay, std::nullopt);
}

TEST(LagConfigTranslation, BadLagValuesNameTheField) {
  expectError(R"(lag { vf_provider: VF_PROVIDER_SOFTWARE members { name: "pf0" } })",
              "lag.members[0].netdev", "is required with software VFs");
  expectError(R"(lag { members { name: "pf0" pinned_ports: "vm1" } })",
              "lag.members[0].pinned_ports", "LAG_MODE_BALANCE_VM");
  expectError(R"(lag { mode: LAG_MODE_BALANCE_VM
                       members { name: "pf0" pinned_ports: "vm1" }
                       members { name: "pf1" pinned_ports: "vm1" } })",
              "lag.members[1].pinned_ports[0]", "already pinned to pf0");
  expectError(R"(lag { downdelay { seconds: 7200 } members { name: "pf0" } })", "lag.downdelay",
              "longer than 1 h");
  expectError(R"(lag { updelay { seconds: -1 } members { name: "pf0" } })", "lag.updelay",
              "non-negative");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SOFTWARE software_vf_capacity: 5000
                       members { name: "pf0" netdev: "eth0" } })",
              "lag.software_vf_capacity", "out of range 1..4096");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SOFTWARE members { name: "pf0" netdev: "eth0" } }
ports { id: "vm1" mac: "52:54:00:00:00:01" uplinks { member: "pf0" devargs: "0000:03:00.1" } })",
              "ports[0].uplinks[0]", "software VFs");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SHARED members { name: "pf0" } })",
              "lag.members[0].netdev", "is required with shared uplinks");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SHARED members { name: "pf0" netdev: "eth0" } }
ports { id: "vm1" mac: "52:54:00:00:00:01" uplinks { member: "pf0" devargs: "0000:03:00.1" } })",
              "ports[0].uplinks[0]", "shared uplinks");
}

TEST(LagConfigTranslation, SriovVfsTakeTheirOptions) {
  auto c = parse(R"(lag {
  vf_provider: VF_PROVIDER_SRIOV
  sriov_bind_vfio: false
  sriov_sysfs_root: "/srv/fake-sys"
  members { name: "pf0" netdev: "enp3s0f0" }
})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->lag.vf_provider, VfProviderSetting::kSriov);
  EXPECT_FALSE(c->lag.sriov_bind_vfio);
  EXPECT_EQ(c->lag.sriov_sysfs_root, "/srv/fake-sys");
  auto d = parse(R"(lag { vf_provider: VF_PROVIDER_SRIOV members { name: "pf0" netdev: "e0" } })");
  ASSERT_TRUE(d.isOk());
  EXPECT_TRUE(d->lag.sriov_bind_vfio) << "binding to vfio-pci is the default";
  EXPECT_EQ(d->lag.sriov_sysfs_root, "/sys");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SRIOV members { name: "pf0" } })",
              "lag.members[0].netdev", "is required with SR-IOV VFs");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SRIOV sriov_sysfs_root: "sys"
                       members { name: "pf0" netdev: "e0" } })",
              "lag.sriov_sysfs_root", "absolute path");
  expectError(R"(lag { vf_provider: VF_PROVIDER_SRIOV members { name: "pf0" netdev: "eth0" } }
ports { id: "vm1" mac: "52:54:00:00:00:01" uplinks { member: "pf0" devargs: "0000:03:00.1" } })",
              "ports[0].uplinks[0]", "SR-IOV VFs");
}

TEST(LagConfigTranslation, SharedUplinksNeedNoVfProvider) {
  auto c = parse(R"(lag {
  vf_provider: VF_PROVIDER_SHARED
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" netdev: "eth1" }
})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->lag.vf_provider, VfProviderSetting::kShared);
}

TEST(LagConfigTranslation, ProbesNeedATargetAndPerMemberSources) {
  auto c = parse(R"(lag {
  probe { target: "198.18.0.100" interval { nanos: 50000000 } missed_max: 3 }
  members { name: "pf0" netdev: "eth0" probe_source_ip: "198.18.0.240"
            probe_source_mac: "02:00:00:00:00:f0" }
})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  ASSERT_TRUE(c->lag.probe.has_value());
  EXPECT_EQ(c->lag.probe->target.toString(), "198.18.0.100");
  EXPECT_EQ(c->lag.probe->interval, Duration(50ms));
  EXPECT_EQ(c->lag.probe->missed_max, 3u);
  EXPECT_EQ(c->lag.members[0].probe_mac.toString(), "02:00:00:00:00:f0");
  auto rc = lagRuntimeConfigOf(c->lag);
  ASSERT_TRUE(rc.isOk());
  EXPECT_TRUE(rc->lag.members[0].probing) << "a probed member is healthy only while answered";

  expectError(R"(lag { probe { target: "198.18.0.100" } members { name: "pf0" netdev: "eth0" } })",
              "lag.members[0].probe_source_ip", "is required with lag.probe");
  expectError(R"(lag { probe { target: "198.18.0.300" } members { name: "pf0" netdev: "eth0" } })",
              "lag.probe.target", "198.18.0.300");
  expectError(R"(lag { probe { target: "198.18.0.100" interval { } }
                       members { name: "pf0" netdev: "eth0" } })",
              "lag.probe.interval", "out of range 1 ms..1 h");
  expectError(R"(lag { probe { target: "198.18.0.100" missed_max: 256 }
                       members { name: "pf0" netdev: "eth0" } })",
              "lag.probe.missed_max", "out of range 1..255");
  expectError(R"(lag { probe { target: "198.18.0.100" }
                       members { name: "pf0" netdev: "eth0" probe_source_ip: "198.18.0.240"
                                 probe_source_mac: "01:00:5e:00:00:01" } })",
              "lag.members[0].probe_source_mac", "multicast");
  expectError(R"(lag { members { name: "pf0" probe_source_ip: "198.18.0.240" } })",
              "lag.members[0].probe_source_ip", "need lag.probe");
}

// Probe endpoints in memory: what vfod sent per member, replies queued by
// the test.
class FakeProbeChannel : public ProbeChannel {
 public:
  int fd(lag::MemberId) const override { return -1; }
  bool send(lag::MemberId m, std::span<const uint8_t> f) override {
    sent[m].emplace_back(f.begin(), f.end());
    return true;
  }
  void drain(lag::MemberId m, const std::function<void(std::span<const uint8_t>)>& fn) override {
    for (const auto& f : replies[m]) fn(f);
    replies[m].clear();
  }
  std::map<lag::MemberId, std::vector<std::vector<uint8_t>>> sent;
  std::map<lag::MemberId, std::vector<std::vector<uint8_t>>> replies;
};

// An ARP reply from `ip`/`mac` to the probe `to_mac`/`to_ip`.
std::vector<uint8_t> arpReply(const std::string& mac, const std::string& ip,
                              const std::string& to_mac, const std::string& to_ip) {
  const auto m = MacAddress::parse(mac)->bytes();
  const auto t = MacAddress::parse(to_mac)->bytes();
  const auto a = Ipv4Address::parse(ip)->bytes();
  const auto b = Ipv4Address::parse(to_ip)->bytes();
  std::vector<uint8_t> f(t.begin(), t.end());
  f.insert(f.end(), m.begin(), m.end());
  f.insert(f.end(), {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02});
  f.insert(f.end(), m.begin(), m.end());
  f.insert(f.end(), a.begin(), a.end());
  f.insert(f.end(), t.begin(), t.end());
  f.insert(f.end(), b.begin(), b.end());
  f.resize(60, 0);
  return f;
}

// The wiring: PortManager on fake DPDK, software VFs from a fake provider,
// the kernel played through a fake rtnetlink socket, virtual time.
class LagControllerTest : public ::testing::Test {
 protected:
  void make(const std::string& lag_text) {
    auto c = parse(lag_text);
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    config_ = *c;
    PortManager::Options o{config_.sockets, config_.lag, config_.datapath, {}};
    pm_ = std::make_unique<PortManager>(dpdk_, dp_, o);
    dpdk_.handler = pm_.get();
    vfs_.addPf("eth0", 4);
    vfs_.addPf("eth1", 4);
    sock_.setDumpReply(RTM_GETLINK, {lag::msg(lag::up(10, "eth0")), lag::msg(lag::up(11, "eth1"))});
    auto lc = LagController::create(config_, *pm_, &sock_, &vfs_, clock_, &probes_);
    ASSERT_TRUE(lc.isOk()) << lc.status().toString();
    lc_ = std::move(*lc);
    ASSERT_TRUE(lc_->start().isOk());
    ASSERT_TRUE(lc_->onReadable(clock_.now()).isOk());  // the initial dump
  }
  PortSettings port(const std::string& id, const char* mac) {
    auto p = portFromProto(protoPort(id, mac), config_.sockets, config_.lag);
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    return *p;
  }
  static v1::PortConfig protoPort(const std::string& id, const char* mac) {
    v1::PortConfig p;
    p.set_id(id);
    p.set_mac(mac);
    return p;
  }
  DatapathPort& dpPort(const std::string& id) {
    for (auto& [k, p] : dp_.ports)
      if (p->id == id) return *p;
    ADD_FAILURE() << "no datapath port " << id;
    return *dp_.ports.begin()->second;
  }
  lag::MemberId steeredTo(const std::string& id) {
    return Steering::unpack(dpPort(id).steering.load()).tx_member;
  }
  void kernelSays(const lag::Link& l) {
    sock_.pushMessages({lag::msg(l)});
    ASSERT_TRUE(lc_->onReadable(clock_.now()).isOk());
  }
  void runFor(Duration d) {
    const TimePoint until = clock_.now() + d;
    for (TimePoint t = lc_->nextDeadline(); t <= until; t = lc_->nextDeadline()) {
      clock_.set(std::max(clock_.now(), t));
      ASSERT_TRUE(lc_->onTick(clock_.now()).isOk());
    }
    clock_.set(until);
  }

  static constexpr const char* kSoftwareLag = R"(lag {
  vf_provider: VF_PROVIDER_SOFTWARE
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" netdev: "eth1" }
})";

  VfodConfig config_;
  CallLog log_;
  FakeDpdkControl dpdk_{log_};
  FakeDatapath dp_{log_};
  std::unique_ptr<PortManager> pm_;
  sriov::testing::FakeVfProvider vfs_;
  FakeClock clock_{TimePoint{1000s}};
  netlink::FakeNetlinkSocket sock_{clock_};
  FakeProbeChannel probes_;
  std::unique_ptr<LagController> lc_;
};

TEST_F(LagControllerTest, PortGetsOneVfPerMemberAndOpensTheirDevargs) {
  make(kSoftwareLag);
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  ASSERT_EQ(vfs_.inUse().size(), 2u);
  for (const auto& vf : vfs_.inUse()) {
    EXPECT_EQ(vf.config.mac.toString(), "52:54:00:00:00:01");
    EXPECT_TRUE(vf.config.spoof_check);
  }
  // The fake's VF devargs are its PCI addresses: slot 0 of each PF.
  EXPECT_THAT(log_.calls, Contains("open 0000:00:00.0"));
  EXPECT_EQ(std::count(log_.calls.begin(), log_.calls.end(), "open 0000:00:00.0"), 2);
  EXPECT_EQ(steeredTo("vm1"), 0u);
  ASSERT_TRUE(lc_->portIndex("vm1").has_value());
  EXPECT_EQ(lc_->createPort(port("vm1", "52:54:00:00:00:01")).code(), StatusCode::kAlreadyExists);
}

// VF_PROVIDER_SRIOV as vfod wires it: sriov-manager's sysfs provider (a
// fake sysfs tree, the PFs' rtnetlink played by FakeRtnl) gives each port a
// real VF per member, bound to vfio-pci and opened by its PCI address;
// deleting the port opens nothing more and returns both VFs clean.
TEST(LagControllerSriov, PortsGetRealVfsOpenedByPciAddress) {
  auto c = parse(R"(lag {
  vf_provider: VF_PROVIDER_SRIOV
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" netdev: "eth1" }
})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  sriov::testing::FakeSysfsTree tree;
  tree.addDriver("vfio-pci");
  tree.addPf("eth0", "0000:3b:00.0", 8);
  tree.addPf("eth1", "0000:5e:00.0", 8);
  sriov::testing::KernelLikeSysfsIo io{tree};
  sriov::SriovSysfs sysfs{io};
  ASSERT_TRUE(sysfs.setNumVfs("eth0", 2, {}).isOk());
  ASSERT_TRUE(sysfs.setNumVfs("eth1", 2, {}).isOk());
  FakeClock clock{TimePoint{1000s}};
  netlink::FakeNetlinkSocket vf_sock{clock};
  sriov::testing::FakeRtnl rtnl{vf_sock};
  rtnl.addPf("eth0", "3c:fd:fe:a0:00:10", 2);
  rtnl.addPf("eth1", "3c:fd:fe:a0:00:11", 2);
  sriov::VfNetlink nl{vf_sock};
  sriov::SysfsSriovOptions so;
  so.bind_vfio = c->lag.sriov_bind_vfio;
  sriov::SysfsSriovProvider vfs(sysfs, nl, so);

  CallLog log;
  FakeDpdkControl dpdk{log};
  FakeDatapath dp{log};
  PortManager pm(dpdk, dp, PortManager::Options{c->sockets, c->lag, c->datapath, {}});
  dpdk.handler = &pm;
  netlink::FakeNetlinkSocket link_sock{clock};
  link_sock.setDumpReply(RTM_GETLINK,
                         {lag::msg(lag::up(10, "eth0")), lag::msg(lag::up(11, "eth1"))});
  auto lc = LagController::create(*c, pm, &link_sock, &vfs, clock, nullptr);
  ASSERT_TRUE(lc.isOk()) << lc.status().toString();
  ASSERT_TRUE((*lc)->start().isOk());
  ASSERT_TRUE((*lc)->onReadable(clock.now()).isOk());

  auto settings = portFromProto(
      [] {
        v1::PortConfig p;
        p.set_id("vm1");
        p.set_mac("52:54:00:00:00:01");
        p.set_queue_pairs(2);
        return p;
      }(),
      c->sockets, c->lag);
  ASSERT_TRUE(settings.isOk()) << settings.status().toString();
  ASSERT_TRUE((*lc)->createPort(*settings).isOk());
  const std::string vf0 = sriov::testing::FakeSysfsTree::vfPci("0000:3b:00.0", 0);
  const std::string vf1 = sriov::testing::FakeSysfsTree::vfPci("0000:5e:00.0", 0);
  // Opened by PCI address, with no af_packet options for the two queues.
  EXPECT_THAT(log.calls, Contains("open " + vf0));
  EXPECT_THAT(log.calls, Contains("open " + vf1));
  ASSERT_EQ(dpdk.open_requests.size(), 2u);
  EXPECT_EQ(dpdk.open_requests[0].devargs, vf0);
  EXPECT_EQ(dpdk.open_requests[0].queue_pairs, 2);
  EXPECT_EQ(rtnl.vf("eth0", 0).mac.toString(), "52:54:00:00:00:01");
  EXPECT_EQ(rtnl.vf("eth1", 0).mac.toString(), "52:54:00:00:00:01");
  EXPECT_TRUE(rtnl.vf("eth0", 0).spoof_check);
  EXPECT_EQ(tree.boundDriver(vf0), "vfio-pci");

  ASSERT_TRUE((*lc)->deletePort("vm1").isOk());
  EXPECT_TRUE(rtnl.vf("eth0", 0).mac.isZero());
  EXPECT_TRUE(rtnl.vf("eth1", 0).mac.isZero());
  EXPECT_NE(tree.boundDriver(vf0), "vfio-pci") << "back to its own driver";
  EXPECT_EQ(dpdk.open_ports.size(), 0u);
}

// A burst larger than the relay's command ring (or a worker that fell
// behind) delays announce frames instead of losing them: they wait in order
// and leave as soon as the ring takes them again.
TEST_F(LagControllerTest, AnnounceFramesTheRingRefusesWaitAndLeaveInOrder) {
  make(kSoftwareLag);
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  auto garp =
      *lag::buildGratuitousArp(lag::GarpForm::kRequest, *MacAddress::parse("52:54:00:00:00:01"),
                               *Ipv4Address::parse("198.18.0.10"), 0);
  lc_->onLearnerFrame(dpPort("vm1"), Direction::kFromGuest,
                      FrameView{garp.data(), uint32_t(garp.size())});
  clock_.advance(1s);
  dp_.send_room = 1;  // the ring takes the RARP, not the GARP
  kernelSays(lag::noCarrier(10, "eth0"));
  ASSERT_EQ(dp_.sent.size(), 1u);
  EXPECT_EQ(lc_->announceBacklog(), 1u);
  EXPECT_EQ(lc_->nextDeadline(), clock_.now() + kAnnounceRetry) << "comes back to retry";
  clock_.advance(kAnnounceRetry);
  ASSERT_TRUE(lc_->onTick(clock_.now()).isOk());
  EXPECT_EQ(dp_.sent.size(), 1u) << "still full: the frame keeps waiting";
  EXPECT_EQ(lc_->announceBacklog(), 1u);
  EXPECT_EQ(lc_->nextDeadline(), clock_.now() + kAnnounceRetry) << "and a new retry is due";

  dp_.send_room = SIZE_MAX;  // the worker caught up
  clock_.set(lc_->nextDeadline());
  ASSERT_TRUE(lc_->onTick(clock_.now()).isOk());
  EXPECT_EQ(dp_.sent.size(), 2u);
  EXPECT_EQ(lc_->announceBacklog(), 0u);
  runFor(1s);
  EXPECT_EQ(dp_.sent.size(), 6u) << "3 bursts of RARP + GARP, none lost";
  ASSERT_EQ(lc_->failovers().size(), 1u);
  EXPECT_EQ(lc_->failovers().back().frames_announced, 6u);
  const std::string stats = lc_->renderStats();
  EXPECT_THAT(stats, HasSubstr("announce send_failures 0\n"));
  EXPECT_THAT(stats, HasSubstr("announce ring_backlog_waits 1\n"));
  EXPECT_THAT(stats, HasSubstr("announce ring_backlog_refused 0\n"));
}

TEST_F(LagControllerTest, CarrierLossSwitchesAnnouncesOnTheSurvivorAndRecordsTheTimeline) {
  make(kSoftwareLag);
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  // The guest's GARP, as a worker copies it to the learner ring.
  auto garp =
      *lag::buildGratuitousArp(lag::GarpForm::kRequest, *MacAddress::parse("52:54:00:00:00:01"),
                               *Ipv4Address::parse("198.18.0.10"), 0);
  lc_->onLearnerFrame(dpPort("vm1"), Direction::kFromGuest,
                      FrameView{garp.data(), uint32_t(garp.size())});
  EXPECT_EQ(lc_->runtime().learner().addresses(*lc_->portIndex("vm1")).size(), 1u);

  clock_.advance(1s);
  kernelSays(lag::noCarrier(10, "eth0"));
  EXPECT_EQ(steeredTo("vm1"), 1u) << "switched inside the carrier notification";
  ASSERT_FALSE(dp_.sent.empty()) << "the first announce burst leaves at once";
  for (const auto& [member, frames] : dp_.sent) EXPECT_EQ(member, 1u) << "announces on pf1 only";
  runFor(1s);
  EXPECT_EQ(dp_.sent.size(), 6u) << "3 bursts of RARP + GARP";
  ASSERT_EQ(lc_->failovers().size(), 1u);
  const lag::FailoverRecord& r = lc_->failovers().back();
  EXPECT_EQ(r.from, 0u);
  EXPECT_EQ(r.to, 1u);
  EXPECT_EQ(r.frames_announced, 6u);
  const std::string line = formatFailover(r, {"pf0", "pf1"});
  EXPECT_THAT(line, HasSubstr("[port vm1] failover pf0 -> pf1 (member-down)"));
  EXPECT_THAT(line, HasSubstr("first frame +0 us, first burst +0 us, last frame +"));
  EXPECT_THAT(line, HasSubstr("6 frames"));
  const std::string stats = lc_->renderStats();
  EXPECT_THAT(stats, HasSubstr("lag failovers 1\n"));
  EXPECT_THAT(stats, HasSubstr("announce frames_rarp 3\nannounce frames_garp 3\n"));
  EXPECT_THAT(stats, HasSubstr("failover 1 port vm1 from pf0 to pf1 reason member-down "
                               "switched_us 0 first_frame_us 0 frames 6\n"));

  // Failback (on by default) when pf0 returns: back to pf0, announced there.
  dp_.sent.clear();
  kernelSays(lag::up(10, "eth0"));
  runFor(1s);
  EXPECT_EQ(steeredTo("vm1"), 0u);
  ASSERT_FALSE(dp_.sent.empty());
  for (const auto& [member, frames] : dp_.sent) EXPECT_EQ(member, 0u);
}

TEST_F(LagControllerTest, BalanceVmMovesOnlyThePortsOfTheFailedMember) {
  make(R"(lag {
  mode: LAG_MODE_BALANCE_VM
  vf_provider: VF_PROVIDER_SOFTWARE
  members { name: "pf0" netdev: "eth0" pinned_ports: "vm1" }
  members { name: "pf1" netdev: "eth1" pinned_ports: "vm2" }
})");
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  ASSERT_TRUE(lc_->createPort(port("vm2", "52:54:00:00:00:02")).isOk());
  EXPECT_EQ(steeredTo("vm1"), 0u);
  EXPECT_EQ(steeredTo("vm2"), 1u);
  kernelSays(lag::noCarrier(11, "eth1"));
  runFor(1s);
  EXPECT_EQ(steeredTo("vm1"), 0u);
  EXPECT_EQ(steeredTo("vm2"), 0u);
  ASSERT_EQ(lc_->failovers().size(), 1u);
  EXPECT_EQ(lc_->failovers().back().port_name, "vm2");
}

TEST_F(LagControllerTest, AFailingStepUndoesThePortAndItsVfs) {
  make(kSoftwareLag);
  // The second member's VF cannot be configured: nothing remains.
  vfs_.failNextConfigure("eth1", EBUSY);
  Status s = lc_->createPort(port("vm1", "52:54:00:00:00:01"));
  EXPECT_FALSE(s.isOk());
  EXPECT_THAT(s.message(), HasSubstr("vm1"));
  EXPECT_TRUE(vfs_.inUse().empty());
  EXPECT_TRUE(dp_.ports.empty());
  // The uplink on pf1 fails to open: the VFs made for the port are reset.
  dpdk_.fail_open[1] = unavailable("rte_dev_probe failed");
  s = lc_->createPort(port("vm1", "52:54:00:00:00:01"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(vfs_.inUse().empty());
  EXPECT_TRUE(dp_.ports.empty());
  EXPECT_FALSE(lc_->portIndex("vm1").has_value());
  // And then it works.
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  EXPECT_EQ(vfs_.inUse().size(), 2u);
}

TEST_F(LagControllerTest, DeleteResetsTheVfsAndAdoptionKeepsExistingOnes) {
  make(kSoftwareLag);
  // VFs a previous vfod configured for vm1 (it crashed): adopted, not remade.
  sriov::VfConfig c;
  c.mac = *MacAddress::parse("52:54:00:00:00:01");
  vfs_.preset({"eth0", 2}, c);
  vfs_.preset({"eth1", 3}, c);
  const PortSettings p = port("vm1", "52:54:00:00:00:01");
  auto report = lc_->adopt({p});
  EXPECT_EQ(report.adopted.size(), 2u);
  const int configured_before = vfs_.configureCalls();
  ASSERT_TRUE(lc_->createPort(p).isOk());
  EXPECT_EQ(vfs_.configureCalls(), configured_before) << "adopted VFs are not configured again";
  EXPECT_THAT(log_.calls, Contains("open 0000:00:00.2"));
  EXPECT_THAT(log_.calls, Contains("open 0000:00:00.3"));

  ASSERT_TRUE(lc_->deletePort("vm1").isOk());
  EXPECT_TRUE(vfs_.inUse().empty());
  EXPECT_TRUE(dp_.ports.empty());
  EXPECT_EQ(lc_->deletePort("vm1").code(), StatusCode::kNotFound);
}

TEST_F(LagControllerTest, ASilentPathIsFoundByProbesAndThePortMoves) {
  make(R"(lag {
  vf_provider: VF_PROVIDER_SOFTWARE
  probe { target: "198.18.0.100" interval { nanos: 100000000 } missed_max: 2 }
  members { name: "pf0" netdev: "eth0" probe_source_ip: "198.18.0.240"
            probe_source_mac: "02:00:00:00:00:f0" }
  members { name: "pf1" netdev: "eth1" probe_source_ip: "198.18.0.241"
            probe_source_mac: "02:00:00:00:00:f1" }
})");
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  EXPECT_EQ(steeredTo("vm1"), 0u) << "probing members start healthy";
  const auto answer = [&](lag::MemberId m) {
    const char* mac = m == 0 ? "02:00:00:00:00:f0" : "02:00:00:00:00:f1";
    const char* ip = m == 0 ? "198.18.0.240" : "198.18.0.241";
    probes_.replies[m].push_back(arpReply("02:00:00:00:00:64", "198.18.0.100", mac, ip));
    lc_->onProbeReadable(m, clock_.now());
  };
  // Every interval each member sends an ARP request for the target from its
  // probe MAC and IP.
  runFor(1ms);
  ASSERT_EQ(probes_.sent[0].size(), 1u);
  ASSERT_EQ(probes_.sent[1].size(), 1u);
  auto parsed = lag::parseAddressFrame(probes_.sent[1][0]);
  EXPECT_EQ(parsed.source, lag::AddressSource::kArpRequest);
  EXPECT_EQ(parsed.binding.mac.toString(), "02:00:00:00:00:f1");
  EXPECT_EQ(parsed.binding.ipv4.toString(), "198.18.0.241");
  EXPECT_EQ(probes_.sent[1][0][0], 0xff) << "broadcast";

  // Both answered for a while: nothing moves.
  for (int i = 0; i < 5; ++i) {
    answer(0);
    answer(1);
    runFor(100ms);
  }
  EXPECT_EQ(steeredTo("vm1"), 0u);
  // A reply from another address does not count.
  probes_.replies[0].push_back(
      arpReply("02:00:00:00:00:65", "198.18.0.101", "02:00:00:00:00:f0", "198.18.0.240"));
  lc_->onProbeReadable(0, clock_.now());
  EXPECT_EQ(lc_->probes()->stats().foreign_replies, 1u);
  // pf0's path dies silently (carrier stays up): after 2 missed intervals
  // the port moves to pf1 and is announced there.
  dp_.sent.clear();
  for (int i = 0; i < 3; ++i) {
    answer(1);
    runFor(100ms);
  }
  EXPECT_EQ(steeredTo("vm1"), 1u);
  ASSERT_FALSE(lc_->failovers().empty());
  EXPECT_EQ(lc_->failovers().back().reason, lag::DecisionReason::kMemberDown);
  ASSERT_FALSE(dp_.sent.empty());
  EXPECT_EQ(dp_.sent[0].first, 1u);
  // The path heals: pf0 answers again and the port returns (failback).
  for (int i = 0; i < 3; ++i) {
    answer(0);
    answer(1);
    runFor(100ms);
  }
  EXPECT_EQ(steeredTo("vm1"), 0u);
}

TEST(LagConfigTranslation, BalanceFlowTakesBondingsHashPolicyNames) {
  auto c = parse(R"(lag { mode: LAG_MODE_BALANCE_FLOW xmit_hash_policy: "layer3+4"
                          members { name: "pf0" } members { name: "pf1" } })");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  auto rc = lagRuntimeConfigOf(c->lag);
  ASSERT_TRUE(rc.isOk()) << rc.status().toString();
  EXPECT_EQ(rc->lag.mode, lag::LagMode::kBalanceFlow);
  EXPECT_EQ(rc->lag.hash_policy, lag::HashPolicy::kLayer34);
  expectError(R"(lag { xmit_hash_policy: "layer2" members { name: "pf0" } })",
              "lag.xmit_hash_policy", "LAG_MODE_BALANCE_FLOW");
  expectError(
      R"(lag { mode: LAG_MODE_BALANCE_FLOW xmit_hash_policy: "l9" members { name: "pf0" } })",
      "lag.xmit_hash_policy", "l9");
}

TEST_F(LagControllerTest, BalanceFlowHashesFramesOverTheLiveMembers) {
  make(R"(lag {
  mode: LAG_MODE_BALANCE_FLOW
  vf_provider: VF_PROVIDER_SOFTWARE
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" netdev: "eth1" }
})");
  ASSERT_TRUE(lc_->createPort(port("vm1", "52:54:00:00:00:01")).isOk());
  // Frames to 16 different destination MACs: layer2 hashing spreads them.
  auto members_used = [&] {
    std::set<lag::MemberId> used;
    const MemberSelector* sel = dpPort("vm1").selector.load();
    EXPECT_NE(sel, nullptr);
    if (!sel) return used;
    for (uint8_t d = 0; d < 16; ++d) {
      std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, d, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00};
      f.resize(60, 0);
      used.insert(sel->select(sel->context, f.data(), uint32_t(f.size())));
    }
    return used;
  };
  EXPECT_EQ(members_used(), (std::set<lag::MemberId>{0, 1}));
  EXPECT_EQ(Steering::unpack(dpPort("vm1").steering.load()).rx_members, 0b11u);
  dp_.sent.clear();
  kernelSays(lag::noCarrier(10, "eth0"));
  runFor(1s);
  EXPECT_EQ(members_used(), (std::set<lag::MemberId>{1}));
  EXPECT_EQ(Steering::unpack(dpPort("vm1").steering.load()).rx_members, 0b10u);
  EXPECT_TRUE(dp_.sent.empty()) << "balance-flow announces nothing: the switch sees one channel";
  kernelSays(lag::noCarrier(11, "eth1"));
  runFor(1s);
  EXPECT_EQ(members_used(), (std::set<lag::MemberId>{lag::kNoMember}));
  kernelSays(lag::up(10, "eth0"));
  kernelSays(lag::up(11, "eth1"));
  runFor(1s);
  EXPECT_EQ(members_used(), (std::set<lag::MemberId>{0, 1}));
}

}  // namespace
}  // namespace vfo::vhost
