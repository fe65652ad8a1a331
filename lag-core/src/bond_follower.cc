#include "vfo/lag/bond_follower.h"

#include <fmt/format.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <sys/socket.h>

#include <set>

#include "vfo/base/log.h"

namespace vfo::lag {

namespace {

constexpr Logger kLog("lag");

bool validIfName(std::string_view n) {
  if (n.empty() || n.size() >= IFNAMSIZ) return false;
  for (char c : n) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool sameSlave(const BondSlaveEvent& a, const BondSlaveEvent& b) {
  return a.ifname == b.ifname && a.ifindex == b.ifindex && a.member == b.member &&
         a.enslaved == b.enslaved && a.state == b.state && a.mii == b.mii &&
         a.link_failure_count == b.link_failure_count;
}

}  // namespace

std::string_view bondModeName(BondMode m) {
  switch (m) {
    case BondMode::kBalanceRr:
      return "balance-rr";
    case BondMode::kActiveBackup:
      return "active-backup";
    case BondMode::kBalanceXor:
      return "balance-xor";
    case BondMode::kBroadcast:
      return "broadcast";
    case BondMode::k8023ad:
      return "802.3ad";
    case BondMode::kBalanceTlb:
      return "balance-tlb";
    case BondMode::kBalanceAlb:
      return "balance-alb";
  }
  return "?";
}

bool bondModeHasActiveSlave(BondMode m) {
  return m == BondMode::kActiveBackup || m == BondMode::kBalanceTlb || m == BondMode::kBalanceAlb;
}

std::string_view bondSlaveStateName(BondSlaveState s) {
  return s == BondSlaveState::kActive ? "active" : "backup";
}

std::string_view bondMiiStatusName(BondMiiStatus s) {
  switch (s) {
    case BondMiiStatus::kUp:
      return "up";
    case BondMiiStatus::kFail:
      return "fail";
    case BondMiiStatus::kDown:
      return "down";
    case BondMiiStatus::kBack:
      return "back";
  }
  return "?";
}

BondFollower::BondFollower(netlink::NetlinkSocket* socket, BondFollowerConfig config, Callbacks cb)
    : socket_(socket), config_(std::move(config)), cb_(std::move(cb)) {}

Status BondFollower::validate(const BondFollowerConfig& c) {
  if (!validIfName(c.bond)) {
    return invalidArgument(
        fmt::format("bond: '{}' is not an interface name (1..15 chars)", c.bond));
  }
  if (c.slaves.empty()) return invalidArgument("slaves: at least one slave is needed");
  std::set<std::string_view> names;
  std::set<MemberId> members;
  for (const auto& s : c.slaves) {
    if (!validIfName(s.ifname)) {
      return invalidArgument(fmt::format("slaves: '{}' is not an interface name", s.ifname));
    }
    if (s.ifname == c.bond) {
      return invalidArgument(fmt::format("slaves: '{}' is the bond itself", s.ifname));
    }
    if (!names.insert(s.ifname).second) {
      return invalidArgument(fmt::format("slaves: '{}' is listed twice", s.ifname));
    }
    if (s.member == kNoMember) {
      return invalidArgument(fmt::format("slaves: '{}' has no member id", s.ifname));
    }
    if (!members.insert(s.member).second) {
      return invalidArgument(fmt::format("slaves: member {} is used twice", s.member));
    }
  }
  return okStatus();
}

Status BondFollower::start(TimePoint now) {
  VFO_RETURN_IF_ERROR(validate(config_));
  if (!socket_) return okStatus();
  if (stream_) return failedPrecondition("bond follower: already started");
  netlink::LinkStream::Handlers h;
  h.on_link = [this](const netlink::LinkMessage& m, netlink::LinkOrigin, TimePoint t) {
    onLinkMessage(m, t);
  };
  h.on_dump_start = [this](TimePoint t) { onDumpStart(t); };
  h.on_dump_done = [this](TimePoint t) { onDumpDone(t); };
  stream_ = std::make_unique<netlink::LinkStream>(*socket_, std::move(h));
  return stream_->start(now);
}

int BondFollower::fd() const {
  return stream_ ? stream_->fd() : -1;
}

Status BondFollower::onReadable(TimePoint now) {
  return stream_ ? stream_->onReadable(now) : okStatus();
}

MemberId BondFollower::memberOf(std::string_view ifname) const {
  for (const auto& s : config_.slaves) {
    if (s.ifname == ifname) return s.member;
  }
  return kNoMember;
}

MemberId BondFollower::activeMember() const {
  auto it = slaves_.find(active_ifindex_);
  return it == slaves_.end() ? kNoMember : it->second.last.member;
}

std::optional<BondSlaveEvent> BondFollower::slave(std::string_view ifname) const {
  for (const auto& [idx, s] : slaves_) {
    if (s.last.ifname == ifname) return s.last;
  }
  return std::nullopt;
}

void BondFollower::onLinkMessage(const netlink::LinkMessage& m, TimePoint seen_at) {
  if (m.family != AF_UNSPEC) return;  // AF_BRIDGE port info is not about bonding
  if (m.ifname == config_.bond || (bond_ifindex_ != 0 && m.ifindex == bond_ifindex_)) {
    onBond(m, seen_at);
  } else {
    onOther(m, seen_at);
  }
}

StatusOr<BondFollower::SlaveInfo> BondFollower::parseSlave(const netlink::LinkMessage& m) {
  SlaveInfo s;
  s.ifindex = m.ifindex;
  s.ifname = m.ifname;
  s.deleted = m.isDelete();
  s.master = m.master.value_or(0);
  if (!m.linkinfo || m.linkinfo->slave_kind != "bond") return s;
  s.bond_slave = true;
  if (!m.linkinfo->has_slave_data) return s;
  VFO_ASSIGN_OR_RETURN(auto t,
                       netlink::AttrTable::parse(m.linkinfo->slave_data, IFLA_BOND_SLAVE_MAX));
  if (auto* a = t.get(IFLA_BOND_SLAVE_STATE)) {
    VFO_ASSIGN_OR_RETURN(uint8_t v, a->u8("IFLA_BOND_SLAVE_STATE"));
    if (v > 1) return invalidArgument(fmt::format("IFLA_BOND_SLAVE_STATE: {} is not 0..1", v));
    s.state = BondSlaveState(v);
  }
  if (auto* a = t.get(IFLA_BOND_SLAVE_MII_STATUS)) {
    VFO_ASSIGN_OR_RETURN(uint8_t v, a->u8("IFLA_BOND_SLAVE_MII_STATUS"));
    if (v > 3) {
      return invalidArgument(fmt::format("IFLA_BOND_SLAVE_MII_STATUS: {} is not 0..3", v));
    }
    s.mii = BondMiiStatus(v);
  }
  if (auto* a = t.get(IFLA_BOND_SLAVE_LINK_FAILURE_COUNT)) {
    VFO_ASSIGN_OR_RETURN(s.link_failure_count, a->u32("IFLA_BOND_SLAVE_LINK_FAILURE_COUNT"));
  }
  return s;
}

void BondFollower::onOther(const netlink::LinkMessage& m, TimePoint seen_at) {
  auto info = parseSlave(m);
  if (!info.isOk()) {
    bump(stats_.malformed);
    kLog.warn(fmt::format("[bond {}]", config_.bond), "ignoring slave message for ifindex {}: {}",
              m.ifindex, info.status().toString());
    return;
  }
  const SlaveInfo& s = *info;
  const bool ours =
      !s.deleted && s.bond_slave && bond_ifindex_ != 0 && s.master == uint32_t(bond_ifindex_);
  if (ours) {
    applySlave(s, seen_at);
  } else if (slaves_.count(s.ifindex)) {
    bump(stats_.slave_messages);
    release(s.ifindex, seen_at);
  }
  // A bond slave seen while our bond is unknown may be ours: keep it until
  // the bond shows up (dumps list lower ifindexes, usually the slaves, first).
  if (!s.deleted && s.bond_slave && s.master != 0 && bond_ifindex_ == 0) {
    orphans_[s.ifindex] = s;
  } else {
    orphans_.erase(s.ifindex);
  }
}

void BondFollower::applySlave(const SlaveInfo& s, TimePoint seen_at) {
  bump(stats_.slave_messages);
  BondSlaveEvent ev;
  ev.ifname = s.ifname;
  ev.ifindex = s.ifindex;
  ev.member = memberOf(s.ifname);
  ev.enslaved = true;
  ev.state = s.state;
  ev.mii = s.mii;
  ev.link_failure_count = s.link_failure_count;
  ev.seen_at = seen_at;
  auto [it, inserted] = slaves_.try_emplace(s.ifindex);
  it->second.touched_in_round = true;
  if (inserted && ev.member == kNoMember) {
    bump(stats_.unknown_slaves);
    kLog.warn(fmt::format("[bond {}]", config_.bond),
              "slave {} (ifindex {}) is not a configured member", s.ifname, s.ifindex);
  }
  if (inserted || !sameSlave(it->second.last, ev)) {
    it->second.last = ev;
    if (cb_.on_slave) cb_.on_slave(ev);
  }
  if (pending_active_ == s.ifindex) resolvePending(seen_at, false);
}

void BondFollower::release(int32_t ifindex, TimePoint seen_at) {
  auto it = slaves_.find(ifindex);
  if (it == slaves_.end()) return;
  BondSlaveEvent ev = it->second.last;
  ev.enslaved = false;
  ev.state.reset();
  ev.mii.reset();
  ev.seen_at = seen_at;
  slaves_.erase(it);
  if (cb_.on_slave) cb_.on_slave(ev);
}

void BondFollower::onBond(const netlink::LinkMessage& m, TimePoint seen_at) {
  bump(stats_.bond_messages);
  const std::string entity = fmt::format("[bond {}]", config_.bond);
  if (m.isDelete()) {
    bondGone(seen_at);
    return;
  }
  if (!m.linkinfo || m.linkinfo->kind != "bond") {
    bump(stats_.not_a_bond);
    kLog.warn(entity, "ifindex {} has kind '{}', not 'bond': not followed", m.ifindex,
              m.linkinfo ? m.linkinfo->kind : std::string());
    return;
  }
  if (!m.linkinfo->has_data) {
    bump(stats_.malformed);
    kLog.warn(entity, "RTM_NEWLINK without IFLA_INFO_DATA: ignored");
    return;
  }
  auto parsed = [&]() -> StatusOr<std::pair<BondMode, uint32_t>> {
    VFO_ASSIGN_OR_RETURN(auto t, netlink::AttrTable::parse(m.linkinfo->data, IFLA_BOND_MAX));
    const netlink::Attr* mode = t.get(IFLA_BOND_MODE);
    if (!mode) return invalidArgument("IFLA_BOND_MODE: missing");
    VFO_ASSIGN_OR_RETURN(uint8_t mv, mode->u8("IFLA_BOND_MODE"));
    if (mv > uint8_t(BondMode::kBalanceAlb)) {
      return invalidArgument(fmt::format("IFLA_BOND_MODE: {} is not a bonding mode", mv));
    }
    uint32_t active = 0;
    if (auto* a = t.get(IFLA_BOND_ACTIVE_SLAVE)) {
      VFO_ASSIGN_OR_RETURN(active, a->u32("IFLA_BOND_ACTIVE_SLAVE"));
    }
    return std::pair{BondMode(mv), active};
  }();
  if (!parsed.isOk()) {
    bump(stats_.malformed);
    kLog.warn(entity, "ignoring bond message: {}", parsed.status().toString());
    return;
  }
  const auto [mode, active] = *parsed;
  const bool appeared = bond_ifindex_ != m.ifindex;
  if (appeared && bond_ifindex_ != 0) bondGone(seen_at);  // recreated under a new ifindex
  bond_ifindex_ = m.ifindex;
  bond_touched_in_round_ = true;
  if (appeared || mode_ != mode) {
    if (!bondModeHasActiveSlave(mode)) {
      kLog.info(entity, "mode {}: no active slave in this mode, active member not reported",
                bondModeName(mode));
    }
    mode_ = mode;
    if (cb_.on_status) cb_.on_status(BondStatusEvent{true, m.ifindex, mode, seen_at});
  }
  if (appeared) {
    auto orphans = std::move(orphans_);
    orphans_.clear();
    for (const auto& [idx, s] : orphans) {
      if (s.master == uint32_t(bond_ifindex_)) applySlave(s, seen_at);
    }
  }
  const bool failover = m.event && *m.event == IFLA_EVENT_BONDING_FAILOVER;
  if (failover) bump(stats_.failover_events);
  setActive(bondModeHasActiveSlave(mode) ? int32_t(active) : 0, failover, seen_at);
}

void BondFollower::setActive(int32_t ifindex, bool failover, TimePoint seen_at) {
  if (ifindex != 0 && !slaves_.count(ifindex)) {
    // Its slave message has not been seen yet.
    if (pending_active_ != ifindex) {
      pending_active_ = ifindex;
      pending_failover_ = failover;
      pending_seen_at_ = seen_at;
    } else {
      pending_failover_ |= failover;
    }
    if (!in_round_) resolvePending(seen_at, true);
    return;
  }
  pending_active_ = 0;
  if (ifindex == active_ifindex_) return;
  active_ifindex_ = ifindex;
  BondActiveEvent ev;
  ev.ifindex = ifindex;
  ev.failover = failover;
  ev.seen_at = seen_at;
  if (ifindex != 0) {
    ev.ifname = slaves_[ifindex].last.ifname;
    ev.member = slaves_[ifindex].last.member;
  }
  bump(stats_.active_changes);
  if (cb_.on_active) cb_.on_active(ev);  // before the log line: latency path
  kLog.info(fmt::format("[bond {}]", config_.bond), "active slave now {}{}",
            ifindex ? ev.ifname : std::string("none"), failover ? " (kernel failover)" : "");
}

void BondFollower::resolvePending(TimePoint, bool force) {
  if (pending_active_ == 0) return;
  const int32_t idx = pending_active_;
  if (slaves_.count(idx)) {
    pending_active_ = 0;
    setActive(idx, pending_failover_, pending_seen_at_);
    return;
  }
  if (!force) return;
  // Never saw the slave: report the ifindex with no member.
  pending_active_ = 0;
  if (idx == active_ifindex_) return;
  active_ifindex_ = idx;
  BondActiveEvent ev;
  ev.ifindex = idx;
  ev.failover = pending_failover_;
  ev.seen_at = pending_seen_at_;
  bump(stats_.active_changes);
  kLog.warn(fmt::format("[bond {}]", config_.bond),
            "active slave ifindex {} is not a known slave: no member is active", idx);
  if (cb_.on_active) cb_.on_active(ev);
}

void BondFollower::bondGone(TimePoint seen_at) {
  if (bond_ifindex_ == 0) return;
  kLog.info(fmt::format("[bond {}]", config_.bond), "bond deleted");
  pending_active_ = 0;
  setActive(0, false, seen_at);
  std::vector<int32_t> idx;
  for (const auto& [i, s] : slaves_) idx.push_back(i);
  for (int32_t i : idx) release(i, seen_at);
  bond_ifindex_ = 0;
  mode_.reset();
  if (cb_.on_status) cb_.on_status(BondStatusEvent{false, 0, std::nullopt, seen_at});
}

void BondFollower::onDumpStart(TimePoint) {
  in_round_ = true;
  bond_touched_in_round_ = false;
  for (auto& [i, s] : slaves_) s.touched_in_round = false;
}

void BondFollower::onDumpDone(TimePoint t) {
  in_round_ = false;
  if (bond_ifindex_ != 0 && !bond_touched_in_round_) {
    bondGone(t);
  } else {
    std::vector<int32_t> gone;
    for (const auto& [i, s] : slaves_) {
      if (!s.touched_in_round) gone.push_back(i);
    }
    for (int32_t i : gone) release(i, t);
  }
  resolvePending(t, true);
}

}  // namespace vfo::lag
