#include "vfo/sriov/group_registry.h"

#include <fmt/format.h>

#include <set>

#include "vfo/sriov/sriov_sysfs.h"

namespace vfo::sriov {

namespace {

constexpr size_t kMaxGroupName = 32;
constexpr size_t kMaxMembers = 8;

Status validateGroupName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxGroupName;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  if (!ok)
    return invalidArgument(
        fmt::format("name: '{}' must be 1..{} of [A-Za-z0-9_.-]", name, kMaxGroupName));
  return okStatus();
}

}  // namespace

bool isProviderKind(std::string_view kind) {
  return kind == "sysfs-sriov" || kind == "software" || kind == "hardware-lag";
}

StatusOr<GroupRegistry> GroupRegistry::fromConfig(const SriovGroupsConfig& config) {
  GroupRegistry r;
  for (size_t i = 0; i < config.pfs.size(); ++i) {
    Status s = r.declarePf(config.pfs[i]);
    if (!s.isOk()) return s.withContext(fmt::format("pfs[{}] ({})", i, config.pfs[i].netdev));
  }
  for (size_t i = 0; i < config.groups.size(); ++i) {
    Status s = r.addGroup(config.groups[i]);
    if (!s.isOk()) return s.withContext(fmt::format("groups[{}] ({})", i, config.groups[i].name));
  }
  return r;
}

Status GroupRegistry::declarePf(const PfDeclaration& pf) {
  VFO_RETURN_IF_ERROR(validateNetdevName(pf.netdev).withContext("netdev"));
  if (!isProviderKind(pf.provider))
    return invalidArgument(
        fmt::format("provider: '{}' is not sysfs-sriov, software or hardware-lag (PF {})",
                    pf.provider, pf.netdev));
  auto it = pfs_.find(pf.netdev);
  if (it != pfs_.end()) {
    if (it->second == pf) return okStatus();
    if (auto g = groupOf(pf.netdev))
      return failedPrecondition(
          fmt::format("PF {} is in group {} with provider {}; remove the group before changing "
                      "its provider to {}",
                      pf.netdev, *g, it->second.provider, pf.provider));
    return alreadyExists(
        fmt::format("PF {} is already declared with provider {}", pf.netdev, it->second.provider));
  }
  pfs_.emplace(pf.netdev, pf);
  return okStatus();
}

Status GroupRegistry::forgetPf(const std::string& netdev) {
  if (!pfs_.count(netdev)) return notFound(fmt::format("PF {} is not declared", netdev));
  if (auto g = groupOf(netdev))
    return failedPrecondition(fmt::format("PF {} is a member of group {}", netdev, *g));
  pfs_.erase(netdev);
  return okStatus();
}

Status GroupRegistry::addGroup(const LagGroupConfig& g) {
  VFO_RETURN_IF_ERROR(validateGroupName(g.name));
  if (auto it = groups_.find(g.name); it != groups_.end()) {
    if (it->second == g) return okStatus();
    return alreadyExists(fmt::format("group {} exists with other members", g.name));
  }
  if (g.members.empty() || g.members.size() > kMaxMembers)
    return invalidArgument(fmt::format("group {}: members: {} given, want 1..{}", g.name,
                                       g.members.size(), kMaxMembers));
  std::set<std::string> seen;
  const PfDeclaration* first = nullptr;
  for (const auto& m : g.members) {
    VFO_RETURN_IF_ERROR(
        validateNetdevName(m).withContext(fmt::format("group {}: members", g.name)));
    if (!seen.insert(m).second)
      return invalidArgument(fmt::format("group {}: members: PF {} is listed twice", g.name, m));
    const PfDeclaration* pf = this->pf(m);
    if (!pf)
      return failedPrecondition(fmt::format(
          "group {}: PF {} is not declared; a PF joins a group only when the config names it",
          g.name, m));
    if (auto other = groupOf(m))
      return failedPrecondition(
          fmt::format("group {}: PF {} already belongs to group {}", g.name, m, *other));
    if (!first) {
      first = pf;
    } else if (pf->provider != first->provider) {
      return invalidArgument(
          fmt::format("group {}: members must use one provider: {} uses {} but {} uses {}", g.name,
                      first->netdev, first->provider, pf->netdev, pf->provider));
    }
  }
  groups_.emplace(g.name, g);
  for (const auto& m : g.members) member_of_[m] = g.name;
  return okStatus();
}

Status GroupRegistry::removeGroup(const std::string& name) {
  auto it = groups_.find(name);
  if (it == groups_.end()) return notFound(fmt::format("group {} does not exist", name));
  for (const auto& m : it->second.members) member_of_.erase(m);
  groups_.erase(it);
  return okStatus();
}

const LagGroupConfig* GroupRegistry::group(const std::string& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

const PfDeclaration* GroupRegistry::pf(const std::string& netdev) const {
  auto it = pfs_.find(netdev);
  return it == pfs_.end() ? nullptr : &it->second;
}

std::optional<std::string> GroupRegistry::groupOf(const std::string& netdev) const {
  auto it = member_of_.find(netdev);
  if (it == member_of_.end()) return std::nullopt;
  return it->second;
}

std::string GroupRegistry::providerOf(const std::string& group) const {
  const LagGroupConfig* g = this->group(group);
  if (!g) return {};
  const PfDeclaration* p = pf(g->members.front());
  return p ? p->provider : std::string();
}

}  // namespace vfo::sriov
