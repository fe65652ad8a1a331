// PortManager owns vfod's VM ports: for each it opens one uplink per LAG
// member, hands the queue pairs to the relay, registers the vhost-user
// socket, follows the guest driver through the vhost callbacks, switches the
// active member, and exports/imports the port's state.
//
// Threads: the public methods (except the VhostEventHandler overrides) are
// called from the control thread only. The overrides run on DPDK's
// vhost-events thread, or on the control thread from inside
// DpdkControl::unregisterVhostSocket(). One mutex guards the port table; it
// is never held across a DpdkControl or DatapathControl call that may wait.
//
// Errors: every failing call changes nothing (a half-created port is torn
// down before the error is returned).
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/log.h"
#include "vfo/base/status.h"
#include "vfo/vhost/config.h"
#include "vfo/vhost/datapath_port.h"
#include "vfo/vhost/dpdk_control.h"
#include "vfo/vhost/port_state.h"

namespace vfo::vhost {

// A member's shared uplink (VF_PROVIDER_SHARED): opened by the daemon,
// registered with the relay, used by every port that names no devargs of
// its own for that member; ports never open or close it.
struct SharedUplinkRef {
  int16_t index = -1;  // Relay::addSharedUplink's index; -1 = none
  UplinkInfo info;     // the ethdev (its TX offloads are not used)
};

class PortManager final : public VhostEventHandler {
 public:
  struct Options {
    SocketSettings sockets;     // socket directory and permissions
    LagSettings lag;            // members (uplink defaults) and primary
    DatapathSettings datapath;  // deliver_foreign_unicast
    // Per member (index = MemberId), or empty: each port opens its own
    // uplinks.
    std::vector<SharedUplinkRef> shared_uplinks;
  };

  PortManager(DpdkControl& dpdk, DatapathControl& datapath, Options options);
  ~PortManager() override;  // deletes every remaining port
  PortManager(const PortManager&) = delete;
  PortManager& operator=(const PortManager&) = delete;

  // Creates a port in state kActive or kIncoming. The same settings again
  // is a no-op; other settings under an existing id are ALREADY_EXISTS, as
  // is a socket path another port uses. Uplink and socket failures come
  // back with the DpdkControl code, prefixed with the port.
  Status createPort(const PortSettings& settings, PortState initial = PortState::kActive);

  // Unregisters the socket (the running device is destroyed first), takes
  // the port from the relay and releases its uplinks. NOT_FOUND if unknown.
  Status deletePort(std::string_view id);

  // kActivate / kBeginMigrationOut / kCancelMigrationOut (kDelete: use
  // deletePort). FAILED_PRECONDITION for a transition the state forbids.
  Status applyEvent(std::string_view id, PortEvent event);

  // Replaces the port's VLAN and allowed source MACs (UpdatePort). The
  // first MAC becomes the guest MAC. Workers use the new policy from their
  // next poll; the old one is freed after they quiesce. INVALID_ARGUMENT for
  // 0 or more than kMaxMacsPerPort MACs, a multicast MAC or a VLAN > 4094.
  Status updatePortPolicy(std::string_view id, lag::VlanId vlan,
                          const std::vector<MacAddress>& allowed_macs);

  // Failover of one port / of every port (active-backup). The relay sees
  // the new member on its next poll; standby RX is dropped from then on.
  // INVALID_ARGUMENT for a member outside the LAG; kNoMember means no live
  // member (frames are dropped and counted as drop_no_live_member).
  Status setActiveMember(std::string_view id, lag::MemberId member);
  Status setActiveMemberAll(lag::MemberId member);

  // Balance modes (lag-core): from now on `selector` picks the member of
  // every guest frame and frames received on the members in `rx_members`
  // (bit m = member m) reach the guest. nullptr returns to the steering
  // word (setActiveMember). Returns after the workers quiesced: the
  // previous selector is no longer used and may be freed by its owner.
  Status setSelector(std::string_view id, const MemberSelector* selector, uint32_t rx_members);

  // Sends frames unchanged on a member's uplink of the port (announcements).
  Status sendOnMember(std::string_view id, lag::MemberId member,
                      const std::vector<std::vector<uint8_t>>& frames);

  StatusOr<PortRecord> exportPort(std::string_view id) const;
  // Recreates a port from a record (restart, migration target). kGone
  // records are INVALID_ARGUMENT.
  Status importPort(const PortRecord& record);
  std::vector<PortRecord> listPorts() const;  // sorted by id

  StatusOr<PortStatsReport> portStats(std::string_view id) const;
  // The lcore of the worker that relays the port's queue pair 0.
  StatusOr<uint32_t> workerLcore(std::string_view id) const;
  // Bumped (release) by every guest-side change (connect, device up/down,
  // disconnect) and every state change: pollers compare it with the value
  // they saw last before walking listPorts(). Any thread.
  uint64_t changeCount() const { return changes_.load(std::memory_order_acquire); }

  // The features the port's socket offers given its uplinks (pure).
  static VhostSocketRequest socketRequestFor(const PortSettings& settings,
                                             const std::vector<UplinkInfo>& uplinks);

  // Deletes every port, newest first.
  void closeAll();

  // VhostEventHandler
  // onNewDevice also activates a kIncoming port: on a migration
  // destination QEMU starts the device only once the guest runs here.
  void onNewConnection(int vid, const std::string& path) override;
  void onDestroyConnection(int vid, const std::string& path) override;
  bool onNewDevice(const VhostDeviceInfo& info) override;
  void onDestroyDevice(int vid, const std::string& path) override;
  void onVringStateChanged(int vid, const std::string& path, uint16_t vring, bool enable) override;
  void onFeaturesChanged(int vid, const std::string& path, uint64_t features) override;

 private:
  struct Port {
    PortSettings settings;                       // as created
    PortState state = PortState::kActive;        // lifecycle
    VhostLink vhost = VhostLink::kDisconnected;  // guest side
    // Open vhost-user connections (vid -> vring index -> usable). Usually
    // one; a second appears while a restarted guest reconnects before the
    // old connection's close is seen, or when something probes the socket.
    std::map<int, std::array<bool, 2 * kMaxQueuePairs>> connections;
    int device_vid = -1;                           // vid of the running device, -1 if none
    uint64_t features = 0;                         // negotiated features of the running device
    uint16_t guest_queue_pairs = 0;                // of the running device
    lag::MemberId active_member = lag::kNoMember;  // steering.tx_member
    std::vector<UplinkInfo> uplinks;               // per member
    std::vector<bool> uplink_shared;               // per member: a shared uplink (not ours)
    DatapathPort* dp = nullptr;                    // relay state, owned by the relay
    bool registered = false;                       // vhost socket registered
    uint64_t seq = 0;                              // creation order
  };

  std::shared_ptr<Port> findById(std::string_view id) const;        // takes mu_
  std::shared_ptr<Port> findByPath(const std::string& path) const;  // caller holds mu_
  std::string uplinkDevargs(const PortSettings& s, uint32_t member);
  void teardown(Port& port);                    // releases what the port holds; no table changes
  PortRecord recordOf(const Port& port) const;  // caller holds mu_
  static VhostLink linkOf(const Port& port);    // caller holds mu_

  DpdkControl& dpdk_;
  DatapathControl& datapath_;
  Options options_;
  Logger log_{"vhost"};
  lag::MemberId group_active_;  // member new ports start on

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Port>, std::less<>> by_id_;  // guarded by mu_
  std::map<std::string, std::shared_ptr<Port>> by_path_;             // guarded by mu_
  uint64_t next_seq_ = 1;                                            // control thread only
  std::atomic<uint64_t> changes_{0};                                 // see changeCount()
  uint64_t next_uplink_name_ = 0;                                    // control thread only
};

}  // namespace vfo::vhost
