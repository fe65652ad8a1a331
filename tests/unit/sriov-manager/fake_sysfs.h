// A fake sysfs tree on disk (plain files and symlinks laid out as the kernel
// lays out /sys), and a SysfsIo that plays the kernel's part on writes:
// sriov_numvfs creates/removes VFs, drivers_probe binds per driver_override,
// driver/unbind unbinds. Failures can be scripted per path.
#pragma once

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vfo/sriov/sysfs_io.h"
#include "vfo/testing/names.h"

namespace vfo::sriov::testing {

class FakeSysfsTree {
 public:
  FakeSysfsTree() : root_(vfo::testing::makeTempDir("vfo-sysfs-")) {
    mkdirs("class/net");
    mkdirs("bus/pci/devices");
    mkdirs("bus/pci/drivers");
    writeFile("bus/pci/drivers_probe", "");
  }
  ~FakeSysfsTree() { vfo::testing::removeTree(root_); }
  FakeSysfsTree(const FakeSysfsTree&) = delete;
  FakeSysfsTree& operator=(const FakeSysfsTree&) = delete;

  const std::string& root() const { return root_; }

  void addDriver(const std::string& name) {
    mkdirs("bus/pci/drivers/" + name);
    writeFile("bus/pci/drivers/" + name + "/bind", "");
    writeFile("bus/pci/drivers/" + name + "/unbind", "");
    drivers_.insert(name);
  }
  bool hasDriver(const std::string& name) const { return drivers_.count(name) > 0; }

  // A plain (non SR-IOV) netdev.
  void addNetdev(const std::string& name) {
    mkdirs("devices/virtual/net/" + name);
    symlink("../../devices/virtual/net/" + name, "class/net/" + name);
  }

  // An SR-IOV PF netdev at PCI address `pci` (e.g. "0000:3b:00.0").
  void addPf(const std::string& netdev, const std::string& pci, uint32_t total_vfs,
             const std::string& driver = "ice", const std::string& vf_driver = "iavf") {
    const std::string dev = "devices/pci0000:00/" + pci;
    addPciDevice(pci, dev, 0x8086, 0x1593);
    writeFile(dev + "/sriov_totalvfs", std::to_string(total_vfs));
    writeFile(dev + "/sriov_numvfs", "0");
    if (!hasDriver(driver)) addDriver(driver);
    if (!hasDriver(vf_driver)) addDriver(vf_driver);
    bind(pci, driver);
    mkdirs(dev + "/net/" + netdev);
    symlink("../../../" + pci, dev + "/net/" + netdev + "/device");
    symlink("../../" + dev + "/net/" + netdev, "class/net/" + netdev);
    pfs_[netdev] = Pf{pci, dev, vf_driver, 0};
  }

  // What the kernel does on a successful sriov_numvfs write.
  void setNumVfs(const std::string& pf_netdev, uint32_t n) {
    Pf& pf = pfs_.at(pf_netdev);
    for (uint32_t i = 0; i < pf.num_vfs; ++i) {
      const std::string vpci = vfPci(pf.pci, i);
      std::filesystem::remove_all(path("devices/pci0000:00/" + vpci));
      std::filesystem::remove(path("bus/pci/devices/" + vpci));
      std::filesystem::remove(path(pf.dev + "/virtfn" + std::to_string(i)));
    }
    for (uint32_t i = 0; i < n; ++i) {
      const std::string vpci = vfPci(pf.pci, i);
      const std::string vdev = "devices/pci0000:00/" + vpci;
      addPciDevice(vpci, vdev, 0x8086, 0x1889);
      symlink("../" + vpci, pf.dev + "/virtfn" + std::to_string(i));
      symlink("../" + pf.pci, vdev + "/physfn");
      bindToNetDriver(vpci, pf.vf_driver, fmt::format("{}v{}", pf_netdev, i));
    }
    pf.num_vfs = n;
    writeFile(pf.dev + "/sriov_numvfs", std::to_string(n));
  }

  static std::string vfPci(const std::string& pf_pci, uint32_t i) {
    // same domain and bus as the PF, devices from 0x02, 8 functions each
    return fmt::format("{}{:02x}.{}", pf_pci.substr(0, 8), 2 + i / 8, i % 8);
  }

  void bind(const std::string& pci, const std::string& driver) {
    unbind(pci);
    symlink("../../../bus/pci/drivers/" + driver, devOf(pci) + "/driver");
  }
  void bindToNetDriver(const std::string& pci, const std::string& driver,
                       const std::string& netdev) {
    bind(pci, driver);
    mkdirs(devOf(pci) + "/net/" + netdev);
  }
  void unbind(const std::string& pci) {
    std::error_code ec;
    std::filesystem::remove(path(devOf(pci) + "/driver"), ec);
    std::filesystem::remove_all(path(devOf(pci) + "/net"), ec);
  }
  std::string boundDriver(const std::string& pci) const {
    std::error_code ec;
    auto t = std::filesystem::read_symlink(path(devOf(pci) + "/driver"), ec);
    return ec ? "" : t.filename().string();
  }
  std::string devOf(const std::string& pci) const { return "devices/pci0000:00/" + pci; }

  std::string readFile(const std::string& rel) const {
    std::ifstream f(path(rel));
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  void writeFile(const std::string& rel, const std::string& content) {
    std::ofstream(path(rel)) << content << "\n";
  }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

 private:
  struct Pf {
    std::string pci, dev, vf_driver;
    uint32_t num_vfs;
  };
  void mkdirs(const std::string& rel) { std::filesystem::create_directories(path(rel)); }
  void symlink(const std::string& target, const std::string& rel) {
    std::filesystem::create_symlink(target, path(rel));
  }
  void addPciDevice(const std::string& pci, const std::string& dev, uint16_t vendor,
                    uint16_t device) {
    mkdirs(dev);
    writeFile(dev + "/vendor", fmt::format("0x{:04x}", vendor));
    writeFile(dev + "/device", fmt::format("0x{:04x}", device));
    writeFile(dev + "/driver_override", "(null)");
    symlink("../../../" + dev, "bus/pci/devices/" + pci);
  }

  std::string root_;
  std::set<std::string> drivers_;
  std::map<std::string, Pf> pfs_;
};

// DirectorySysfsIo over a FakeSysfsTree, plus the kernel's reactions.
class KernelLikeSysfsIo : public SysfsIo {
 public:
  explicit KernelLikeSysfsIo(FakeSysfsTree& tree) : tree_(tree), dir_(tree.root()) {}

  // The next write whose path contains `needle` fails with `err`.
  void failWrite(const std::string& needle, int err) { failures_.push_back({needle, err}); }
  const std::vector<std::pair<std::string, std::string>>& writes() const { return writes_; }

  StatusOr<std::string> read(const std::string& p) const override { return dir_.read(p); }
  StatusOr<std::string> readLink(const std::string& p) const override { return dir_.readLink(p); }
  StatusOr<std::vector<std::string>> list(const std::string& d) const override {
    return dir_.list(d);
  }
  bool exists(const std::string& p) const override { return dir_.exists(p); }

  Status write(const std::string& p, const std::string& value) override {
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (p.find(it->first) != std::string::npos) {
        int err = it->second;
        failures_.erase(it);
        return errnoStatus(err, "write '" + value + "' to " + p);
      }
    }
    writes_.push_back({p, value});
    const std::string suffix_numvfs = "/device/sriov_numvfs";
    if (p.size() > suffix_numvfs.size() &&
        p.compare(p.size() - suffix_numvfs.size(), suffix_numvfs.size(), suffix_numvfs) == 0) {
      const std::string pf = p.substr(10, p.size() - 10 - suffix_numvfs.size());
      const uint32_t n = uint32_t(std::stoul(value));
      const uint32_t cur = uint32_t(std::stoul(tree_.readFile(p)));
      if (n != 0 && cur != 0) return errnoStatus(EBUSY, "write to " + p);
      tree_.setNumVfs(pf, n);
      return okStatus();
    }
    if (p == "bus/pci/drivers_probe") {
      const std::string pci = value;
      if (!tree_.boundDriver(pci).empty()) return okStatus();
      std::string ov = tree_.readFile(tree_.devOf(pci) + "/driver_override");
      if (ov.empty() || ov == "(null)") ov = "iavf";
      if (tree_.hasDriver(ov)) {
        if (ov == "vfio-pci")
          tree_.bind(pci, ov);
        else
          tree_.bindToNetDriver(pci, ov, "vf" + pci.substr(8, 2) + pci.substr(11, 1));
      }
      return okStatus();
    }
    if (p.size() > 14 && p.compare(p.size() - 14, 14, "/driver/unbind") == 0) {
      tree_.unbind(value);
      return okStatus();
    }
    if (p.size() > 16 && p.compare(p.size() - 16, 16, "/driver_override") == 0) {
      tree_.writeFile(tree_.devOf(p.substr(16, 12)) + "/driver_override",
                      value.empty() ? "(null)" : value);
      return okStatus();
    }
    return dir_.write(p, value);
  }

 private:
  FakeSysfsTree& tree_;
  DirectorySysfsIo dir_;
  std::vector<std::pair<std::string, int>> failures_;
  std::vector<std::pair<std::string, std::string>> writes_;
};

}  // namespace vfo::sriov::testing
