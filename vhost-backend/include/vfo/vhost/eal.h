// DPDK EAL initialisation, owned by vfod.
//
// The command line is built from the config and a few host facts by a pure
// function (tested without DPDK); initEal() runs rte_eal_init once per
// process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/vhost/config.h"

namespace vfo::vhost {

// What the EAL command line depends on besides the config.
struct HostFacts {
  bool hugetlbfs_mounted = false;  // a hugetlbfs is in /proc/mounts
  uint64_t free_hugepages = 0;     // HugePages_Free in /proc/meminfo
  pid_t pid = 0;                   // for the default file prefix
};

HostFacts probeHostFacts();

// The EAL file prefix: the configured one or "vfod-<pid>".
std::string effectiveFilePrefix(const VfodConfig& config, const HostFacts& facts);

// A PCI address no machine has (domain ffff): with SR-IOV VFs and no PCI
// uplink in the config, `-a kNoPciDevice` keeps the PCI bus on for
// rte_dev_probe while EAL probes nothing at start.
inline constexpr std::string_view kNoPciDevice = "ffff:ff:1f.7";

// argv for rte_eal_init (argv[0] = "vfod"): --file-prefix, -l with the main
// and worker lcores, --main-lcore, memory (-m, plus --no-huge without
// hugepages), --no-pci unless an uplink is a PCI device (then -a for each)
// or the LAG uses SR-IOV VFs (then -a kNoPciDevice), --no-telemetry. FAILED_PRECONDITION when
// hugepages are required but none are mounted or free.
StatusOr<std::vector<std::string>> ealArguments(const VfodConfig& config, const HostFacts& facts);

// rte_eal_init(args). UNAVAILABLE with DPDK's reason on failure.
Status initEal(const std::vector<std::string>& args);

// rte_eal_cleanup(), then removes the runtime directory DPDK made for
// `file_prefix` (/var/run/dpdk/<prefix> or $XDG_RUNTIME_DIR/dpdk/<prefix>).
void cleanupEal(const std::string& file_prefix);

}  // namespace vfo::vhost
