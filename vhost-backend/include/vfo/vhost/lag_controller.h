// LagController: vfod's side of the vertical slice. It hosts lag-core's
// LagRuntime in the control loop and, when the LAG uses software VFs,
// sriov-manager's VfPairManager, and joins them to the PortManager:
//
//   port created   -> VF pair (one VF per member, guest MAC)  [software VFs]
//                  -> PortManager::createPort (uplinks = the VFs' devargs)
//                  -> LagRuntime::addPort (allowed MACs, VLAN, pin)
//   carrier change -> LagRuntime decides -> switch_port -> PortManager::setActiveMember
//                                        -> announce frames -> PortManager::sendOnMember
//                                        -> FailoverRecord -> log line + history
//   learner ring   -> onLearnerFrame -> LagRuntime::observe (addresses to announce)
//   port deleted   -> LagRuntime::removePort, PortManager::deletePort, VFs reset
//
// Contract: every method runs on vfod's control thread (the LearnerSink
// override too: Relay::drainLearner calls it there). createPort is a
// transaction: on any failure what it did is undone (VFs reset, port
// deleted) and the error names the port. Errors: INVALID_ARGUMENT for a bad
// LAG config (create), the PortManager's / provider's codes otherwise.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/lag_runtime.h"
#include "vfo/lag/probe_monitor.h"
#include "vfo/netlink/netlink_socket.h"
#include "vfo/sriov/vf_pairs.h"
#include "vfo/sriov/vf_provider.h"
#include "vfo/vhost/config.h"
#include "vfo/vhost/port_manager.h"
#include "vfo/vhost/probe_channel.h"
#include "vfo/vhost/relay.h"

namespace vfo::vhost {

// The announce hand-off to the relay (control thread only).
#define VFO_ANNOUNCE_BACKLOG_STATS(X)                                       \
  X(ring_backlog_waits, "announce frames that waited for the relay's ring") \
  X(ring_backlog_refused, "announce frames refused: the backlog was full")
VFO_DECLARE_STATS(AnnounceBacklogStats, VFO_ANNOUNCE_BACKLOG_STATS)

// Failover records kept for introspection (stats output).
inline constexpr size_t kFailoverHistory = 16;
// Announce frames that may wait for room in the relay's command ring (see
// LagController::onSend); beyond that a frame counts as a send failure.
inline constexpr size_t kAnnounceBacklog = 16384;
// How soon the control loop comes back to retry waiting announce frames.
inline constexpr Duration kAnnounceRetry = std::chrono::microseconds(200);

// The LagRuntime configuration of vfod's LAG settings (pure): members with
// their watched netdev (the member name when it has none), mode, primary
// (active-backup), failback, delays. INVALID_ARGUMENT naming the field
// when lag-core refuses the result.
StatusOr<lag::LagRuntimeConfig> lagRuntimeConfigOf(const LagSettings& lag);

// The balance-vm pin of a port id, if a member pins it.
std::optional<lag::MemberId> pinOf(const LagSettings& lag, std::string_view port_id);

// The VF settings of a port's backing VFs (guest MAC, VLAN, spoof check on).
sriov::VfConfig vfConfigOf(const PortSettings& port);

// "[port vm1] failover pf0 -> pf1 (member-down): cause seen, decided +30 us,
// switched +42 us, first frame +64 us, first burst +70 us, last frame
// +100.1 ms, 6 frames" (the log line; "first burst" is when the last frame
// of the first burst was handed out).
std::string formatFailover(const lag::FailoverRecord& r, const std::vector<std::string>& members);

class LagController final : public LearnerSink {
 public:
  // `links`: the rtnetlink socket the runtime watches carrier on (vfod: a
  // real RtNetlinkSocket; tests: a fake). `vfs`: the VF provider when
  // lag.vf_provider is software, else null. `probes`: where ARP probes go
  // when lag.probe is set, else null. All of them, `ports` and `clock` must
  // outlive the controller.
  static StatusOr<std::unique_ptr<LagController>> create(const VfodConfig& config,
                                                         PortManager& ports,
                                                         netlink::NetlinkSocket* links,
                                                         sriov::VfProvider* vfs, const Clock& clock,
                                                         ProbeChannel* probes = nullptr);
  ~LagController() override;
  LagController(const LagController&) = delete;
  LagController& operator=(const LagController&) = delete;

  // The runtime's initial link dump: members get their carrier state.
  Status start();

  // VFs after a restart: takes over the VFs a previous vfod configured for
  // `ports` (VfPairManager::adopt) and, where vfod owns every VF (software
  // VFs), resets (parks) the configured ones no port claims
  // (VfPairManager::reclaimForeign: a deletion cut off by a crash). No-op
  // without a provider.
  sriov::AdoptReport adopt(const std::vector<PortSettings>& ports);

  // Per-port choices beyond PortSettings (the ops API sets them).
  struct PortOptions {
    PortState initial = PortState::kActive;       // kIncoming: migration target
    std::optional<lag::MemberId> pin;             // balance-vm pin; none = the config's
    std::optional<lag::AnnounceTiming> announce;  // own announce bursts; none = the LAG's
  };

  // Creates the port end to end (see the file comment); the port starts on
  // the member the LAG places it on.
  Status createPort(PortSettings settings, const PortOptions& options);
  Status createPort(PortSettings settings) { return createPort(std::move(settings), {}); }

  // UpdatePort: the port's VLAN and allowed source MACs (datapath policy,
  // learner, VF config), its pin and announce timing. Transactional: on
  // error every part is put back. NOT_FOUND for an unknown port; the
  // PortManager's, lag-core's (FAILED_PRECONDITION for a pin outside
  // balance-vm) and the VF provider's codes otherwise.
  Status updatePort(std::string_view id, lag::VlanId vlan, std::vector<MacAddress> allowed_macs,
                    std::optional<lag::MemberId> pin, std::optional<lag::AnnounceTiming> announce);

  // What other components want to hear about (the ops API's events). Called
  // on the control thread, inside the call that caused them.
  struct Observer {
    std::function<void(const lag::FailoverRecord&)> on_failover;  // every carried-out move
    std::function<void(lag::MemberId, bool up)> on_link;          // member carrier changes
  };
  void setObserver(Observer observer) { observer_ = std::move(observer); }

  const std::vector<std::string>& memberNames() const { return member_names_; }
  // The member named `name`, if any.
  std::optional<lag::MemberId> memberByName(std::string_view name) const;
  // The port's options as created/updated (pin, announce); nullptr if unknown.
  const PortOptions* portOptions(std::string_view id) const;
  // Removes the port from the LAG, deletes it and resets its VFs.
  // NOT_FOUND if the controller does not know it.
  Status deletePort(std::string_view id);
  // Deletes every port created here, newest first.
  void closeAll();

  // Driven by the control loop: the runtime's rtnetlink fd, the probe
  // channel's fds (onProbeReadable) and one deadline for every timer.
  // Announce frames the relay's command ring refused (RESOURCE_EXHAUSTED:
  // a burst larger than the ring, or a worker that fell behind) wait in
  // order in a backlog of at most kAnnounceBacklog frames and are retried
  // first thing in onTick()/onReadable(); nextDeadline() is at most
  // kAnnounceRetry after the ring last refused one while any wait. They are delayed, never dropped,
  // so a large failover's later ports are announced too; lag-core's records (first/last frame) time
  // the hand-off to this backlog, and the rate limit applies at that hand-off, not on the wire.
  int fd() const { return runtime_->fd(); }
  TimePoint nextDeadline() const;
  Status onReadable(TimePoint now);
  Status onTick(TimePoint now);
  // Replies on `member`'s probe endpoint: ARP replies from the target to
  // the member's probe MAC count as answers.
  void onProbeReadable(lag::MemberId member, TimePoint now);
  const lag::ProbeMonitor* probes() const { return probe_.get(); }

  // LearnerSink: copies of ARP/ND/DHCP frames go to the runtime's learner.
  void onLearnerFrame(const DatapathPort& port, Direction dir, FrameView frame) override;

  // Announce frames waiting for room in the relay's command ring now.
  size_t announceBacklog() const { return backlog_.size(); }

  // Newest last, at most kFailoverHistory.
  const std::deque<lag::FailoverRecord>& failovers() const { return failovers_; }
  uint64_t failoverCount() const { return failover_count_; }
  // Stats lines: lag-core's group snapshot as "lag ..." lines, one "learned
  // port <id> <mac> <ip>" per address the learner holds, one "announce
  // <counter> <n>" per announce scheduler counter (AnnounceStats names),
  // one "announce <counter> <n>" per AnnounceBacklogStats counter,
  // "lag failovers N", and one "failover <seq> port <id> from <m> to <m> reason <r> switched_us <x>
  // first_frame_us <y> frames <n>" line per kept record.
  std::string renderStats() const;

  lag::LagRuntime& runtime() { return *runtime_; }
  const sriov::VfPairManager* vfPairs() const { return pairs_ ? &*pairs_ : nullptr; }
  // The LAG's port index of a port id.
  std::optional<lag::PortIndex> portIndex(std::string_view id) const;

 private:
  LagController(const VfodConfig& config, PortManager& ports, const Clock& clock);
  void onSwitch(lag::PortIndex port, lag::MemberId to);
  bool onSend(lag::MemberId member, lag::PortIndex port, std::span<const uint8_t> frame);
  void onFailover(const lag::FailoverRecord& r);
  // Hands waiting announce frames to the relay, oldest first, until the
  // ring refuses one; frames of ports that are gone are dropped.
  void flushBacklog(TimePoint now);
  void undoPort(const std::string& id, bool port_created, bool vfs_created);
  void sendProbe(lag::MemberId member, const lag::ProbeAddress& target);
  // balance-flow: the live set as the workers' member selector.
  struct FlowSelector {
    lag::LiveSet live;        // copy of the group's snapshot; immutable once published
    MemberSelector selector;  // select = live.selectFlow, context = &live
    uint32_t rx_members = 0;  // bit per live member: their RX reaches the guest
  };
  // Publishes the group's current live set to every port (each
  // setSelector quiesces the workers), then frees the previous one.
  void refreshFlow();
  // refreshFlow() when the group published a newer live set.
  void maybeRefreshFlow();
  bool flowMode() const { return config_.lag.mode == LagModeSetting::kBalanceFlow; }

  VfodConfig config_;
  PortManager& ports_;
  const Clock& clock_;
  std::vector<std::string> member_names_;      // by MemberId
  std::unique_ptr<lag::LagRuntime> runtime_;   // lag-core assembled
  std::optional<sriov::VfPairManager> pairs_;  // software or SR-IOV VFs; empty otherwise
  std::string vf_kind_;                        // their provider's kind() (logs)
  ProbeChannel* probe_channel_ = nullptr;      // with lag.probe
  std::unique_ptr<lag::ProbeMonitor> probe_;   // with lag.probe
  std::unique_ptr<FlowSelector> flow_;         // balance-flow: what the ports use now
  std::map<lag::PortIndex, std::string> ids_;  // LAG port -> port id
  std::map<std::string, lag::PortIndex, std::less<>> indexes_;  // port id -> LAG port
  std::vector<std::string> order_;                              // creation order of port ids
  std::map<std::string, PortOptions, std::less<>> options_;     // per port id
  Observer observer_;                                           // ops API events
  // An announce frame the relay's command ring had no room for.
  struct WaitingFrame {
    lag::PortIndex port;         // the LAG port it announces
    lag::MemberId member;        // where it goes out
    std::vector<uint8_t> frame;  // the frame as built by lag-core
  };
  std::deque<WaitingFrame> backlog_;           // oldest first, at most kAnnounceBacklog
  TimePoint backlog_retry_at_ = kNever;        // next retry while backlog_ is not empty
  AnnounceBacklogStats backlog_stats_;         // control thread only
  std::deque<lag::FailoverRecord> failovers_;  // newest last
  uint64_t failover_count_ = 0;                // records ever reported
};

}  // namespace vfo::vhost
