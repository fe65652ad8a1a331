// Backing VFs, whatever provides them.
//
// A provider owns the VFs of the PFs (LAG members) it is given: the sysfs
// SR-IOV provider configures hardware VFs through the PF's rtnetlink
// interface; the software-VF provider makes a macvlan per VF. The manager
// above never knows which.
//
// Contract: every call either fully happens or changes nothing it can undo;
// errors carry the PF and VF in the message. Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"
#include "vfo/lag/types.h"

namespace vfo::sriov {

// IFLA_VF_LINK_STATE values.
enum class VfLinkState : uint8_t {
  kAuto = 0,     // follow the PF's link (IFLA_VF_LINK_STATE_AUTO)
  kEnable = 1,   // always up (IFLA_VF_LINK_STATE_ENABLE)
  kDisable = 2,  // always down (IFLA_VF_LINK_STATE_DISABLE)
};
std::string_view vfLinkStateName(VfLinkState s);

// What a VF is set to for one VM port.
struct VfConfig {
  MacAddress mac;                               // the guest MAC (unicast, required)
  lag::VlanId vlan = lag::kNoVlan;              // port VLAN, 0 = untagged
  bool spoof_check = true;                      // drop frames from other source MACs
  bool trust = false;                           // allow the VF to change MAC/promisc
  VfLinkState link_state = VfLinkState::kAuto;  // VF link policy
  friend bool operator==(const VfConfig&, const VfConfig&) = default;
};

// One VF of one PF.
struct VfRef {
  std::string pf;      // PF (member) netdev
  uint32_t index = 0;  // VF index on that PF (software provider: slot number)
  friend auto operator<=>(const VfRef&, const VfRef&) = default;
  std::string toString() const { return pf + "/vf" + std::to_string(index); }
};

// A VF's current state as the provider reads it back.
struct VfState {
  VfRef ref;                // which VF
  std::string pci_address;  // hardware VFs: PCI address; software VFs: empty
  std::string netdev;       // VF netdev if one exists (software: the macvlan)
  std::string devargs;      // how vfod opens it (PCI address or net_af_packet devargs)
  VfConfig config;          // MAC, VLAN, spoof check, trust, link state
  // A free software VF kept for reuse ("parked") still carries the MAC of its
  // last port; reusing it for that MAC needs no MAC change. None otherwise.
  std::optional<MacAddress> parked_mac;
  // Software VFs: the macvlan carries a port's record but is down (a
  // configure or reset cut off between its steps, e.g. by a crash); it must
  // be configured again before an uplink can use it. Hardware VFs: false.
  bool netdev_down = false;
  // A VF is free when its MAC is zero (hardware) or it does not exist yet (software).
  bool inUse() const { return !config.mac.isZero(); }
};

class VfProvider {
 public:
  virtual ~VfProvider() = default;
  // "sysfs-sriov", "software", "hardware-lag".
  virtual std::string_view kind() const = 0;
  // Every VF slot of the PF with its current state, ordered by index. A
  // software provider lists its slots up to its configured capacity.
  virtual StatusOr<std::vector<VfState>> list(const std::string& pf) = 0;
  // Applies `config` to the VF (software: creates the macvlan). Applying the
  // config a VF already has succeeds and changes nothing.
  virtual StatusOr<VfState> configure(const VfRef& vf, const VfConfig& config) = 0;
  // Returns the VF clean: MAC cleared, VLAN 0, spoof check on, trust off,
  // link state auto (software: deletes the macvlan). A clean VF: success.
  virtual Status reset(const VfRef& vf) = 0;
  // True when every VF this provider lists belongs to its owner alone
  // (software VFs: vfod's own macvlans, named after their member), so a
  // configured VF no port claims is a leftover and may be reclaimed. False
  // (the default): such a VF may serve something else, e.g. a VF passed
  // through to a VM, and is left alone.
  virtual bool ownsEveryVf() const { return false; }
};

}  // namespace vfo::sriov
