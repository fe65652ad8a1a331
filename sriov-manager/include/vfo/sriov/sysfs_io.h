// The sysfs touch point of the SR-IOV manager.
//
// Every read, write, symlink and directory listing the manager does under
// /sys goes through SysfsIo, so tests can run the real logic against a fake
// sysfs tree (a directory of plain files and symlinks) and script the
// kernel's reactions and failures. Paths are relative to the sysfs root
// ("class/net/eth0/device/sriov_numvfs"), never absolute.
#pragma once

#include <string>
#include <vector>

#include "vfo/base/status.h"

namespace vfo::sriov {

class SysfsIo {
 public:
  virtual ~SysfsIo() = default;
  // Whole file, trailing newline removed. NOT_FOUND when absent.
  virtual StatusOr<std::string> read(const std::string& path) const = 0;
  // Writes `value` (a newline is appended) in one write(2), as sysfs
  // attributes require. The kernel's errno maps through errnoStatus().
  virtual Status write(const std::string& path, const std::string& value) = 0;
  // Target of a symlink, as stored (usually relative: "../../../0000:3b:02.0").
  virtual StatusOr<std::string> readLink(const std::string& path) const = 0;
  // Entry names in a directory, sorted. NOT_FOUND when absent.
  virtual StatusOr<std::vector<std::string>> list(const std::string& dir) const = 0;
  virtual bool exists(const std::string& path) const = 0;
};

// SysfsIo over a real directory tree: "/sys" in production, a fake tree in
// tests. Thread-compatible (no state besides the root).
class DirectorySysfsIo : public SysfsIo {
 public:
  explicit DirectorySysfsIo(std::string root = "/sys");
  StatusOr<std::string> read(const std::string& path) const override;
  Status write(const std::string& path, const std::string& value) override;
  StatusOr<std::string> readLink(const std::string& path) const override;
  StatusOr<std::vector<std::string>> list(const std::string& dir) const override;
  bool exists(const std::string& path) const override;
  const std::string& root() const { return root_; }

 private:
  std::string full(const std::string& path) const;
  std::string root_;
};

}  // namespace vfo::sriov
