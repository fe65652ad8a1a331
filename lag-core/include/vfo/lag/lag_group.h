// A LAG group's decisions: which member carries each VM port's traffic.
//
// LagGroup owns the members' hysteresis (MemberTracker), the VM ports, the
// mode policy (active-backup, balance-vm, balance-flow, follow-kernel-bond)
// and the LiveSet published to the datapath. Inputs come from the link
// monitor, probe monitor and bond follower adapters (onCarrier,
// onProbeVerdict, onBondActiveMember), the operator (setAdmin,
// setActiveMember, setPin) and the event loop (onTick at nextDeadline()).
// Every decision is delivered to the EventSink as a DecisionEvent, in order,
// synchronously inside the call that decided it.
//
// Policies (details in docs/lag-core.md, "Decisions"):
//  - active-backup: one active member; on failure the primary (if enabled)
//    else the lowest enabled member id takes over; a returning primary takes
//    over per primary_reselect (always | better: higher speed | failure:
//    never) unless failback is off. As in bonding, the reselection runs on
//    every member transition, so an operator's setActiveMember() holds until
//    the next one.
//  - balance-vm: each port's home = its pin if the pinned member is enabled,
//    else the enabled member with the highest rendezvous weight
//    mix64(hash(port name) ^ salt(member name)). A disabled member's ports
//    move to their new home at once; a returning member gets its ports back
//    vm_failback_delay after it was enabled (never with "stay").
//  - balance-flow: the datapath selects per packet from the LiveSet; the
//    group only publishes live-set changes (group-level events).
//  - follow-kernel-bond: the active member is whatever onBondActiveMember()
//    reports; members are still tracked for display.
//  - no enabled member: ports are degraded (event to = kNoMember); the first
//    member enabled again takes them all. While no member is enabled, updelay
//    is skipped (like bonding when there is no active slave).
//
// Thread contract: every method runs on one control thread (the group is
// not locked). The datapath touches only liveSet().current() and the
// GracePeriodDomain's reader API. The EventSink must not call back into
// the group.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/log.h"
#include "vfo/base/status.h"
#include "vfo/lag/decision_event.h"
#include "vfo/lag/lag_config.h"
#include "vfo/lag/lag_snapshot.h"
#include "vfo/lag/live_set.h"
#include "vfo/lag/member_tracker.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

class LagGroup {
 public:
  using EventSink = std::function<void(const DecisionEvent&)>;

  // Validates `config` (INVALID_ARGUMENT naming the field on error). `clock`
  // stamps decided_at for input calls and must outlive the group. `domain`:
  // the grace-period hook for LiveSet reclamation (not owned, must outlive
  // the group); nullptr = the group owns a QsbrDomain (see qsbr()).
  static StatusOr<std::unique_ptr<LagGroup>> create(const LagConfig& config, const Clock& clock,
                                                    EventSink sink,
                                                    GracePeriodDomain* domain = nullptr);
  ~LagGroup();

  const LagConfig& config() const { return config_; }
  size_t memberCount() const { return tracker_.size(); }
  // NOT_FOUND naming the member when no member has this name.
  StatusOr<MemberId> memberByName(std::string_view name) const;
  const std::string& memberName(MemberId m) const { return tracker_.name(m); }

  // ---- member inputs (INVALID_ARGUMENT for an unknown member id) ----------
  // Carrier from the link monitor; seen_at = when the kernel reported it.
  Status onCarrier(MemberId member, bool up, TimePoint seen_at);
  // Probe verdict from the probe monitor (members with probing=true).
  Status onProbeVerdict(MemberId member, bool alive, TimePoint seen_at);
  // Operator admin state; down disables at once (no downdelay).
  Status setAdmin(MemberId member, bool up);
  // Link speed for primary_reselect=better; takes effect at the next reselection.
  Status setMemberSpeed(MemberId member, uint32_t speed_mbps);
  // Operator: like bonding's active_slave / OVS bond/set-active-member.
  // FAILED_PRECONDITION when the mode is not active-backup or the member is
  // not enabled.
  Status setActiveMember(MemberId member);
  // Operator: replaces the settings that may change while ports run
  // (primary, primary_reselect, failback, updelay, downdelay,
  // vm_failback_delay). `next` must equal the current config in name, mode,
  // members and hash_policy (FAILED_PRECONDITION naming the field: those
  // need a restart) and be valid (INVALID_ARGUMENT). Pending up/down
  // decisions keep their deadline. In active-backup, when primary,
  // primary_reselect or failback change, the active member is chosen again
  // at once under the new rules (reason primary-reselect).
  Status updateSettings(const LagConfig& next);
  // follow-kernel-bond: the kernel bond's active member (kNoMember = none).
  // FAILED_PRECONDITION in other modes.
  Status onBondActiveMember(MemberId member, TimePoint seen_at);

  // Fires due hysteresis deadlines and balance-vm failbacks.
  void onTick(TimePoint now);
  // Earliest time onTick has work; kNever when none.
  TimePoint nextDeadline() const;

  // ---- VM ports ----------------------------------------------------------
  // name: 1..64 characters, no whitespace, unique (ALREADY_EXISTS). pin:
  // balance-vm only (FAILED_PRECONDITION otherwise). Emits kPortAdded.
  StatusOr<PortIndex> addPort(std::string name, std::optional<MemberId> pin = std::nullopt);
  // NOT_FOUND for an unknown index. No event.
  Status removePort(PortIndex port);
  // balance-vm: set (or clear with nullopt) the pin; the port moves at once
  // if its home changes (kPinChanged).
  Status setPin(PortIndex port, std::optional<MemberId> pin);
  // NOT_FOUND when no port has this name.
  StatusOr<PortIndex> findPort(std::string_view name) const;
  // Member carrying the port now; kNoMember if degraded, per-flow
  // (balance-flow) or unknown.
  MemberId portMember(PortIndex port) const;
  // Active member (active-backup, follow-kernel-bond); kNoMember otherwise or if none.
  MemberId activeMember() const { return active_; }
  size_t portCount() const { return port_count_; }

  // ---- datapath & introspection ------------------------------------------
  const LiveSetPublisher& liveSet() const { return publisher_; }
  // The group's own QsbrDomain for registering datapath readers; nullptr
  // when a domain was injected.
  QsbrDomain* qsbr() { return own_domain_.get(); }
  LagSnapshot snapshot() const;
  const GroupStats& stats() const { return stats_; }

 private:
  struct Port {
    bool used = false;
    std::string name;
    std::string entity;  // "[port vm1/net0]"
    uint64_t key = 0;    // rendezvous key from the name
    std::optional<MemberId> pin;
    MemberId current = kNoMember;
    MemberId home = kNoMember;
  };

  LagGroup(const LagConfig& config, const Clock& clock, EventSink sink, GracePeriodDomain* domain);

  Status checkMember(MemberId m) const;
  bool anyEnabled() const;
  void handleTransitions(TimePoint now);
  void publishLiveSet();
  void emit(PortIndex p, MemberId from, MemberId to, DecisionReason reason, TimePoint seen_at,
            TimePoint now);
  void logMove(const Port& port, MemberId from, MemberId to, DecisionReason reason);

  // active-backup
  MemberId chooseActive() const;
  void reselectActive(TimePoint seen_at, TimePoint now);
  void changeActive(MemberId to, DecisionReason reason, TimePoint seen_at, TimePoint now);

  // balance-vm
  MemberId hrwHome(const Port& port) const;
  MemberId computeHome(const Port& port) const;
  void vmMemberDisabled(MemberId m, TimePoint seen_at, TimePoint now);
  void vmMemberEnabled(MemberId m, TimePoint seen_at, TimePoint now);
  void vmFailback(MemberId m, TimePoint seen_at, TimePoint now);
  void movePort(PortIndex p, MemberId to, DecisionReason reason, TimePoint seen_at, TimePoint now);

  // balance-flow
  void flowMemberChanged(MemberId m, bool enabled, TimePoint seen_at, TimePoint now);

  LagConfig config_;
  const Clock& clock_;
  EventSink sink_;
  LogRateLimiter limiter_;
  MemberTracker tracker_;
  std::unique_ptr<QsbrDomain> own_domain_;
  LiveSetPublisher publisher_;
  std::vector<uint64_t> member_salt_;     // rendezvous salt per member
  std::vector<TimePoint> failback_at_;    // balance-vm: per member, kNever = none
  std::vector<TimePoint> failback_seen_;  // cause time of that failback
  std::vector<Port> ports_;
  std::vector<PortIndex> free_ports_;
  std::unordered_map<std::string, PortIndex> port_by_name_;
  size_t port_count_ = 0;
  MemberId primary_ = kNoMember;
  MemberId active_ = kNoMember;
  bool degraded_ = true;                       // no enabled member (flow / vm bookkeeping)
  std::vector<MemberTransition> transitions_;  // scratch
  GroupStats stats_;
};

}  // namespace vfo::lag
