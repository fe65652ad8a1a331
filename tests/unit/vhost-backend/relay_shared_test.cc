// The relay's shared-uplink demultiplexer on real DPDK: an in-memory EAL,
// one worker lcore, and a net_ring ethdev as the shared uplink. Frames put
// on the ring's RX side must reach exactly the ports their destination MAC
// names (broadcast: every port that receives on the member), standby ports
// get nothing, MAC changes and port removal take effect, and the frames a
// removed port had queued are freed (the ASan build checks that).
//
// No guest is connected, so a delivered frame shows up as the port's
// member rx_packets (the worker took it from the port's ring) followed by
// drop_guest_not_ready.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "vfo/vhost/relay.h"

namespace vfo::vhost {
namespace {

using namespace std::chrono_literals;

// Polls `cond` every millisecond until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

MacAddress mac(const char* text) {
  return *MacAddress::parse(text);
}

class RelaySharedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A prefix of its own and no shared config: no clash with other DPDK
    // processes; the runtime directory DPDK still makes is removed below.
    prefix_ = "vfo-relay-shared-" + std::to_string(getpid());
    std::vector<std::string> args{
        "relay_shared_test", "--no-huge", "-m",  "128",          "--no-pci", "--no-shconf",
        "--no-telemetry",    "-l",        "0,1", "--main-lcore", "0",        "--log-level=3",
        "--file-prefix",     prefix_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    eal_ok_ = rte_eal_init(int(argv.size()), argv.data()) >= 0;
  }
  static void TearDownTestSuite() {
    if (eal_ok_) rte_eal_cleanup();
    std::error_code ec;
    std::filesystem::remove_all("/var/run/dpdk/" + prefix_, ec);
  }

  // The relay owns the packet pool the ring's RX queue needs.
  rte_mempool* pool() { return relay_->packetPool(); }

  void SetUp() override {
    ASSERT_TRUE(eal_ok_) << "rte_eal_init failed";
    ASSERT_GE(rte_lcore_count(), 2u) << "needs lcores 0 and 1";
    RelayOptions o;
    o.worker_lcores = {1};
    o.mbufs = 4096;
    auto r = Relay::create(o);
    ASSERT_TRUE(r.isOk()) << r.status().toString();
    relay_ = std::move(*r);
    static int n = 0;
    ++n;
    // net_ring without arguments: one ring that is both the RX and the TX
    // queue (what the relay sends comes back; these tests send nothing).
    name_ = "net_ring_sh" + std::to_string(n);
    ASSERT_EQ(rte_dev_probe(name_.c_str()), 0) << name_;
    ASSERT_EQ(rte_eth_dev_get_port_by_name(name_.c_str(), &eth_), 0);
    rx_ = rte_ring_lookup(("ETH_RXTX0_" + name_).c_str());
    ASSERT_NE(rx_, nullptr);
    rte_eth_conf conf{};
    ASSERT_EQ(rte_eth_dev_configure(eth_, 1, 1, &conf), 0);
    ASSERT_EQ(rte_eth_rx_queue_setup(eth_, 0, 1024, rte_socket_id(), nullptr, pool()), 0);
    ASSERT_EQ(rte_eth_tx_queue_setup(eth_, 0, 1024, rte_socket_id(), nullptr), 0);
    ASSERT_EQ(rte_eth_dev_start(eth_), 0);
    ASSERT_TRUE(relay_->start().isOk());
    auto index = relay_->addSharedUplink(SharedUplinkSpec{"pf0", 0, eth_, 1, 1});
    ASSERT_TRUE(index.isOk()) << index.status().toString();
    index_ = *index;
  }

  void TearDown() override {
    if (relay_) {
      for (DatapathPort* p : ports_) relay_->removePort(p);
      relay_->stop();
    }
    void* m;
    while (rx_ && rte_ring_dequeue(rx_, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    if (!name_.empty()) {
      rte_eth_dev_stop(eth_);
      rte_eth_dev_close(eth_);
      rte_eal_hotplug_remove("vdev", name_.c_str());
    }
    relay_.reset();
  }

  // A port with the shared uplink as member 0 and nothing on member 1.
  DatapathPort* addPort(const std::string& id, const MacAddress& m, lag::MemberId active = 0) {
    DatapathPortSpec spec;
    spec.id = id;
    UplinkPort shared;
    shared.present = true;
    shared.eth_port = eth_;
    shared.shared = index_;
    spec.uplinks = {shared, UplinkPort{}};
    spec.policy.macs.add(m);
    spec.steering = Steering::activeBackup(active);
    spec.forwarding = true;
    auto p = relay_->addPort(spec);
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    if (!p.isOk()) return nullptr;
    ports_.push_back(*p);
    return *p;
  }
  void removePort(DatapathPort* p) {
    ports_.erase(std::find(ports_.begin(), ports_.end(), p));
    relay_->removePort(p);
  }

  // Puts a frame to `dst` on the uplink's receive side.
  void receive(const char* dst, int count = 1) {
    for (int i = 0; i < count; ++i) {
      rte_mbuf* m = rte_pktmbuf_alloc(relay_->packetPool());
      ASSERT_NE(m, nullptr);
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 60));
      std::memset(d, 0, 60);
      std::memcpy(d, mac(dst).bytes().data(), 6);
      std::memcpy(d + 6, mac("02:00:00:00:00:99").bytes().data(), 6);
      d[12] = 0x08;
      ASSERT_EQ(rte_ring_enqueue(rx_, m), 0);
    }
  }

  uint64_t rx(const DatapathPort* p) const { return collectStats(*p).members[0].rx_packets; }
  SharedUplinkStatsSnapshot shared() const { return relay_->sharedUplinks().at(0).stats; }

  static inline bool eal_ok_ = false;
  static inline std::string prefix_;  // EAL file prefix
  std::string name_;                  // the net_ring vdev
  rte_ring* rx_ = nullptr;            // its RX (and TX) ring
  uint16_t eth_ = 0;
  int16_t index_ = -1;
  std::unique_ptr<Relay> relay_;
  std::vector<DatapathPort*> ports_;
};

TEST_F(RelaySharedTest, FramesReachThePortTheirDestinationNames) {
  DatapathPort* a = addPort("a", mac("52:54:00:00:00:0a"));
  DatapathPort* b = addPort("b", mac("52:54:00:00:00:0b"));
  ASSERT_TRUE(a && b);
  receive("52:54:00:00:00:0a", 3);
  receive("52:54:00:00:00:0b", 2);
  receive("ff:ff:ff:ff:ff:ff");
  receive("52:54:00:00:00:0c");
  ASSERT_TRUE(eventually([&] { return rx(a) == 4 && rx(b) == 3; })) << rx(a) << " " << rx(b);
  const auto s = shared();
  EXPECT_EQ(s.rx_packets, 7u);
  EXPECT_EQ(s.delivered, 7u);  // 3 + 2 + a copy of the broadcast each
  EXPECT_EQ(s.flood_copies, 1u);
  EXPECT_EQ(s.drop_unknown_unicast, 1u);
  EXPECT_EQ(s.drop_standby, 0u);
  EXPECT_EQ(collectStats(*a).total.drop_guest_not_ready, 4u);
  const auto report = relay_->sharedUplinks().at(0);
  EXPECT_EQ(report.ports, 2u);
  EXPECT_EQ(report.macs, 2u);
}

TEST_F(RelaySharedTest, AStandbyPortGetsNothingAndFollowsItsSteering) {
  DatapathPort* a = addPort("a", mac("52:54:00:00:00:0a"));
  DatapathPort* b = addPort("b", mac("52:54:00:00:00:0b"), /*active=*/1);
  receive("52:54:00:00:00:0b", 2);
  receive("ff:ff:ff:ff:ff:ff");
  ASSERT_TRUE(eventually([&] { return shared().rx_packets == 3; }));
  ASSERT_TRUE(eventually([&] { return rx(a) == 1; }));
  EXPECT_EQ(rx(b), 0u);
  EXPECT_EQ(shared().drop_standby, 3u);  // two unicast, one broadcast copy
  // Failover to member 0: b receives from now on.
  b->steering.store(Steering::activeBackup(0).pack(), std::memory_order_release);
  relay_->quiesce();
  receive("52:54:00:00:00:0b");
  EXPECT_TRUE(eventually([&] { return rx(b) == 1; }));
}

TEST_F(RelaySharedTest, NewMacsAndRemovedPortsChangeTheTable) {
  DatapathPort* a = addPort("a", mac("52:54:00:00:00:0a"));
  DatapathPort* b = addPort("b", mac("52:54:00:00:00:0b"));
  PortPolicy pol;
  pol.macs.add(mac("52:54:00:00:00:0d"));
  relay_->replacePolicy(b, pol);
  receive("52:54:00:00:00:0b");
  receive("52:54:00:00:00:0d", 2);
  ASSERT_TRUE(eventually([&] { return rx(b) == 2; }));
  EXPECT_TRUE(eventually([&] { return shared().drop_unknown_unicast == 1; }));
  EXPECT_EQ(rx(a), 0u);

  // Frames still queued for a port that goes away are freed with it (the
  // sanitizer build would report a leak otherwise).
  receive("52:54:00:00:00:0a", 8);
  ASSERT_TRUE(eventually([&] { return shared().rx_packets == 11; }));
  removePort(a);
  receive("52:54:00:00:00:0a");
  EXPECT_TRUE(eventually([&] { return shared().drop_unknown_unicast == 2; }))
      << shared().drop_unknown_unicast;
  EXPECT_EQ(relay_->sharedUplinks().at(0).ports, 1u);
}

TEST_F(RelaySharedTest, TheOlderPortKeepsAMacClaimedTwice) {
  DatapathPort* a = addPort("a", mac("52:54:00:00:00:0a"));
  DatapathPort* b = addPort("b", mac("52:54:00:00:00:0a"));
  receive("52:54:00:00:00:0a", 2);
  ASSERT_TRUE(eventually([&] { return rx(a) == 2; }));
  EXPECT_EQ(rx(b), 0u);
  EXPECT_EQ(relay_->sharedUplinks().at(0).macs, 1u);
}

TEST_F(RelaySharedTest, BadSharedUplinksAreRefused) {
  EXPECT_EQ(relay_->addSharedUplink(SharedUplinkSpec{"again", 0, eth_, 1, 1}).status().code(),
            StatusCode::kInvalidArgument)
      << "member 0 has one";
  EXPECT_EQ(relay_->addSharedUplink(SharedUplinkSpec{"notx", 1, eth_, 1, 0}).status().code(),
            StatusCode::kInvalidArgument)
      << "fewer TX queues than workers";
  DatapathPortSpec spec;
  spec.id = "wrong";
  UplinkPort up;
  up.present = true;
  up.shared = index_;
  spec.uplinks = {UplinkPort{}, up};  // pf0's shared uplink named for member 1
  spec.policy.macs.add(mac("52:54:00:00:00:0e"));
  EXPECT_EQ(relay_->addPort(spec).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vfo::vhost
