#include "vfo/sriov/sriov_sysfs.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace vfo::sriov {

namespace {

std::string baseName(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

StatusOr<uint32_t> parseUint(const std::string& text, const std::string& what) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size())
    return internalError(fmt::format("{}: '{}' is not a number", what, text));
  return v;
}

StatusOr<uint16_t> parseHexId(const std::string& text, const std::string& what) {
  std::string t = text;
  if (t.rfind("0x", 0) == 0) t = t.substr(2);
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, 16);
  if (ec != std::errc() || p != t.data() + t.size() || t.empty() || v > 0xffff)
    return internalError(fmt::format("{}: '{}' is not a PCI id", what, text));
  return uint16_t(v);
}

std::string devPath(const std::string& pci) {
  return "bus/pci/devices/" + pci;
}

}  // namespace

Status validateNetdevName(const std::string& name) {
  if (name.empty() || name.size() > 15)
    return invalidArgument(fmt::format("netdev name '{}' must be 1 to 15 characters", name));
  if (name == "." || name == "..")
    return invalidArgument(fmt::format("netdev name '{}' is not allowed", name));
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
      return invalidArgument(fmt::format("netdev name '{}' contains a forbidden character", name));
  }
  return okStatus();
}

Status validatePciAddress(const std::string& a) {
  // dddd:bb:dd.f
  bool ok =
      a.size() == 12 && a[4] == ':' && a[7] == ':' && a[10] == '.' && a[11] >= '0' && a[11] <= '7';
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) ok = ok && isHex(a[i]);
  if (!ok)
    return invalidArgument(
        fmt::format("'{}' is not a PCI address (want dddd:bb:dd.f, lower-case hex)", a));
  return okStatus();
}

Status validateDriverName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-');
  if (!ok) return invalidArgument(fmt::format("'{}' is not a driver name", name));
  return okStatus();
}

StatusOr<std::vector<std::string>> SriovSysfs::listPfNetdevs() const {
  VFO_ASSIGN_OR_RETURN(auto names, io_.list("class/net"));
  std::vector<std::string> pfs;
  for (auto& n : names)
    if (io_.exists("class/net/" + n + "/device/sriov_totalvfs")) pfs.push_back(n);
  return pfs;
}

std::string SriovSysfs::boundDriver(const std::string& vf_pci) const {
  auto link = io_.readLink(devPath(vf_pci) + "/driver");
  return link.isOk() ? baseName(*link) : std::string();
}

StatusOr<VfDevice> SriovSysfs::discoverVf(const std::string& vf_pci) const {
  VFO_RETURN_IF_ERROR(validatePciAddress(vf_pci));
  const std::string dev = devPath(vf_pci);
  if (!io_.exists(dev)) return notFound(fmt::format("PCI device {} does not exist", vf_pci));
  VfDevice vf;
  vf.pci_address = vf_pci;
  vf.driver = boundDriver(vf_pci);
  if (auto o = io_.read(dev + "/driver_override"); o.isOk() && *o != "(null)")
    vf.driver_override = *o;
  if (auto v = io_.read(dev + "/vendor"); v.isOk()) {
    VFO_ASSIGN_OR_RETURN(vf.vendor_id, parseHexId(*v, dev + "/vendor"));
  }
  if (auto d = io_.read(dev + "/device"); d.isOk()) {
    VFO_ASSIGN_OR_RETURN(vf.device_id, parseHexId(*d, dev + "/device"));
  }
  if (auto nets = io_.list(dev + "/net"); nets.isOk() && !nets->empty()) vf.netdev = nets->front();
  return vf;
}

StatusOr<PfDevice> SriovSysfs::discoverPf(const std::string& pf_netdev) const {
  VFO_RETURN_IF_ERROR(validateNetdevName(pf_netdev));
  const std::string base = "class/net/" + pf_netdev;
  if (!io_.exists(base)) return notFound(fmt::format("netdev {} does not exist", pf_netdev));
  if (!io_.exists(base + "/device/sriov_totalvfs"))
    return failedPrecondition(fmt::format(
        "netdev {} is not an SR-IOV physical function (no device/sriov_totalvfs)", pf_netdev));
  PfDevice pf;
  pf.netdev = pf_netdev;
  VFO_ASSIGN_OR_RETURN(auto dev_link, io_.readLink(base + "/device"));
  pf.pci_address = baseName(dev_link);
  if (auto drv = io_.readLink(base + "/device/driver"); drv.isOk()) pf.driver = baseName(*drv);
  VFO_ASSIGN_OR_RETURN(auto total, io_.read(base + "/device/sriov_totalvfs"));
  VFO_ASSIGN_OR_RETURN(pf.total_vfs, parseUint(total, pf_netdev + " sriov_totalvfs"));
  VFO_ASSIGN_OR_RETURN(auto num, io_.read(base + "/device/sriov_numvfs"));
  VFO_ASSIGN_OR_RETURN(pf.num_vfs, parseUint(num, pf_netdev + " sriov_numvfs"));
  VFO_ASSIGN_OR_RETURN(auto entries, io_.list(base + "/device"));
  for (const auto& e : entries) {
    if (e.rfind("virtfn", 0) != 0) continue;
    auto idx = parseUint(e.substr(6), "virtfn index");
    if (!idx.isOk()) continue;  // not a virtfnN link
    VFO_ASSIGN_OR_RETURN(auto link, io_.readLink(base + "/device/" + e));
    auto vf = discoverVf(baseName(link));
    if (!vf.isOk()) return vf.status().withContext(fmt::format("{} {}", pf_netdev, e));
    vf->index = *idx;
    pf.vfs.push_back(std::move(*vf));
  }
  std::sort(pf.vfs.begin(), pf.vfs.end(),
            [](const VfDevice& a, const VfDevice& b) { return a.index < b.index; });
  return pf;
}

Status SriovSysfs::setNumVfs(const std::string& pf_netdev, uint32_t count,
                             const std::set<std::string>& in_use) {
  VFO_ASSIGN_OR_RETURN(auto pf, discoverPf(pf_netdev));
  if (count > pf.total_vfs)
    return outOfRange(fmt::format("{}: {} VFs requested but sriov_totalvfs is {}", pf_netdev, count,
                                  pf.total_vfs));
  if (count == pf.num_vfs) return okStatus();
  // The kernel removes every VF when the count changes (0 first), so every
  // existing VF must be free.
  for (const auto& vf : pf.vfs) {
    if (in_use.count(vf.pci_address))
      return failedPrecondition(fmt::format(
          "{}: VF {} ({}) is in use by a port; delete its ports before changing the VF count",
          pf_netdev, vf.index, vf.pci_address));
    if (vf.driver == "vfio-pci")
      return failedPrecondition(
          fmt::format("{}: VF {} ({}) is bound to vfio-pci (assigned to a guest or DPDK)",
                      pf_netdev, vf.index, vf.pci_address));
  }
  const std::string attr = "class/net/" + pf_netdev + "/device/sriov_numvfs";
  if (pf.num_vfs != 0 && count != 0) {
    VFO_RETURN_IF_ERROR(io_.write(attr, "0").withContext(pf_netdev));
  }
  return io_.write(attr, std::to_string(count)).withContext(pf_netdev);
}

Status SriovSysfs::bindDriver(const std::string& vf_pci, const std::string& driver) {
  VFO_RETURN_IF_ERROR(validatePciAddress(vf_pci));
  VFO_RETURN_IF_ERROR(validateDriverName(driver));
  const std::string dev = devPath(vf_pci);
  if (!io_.exists(dev)) return notFound(fmt::format("PCI device {} does not exist", vf_pci));
  const std::string previous = boundDriver(vf_pci);
  if (previous == driver) return okStatus();

  VFO_RETURN_IF_ERROR(io_.write(dev + "/driver_override", driver).withContext(vf_pci));
  auto undo_override = [&] { (void)io_.write(dev + "/driver_override", ""); };
  if (!previous.empty()) {
    Status s = io_.write(dev + "/driver/unbind", vf_pci);
    if (!s.isOk()) {
      undo_override();
      return s.withContext(fmt::format("{}: unbind from {}", vf_pci, previous));
    }
  }
  Status probe = io_.write("bus/pci/drivers_probe", vf_pci);
  const std::string now_bound = boundDriver(vf_pci);
  if (probe.isOk() && now_bound == driver) return okStatus();

  // Roll back: clear the override and let the previous driver take it again.
  undo_override();
  if (!previous.empty() && boundDriver(vf_pci) != previous)
    (void)io_.write("bus/pci/drivers_probe", vf_pci);
  if (!probe.isOk()) return probe.withContext(fmt::format("{}: drivers_probe", vf_pci));
  return unavailable(
      fmt::format("{}: not bound to {} after drivers_probe (bound: '{}'); is the {} module loaded?",
                  vf_pci, driver, now_bound, driver));
}

Status SriovSysfs::restoreDefaultDriver(const std::string& vf_pci) {
  VFO_RETURN_IF_ERROR(validatePciAddress(vf_pci));
  const std::string dev = devPath(vf_pci);
  if (!io_.exists(dev)) return notFound(fmt::format("PCI device {} does not exist", vf_pci));
  VFO_RETURN_IF_ERROR(io_.write(dev + "/driver_override", "").withContext(vf_pci));
  const std::string bound = boundDriver(vf_pci);
  if (!bound.empty()) {
    VFO_RETURN_IF_ERROR(io_.write(dev + "/driver/unbind", vf_pci).withContext(vf_pci));
  }
  return io_.write("bus/pci/drivers_probe", vf_pci).withContext(vf_pci);
}

}  // namespace vfo::sriov
