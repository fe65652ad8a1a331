// LagRuntime: lag-core assembled. One object that vfod's control thread
// drives through fd()/onReadable()/onTick()/nextDeadline():
//
//   kernel carrier change --LinkMonitor--> LagGroup (hysteresis, mode)
//     --DecisionEvent--> switch_port(port, to)        (datapath: atomic swap)
//                        AnnounceScheduler on `to`    (RARP, GARP, NA)
//     --done--> FailoverRecord {port, from, to, reason, cause seen at,
//                               switched at, frames announced}
//
// Addresses to announce come from the AddressLearner, fed by observe() with
// the ARP/ND/DHCP frames the datapath copies out. Probe verdicts
// (onProbeVerdict) and operator actions go straight to the group.
//
// Contract: single-threaded (the control thread); callbacks run inside the
// call that caused them and must not call back into the runtime. The
// datapath is switched before any announce frame is handed out, so
// announces always leave on the member the port now uses.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"
#include "vfo/lag/address_learner.h"
#include "vfo/lag/announce_scheduler.h"
#include "vfo/lag/lag_config.h"
#include "vfo/lag/lag_group.h"
#include "vfo/lag/link_monitor.h"
#include "vfo/lag/monitor_thread.h"

namespace vfo::lag {

struct LagRuntimeConfig {
  LagConfig lag;                            // group: mode, members, delays, hashing
  std::vector<std::string> member_netdevs;  // netdev watched per member; empty = member names
  AnnounceConfig announce;                  // bursts, interval, global rate limit
  AddressLearnerConfig learner;             // cap, aging
  Duration link_poll_interval{0};           // sysfs polling fallback; 0 = netlink only
};

struct RuntimePortSpec {
  std::string name;                        // "vm1/net0"
  std::vector<MacAddress> allowed_macs;    // guest MAC first; announced by RARP
  VlanId vlan = kNoVlan;                   // announce tag
  std::optional<MemberId> pin;             // balance-vm pin
  std::optional<AnnounceTiming> announce;  // own burst count/gap; none = the runtime's
};

// One carried-out move: what the SR-IOV manager reports as a failover event.
struct FailoverRecord {
  PortIndex port = kNoPort;                             // moved port
  std::string port_name;                                // its name
  MemberId from = kNoMember;                            // kNoMember: was degraded
  MemberId to = kNoMember;                              // kNoMember: now degraded
  DecisionReason reason = DecisionReason::kMemberDown;  // why
  TimePoint cause_seen_at;                              // kernel notification / probe verdict time
  TimePoint decided_at;                                 // group decision time
  TimePoint switched_at;                                // after switch_port returned
  TimePoint first_frame_at = kNever;                    // first announce frame handed out
  TimePoint first_burst_at = kNever;  // last frame of the first burst handed out (all addresses)
  TimePoint last_frame_at = kNever;   // last announce frame handed out
  uint32_t frames_announced = 0;      // frames handed to send_frame for this move
  bool superseded = false;            // a newer move of the port cut this announce short
};

class LagRuntime final : public PolledMonitor {
 public:
  struct Callbacks {
    // Step 1 of a move: point the port's datapath at `to` (kNoMember: no
    // live member, drop). Must be quick (an atomic store).
    std::function<void(PortIndex port, MemberId to)> switch_port;
    // Announce frames for `port` to send on `member`; false = not sent
    // (counted as a send failure).
    AnnounceScheduler::SendFn send_frame;
    std::function<void(const DecisionEvent&)> on_decision;   // every group decision
    std::function<void(const FailoverRecord&)> on_failover;  // when a move's announce ends
    std::function<void(const LinkEvent&)> on_link;           // every carrier change seen
  };

  // `socket` (rtnetlink, may be null for polling only) and `sysfs` (may be
  // null) must outlive the runtime.
  static StatusOr<std::unique_ptr<LagRuntime>> create(LagRuntimeConfig config, const Clock& clock,
                                                      netlink::NetlinkSocket* socket,
                                                      SysfsLinkReader* sysfs, Callbacks callbacks);

  // Initial link dump; members get their first carrier state.
  Status start();

  StatusOr<PortIndex> addPort(const RuntimePortSpec& spec);
  Status removePort(PortIndex port);
  // Replaces a port's allowed MACs, VLAN, pin and announce timing (the name
  // must stay). Learned addresses of MACs no longer allowed are dropped; a
  // pin change may move the port at once (kPinChanged). NOT_FOUND for an
  // unknown port, INVALID_ARGUMENT as addPort; on error nothing changed
  // except when the group refuses the pin after the MACs were applied, in
  // which case the old MACs are put back.
  Status updatePort(PortIndex port, const RuntimePortSpec& spec);
  // Operator UpdateLag: the group's changeable settings (LagGroup::
  // updateSettings) and the announce configuration. Nothing changes on error.
  Status updateSettings(const LagConfig& lag, const AnnounceConfig& announce);
  const AnnounceConfig& announceConfig() const { return config_.announce; }
  const RuntimePortSpec* port(PortIndex port) const;

  // A copy of a frame the guest sent (kFromGuest) or received (kToGuest).
  LearnOutcome observe(PortIndex port, FrameDirection direction, std::span<const uint8_t> frame);

  // PolledMonitor: the link monitor's socket plus every timer of the parts.
  int fd() const override { return links_->fd(); }
  Status onReadable(TimePoint now) override;
  TimePoint nextDeadline() const override;
  Status onTick(TimePoint now) override;

  LagGroup& group() { return *group_; }
  const LagGroup& group() const { return *group_; }
  AddressLearner& learner() { return *learner_; }
  const AnnounceScheduler& announcer() const { return *announcer_; }
  const LinkMonitor& links() const { return *links_; }
  const std::string& memberNetdev(MemberId m) const { return netdevs_.at(m); }

 private:
  LagRuntime(LagRuntimeConfig config, const Clock& clock, Callbacks callbacks);
  void onLink(const LinkEvent& e);
  void onDecision(const DecisionEvent& e);
  void onAnnounceDone(const AnnounceRecord& r);

  LagRuntimeConfig config_;
  const Clock& clock_;
  Callbacks cb_;
  std::vector<std::string> netdevs_;           // by MemberId
  std::map<std::string, MemberId> by_netdev_;  // watched netdev -> member
  std::unique_ptr<LagGroup> group_;
  std::unique_ptr<AddressLearner> learner_;
  std::unique_ptr<AnnounceScheduler> announcer_;
  std::unique_ptr<LinkMonitor> links_;
  std::map<PortIndex, RuntimePortSpec> ports_;
  std::map<PortIndex, FailoverRecord> in_flight_;  // moves whose announce is running
  bool started_ = false;
};

}  // namespace vfo::lag
