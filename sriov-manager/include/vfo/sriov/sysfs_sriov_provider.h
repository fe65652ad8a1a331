// The VF provider for real SR-IOV NICs (kind "sysfs-sriov").
//
// Discovery comes from sysfs (SriovSysfs: which VFs a PF has, their PCI
// address, netdev and driver); VF configuration goes through the PF's
// rtnetlink interface (VfNetlink: RTM_SETLINK with IFLA_VFINFO_LIST, read
// back with RTM_GETLINK / RTEXT_FILTER_VF). vfod opens a VF by its PCI
// address (devargs), after it was bound to vfio-pci when bind_vfio is set.
//
// Contract (VfProvider's, made precise):
//  - list(pf): every VF sysfs shows, ordered by index, with the settings
//    the driver reports. NOT_FOUND for a missing PF, FAILED_PRECONDITION for
//    a netdev that is not an SR-IOV PF or whose driver reports no VF config.
//  - configure(vf, config): validates, then VfNetlink::apply (transactional:
//    on any error the VF's previous settings are restored), then, with
//    bind_vfio, binds the VF to the VFIO driver (SriovSysfs::bindDriver, which
//    undoes its own steps); if binding fails the VF settings are restored too.
//  - reset(vf): MAC 00:00:00:00:00:00, VLAN 0, spoof check on, trust off,
//    link state auto; with bind_vfio, the VF then goes back to its default
//    driver. vfod must have released the VF (closed the device) first.
// Errors name the PF and VF. Not thread-safe: one owner.
#pragma once

#include <string>

#include "vfo/sriov/sriov_sysfs.h"
#include "vfo/sriov/vf_netlink.h"
#include "vfo/sriov/vf_provider.h"

namespace vfo::sriov {

struct SysfsSriovOptions {
  bool bind_vfio = false;                // bind configured VFs to `vfio_driver` for vfod
  std::string vfio_driver = "vfio-pci";  // the VFIO PCI driver's name in sysfs
};

class SysfsSriovProvider : public VfProvider {
 public:
  // Both collaborators must outlive the provider.
  SysfsSriovProvider(SriovSysfs& sysfs, VfNetlink& netlink, SysfsSriovOptions options = {})
      : sysfs_(sysfs), netlink_(netlink), options_(std::move(options)) {}

  std::string_view kind() const override { return "sysfs-sriov"; }
  StatusOr<std::vector<VfState>> list(const std::string& pf) override;
  StatusOr<VfState> configure(const VfRef& vf, const VfConfig& config) override;
  Status reset(const VfRef& vf) override;

  const SysfsSriovOptions& options() const { return options_; }

 private:
  // The sysfs view of one VF; NOT_FOUND naming PF and index.
  StatusOr<VfDevice> device(const VfRef& vf) const;
  VfState state(const std::string& pf, const VfDevice& dev, const VfLinkInfo& info) const;

  SriovSysfs& sysfs_;
  VfNetlink& netlink_;
  SysfsSriovOptions options_;
};

// The settings of a clean VF (what reset() applies): zero MAC, VLAN 0, spoof
// check on, trust off, link state auto.
VfConfig cleanVfConfig();

// Checks a VfConfig given to configure(): a unicast, non-zero MAC and a VLAN
// in 0..4094. INVALID_ARGUMENT naming the field.
Status validateVfConfig(const VfConfig& config);

}  // namespace vfo::sriov
