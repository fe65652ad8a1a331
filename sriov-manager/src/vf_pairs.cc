#include "vfo/sriov/vf_pairs.h"

#include <fmt/format.h>

#include <set>

#include "vfo/base/log.h"

namespace vfo::sriov {

namespace {

const Logger kLog("sriov");

Status validatePort(const std::string& port_id, const VfConfig& c) {
  if (port_id.empty() || port_id.size() > 128)
    return invalidArgument("port_id: must be 1 to 128 characters");
  if (c.mac.isMulticast())
    return invalidArgument(fmt::format("mac: {} is a multicast address", c.mac.toString()));
  if (c.mac.isZero()) return invalidArgument("mac: 00:00:00:00:00:00 is not a usable guest MAC");
  if (c.vlan > 4094)
    return invalidArgument(fmt::format("vlan: {} is out of range 0..4094", c.vlan));
  return okStatus();
}

std::string describe(const VfConfig& c) {
  return fmt::format("mac {} vlan {} spoof_check {} trust {} link_state {}", c.mac.toString(),
                     c.vlan, c.spoof_check ? "on" : "off", c.trust ? "on" : "off",
                     vfLinkStateName(c.link_state));
}

}  // namespace

std::string_view vfLinkStateName(VfLinkState s) {
  switch (s) {
    case VfLinkState::kAuto:
      return "auto";
    case VfLinkState::kEnable:
      return "enable";
    case VfLinkState::kDisable:
      return "disable";
  }
  return "?";
}

StatusOr<VfPairManager> VfPairManager::create(PairGroupConfig config, VfProvider& provider) {
  if (config.members.empty())
    return invalidArgument(
        fmt::format("group {}: members: at least one PF is required", config.name));
  std::set<std::string> seen;
  for (const auto& m : config.members) {
    if (m.empty())
      return invalidArgument(fmt::format("group {}: members: empty PF name", config.name));
    if (!seen.insert(m).second)
      return invalidArgument(
          fmt::format("group {}: members: PF {} is listed twice", config.name, m));
  }
  return VfPairManager(std::move(config), provider);
}

std::string VfPairManager::usedBy(const VfRef& ref) const {
  for (const auto& [id, p] : ports_)
    for (const auto& vf : p.vfs)
      if (vf.ref == ref) return id;
  return {};
}

StatusOr<VfState> VfPairManager::pickVf(size_t m, const VfConfig& want, bool* already_configured) {
  const std::string& pf = config_.members[m];
  VFO_ASSIGN_OR_RETURN(auto vfs, provider_->list(pf));
  const VfState* free_vf = nullptr;
  for (const auto& vf : vfs) {
    if (!usedBy(vf.ref).empty()) continue;
    if (vf.inUse() && vf.config.mac == want.mac) {
      // Configured for this MAC before (a restart, or an interrupted create);
      // a VF left down by an interrupted step is configured again.
      *already_configured = vf.config == want && !vf.netdev_down;
      return vf;
    }
    if (!vf.inUse() && vf.parked_mac && *vf.parked_mac == want.mac) {
      free_vf = &vf;  // parked with this very MAC: the cheapest to reuse
      break;
    }
    if (!vf.inUse() && !free_vf) free_vf = &vf;
  }
  if (!free_vf)
    return resourceExhausted(fmt::format("group {} member {}: no free VF ({} VFs, all in use)",
                                         config_.name, pf, vfs.size()));
  *already_configured = false;
  return *free_vf;
}

StatusOr<PortPair> VfPairManager::createPort(const std::string& port_id, const VfConfig& config) {
  VFO_RETURN_IF_ERROR(validatePort(port_id, config));
  if (auto it = ports_.find(port_id); it != ports_.end()) {
    if (it->second.config == config) return it->second;  // idempotent
    return alreadyExists(fmt::format("port {} exists with {}; requested {}", port_id,
                                     describe(it->second.config), describe(config)));
  }
  for (const auto& [id, p] : ports_)
    if (p.config.mac == config.mac)
      return alreadyExists(
          fmt::format("mac: {} is already used by port {}", config.mac.toString(), id));

  PortPair pair{port_id, config, {}};
  std::vector<VfRef> configured_here;  // what to undo on failure
  auto rollback = [&](const Status& cause) {
    for (const auto& ref : configured_here) {
      Status s = provider_->reset(ref);
      if (!s.isOk())
        kLog.error(fmt::format("[port {}]", port_id), "rollback: reset {} failed: {}",
                   ref.toString(), s.toString());
    }
    return cause.withContext(fmt::format("port {}", port_id));
  };
  for (size_t m = 0; m < config_.members.size(); ++m) {
    bool ready = false;
    auto vf = pickVf(m, config, &ready);
    if (!vf.isOk()) return rollback(vf.status());
    if (!ready) {
      auto applied = provider_->configure(vf->ref, config);
      if (!applied.isOk()) return rollback(applied.status());
      configured_here.push_back(vf->ref);
      pair.vfs.push_back(std::move(*applied));
    } else {
      pair.vfs.push_back(std::move(*vf));
    }
  }
  kLog.info(fmt::format("[port {}]", port_id), "VF pair ready: {}", [&] {
    std::string s;
    for (const auto& vf : pair.vfs) s += (s.empty() ? "" : ", ") + vf.ref.toString();
    return s;
  }());
  return ports_.emplace(port_id, std::move(pair)).first->second;
}

Status VfPairManager::updatePort(const std::string& port_id, const VfConfig& config) {
  auto it = ports_.find(port_id);
  if (it == ports_.end()) return notFound(fmt::format("port {} does not exist", port_id));
  VFO_RETURN_IF_ERROR(validatePort(port_id, config));
  PortPair& pair = it->second;
  if (config.mac != pair.config.mac)
    return invalidArgument(
        fmt::format("port {}: mac: the guest MAC of a VF pair cannot change", port_id));
  if (config == pair.config) return okStatus();
  std::vector<VfState> updated;
  for (const auto& vf : pair.vfs) {
    auto applied = provider_->configure(vf.ref, config);
    if (!applied.isOk()) {
      for (const auto& done : updated)
        if (auto back = provider_->configure(done.ref, pair.config); !back.isOk())
          kLog.error(fmt::format("[port {}]", port_id), "rollback: {} kept the new config: {}",
                     done.ref.toString(), back.status().toString());
      return applied.status().withContext(fmt::format("port {}", port_id));
    }
    updated.push_back(std::move(*applied));
  }
  pair.config = config;
  pair.vfs = std::move(updated);
  kLog.info(fmt::format("[port {}]", port_id), "VF pair reconfigured: {}", describe(config));
  return okStatus();
}

Status VfPairManager::deletePort(const std::string& port_id) {
  auto it = ports_.find(port_id);
  if (it == ports_.end()) return notFound(fmt::format("port {} does not exist", port_id));
  // Reset every VF even if one fails; the port stays listed until all are
  // clean so that a retry finishes the job (reset of a clean VF succeeds).
  Status first;
  for (const auto& vf : it->second.vfs) {
    Status s = provider_->reset(vf.ref);
    if (!s.isOk() && first.isOk()) first = s.withContext(fmt::format("port {}", port_id));
  }
  if (!first.isOk()) return first;
  ports_.erase(it);
  return okStatus();
}

const PortPair* VfPairManager::find(const std::string& port_id) const {
  auto it = ports_.find(port_id);
  return it == ports_.end() ? nullptr : &it->second;
}

AdoptReport VfPairManager::adopt(const std::map<std::string, VfConfig>& desired) {
  AdoptReport report;
  for (const auto& [id, config] : desired) {
    if (ports_.count(id)) continue;
    // Record which member VFs were already configured, then reuse createPort
    // (which prefers those VFs) so adoption and creation share one path.
    std::vector<bool> was_ready(config_.members.size(), false);
    for (size_t m = 0; m < config_.members.size(); ++m) {
      bool ready = false;
      if (pickVf(m, config, &ready).isOk()) was_ready[m] = ready;
    }
    auto pair = createPort(id, config);
    if (!pair.isOk()) {
      report.failed.push_back(pair.status().toString());
      continue;
    }
    for (size_t m = 0; m < pair->vfs.size(); ++m) {
      std::string what = fmt::format("{} on {}", id, pair->vfs[m].ref.toString());
      (was_ready[m] ? report.adopted : report.configured).push_back(std::move(what));
    }
  }
  for (const auto& pf : config_.members) {
    auto vfs = provider_->list(pf);
    if (!vfs.isOk()) {
      report.failed.push_back(vfs.status().toString());
      continue;
    }
    for (const auto& vf : *vfs)
      if (vf.inUse() && usedBy(vf.ref).empty())
        report.foreign.push_back(
            fmt::format("{} mac {}", vf.ref.toString(), vf.config.mac.toString()));
  }
  return report;
}

void VfPairManager::reclaimForeign(AdoptReport* report) {
  if (!provider_->ownsEveryVf()) return;
  report->foreign.clear();
  for (const auto& pf : config_.members) {
    auto vfs = provider_->list(pf);
    if (!vfs.isOk()) {
      report->failed.push_back(vfs.status().toString());
      continue;
    }
    for (const auto& vf : *vfs) {
      if (!vf.inUse() || !usedBy(vf.ref).empty()) continue;
      std::string what = fmt::format("{} mac {}", vf.ref.toString(), vf.config.mac.toString());
      if (Status s = provider_->reset(vf.ref); !s.isOk()) {
        report->failed.push_back(fmt::format("reset of {}: {}", what, s.toString()));
        report->foreign.push_back(std::move(what));
        continue;
      }
      report->reclaimed.push_back(std::move(what));
    }
  }
}

}  // namespace vfo::sriov
