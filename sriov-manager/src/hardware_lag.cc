#include "vfo/sriov/hardware_lag.h"

#include <fmt/format.h>

#include <cstdlib>
#include <set>

#include "vfo/base/log.h"
#include "vfo/sriov/sriov_sysfs.h"

namespace vfo::sriov {

namespace {
const Logger kLog("sriov");
constexpr size_t kMaxMembers = 8;
}  // namespace

Status HardwareLagProvider::validate(const HardwareLagConfig& c) {
  VFO_RETURN_IF_ERROR(validateNetdevName(c.bond).withContext("bond"));
  if (c.members.empty() || c.members.size() > kMaxMembers)
    return invalidArgument(
        fmt::format("members: {} given, want 1..{}", c.members.size(), kMaxMembers));
  std::set<std::string> seen;
  for (const auto& m : c.members) {
    VFO_RETURN_IF_ERROR(validateNetdevName(m).withContext("members"));
    if (m == c.bond) return invalidArgument(fmt::format("members: {} is the bond itself", m));
    if (!seen.insert(m).second)
      return invalidArgument(fmt::format("members: {} is listed twice", m));
  }
  return okStatus();
}

HardwareLagProvider::HardwareLagProvider(HardwareLagConfig config, SysfsSriovProvider& vfs)
    : config_(std::move(config)), vfs_(vfs) {
  Status s = validate(config_);
  if (!s.isOk()) {
    kLog.error("[hardware-lag]", "invalid config: {}", s.toString());
    std::abort();
  }
}

Status HardwareLagProvider::checkPrimary(const std::string& pf) const {
  if (pf == primary()) return okStatus();
  for (const auto& m : config_.members)
    if (m == pf)
      return failedPrecondition(fmt::format(
          "hardware-lag bond {}: VFs are allocated on the first PF {} only; the NIC serves them "
          "on {} too",
          config_.bond, primary(), pf));
  return notFound(fmt::format("hardware-lag bond {}: {} is not a member", config_.bond, pf));
}

StatusOr<std::vector<VfState>> HardwareLagProvider::list(const std::string& pf) {
  VFO_RETURN_IF_ERROR(checkPrimary(pf));
  return vfs_.list(pf);
}

StatusOr<VfState> HardwareLagProvider::configure(const VfRef& vf, const VfConfig& config) {
  VFO_RETURN_IF_ERROR(checkPrimary(vf.pf));
  return vfs_.configure(vf, config);
}

Status HardwareLagProvider::reset(const VfRef& vf) {
  VFO_RETURN_IF_ERROR(checkPrimary(vf.pf));
  return vfs_.reset(vf);
}

PairGroupConfig HardwareLagProvider::pairGroup(const std::string& group_name) const {
  return PairGroupConfig{group_name, {primary()}};
}

lag::BondFollowerConfig HardwareLagProvider::followerConfig() const {
  lag::BondFollowerConfig f;
  f.bond = config_.bond;
  for (size_t i = 0; i < config_.members.size(); ++i)
    f.slaves.push_back({config_.members[i], lag::MemberId(i)});
  return f;
}

std::string_view hardwareLagActionName(HardwareLagActionKind k) {
  switch (k) {
    case HardwareLagActionKind::kRecord:
      return "record";
    case HardwareLagActionKind::kAnnounce:
      return "announce";
    case HardwareLagActionKind::kNoActiveMember:
      return "no-active-member";
  }
  return "?";
}

void HardwareLagMode::onActive(const lag::BondActiveEvent& e) {
  if (seen_any_ && e.member == active_) return;
  HardwareLagAction a;
  a.member = e.member;
  a.previous = active_;
  a.ifname = e.ifname;
  a.kernel_failover = e.failover;
  a.seen_at = e.seen_at;
  if (e.member == lag::kNoMember) {
    a.kind = HardwareLagActionKind::kNoActiveMember;
  } else if (!seen_any_) {
    // The first report after a start or restart: nothing moved that we saw.
    a.kind = HardwareLagActionKind::kRecord;
  } else {
    // Another port (or, after a time with none of ours active, some port)
    // now carries the VFs' traffic: the ToR must learn the guests there.
    a.kind = HardwareLagActionKind::kAnnounce;
  }
  seen_any_ = true;
  active_ = e.member;
  if (a.kind == HardwareLagActionKind::kAnnounce) ++announces_;
  kLog.info(fmt::format("[member {}]", e.ifname.empty() ? "-" : e.ifname),
            "hardware LAG: active member {} -> {}: {}{}",
            a.previous == lag::kNoMember ? std::string("none") : std::to_string(a.previous),
            a.member == lag::kNoMember ? std::string("none") : std::to_string(a.member),
            hardwareLagActionName(a.kind), a.kernel_failover ? " (kernel failover)" : "");
  if (act_) act_(a);
}

lag::BondFollower::Callbacks HardwareLagMode::callbacks() {
  lag::BondFollower::Callbacks cb;
  cb.on_active = [this](const lag::BondActiveEvent& e) { onActive(e); };
  return cb;
}

}  // namespace vfo::sriov
