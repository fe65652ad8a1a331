// PortRegistry: the desired state the API has accepted (ports, LAG
// settings, learned addresses, operator pin), and the idempotency rules
// every backend shares.
//
// Not thread-safe: the service holds its mutation lock around every use.
#pragma once

#include <map>
#include <string>

#include "vfo/api/types.h"
#include "vfo/base/status.h"

namespace vfo::api {

class PortRegistry {
 public:
  // What CreatePort should do with a validated spec.
  enum class Admission : uint8_t {
    kCreate,          // new id: create it
    kAlreadyPresent,  // same id, same spec: succeed without changing anything
    kRetryRestore,    // known id that failed to restore at start: create it again
  };

  // ALREADY_EXISTS when the id exists with other settings (the message names
  // the first differing field), or another port uses the socket path or MAC.
  StatusOr<Admission> admit(const PortSpec& spec) const;

  const PortSpec* find(const std::string& port_id) const;  // nullptr when unknown
  void put(const PortSpec& spec);                          // insert or replace
  void erase(const std::string& port_id);                  // ports, learned, restore failure

  // Ports that are in the desired state but could not be recreated at start
  // (port id -> reason). They stay persisted; Health lists them.
  const std::map<std::string, std::string>& unrestored() const { return unrestored_; }
  void markUnrestored(const std::string& port_id, std::string reason);
  void clearUnrestored(const std::string& port_id);

  const DesiredState& state() const { return state_; }
  DesiredState& mutableState() { return state_; }
  void replace(DesiredState state) { state_ = std::move(state); }

 private:
  DesiredState state_;                             // ports sorted by id
  std::map<std::string, std::string> unrestored_;  // id -> why it failed at restore
};

// The first field in which two specs differ ("vlan"), empty when equal.
std::string firstDifference(const PortSpec& a, const PortSpec& b);

}  // namespace vfo::api
