// The lifecycle of a VM port, as a pure transition table, and the plain
// record a port exports (for restart and live migration; the wire format
// comes with the ops API).
#pragma once

#include <cstdint>
#include <string_view>

#include "vfo/base/status.h"
#include "vfo/lag/types.h"
#include "vfo/vhost/config.h"

namespace vfo::vhost {

// Lifecycle of a port. Which member is standby is per member (Steering),
// not a port state.
enum class PortState : uint8_t {
  kIncoming,      // target of a live migration: socket and uplinks ready, not forwarding
  kActive,        // forwarding between the guest and the active member
  kMigratingOut,  // forwarding while QEMU migrates the VM away (dirty logging on)
  kGone,          // deleted: socket removed, uplinks released
};

// The guest side of a port's vhost-user socket.
enum class VhostLink : uint8_t {
  kDisconnected,  // no vhost-user connection
  kConnected,     // a connection exists; the guest driver is not running
  kRunning,       // the driver is up (new_device): the relay moves frames
};

// Operator or orchestration requests that change PortState.
enum class PortEvent : uint8_t {
  kActivate,            // incoming migration finished here: start forwarding
  kBeginMigrationOut,   // QEMU starts migrating the VM away
  kCancelMigrationOut,  // the migration failed or was cancelled: keep the VM
  kDelete,              // release everything
};

std::string_view portStateName(PortState s);
std::string_view vhostLinkName(VhostLink l);
std::string_view portEventName(PortEvent e);

// The next state, or FAILED_PRECONDITION naming both state and event
// ("cannot activate a port that is active"). Pure.
StatusOr<PortState> nextPortState(PortState from, PortEvent event);

// Whether frames flow in this state.
constexpr bool portForwards(PortState s) {
  return s == PortState::kActive || s == PortState::kMigratingOut;
}

// Everything needed to recreate a port elsewhere or after a restart. A plain
// value; counters are not part of it.
struct PortRecord {
  PortSettings settings;                         // what the port was created with
  PortState state = PortState::kActive;          // lifecycle state
  VhostLink vhost = VhostLink::kDisconnected;    // guest side (informational on import)
  lag::MemberId active_member = lag::kNoMember;  // member carrying the port
  uint64_t negotiated_features = 0;  // virtio features of the running device (0 if none)
  uint16_t guest_queue_pairs = 0;    // queue pairs of the running device (0 if none)
  bool dirty_logging = false;        // VHOST_F_LOG_ALL is on (migration in progress)

  friend bool operator==(const PortRecord&, const PortRecord&) = default;
};

}  // namespace vfo::vhost
