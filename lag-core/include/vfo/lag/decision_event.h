// The output of every LAG decision: which port moves from which member to
// which, why, when the cause was seen and when the decision was taken.
#pragma once

#include <string>
#include <string_view>

#include "vfo/base/clock.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

enum class DecisionReason {
  kPortAdded,          // a new port was placed (from = kNoMember)
  kMemberDown,         // the port's member was disabled; moved to another live member
  kMemberUp,           // failback: the port's home/primary member is back (after delays)
  kPrimaryReselect,    // active-backup: primary_reselect chose the returning primary
  kOperatorSetActive,  // active-backup: setActiveMember() by the operator
  kPinChanged,         // balance-vm: the port's pin was set, changed or cleared
  kBondFollow,         // follow-kernel-bond: the kernel bond reported a new active member
  kAllMembersDown,     // no live member: the port is degraded (to = kNoMember)
  kDegradedRecovery,   // a member came back while the port was degraded (from = kNoMember)
  kLiveSetChanged,     // balance-flow: a member joined/left the hash set (port = kNoPort)
};
std::string_view decisionReasonName(DecisionReason r);

struct DecisionEvent {
  PortIndex port = kNoPort;   // moved port; kNoPort for group-level (balance-flow) events
  std::string port_name;      // its name ("vm1/net0"); empty for group-level events
  MemberId from = kNoMember;  // previous member; kNoMember if none (new or degraded)
  MemberId to = kNoMember;    // new member; kNoMember when degraded / member left
  DecisionReason reason = DecisionReason::kPortAdded;  // why
  TimePoint cause_seen_at;  // when the triggering input's cause was seen (e.g. carrier loss)
  TimePoint decided_at;     // when the group decided (clock time of the call / onTick now)
};

// "port vm1/net0: pf0 -> pf1 (member-down, seen 200 ms before decision)" style text.
std::string toString(const DecisionEvent& e, std::string_view from_name, std::string_view to_name);

}  // namespace vfo::lag
