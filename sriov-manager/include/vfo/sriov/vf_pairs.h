// VF pairs: for every VM port, one backing VF per LAG member, all carrying
// the guest MAC, so that a failover is a switch to an already provisioned VF.
//
// Contract:
//  - createPort is a transaction: one VF per member or nothing. If a step
//    fails (no free VF -> RESOURCE_EXHAUSTED, a kernel error), every VF it
//    configured is reset and the manager is unchanged.
//  - createPort with the same id and settings is idempotent; the same id
//    with other settings is ALREADY_EXISTS; a MAC used by another port is
//    ALREADY_EXISTS naming that port.
//  - deletePort returns the port's VFs clean; a missing port is NOT_FOUND.
//  - adopt() after a restart takes over VFs already configured for the
//    desired ports instead of configuring new ones, and completes ports
//    whose creation was interrupted. VFs with MACs no desired port has are
//    reported, never touched (they may belong to someone else).
// Not thread-safe: owned by vfod's control thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/sriov/vf_provider.h"

namespace vfo::sriov {

struct PairGroupConfig {
  std::string name;                  // LAG group name, for messages
  std::vector<std::string> members;  // PF netdevs in member order (MemberId = index)
};

struct PortPair {
  std::string port_id;       // the VM port ("vm1/net0")
  VfConfig config;           // applied to every VF of the pair
  std::vector<VfState> vfs;  // vfs[m] backs the port on member m
};

// Results of adopt().
struct AdoptReport {
  std::vector<std::string> adopted;     // "port on member": VF found configured and kept
  std::vector<std::string> configured;  // VFs configured anew (interrupted creations)
  std::vector<std::string> foreign;     // configured VFs no desired port claims (left alone)
  std::vector<std::string> failed;      // ports that could not be completed, with the reason
  std::vector<std::string> reclaimed;   // "pf/vfN mac M": foreign VFs reset by reclaimForeign()
};

class VfPairManager {
 public:
  // Validates the config: at least one member, no member twice.
  static StatusOr<VfPairManager> create(PairGroupConfig config, VfProvider& provider);

  StatusOr<PortPair> createPort(const std::string& port_id, const VfConfig& config);
  Status deletePort(const std::string& port_id);
  // Applies a new config (VLAN, trust, ...; the MAC must stay) to every VF
  // of the pair. Transactional: a failure puts the VFs configured so far
  // back to the old config. NOT_FOUND for an unknown port, INVALID_ARGUMENT
  // for a MAC change or an invalid config.
  Status updatePort(const std::string& port_id, const VfConfig& config);
  const PortPair* find(const std::string& port_id) const;
  const std::map<std::string, PortPair>& ports() const { return ports_; }

  // Rebuilds the pair table after a restart from the desired ports (port id
  // -> config, as persisted by the daemon) and the VFs as the kernel has them.
  AdoptReport adopt(const std::map<std::string, VfConfig>& desired);
  // After adopt(): resets (the provider parks or deletes) every configured
  // VF of the members that no port holds, e.g. the VFs of a port whose
  // deletion a crash cut off after the daemon had dropped it from its
  // desired state. Moves them from report->foreign to report->reclaimed; a
  // VF whose reset fails stays in foreign and is added to failed. Does
  // nothing unless the provider owns every VF of its members
  // (VfProvider::ownsEveryVf: software VFs); adopt() alone leaves foreign
  // VFs alone.
  void reclaimForeign(AdoptReport* report);

  const PairGroupConfig& config() const { return config_; }

 private:
  VfPairManager(PairGroupConfig config, VfProvider& provider)
      : config_(std::move(config)), provider_(&provider) {}
  // Picks a free VF on member `m`, preferring one configured with `want`
  // (adoption). Returns RESOURCE_EXHAUSTED when the PF has none left.
  StatusOr<VfState> pickVf(size_t m, const VfConfig& want, bool* already_configured);
  std::string usedBy(const VfRef& ref) const;

  PairGroupConfig config_;
  VfProvider* provider_;
  std::map<std::string, PortPair> ports_;
};

}  // namespace vfo::sriov
