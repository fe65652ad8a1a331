#include "vfo/api/port_registry.h"

#include <fmt/format.h>

#include <algorithm>

namespace vfo::api {

std::string firstDifference(const PortSpec& a, const PortSpec& b) {
  if (a.socket_path != b.socket_path) return "socket_path";
  if (a.role != b.role) return "role";
  if (a.mac != b.mac) return "mac";
  if (a.allowed_macs != b.allowed_macs) return "allowed_macs";
  if (a.vlan != b.vlan) return "vlan";
  if (a.queues != b.queues) return "queues";
  if (a.disabled_features != b.disabled_features) return "disabled_features";
  if (a.announce != b.announce) return "announce";
  if (a.pinned_member != b.pinned_member) return "pinned_member";
  if (a.domain_name != b.domain_name) return "domain_name";
  if (a.domain_uuid != b.domain_uuid) return "domain_uuid";
  if (a.incoming_migration != b.incoming_migration) return "incoming_migration";
  if (a.port_id != b.port_id) return "port_id";
  return "";
}

StatusOr<PortRegistry::Admission> PortRegistry::admit(const PortSpec& spec) const {
  if (const PortSpec* existing = find(spec.port_id)) {
    const std::string diff = firstDifference(*existing, spec);
    if (!diff.empty())
      return alreadyExists(fmt::format(
          "port {} exists with another {}; delete it first or use UpdatePort", spec.port_id, diff));
    return unrestored_.contains(spec.port_id) ? Admission::kRetryRestore
                                              : Admission::kAlreadyPresent;
  }
  for (const PortSpec& other : state_.ports) {
    if (other.socket_path == spec.socket_path)
      return alreadyExists(
          fmt::format("spec.socket_path: {} is used by port {}", spec.socket_path, other.port_id));
    if (other.mac == spec.mac)
      return alreadyExists(
          fmt::format("spec.mac: {} is used by port {}", spec.mac.toString(), other.port_id));
  }
  return Admission::kCreate;
}

const PortSpec* PortRegistry::find(const std::string& port_id) const {
  auto it =
      std::lower_bound(state_.ports.begin(), state_.ports.end(), port_id,
                       [](const PortSpec& p, const std::string& id) { return p.port_id < id; });
  return it != state_.ports.end() && it->port_id == port_id ? &*it : nullptr;
}

void PortRegistry::put(const PortSpec& spec) {
  auto& ports = state_.ports;
  auto it =
      std::lower_bound(ports.begin(), ports.end(), spec.port_id,
                       [](const PortSpec& p, const std::string& id) { return p.port_id < id; });
  if (it != ports.end() && it->port_id == spec.port_id)
    *it = spec;
  else
    ports.insert(it, spec);
}

void PortRegistry::erase(const std::string& port_id) {
  std::erase_if(state_.ports, [&](const PortSpec& p) { return p.port_id == port_id; });
  state_.learned.erase(port_id);
  unrestored_.erase(port_id);
}

void PortRegistry::markUnrestored(const std::string& port_id, std::string reason) {
  unrestored_[port_id] = std::move(reason);
}

void PortRegistry::clearUnrestored(const std::string& port_id) {
  unrestored_.erase(port_id);
}

}  // namespace vfo::api
