#include "vfo/sriov/sysfs_sriov_provider.h"

#include <fmt/format.h>

#include "vfo/base/log.h"

namespace vfo::sriov {

namespace {
const Logger kLog("sriov");
}  // namespace

VfConfig cleanVfConfig() {
  VfConfig c;
  c.mac = MacAddress();
  c.vlan = lag::kNoVlan;
  c.spoof_check = true;
  c.trust = false;
  c.link_state = VfLinkState::kAuto;
  return c;
}

Status validateVfConfig(const VfConfig& c) {
  if (c.mac.isZero()) return invalidArgument("mac: 00:00:00:00:00:00 is not a usable guest MAC");
  if (c.mac.isMulticast())
    return invalidArgument(fmt::format("mac: {} is a multicast address", c.mac.toString()));
  if (c.vlan > 4094)
    return invalidArgument(fmt::format("vlan: {} is out of range 0..4094", c.vlan));
  if (uint8_t(c.link_state) > uint8_t(VfLinkState::kDisable))
    return invalidArgument(
        fmt::format("link_state: {} is not auto, enable or disable", uint8_t(c.link_state)));
  return okStatus();
}

StatusOr<VfDevice> SysfsSriovProvider::device(const VfRef& vf) const {
  VFO_ASSIGN_OR_RETURN(PfDevice pf, sysfs_.discoverPf(vf.pf));
  for (auto& d : pf.vfs)
    if (d.index == vf.index) return std::move(d);
  return notFound(fmt::format("PF {} has no VF {} (sriov_numvfs {})", vf.pf, vf.index, pf.num_vfs));
}

VfState SysfsSriovProvider::state(const std::string& pf, const VfDevice& dev,
                                  const VfLinkInfo& info) const {
  VfState s;
  s.ref = {pf, dev.index};
  s.pci_address = dev.pci_address;
  s.netdev = dev.netdev;
  s.devargs = dev.pci_address;
  s.config = toConfig(info);
  return s;
}

StatusOr<std::vector<VfState>> SysfsSriovProvider::list(const std::string& pf) {
  VFO_ASSIGN_OR_RETURN(PfDevice dev, sysfs_.discoverPf(pf));
  VFO_ASSIGN_OR_RETURN(PfVfReport report, netlink_.read(pf));
  if (!dev.vfs.empty() && !report.has_vf_list)
    return failedPrecondition(fmt::format(
        "PF {} (driver {}): the driver reports no VF configuration (no IFLA_VFINFO_LIST)", pf,
        dev.driver));
  std::vector<VfState> out;
  for (const auto& d : dev.vfs) {
    const VfLinkInfo* info = report.find(d.index);
    if (!info)
      return unavailable(fmt::format(
          "PF {}: sysfs shows VF {} ({}) but rtnetlink reports {} VFs; the VF count is changing",
          pf, d.index, d.pci_address, report.vfs.size()));
    out.push_back(state(pf, d, *info));
  }
  return out;
}

StatusOr<VfState> SysfsSriovProvider::configure(const VfRef& vf, const VfConfig& config) {
  VFO_RETURN_IF_ERROR(validateVfConfig(config));
  VFO_ASSIGN_OR_RETURN(VfDevice dev, device(vf));
  // The settings before, to restore if binding fails after they changed.
  VFO_ASSIGN_OR_RETURN(PfVfReport before, netlink_.read(vf.pf));
  const VfLinkInfo* prev = before.find(vf.index);
  VFO_ASSIGN_OR_RETURN(VfLinkInfo applied, netlink_.apply(vf.pf, vf.index, config));
  if (options_.bind_vfio) {
    Status b = sysfs_.bindDriver(dev.pci_address, options_.vfio_driver);
    if (!b.isOk()) {
      Status out = b.withContext(fmt::format("{} ({})", vf.toString(), dev.pci_address));
      if (prev) {
        auto back = netlink_.apply(vf.pf, vf.index, toConfig(*prev));
        if (!back.isOk()) {
          kLog.error(fmt::format("[vf {}]", vf.toString()), "restoring settings failed: {}",
                     back.status().toString());
          return Status(out.code(), out.message() + "; restoring the VF settings failed too: " +
                                        back.status().toString());
        }
      }
      return out;
    }
    VFO_ASSIGN_OR_RETURN(dev, device(vf));
  }
  return state(vf.pf, dev, applied);
}

Status SysfsSriovProvider::reset(const VfRef& vf) {
  VFO_ASSIGN_OR_RETURN(VfDevice dev, device(vf));
  // A clean VF is left untouched by apply() (nothing differs).
  auto cleaned = netlink_.apply(vf.pf, vf.index, cleanVfConfig());
  if (!cleaned.isOk()) return cleaned.status();
  if (options_.bind_vfio && dev.driver == options_.vfio_driver) {
    VFO_RETURN_IF_ERROR(sysfs_.restoreDefaultDriver(dev.pci_address)
                            .withContext(fmt::format("{} ({})", vf.toString(), dev.pci_address)));
  }
  return okStatus();
}

}  // namespace vfo::sriov
