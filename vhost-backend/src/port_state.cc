#include "vfo/vhost/port_state.h"

#include <fmt/format.h>

namespace vfo::vhost {

std::string_view portStateName(PortState s) {
  switch (s) {
    case PortState::kIncoming:
      return "incoming";
    case PortState::kActive:
      return "active";
    case PortState::kMigratingOut:
      return "migrating-out";
    case PortState::kGone:
      return "gone";
  }
  return "?";
}

std::string_view vhostLinkName(VhostLink l) {
  switch (l) {
    case VhostLink::kDisconnected:
      return "disconnected";
    case VhostLink::kConnected:
      return "connected";
    case VhostLink::kRunning:
      return "running";
  }
  return "?";
}

std::string_view portEventName(PortEvent e) {
  switch (e) {
    case PortEvent::kActivate:
      return "activate";
    case PortEvent::kBeginMigrationOut:
      return "begin migration out of";
    case PortEvent::kCancelMigrationOut:
      return "cancel migration out of";
    case PortEvent::kDelete:
      return "delete";
  }
  return "?";
}

StatusOr<PortState> nextPortState(PortState from, PortEvent event) {
  switch (event) {
    case PortEvent::kActivate:
      if (from == PortState::kIncoming) return PortState::kActive;
      break;
    case PortEvent::kBeginMigrationOut:
      if (from == PortState::kActive) return PortState::kMigratingOut;
      break;
    case PortEvent::kCancelMigrationOut:
      if (from == PortState::kMigratingOut) return PortState::kActive;
      break;
    case PortEvent::kDelete:
      if (from != PortState::kGone) return PortState::kGone;
      break;
  }
  return failedPrecondition(
      fmt::format("cannot {} a port that is {}", portEventName(event), portStateName(from)));
}

}  // namespace vfo::vhost
