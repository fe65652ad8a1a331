// PortManager against fake DPDK control and datapath: uplinks, sockets,
// vhost events, states, failover, export/import, rollback on failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_dpdk.h"
#include "vfo/vhost/port_manager.h"
#include "vfo/vhost/virtio_features.h"

namespace vfo::vhost {
namespace {

using testing::CallLog;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FakeDatapath;
using testing::FakeDpdkControl;
using ::testing::HasSubstr;
using ::testing::Not;

PortSettings portSettings(const std::string& id, uint16_t qps = 1) {
  PortSettings p;
  p.id = id;
  p.socket_path = "/run/vfo/sockets/" + id + ".sock";
  p.mac = *MacAddress::parse("52:54:00:00:00:01");
  p.allowed_macs = {p.mac};
  p.queue_pairs = qps;
  p.uplink_devargs = {"", ""};
  return p;
}

class PortManagerTest : public ::testing::Test {
 protected:
  PortManagerTest() : dpdk_(log_), dp_(log_) {
    PortManager::Options o;
    o.lag.members = {{"pf0", "eth0"}, {"pf1", "eth1"}};
    o.lag.primary = 0;
    o.sockets.mode = 0660;
    pm_ = std::make_unique<PortManager>(dpdk_, dp_, o);
    dpdk_.handler = pm_.get();
  }

  DatapathPort& onlyPort() {
    EXPECT_EQ(dp_.ports.size(), 1u);
    return *dp_.ports.begin()->second;
  }

  // Simulates DPDK bringing a guest driver up on `path`.
  bool connect(const std::string& path, int vid, uint16_t vrings) {
    pm_->onNewConnection(vid, path);
    for (uint16_t v = 0; v < vrings; ++v) pm_->onVringStateChanged(vid, path, v, true);
    VhostDeviceInfo info{vid, path, featureBit(kVirtioNetFMrgRxbuf), vrings};
    const bool ok = pm_->onNewDevice(info);
    if (ok) dpdk_.running_devices[path] = vid;
    return ok;
  }

  CallLog log_;
  FakeDpdkControl dpdk_;
  FakeDatapath dp_;
  std::unique_ptr<PortManager> pm_;
};

TEST_F(PortManagerTest, CreateOpensEveryUplinkThenRegistersTheSocket) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1", 2)).isOk());
  EXPECT_THAT(log_.calls,
              ElementsAre("open net_af_packet_vfo0m0,iface=eth0,qpairs=2",
                          "open net_af_packet_vfo1m1,iface=eth1,qpairs=2", "dp.add vm1",
                          "stale /run/vfo/sockets/vm1.sock", "register /run/vfo/sockets/vm1.sock",
                          "chmod 660 /run/vfo/sockets/vm1.sock"));
  EXPECT_EQ(dpdk_.open_requests[0].queue_pairs, 2);
  DatapathPort& dp = onlyPort();
  EXPECT_EQ(dp.queue_pairs, 2);
  EXPECT_EQ(dp.member_count, 2u);
  EXPECT_TRUE(dp.uplinks[0].present && dp.uplinks[1].present);
  EXPECT_NE(dp.uplinks[0].eth_port, dp.uplinks[1].eth_port);
  EXPECT_EQ(Steering::unpack(dp.steering.load()), Steering::activeBackup(0));
  EXPECT_TRUE(dp.forwarding.load());
  EXPECT_EQ(dp.policy.load()->vlan, 0);

  auto rec = pm_->exportPort("vm1");
  ASSERT_TRUE(rec.isOk());
  EXPECT_EQ(rec->state, PortState::kActive);
  EXPECT_EQ(rec->vhost, VhostLink::kDisconnected);
  EXPECT_EQ(rec->active_member, 0u);
}

TEST_F(PortManagerTest, OffloadsFollowTheUplinks) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1", 2)).isOk());
  const VhostSocketRequest& r = dpdk_.sockets.at("/run/vfo/sockets/vm1.sock");
  EXPECT_EQ(r.role, SocketRole::kServer);
  EXPECT_FALSE(r.linear_buffers);
  // af_packet-like uplinks: no checksum/TSO, so none of it is offered.
  EXPECT_EQ(r.disabled_features & kHostChecksumFeatures, kHostChecksumFeatures);
  EXPECT_EQ(r.disabled_features & kHostSegmentationFeatures, kHostSegmentationFeatures);
  EXPECT_EQ(r.disabled_features & kGuestOffloadFeatures, kGuestOffloadFeatures);
  EXPECT_EQ(r.disabled_features & featureBit(kVirtioNetFMq), 0u) << "2 queue pairs need MQ";
  EXPECT_EQ(r.disabled_features & featureBit(kVirtioNetFMrgRxbuf), 0u);
  EXPECT_EQ(r.disabled_features & unmaskableFeatures(), 0u);

  // Checksum-capable uplinks without TSO: CSUM offered, TSO withdrawn;
  // one queue pair: MQ withdrawn; the port's own mask applies on top.
  PortSettings s = portSettings("vm2", 1);
  s.disabled_features = featureBit(kVirtioNetFMrgRxbuf);
  UplinkInfo u;
  u.tx_checksum = true;
  u.tx_multi_segs = false;
  const VhostSocketRequest r2 = PortManager::socketRequestFor(s, {u, u});
  EXPECT_EQ(r2.disabled_features & kHostChecksumFeatures, 0u);
  EXPECT_EQ(r2.disabled_features & kHostSegmentationFeatures, kHostSegmentationFeatures);
  EXPECT_NE(r2.disabled_features & featureBit(kVirtioNetFMq), 0u);
  EXPECT_NE(r2.disabled_features & featureBit(kVirtioNetFMrgRxbuf), 0u);
  EXPECT_TRUE(r2.linear_buffers);
  u.tx_tso = true;
  EXPECT_EQ(PortManager::socketRequestFor(s, {u, u}).disabled_features & kHostSegmentationFeatures,
            0u);
  UplinkInfo weak;  // one member without checksum offload withdraws it
  EXPECT_NE(PortManager::socketRequestFor(s, {u, weak}).disabled_features & kHostChecksumFeatures,
            0u);
}

TEST_F(PortManagerTest, ExplicitDevargsAndClientRole) {
  PortSettings s = portSettings("vm1");
  s.role = SocketRole::kClient;
  s.uplink_devargs = {"0000:03:00.2", ""};
  ASSERT_TRUE(pm_->createPort(s).isOk());
  EXPECT_THAT(log_.calls,
              ElementsAre("open 0000:03:00.2", "open net_af_packet_vfo0m1,iface=eth1,qpairs=1",
                          "dp.add vm1", "register /run/vfo/sockets/vm1.sock"))
      << "client sockets are QEMU's: no stale-socket removal, no chmod";
  EXPECT_EQ(dpdk_.sockets.at(s.socket_path).role, SocketRole::kClient);
}

TEST_F(PortManagerTest, SameSettingsAgainIsANoOpOtherSettingsAlreadyExist) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  const size_t calls = log_.calls.size();
  EXPECT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  EXPECT_EQ(log_.calls.size(), calls);
  PortSettings other = portSettings("vm1");
  other.vlan = 7;
  Status s = pm_->createPort(other);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("port vm1 exists with other settings"));
  PortSettings same_socket = portSettings("vm2");
  same_socket.socket_path = "/run/vfo/sockets/vm1.sock";
  s = pm_->createPort(same_socket);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("is used by port vm1"));
  EXPECT_EQ(log_.calls.size(), calls);
}

TEST_F(PortManagerTest, UplinkFailureClosesWhatWasOpened) {
  dpdk_.fail_open[1] = unavailable("rte_dev_probe failed");
  Status s = pm_->createPort(portSettings("vm1"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "port vm1: uplink on member pf1: rte_dev_probe failed");
  EXPECT_TRUE(dpdk_.open_ports.empty());
  EXPECT_TRUE(dp_.ports.empty());
  EXPECT_TRUE(pm_->listPorts().empty());
  EXPECT_EQ(pm_->exportPort("vm1").status().code(), StatusCode::kNotFound);
}

TEST_F(PortManagerTest, SocketFailuresUndoEverything) {
  dpdk_.fail_register = unavailable("bind failed");
  Status s = pm_->createPort(portSettings("vm1"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("port vm1: bind failed"));
  EXPECT_TRUE(dpdk_.open_ports.empty());
  EXPECT_TRUE(dp_.ports.empty());
  EXPECT_TRUE(pm_->listPorts().empty());

  dpdk_.fail_register = okStatus();
  dpdk_.fail_stale_socket = failedPrecondition("exists and is not a socket");
  EXPECT_EQ(pm_->createPort(portSettings("vm1")).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(dpdk_.open_ports.empty());

  dpdk_.fail_stale_socket = okStatus();
  dpdk_.fail_permissions = permissionDenied("chown");
  EXPECT_EQ(pm_->createPort(portSettings("vm1")).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(dpdk_.sockets.empty()) << "the registered socket was unregistered again";
  EXPECT_TRUE(dpdk_.open_ports.empty());
  EXPECT_TRUE(pm_->listPorts().empty());

  dpdk_.fail_permissions = okStatus();
  EXPECT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
}

TEST_F(PortManagerTest, RejectsMalformedSettings) {
  PortSettings s = portSettings("vm1");
  s.uplink_devargs = {""};
  EXPECT_EQ(pm_->createPort(s).code(), StatusCode::kInvalidArgument);
  s = portSettings("vm1", 17);
  EXPECT_EQ(pm_->createPort(s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pm_->createPort(portSettings("vm1"), PortState::kGone).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(log_.calls.empty());
}

TEST_F(PortManagerTest, GuestDriverLifecycle) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1", 2)).isOk());
  const std::string path = "/run/vfo/sockets/vm1.sock";
  DatapathPort& dp = onlyPort();

  pm_->onNewConnection(5, path);
  EXPECT_EQ(pm_->exportPort("vm1")->vhost, VhostLink::kConnected);
  pm_->onVringStateChanged(5, path, 0, true);
  pm_->onVringStateChanged(5, path, 1, true);
  pm_->onVringStateChanged(9, path, 2, true);  // no such connection: ignored
  EXPECT_FALSE(dp.vring_enabled[1].load()) << "workers see nothing before new_device";
  EXPECT_EQ(dp.vid.load(), -1);

  ASSERT_TRUE(pm_->onNewDevice({5, path, featureBit(kVirtioNetFMrgRxbuf), 4}));
  EXPECT_EQ(dp.vid.load(), 5);
  EXPECT_TRUE(dp.vring_enabled[0].load());
  EXPECT_TRUE(dp.vring_enabled[1].load());
  EXPECT_FALSE(dp.vring_enabled[2].load());
  pm_->onVringStateChanged(5, path, 3, true);  // later changes reach the workers directly
  EXPECT_TRUE(dp.vring_enabled[3].load());
  EXPECT_EQ(dp.guest_queue_pairs.load(), 2);
  auto rec = pm_->exportPort("vm1");
  EXPECT_EQ(rec->vhost, VhostLink::kRunning);
  EXPECT_EQ(rec->guest_queue_pairs, 2);
  EXPECT_EQ(rec->negotiated_features, featureBit(kVirtioNetFMrgRxbuf));
  EXPECT_FALSE(rec->dirty_logging);
  EXPECT_EQ(dp.events.vhost_connects.load(), 1u);

  pm_->onFeaturesChanged(5, path, featureBit(kVirtioNetFMrgRxbuf) | featureBit(kVhostFLogAll));
  EXPECT_TRUE(pm_->exportPort("vm1")->dirty_logging);

  const int q = dp_.quiesces;
  pm_->onDestroyDevice(5, path);
  EXPECT_EQ(dp.vid.load(), -1);
  EXPECT_EQ(dp_.quiesces, q + 1) << "destroy_device waits for the workers";
  EXPECT_EQ(pm_->exportPort("vm1")->vhost, VhostLink::kConnected);
  EXPECT_EQ(dp.events.vhost_disconnects.load(), 1u);
  EXPECT_FALSE(dp.vring_enabled[1].load());

  pm_->onDestroyConnection(5, path);
  EXPECT_EQ(pm_->exportPort("vm1")->vhost, VhostLink::kDisconnected);
  EXPECT_FALSE(dp.vring_enabled[1].load()) << "vring state is per connection";
}

TEST_F(PortManagerTest, RefusesGuestsWithMoreQueuePairsAndSecondConnections) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1", 1)).isOk());
  const std::string path = "/run/vfo/sockets/vm1.sock";
  DatapathPort& dp = onlyPort();
  EXPECT_FALSE(connect(path, 3, 4));
  EXPECT_EQ(dp.vid.load(), -1);
  EXPECT_EQ(dp.events.vhost_refused.load(), 1u);
  pm_->onDestroyConnection(3, path);

  EXPECT_TRUE(connect(path, 4, 2));
  pm_->onNewConnection(6, path);
  EXPECT_FALSE(pm_->onNewDevice({6, path, 0, 2}));
  EXPECT_EQ(dp.vid.load(), 4);
  EXPECT_FALSE(pm_->onNewDevice({7, "/run/vfo/sockets/unknown.sock", 0, 2}));
}

TEST_F(PortManagerTest, AConnectionClosingLateDoesNotHideTheNextGuest) {
  // Seen with a socket probe: its close is processed after the guest's
  // connection arrived and set up its vrings.
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  const std::string path = "/run/vfo/sockets/vm1.sock";
  DatapathPort& dp = onlyPort();
  pm_->onNewConnection(0, path);
  pm_->onNewConnection(1, path);
  pm_->onVringStateChanged(1, path, 0, true);
  pm_->onVringStateChanged(1, path, 1, true);
  pm_->onDestroyConnection(0, path);
  EXPECT_EQ(pm_->exportPort("vm1")->vhost, VhostLink::kConnected);
  ASSERT_TRUE(pm_->onNewDevice({1, path, 0, 2}));
  EXPECT_TRUE(dp.vring_enabled[0].load());
  EXPECT_TRUE(dp.vring_enabled[1].load());
  EXPECT_EQ(pm_->exportPort("vm1")->vhost, VhostLink::kRunning);
}

TEST_F(PortManagerTest, SharedUplinksAreUsedButNeverOpenedOrClosedByPorts) {
  PortManager::Options o;
  o.lag.members = {{"pf0", "eth0"}, {"pf1", "eth1"}};
  o.sockets.mode = 0660;
  UplinkInfo u0;
  u0.eth_port = 7;
  u0.device_name = "net_af_packet_vfoshared0";
  u0.tx_checksum = u0.tx_prepare = u0.tx_vlan_insert = true;  // never used on a shared uplink
  UplinkInfo u1 = u0;
  u1.eth_port = 8;
  o.shared_uplinks = {SharedUplinkRef{3, u0}, SharedUplinkRef{4, u1}};
  pm_.reset();
  PortManager pm(dpdk_, dp_, o);
  dpdk_.handler = &pm;
  log_.calls.clear();

  ASSERT_TRUE(pm.createPort(portSettings("vm1")).isOk());
  EXPECT_THAT(log_.calls, ElementsAre("dp.add vm1", "stale /run/vfo/sockets/vm1.sock",
                                      "register /run/vfo/sockets/vm1.sock",
                                      "chmod 660 /run/vfo/sockets/vm1.sock"));
  DatapathPort& dp = onlyPort();
  EXPECT_EQ(dp.uplinks[0].shared, 3);
  EXPECT_EQ(dp.uplinks[0].eth_port, 7);
  EXPECT_EQ(dp.uplinks[1].shared, 4);
  EXPECT_FALSE(dp.uplinks[0].tx_prepare || dp.uplinks[0].tx_vlan_offload);

  // A port naming its own devargs for a member opens that one only.
  PortSettings own = portSettings("vm2");
  own.socket_path = "/run/vfo/sockets/vm2.sock";
  own.uplink_devargs = {"", "net_af_packet_x,iface=eth9"};
  ASSERT_TRUE(pm.createPort(own).isOk());
  EXPECT_EQ(dpdk_.open_requests.size(), 1u);
  EXPECT_EQ(dpdk_.open_requests[0].devargs, "net_af_packet_x,iface=eth9");

  log_.calls.clear();
  ASSERT_TRUE(pm.deletePort("vm1").isOk());
  for (const auto& c : log_.calls) EXPECT_THAT(c, Not(HasSubstr("close"))) << "shared stays open";
  ASSERT_TRUE(pm.deletePort("vm2").isOk());
  EXPECT_THAT(log_.calls, Contains("close net_af_packet_x"));
  EXPECT_EQ(dpdk_.open_ports.size(), 0u);
}

TEST_F(PortManagerTest, DeleteDestroysTheRunningDeviceBeforeReleasingUplinks) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  const std::string path = "/run/vfo/sockets/vm1.sock";
  ASSERT_TRUE(connect(path, 2, 2));
  log_.calls.clear();
  ASSERT_TRUE(pm_->deletePort("vm1").isOk());
  EXPECT_THAT(log_.calls, ElementsAre("unregister " + path, "dp.quiesce", "dp.remove vm1",
                                      "close net_af_packet_vfo1m1", "close net_af_packet_vfo0m0"));
  EXPECT_TRUE(dpdk_.open_ports.empty());
  EXPECT_TRUE(dp_.ports.empty());
  EXPECT_EQ(pm_->deletePort("vm1").code(), StatusCode::kNotFound);
  // The id and socket can be used again.
  EXPECT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
}

TEST_F(PortManagerTest, LifecycleStates) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1"), PortState::kIncoming).isOk());
  DatapathPort& dp = onlyPort();
  EXPECT_FALSE(dp.forwarding.load());
  EXPECT_EQ(pm_->exportPort("vm1")->state, PortState::kIncoming);
  Status s = pm_->applyEvent("vm1", PortEvent::kBeginMigrationOut);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "port vm1: cannot begin migration out of a port that is incoming");
  ASSERT_TRUE(pm_->applyEvent("vm1", PortEvent::kActivate).isOk());
  EXPECT_TRUE(dp.forwarding.load());
  ASSERT_TRUE(pm_->applyEvent("vm1", PortEvent::kBeginMigrationOut).isOk());
  EXPECT_TRUE(dp.forwarding.load());
  EXPECT_EQ(pm_->exportPort("vm1")->state, PortState::kMigratingOut);
  ASSERT_TRUE(pm_->applyEvent("vm1", PortEvent::kCancelMigrationOut).isOk());
  EXPECT_EQ(pm_->exportPort("vm1")->state, PortState::kActive);
  EXPECT_EQ(pm_->applyEvent("nope", PortEvent::kActivate).code(), StatusCode::kNotFound);
  ASSERT_TRUE(pm_->applyEvent("vm1", PortEvent::kDelete).isOk());
  EXPECT_TRUE(pm_->listPorts().empty());
}

TEST_F(PortManagerTest, FailoverIsAStoreOfTheSteeringWord) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  ASSERT_TRUE(pm_->createPort(portSettings("vm2")).isOk());
  DatapathPort* vm1 = dp_.ports.at(1).get();
  DatapathPort* vm2 = dp_.ports.at(2).get();
  ASSERT_TRUE(pm_->setActiveMember("vm1", 1).isOk());
  EXPECT_EQ(Steering::unpack(vm1->steering.load()).tx_member, 1u);
  EXPECT_EQ(Steering::unpack(vm1->steering.load()).rx_members, 0b10u);
  EXPECT_EQ(Steering::unpack(vm2->steering.load()).tx_member, 0u);
  EXPECT_EQ(vm1->events.active_member_changes.load(), 1u);
  EXPECT_EQ(pm_->exportPort("vm1")->active_member, 1u);

  Status bad = pm_->setActiveMember("vm1", 2);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("member 2 is outside the LAG"));

  ASSERT_TRUE(pm_->setActiveMember("vm1", lag::kNoMember).isOk());
  EXPECT_EQ(Steering::unpack(vm1->steering.load()), Steering::activeBackup(lag::kNoMember));
  EXPECT_EQ(Steering::unpack(vm1->steering.load()).rx_members, 0u);

  ASSERT_TRUE(pm_->setActiveMemberAll(1).isOk());
  EXPECT_EQ(Steering::unpack(vm1->steering.load()).tx_member, 1u);
  EXPECT_EQ(Steering::unpack(vm2->steering.load()).tx_member, 1u);
  ASSERT_TRUE(pm_->createPort(portSettings("vm3")).isOk());
  EXPECT_EQ(pm_->exportPort("vm3")->active_member, 1u) << "new ports start on the group's member";
}

TEST_F(PortManagerTest, PolicyUpdate) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  DatapathPort& dp = onlyPort();
  const PortPolicy* before = dp.policy.load();
  const MacAddress a = *MacAddress::parse("52:54:00:00:00:0a");
  const MacAddress b = *MacAddress::parse("52:54:00:00:00:0b");
  ASSERT_TRUE(pm_->updatePortPolicy("vm1", 300, {a, b}).isOk());
  const PortPolicy* after = dp.policy.load();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->vlan, 300);
  EXPECT_TRUE(after->macs.contains(b.data()));
  EXPECT_FALSE(after->macs.contains(MacAddress::parse("52:54:00:00:00:01")->data()));
  auto rec = pm_->exportPort("vm1");
  EXPECT_EQ(rec->settings.mac, a);
  EXPECT_EQ(rec->settings.vlan, 300);
  EXPECT_EQ(pm_->updatePortPolicy("vm1", 4095, {a}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pm_->updatePortPolicy("vm1", 0, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pm_->updatePortPolicy("vm1", 0, {MacAddress::broadcast()}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pm_->updatePortPolicy("vm9", 0, {a}).code(), StatusCode::kNotFound);
  EXPECT_EQ(dp.policy.load(), after) << "failed updates change nothing";
}

lag::MemberId alwaysOne(const void*, const uint8_t*, uint32_t) {
  return 1;
}

TEST_F(PortManagerTest, SelectorHookForBalanceModes) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  DatapathPort& dp = onlyPort();
  MemberSelector sel{&alwaysOne, nullptr};
  const int q = dp_.quiesces;
  ASSERT_TRUE(pm_->setSelector("vm1", &sel, 0b11).isOk());
  EXPECT_EQ(dp.selector.load(), &sel);
  EXPECT_EQ(Steering::unpack(dp.steering.load()).rx_members, 0b11u);
  EXPECT_EQ(dp_.quiesces, q + 1) << "the old selector may be freed after the call";
  ASSERT_TRUE(pm_->setSelector("vm1", nullptr, 0).isOk());
  EXPECT_EQ(dp.selector.load(), nullptr);
  EXPECT_EQ(Steering::unpack(dp.steering.load()), Steering::activeBackup(0));
  EXPECT_EQ(pm_->setSelector("vm1", &sel, 0b100).code(), StatusCode::kInvalidArgument);
  MemberSelector empty;
  EXPECT_EQ(pm_->setSelector("vm1", &empty, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pm_->setSelector("vm9", &sel, 1).code(), StatusCode::kNotFound);
}

TEST_F(PortManagerTest, AnnouncementsGoToTheDatapath) {
  ASSERT_TRUE(pm_->createPort(portSettings("vm1")).isOk());
  ASSERT_TRUE(pm_->sendOnMember("vm1", 1, {{1, 2, 3}, {4, 5, 6}}).isOk());
  ASSERT_EQ(dp_.sent.size(), 1u);
  EXPECT_EQ(dp_.sent[0], std::make_pair(lag::MemberId(1), size_t(2)));
  EXPECT_EQ(pm_->sendOnMember("vm1", 5, {{1}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pm_->sendOnMember("vm9", 0, {{1}}).code(), StatusCode::kNotFound);
}

TEST_F(PortManagerTest, ExportImportRoundTrip) {
  PortSettings s = portSettings("vm1", 2);
  s.vlan = 42;
  ASSERT_TRUE(pm_->createPort(s).isOk());
  ASSERT_TRUE(pm_->setActiveMember("vm1", 1).isOk());
  ASSERT_TRUE(pm_->applyEvent("vm1", PortEvent::kBeginMigrationOut).isOk());
  auto rec = pm_->exportPort("vm1");
  ASSERT_TRUE(rec.isOk());
  ASSERT_TRUE(pm_->deletePort("vm1").isOk());
  ASSERT_TRUE(pm_->importPort(*rec).isOk());
  auto again = pm_->exportPort("vm1");
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, *rec);
  EXPECT_EQ(onlyPort().policy.load()->vlan, 42);

  PortRecord gone = *rec;
  gone.settings.id = "vm2";
  gone.state = PortState::kGone;
  EXPECT_EQ(pm_->importPort(gone).code(), StatusCode::kInvalidArgument);
}

TEST_F(PortManagerTest, CloseAllDeletesNewestFirst) {
  ASSERT_TRUE(pm_->createPort(portSettings("b")).isOk());
  ASSERT_TRUE(pm_->createPort(portSettings("a")).isOk());
  log_.calls.clear();
  pm_->closeAll();
  std::vector<std::string> removes;
  for (const auto& c : log_.calls)
    if (c.rfind("dp.remove", 0) == 0) removes.push_back(c);
  EXPECT_THAT(removes, ElementsAre("dp.remove a", "dp.remove b"));
  EXPECT_TRUE(dpdk_.sockets.empty());
  EXPECT_TRUE(dpdk_.open_ports.empty());
}

TEST(PortState, TransitionTable) {
  using S = PortState;
  using E = PortEvent;
  EXPECT_EQ(*nextPortState(S::kIncoming, E::kActivate), S::kActive);
  EXPECT_EQ(*nextPortState(S::kActive, E::kBeginMigrationOut), S::kMigratingOut);
  EXPECT_EQ(*nextPortState(S::kMigratingOut, E::kCancelMigrationOut), S::kActive);
  for (S s : {S::kIncoming, S::kActive, S::kMigratingOut})
    EXPECT_EQ(*nextPortState(s, E::kDelete), S::kGone);
  int refused = 0;
  for (S s : {S::kIncoming, S::kActive, S::kMigratingOut, S::kGone})
    for (E e : {E::kActivate, E::kBeginMigrationOut, E::kCancelMigrationOut, E::kDelete}) {
      auto n = nextPortState(s, e);
      if (!n.isOk()) {
        ++refused;
        EXPECT_EQ(n.status().code(), StatusCode::kFailedPrecondition);
      }
    }
  EXPECT_EQ(refused, 16 - 6);
  EXPECT_TRUE(portForwards(S::kActive));
  EXPECT_TRUE(portForwards(S::kMigratingOut));
  EXPECT_FALSE(portForwards(S::kIncoming));
  EXPECT_FALSE(portForwards(S::kGone));
}

TEST(Steering, PacksBothHalves) {
  const Steering s = Steering::activeBackup(3);
  EXPECT_EQ(s.rx_members, 0b1000u);
  EXPECT_EQ(Steering::unpack(s.pack()), s);
  Steering b;
  b.tx_member = lag::kNoMember;
  b.rx_members = 0xff;
  EXPECT_EQ(Steering::unpack(b.pack()), b);
}

}  // namespace
}  // namespace vfo::vhost

namespace vfo::vhost {
namespace {

TEST_F(PortManagerTest, IncomingPortStartsForwardingWhenTheMigratedGuestRuns) {
  const PortSettings s = portSettings("vm1");
  ASSERT_TRUE(pm_->createPort(s, PortState::kIncoming).isOk());
  DatapathPort& dp = onlyPort();
  pm_->onNewConnection(3, s.socket_path);  // QEMU connects early; the guest is not running yet
  EXPECT_FALSE(dp.forwarding.load());
  EXPECT_EQ(pm_->exportPort("vm1")->state, PortState::kIncoming);
  ASSERT_TRUE(connect(s.socket_path, 3, 2));
  EXPECT_TRUE(dp.forwarding.load());
  EXPECT_EQ(pm_->exportPort("vm1")->state, PortState::kActive);
}

}  // namespace
}  // namespace vfo::vhost
