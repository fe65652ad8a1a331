// Member link state with updelay/downdelay hysteresis: a pure state machine.
//
// Inputs are events with the time their cause was seen (onCarrier,
// onProbeVerdict, setAdmin) plus onTick(now); every call also takes `now`,
// the time the decision logic runs. Outputs are MemberTransition values
// appended to a caller-supplied vector. No clock is read, nothing blocks.
//
//   healthy = admin up && carrier up && (probe alive || member does not probe)
//
// A member is "enabled" (usable for traffic, bonding's BOND_LINK_UP) or
// "disabled". A health change starts a pending decision:
//   healthy while disabled -> enable at seen_at + updelay
//   unhealthy while enabled -> disable at seen_at + downdelay
// and the opposite health change before the deadline cancels it. Admin down
// disables at once (an operator decision, no downdelay). With
// skip_updelay=true (used by the group when no member is enabled, like
// bonding's ignore_updelay when there is no active slave) an enable happens
// at once. A deadline that is already past when the event is processed fires
// in the same call. Pending decisions and cancellations are logged
// ("[member pf1] will be disabled if it stays down for 200 ms").
//
// Thread contract: one thread (the group's control thread) calls everything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/log.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/lag_config.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// Per-member counters. No IEEE 802.3ad (IEEE8023-LAG-MIB) object counts
// carrier changes; the nearest ones are named in each help string.
#define VFO_LAG_MEMBER_STATS(X)                                                                 \
  X(carrier_changes, "carrier up/down events received (like IFLA_CARRIER_CHANGES)")             \
  X(probe_failures, "probe verdicts 'dead' received while the probe had said alive")            \
  X(enable_transitions,                                                                         \
    "times the member was enabled (cf. dot3adAggPortDebugActorSyncTransitionCount: joined the " \
    "set of members that carry traffic)")                                                       \
  X(disable_transitions, "times the member was disabled (left the set that carries traffic)")   \
  X(delays_cancelled,                                                                           \
    "pending updelay/downdelay decisions cancelled by the opposite change (flaps absorbed)")    \
  X(became_active, "times the member became the active member (active-backup, follow)")
VFO_DECLARE_STATS(MemberStats, VFO_LAG_MEMBER_STATS)

// What a pending hysteresis decision will do when its deadline passes.
enum class PendingAction {
  kNone,     // nothing pending (deadline is kNever)
  kEnable,   // will enable at the deadline unless health goes down first
  kDisable,  // will disable at the deadline unless health comes back first
};
std::string_view pendingActionName(PendingAction a);

// Why a member changed between enabled and disabled.
enum class MemberCause {
  kCarrier,  // a carrier event (after updelay/downdelay)
  kProbe,    // a probe verdict (after updelay/downdelay)
  kAdmin,    // setAdmin()
};

// Output: a member was enabled or disabled.
struct MemberTransition {
  MemberId member = kNoMember;                // which member
  bool enabled = false;                       // new state: true = enabled
  MemberCause cause = MemberCause::kCarrier;  // the input that started it
  TimePoint cause_seen_at;                    // when that input's cause was seen
  TimePoint decided_at;                       // `now` of the call that decided
};

// Read-only view of one member for introspection.
struct MemberView {
  MemberId id = kNoMember;                       // index in the config
  std::string name;                              // netdev name
  bool admin_up = true;                          // operator state
  bool carrier = false;                          // last carrier event (false until the first one)
  bool probing = false;                          // member uses a probe monitor
  bool probe_alive = false;                      // last probe verdict (meaningful when probing)
  bool healthy = false;                          // admin && carrier && (probe alive or not probing)
  bool enabled = false;                          // hysteresis output: usable for traffic
  PendingAction pending = PendingAction::kNone;  // pending decision
  TimePoint pending_deadline = kNever;           // when it fires; kNever if none
  uint32_t speed_mbps = 0;                       // for primary_reselect=better
  MemberStatsSnapshot stats;                     // counters
};

class MemberTracker {
 public:
  // `members` come from a validated LagConfig. `limiter` (optional, not owned,
  // must outlive the tracker) rate-limits the pending/cancel log lines.
  MemberTracker(const std::vector<MemberConfig>& members, Duration updelay, Duration downdelay,
                LogRateLimiter* limiter = nullptr);

  size_t size() const { return members_.size(); }
  // New hysteresis delays; pending decisions keep the deadline they had.
  void setDelays(Duration updelay, Duration downdelay) {
    updelay_ = updelay;
    downdelay_ = downdelay;
  }
  // kNoMember when no member has this name.
  MemberId find(std::string_view name) const;
  const std::string& name(MemberId m) const { return members_[m].name; }
  bool enabled(MemberId m) const { return members_[m].enabled; }
  bool healthy(MemberId m) const { return isHealthy(members_[m]); }
  uint32_t speed(MemberId m) const { return members_[m].speed_mbps; }

  // Inputs. Errors: INVALID_ARGUMENT for an unknown member id (nothing
  // changes). Transitions decided by the call are appended to `out`.
  Status onCarrier(MemberId m, bool up, TimePoint seen_at, TimePoint now, bool skip_updelay,
                   std::vector<MemberTransition>* out);
  Status onProbeVerdict(MemberId m, bool alive, TimePoint seen_at, TimePoint now, bool skip_updelay,
                        std::vector<MemberTransition>* out);
  Status setAdmin(MemberId m, bool up, TimePoint now, bool skip_updelay,
                  std::vector<MemberTransition>* out);
  Status setSpeed(MemberId m, uint32_t speed_mbps);

  // Fires every pending decision whose deadline is <= now, in deadline order.
  void onTick(TimePoint now, std::vector<MemberTransition>* out);
  // Earliest pending deadline, kNever when nothing is pending.
  TimePoint nextDeadline() const;

  MemberView view(MemberId m) const;
  MemberStats& stats(MemberId m) { return members_[m].stats; }

 private:
  struct Member {
    std::string name;
    std::string entity;  // "[member pf0]"
    uint32_t speed_mbps = 0;
    bool probing = false;
    bool admin_up = true;
    bool carrier = false;
    bool probe_alive = false;
    bool enabled = false;
    PendingAction pending = PendingAction::kNone;
    TimePoint deadline = kNever;
    MemberCause pending_cause = MemberCause::kCarrier;
    TimePoint pending_seen_at;
    MemberStats stats;
  };

  static bool isHealthy(const Member& m) {
    return m.admin_up && m.carrier && (!m.probing || m.probe_alive);
  }
  // Re-evaluates hysteresis after an input changed m's health inputs.
  void healthChanged(MemberId id, MemberCause cause, TimePoint seen_at, TimePoint now,
                     bool skip_updelay, std::vector<MemberTransition>* out);
  void apply(MemberId id, bool enable, MemberCause cause, TimePoint seen_at, TimePoint now,
             std::vector<MemberTransition>* out);
  bool logAllowed();

  std::vector<Member> members_;
  Duration updelay_;
  Duration downdelay_;
  LogRateLimiter* limiter_;
};

}  // namespace vfo::lag
