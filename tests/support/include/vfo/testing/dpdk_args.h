// EAL arguments for the DPDK processes tests and benchmarks start
// (dpdk-testpmd, generators): no hugepages, no PCI, no shared config, no
// telemetry, and a file prefix of their own, so they never touch the host's
// devices or each other.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vfo::testing {

// "-l <lcores> [--main-lcore <main>] --no-huge -m <memory_mb> --no-pci
// --no-shconf --no-telemetry --file-prefix <prefix>". DPDK still makes
// /var/run/dpdk/<prefix>: the caller removes it.
inline std::vector<std::string> isolatedEalArgs(const std::string& lcores,
                                                std::optional<unsigned> main_lcore,
                                                unsigned memory_mb, const std::string& prefix) {
  std::vector<std::string> args{"-l", lcores};
  if (main_lcore) {
    args.push_back("--main-lcore");
    args.push_back(std::to_string(*main_lcore));
  }
  for (std::string a : {std::string("--no-huge"), std::string("-m"), std::to_string(memory_mb),
                        std::string("--no-pci"), std::string("--no-shconf"),
                        std::string("--no-telemetry"), std::string("--file-prefix"), prefix})
    args.push_back(std::move(a));
  return args;
}

}  // namespace vfo::testing
