// Introspection of a LAG group for the ops API and the CLI, like OVS
// bond/show: mode, members with admin/link/probe state and pending delays,
// the active member, every port's member/home/pin, counters.
//
// A LagSnapshot is a plain value copied out of the group on its control
// thread; it can be read anywhere afterwards.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/stats.h"
#include "vfo/lag/lag_config.h"
#include "vfo/lag/member_tracker.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// Group counters. 802.3ad has no aggregate-level failover counters; these
// are vfo's own (named in the OVS/bonding vocabulary).
#define VFO_LAG_GROUP_STATS(X)                                                                \
  X(failovers, "decisions that moved traffic off a member that was disabled")                 \
  X(failbacks, "decisions that moved traffic back to a returning home/primary member")        \
  X(active_changes, "times the active member changed (active-backup, follow-kernel-bond)")    \
  X(port_moves, "port moves between members, all reasons (events with from and to set)")      \
  X(degraded_events, "times the group lost its last live member (ports became degraded)")     \
  X(operator_set_active, "setActiveMember() calls that changed the active member")            \
  X(bond_follow_updates, "active-member reports received from the kernel bond (follow mode)") \
  X(live_set_publishes, "LiveSet snapshots published to the datapath")                        \
  X(events_emitted, "decision events delivered to the event sink")
VFO_DECLARE_STATS(GroupStats, VFO_LAG_GROUP_STATS)

struct MemberSnapshot {
  MemberView member;               // state, pending decision, counters
  bool active = false;             // the active member (active-backup / follow)
  Duration pending_remaining{0};   // time until the pending decision fires; 0 if none
  uint32_t ports = 0;              // ports currently on this member (not balance-flow)
  bool failback_pending = false;   // balance-vm: ports will move back to it
  Duration failback_remaining{0};  // balance-vm: time until they move back
};

struct PortSnapshot {
  PortIndex index = kNoPort;     // stable while the port exists
  std::string name;              // "vm1/net0"
  MemberId current = kNoMember;  // member carrying it now; kNoMember if degraded or per-flow
  MemberId home = kNoMember;  // where the policy wants it (balance-vm: pin or HRW; else = current)
  std::optional<MemberId> pin;  // balance-vm explicit pin
  bool degraded = false;        // no live member can carry it
};

struct LagSnapshot {
  std::string name;                                             // group name
  LagMode mode = LagMode::kActiveBackup;                        // decision mode
  HashPolicy hash_policy = HashPolicy::kLayer2;                 // balance-flow policy
  std::optional<std::string> primary;                           // active-backup primary member
  PrimaryReselect primary_reselect = PrimaryReselect::kAlways;  // reselect policy
  bool failback = true;                                         // active-backup failback
  Duration updelay{0};                                          // hysteresis up
  Duration downdelay{0};                                        // hysteresis down
  std::optional<Duration> vm_failback_delay;                    // balance-vm; nullopt = stay
  TimePoint taken_at;                                           // clock time of the snapshot
  MemberId active = kNoMember;                                  // active member (AB / follow)
  std::vector<MemberSnapshot> members;                          // by member id
  std::vector<PortSnapshot> ports;  // by port index, existing ports only
  GroupStatsSnapshot stats;         // group counters
  uint64_t live_generation = 0;     // generation of the published LiveSet
  std::vector<MemberId> live;       // live members in that LiveSet
  size_t retired_live_sets = 0;     // snapshots waiting for a grace period

  // Name of a member id, "none" for kNoMember.
  std::string memberName(MemberId m) const;
  // Multi-line human-readable text in the style of OVS bond/show.
  std::string toText() const;
};

}  // namespace vfo::lag
