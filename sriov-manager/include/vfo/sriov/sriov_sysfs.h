// SR-IOV physical functions and their VFs as sysfs shows them.
//
// Reads:  class/net/<pf>/device/{sriov_totalvfs,sriov_numvfs,virtfnN}
//         bus/pci/devices/<vf>/{vendor,device,driver,driver_override,net/<if>}
// Writes: sriov_numvfs (VF count), and the driverctl sequence to rebind a VF:
//         driver_override, driver/unbind, bus/pci/drivers_probe.
//
// Contract: every argument is validated before anything is written (netdev
// names, PCI addresses and driver names cannot escape the sysfs tree), and a
// failed multi-step operation undoes the steps it already did where the
// kernel allows it. Not thread-safe: one owner (the SR-IOV manager).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/sriov/sysfs_io.h"

namespace vfo::sriov {

struct VfDevice {
  uint32_t index = 0;           // N of the PF's virtfnN link
  std::string pci_address;      // "0000:3b:02.0"
  std::string netdev;           // VF netdev when a network driver is bound, else empty
  std::string driver;           // bound driver ("iavf", "mlx5_core", "vfio-pci"), empty if none
  std::string driver_override;  // contents of driver_override, empty for "(null)"
  uint16_t vendor_id = 0;       // PCI vendor id
  uint16_t device_id = 0;       // PCI device id
};

struct PfDevice {
  std::string netdev;         // PF netdev name ("enp59s0f0")
  std::string pci_address;    // PF PCI address
  std::string driver;         // PF driver ("ice", "mlx5_core")
  uint32_t total_vfs = 0;     // sriov_totalvfs
  uint32_t num_vfs = 0;       // sriov_numvfs
  std::vector<VfDevice> vfs;  // ordered by index
};

// Validators shared by everything that builds sysfs paths from input.
Status validateNetdevName(
    const std::string& name);  // 1..15 chars, no '/', no space, not "." or ".."
Status validatePciAddress(const std::string& addr);  // dddd:bb:dd.f, lower-case hex
Status validateDriverName(const std::string& name);  // [A-Za-z0-9_-]+

class SriovSysfs {
 public:
  explicit SriovSysfs(SysfsIo& io) : io_(io) {}

  // Netdevs that are SR-IOV capable PFs (have device/sriov_totalvfs).
  StatusOr<std::vector<std::string>> listPfNetdevs() const;

  // Everything about one PF. NOT_FOUND if the netdev does not exist,
  // FAILED_PRECONDITION if it is not SR-IOV capable.
  StatusOr<PfDevice> discoverPf(const std::string& pf_netdev) const;

  // One VF by PCI address.
  StatusOr<VfDevice> discoverVf(const std::string& vf_pci) const;

  // Sets sriov_numvfs. Refused (FAILED_PRECONDITION, naming the VF) while a
  // VF that would be removed is in `in_use` or bound to vfio-pci; refused
  // (OUT_OF_RANGE) above sriov_totalvfs. Changing a non-zero count writes 0
  // first, as the kernel requires. Same count: nothing is written.
  Status setNumVfs(const std::string& pf_netdev, uint32_t count,
                   const std::set<std::string>& in_use);

  // Binds the VF to `driver` (e.g. "vfio-pci") through driver_override and
  // drivers_probe, then checks the binding took. Already bound: no write.
  // On failure the previous driver binding is restored when possible.
  Status bindDriver(const std::string& vf_pci, const std::string& driver);

  // Clears driver_override and lets the kernel bind the VF's default driver.
  Status restoreDefaultDriver(const std::string& vf_pci);

 private:
  std::string boundDriver(const std::string& vf_pci) const;
  SysfsIo& io_;
};

}  // namespace vfo::sriov
