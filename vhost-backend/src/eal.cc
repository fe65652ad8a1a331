#include "vfo/vhost/eal.h"

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace vfo::vhost {

HostFacts probeHostFacts() {
  HostFacts f;
  f.pid = getpid();
  std::ifstream mounts("/proc/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
    if (type == "hugetlbfs") f.hugetlbfs_mounted = true;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("HugePages_Free:", 0) == 0) {
      std::istringstream ss(line.substr(15));
      ss >> f.free_hugepages;
    }
  }
  return f;
}

std::string effectiveFilePrefix(const VfodConfig& config, const HostFacts& facts) {
  if (!config.eal.file_prefix.empty()) return config.eal.file_prefix;
  return fmt::format("vfod-{}", facts.pid);
}

StatusOr<std::vector<std::string>> ealArguments(const VfodConfig& config, const HostFacts& facts) {
  std::vector<std::string> args{"vfod"};
  args.push_back("--file-prefix=" + effectiveFilePrefix(config, facts));

  std::string lcores = std::to_string(config.eal.main_lcore);
  for (uint32_t l : config.eal.worker_lcores) lcores += "," + std::to_string(l);
  args.push_back("-l");
  args.push_back(lcores);
  args.push_back("--main-lcore=" + std::to_string(config.eal.main_lcore));

  const bool hugepages_usable = facts.hugetlbfs_mounted && facts.free_hugepages > 0;
  bool use_huge = false;
  switch (config.memory.hugepages) {
    case HugepagePolicy::kAuto:
      use_huge = hugepages_usable;
      break;
    case HugepagePolicy::kNever:
      use_huge = false;
      break;
    case HugepagePolicy::kRequired:
      if (!hugepages_usable)
        return failedPrecondition("memory.hugepages is HUGEPAGES_REQUIRED but " +
                                  std::string(facts.hugetlbfs_mounted ? "no hugepage is free"
                                                                      : "no hugetlbfs is mounted"));
      use_huge = true;
      break;
  }
  if (!use_huge) args.push_back("--no-huge");
  args.push_back("-m");
  args.push_back(std::to_string(config.memory.size_mb));

  std::set<std::string> pci;
  for (const auto& p : config.ports)
    for (const auto& d : p.uplink_devargs)
      if (isPciDevargs(d)) pci.insert(d.substr(0, d.find(',')));
  if (pci.empty() && config.lag.vf_provider == VfProviderSetting::kSriov) {
    // VFs come and go with ports (rte_dev_probe rescans the PCI bus), so the
    // bus stays on; an allow list that matches no device keeps EAL from
    // taking every vfio-bound device at start (VFs passed through to VMs
    // are bound to vfio-pci too).
    args.push_back("-a");
    args.push_back(std::string(kNoPciDevice));
  } else if (pci.empty()) {
    args.push_back("--no-pci");
  } else {
    // Probe only the configured VFs at start; others come with rte_dev_probe.
    for (const auto& a : pci) {
      args.push_back("-a");
      args.push_back(a);
    }
  }
  args.push_back("--no-telemetry");
  return args;
}

Status initEal(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;  // rte_eal_init may permute argv
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = rte_eal_init(int(copy.size()), argv.data());
  if (rc < 0)
    return unavailable(fmt::format("rte_eal_init failed: {} (arguments: {})",
                                   rte_strerror(rte_errno), fmt::join(args, " ")));
  return okStatus();
}

void cleanupEal(const std::string& file_prefix) {
  rte_eal_cleanup();
  std::error_code ec;
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  const std::string base = geteuid() == 0 || !xdg ? "/var/run/dpdk" : std::string(xdg) + "/dpdk";
  if (!file_prefix.empty()) std::filesystem::remove_all(base + "/" + file_prefix, ec);
}

}  // namespace vfo::vhost
