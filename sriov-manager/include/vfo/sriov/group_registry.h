// LAG groups and the physical functions that may join them: the config rules
// of the SR-IOV manager, checked once at the edge.
//
// Rules (the consent rule: a PF is never shared silently):
//  1. A PF is used only if the config declares it (PfDeclaration: its netdev
//     and the provider kind that drives it). A group naming an undeclared
//     PF is refused (FAILED_PRECONDITION).
//  2. A PF belongs to at most one group (FAILED_PRECONDITION naming the
//     other group).
//  3. The members of one group use one provider kind (INVALID_ARGUMENT
//     naming both members and their providers): a failover swaps between
//     VFs of the same nature.
//  4. Names are valid: group names 1..32 of [A-Za-z0-9_.-], PF netdev
//     names as the kernel allows, provider kinds "sysfs-sriov", "software"
//     or "hardware-lag"; 1..8 members, none twice (INVALID_ARGUMENT).
//  5. Declaring a PF or adding a group again with the same settings is a
//     no-op; with other settings ALREADY_EXISTS. A declared PF's provider
//     cannot change while a group uses it (FAILED_PRECONDITION).
// Every refusal changes nothing. Not thread-safe: one owner.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/status.h"

namespace vfo::sriov {

// A PF the operator consents to give to vfo.
struct PfDeclaration {
  std::string netdev;    // PF (or member) netdev name
  std::string provider;  // "sysfs-sriov", "software" or "hardware-lag"
  friend bool operator==(const PfDeclaration&, const PfDeclaration&) = default;
};

// A LAG group of declared PFs.
struct LagGroupConfig {
  std::string name;                  // group name
  std::vector<std::string> members;  // PF netdevs in member order (MemberId = index)
  friend bool operator==(const LagGroupConfig&, const LagGroupConfig&) = default;
};

// The whole SR-IOV part of vfod's config.
struct SriovGroupsConfig {
  std::vector<PfDeclaration> pfs;      // the PFs vfo may use
  std::vector<LagGroupConfig> groups;  // the groups made of them
};

// Whether `kind` is a provider kind vfo knows.
bool isProviderKind(std::string_view kind);

class GroupRegistry {
 public:
  // Declares every PF, then adds every group, in config order; the first
  // refusal is returned with the list entry named ("groups[1] (g1): ...").
  static StatusOr<GroupRegistry> fromConfig(const SriovGroupsConfig& config);

  Status declarePf(const PfDeclaration& pf);
  // Forgets a PF; FAILED_PRECONDITION while a group uses it, NOT_FOUND if undeclared.
  Status forgetPf(const std::string& netdev);
  Status addGroup(const LagGroupConfig& group);
  Status removeGroup(const std::string& name);  // NOT_FOUND if absent

  const LagGroupConfig* group(const std::string& name) const;
  const PfDeclaration* pf(const std::string& netdev) const;
  // The group a PF belongs to, if any.
  std::optional<std::string> groupOf(const std::string& netdev) const;
  // The provider kind of a group's members; empty for an unknown group.
  std::string providerOf(const std::string& group) const;
  const std::map<std::string, LagGroupConfig>& groups() const { return groups_; }

 private:
  std::map<std::string, PfDeclaration> pfs_;      // by netdev
  std::map<std::string, LagGroupConfig> groups_;  // by name
  std::map<std::string, std::string> member_of_;  // PF netdev -> group name
};

}  // namespace vfo::sriov
