#include "vfo/lag/lag_group.h"

#include <fmt/format.h>

#include "vfo/lag/rendezvous.h"

namespace vfo::lag {

namespace {
const Logger kLog("lag");

// Event-path log budget: bursts of 50 lines, then 20 lines/s.
constexpr uint32_t kLogPerSecond = 20;
constexpr uint32_t kLogBurst = 50;

Status checkPortName(std::string_view name) {
  if (name.empty()) return invalidArgument("port name: is empty");
  if (name.size() > kMaxPortNameLen)
    return invalidArgument(fmt::format("port name: '{}' is {} characters, longer than {}", name,
                                       name.size(), kMaxPortNameLen));
  for (char c : name)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\0')
      return invalidArgument(fmt::format("port name: '{}' contains whitespace or NUL", name));
  return okStatus();
}
}  // namespace

std::string_view decisionReasonName(DecisionReason r) {
  switch (r) {
    case DecisionReason::kPortAdded:
      return "port-added";
    case DecisionReason::kMemberDown:
      return "member-down";
    case DecisionReason::kMemberUp:
      return "member-up";
    case DecisionReason::kPrimaryReselect:
      return "primary-reselect";
    case DecisionReason::kOperatorSetActive:
      return "operator-set-active";
    case DecisionReason::kPinChanged:
      return "pin-changed";
    case DecisionReason::kBondFollow:
      return "bond-follow";
    case DecisionReason::kAllMembersDown:
      return "all-members-down";
    case DecisionReason::kDegradedRecovery:
      return "degraded-recovery";
    case DecisionReason::kLiveSetChanged:
      return "live-set-changed";
  }
  return "?";
}

std::string toString(const DecisionEvent& e, std::string_view from_name, std::string_view to_name) {
  return fmt::format("{}: {} -> {} ({}, seen {} before decision)",
                     e.port == kNoPort ? std::string("group") : "port " + e.port_name, from_name,
                     to_name, decisionReasonName(e.reason),
                     formatDuration(e.decided_at - e.cause_seen_at));
}

StatusOr<std::unique_ptr<LagGroup>> LagGroup::create(const LagConfig& config, const Clock& clock,
                                                     EventSink sink, GracePeriodDomain* domain) {
  VFO_RETURN_IF_ERROR(config.validate());
  return std::unique_ptr<LagGroup>(new LagGroup(config, clock, std::move(sink), domain));
}

LagGroup::LagGroup(const LagConfig& config, const Clock& clock, EventSink sink,
                   GracePeriodDomain* domain)
    : config_(config),
      clock_(clock),
      sink_(std::move(sink)),
      limiter_(clock, kLogPerSecond, kLogBurst),
      tracker_(config.members, config.updelay, config.downdelay, &limiter_),
      own_domain_(domain ? nullptr : std::make_unique<QsbrDomain>()),
      publisher_(domain ? domain : own_domain_.get()),
      member_salt_(config.members.size()),
      failback_at_(config.members.size(), kNever),
      failback_seen_(config.members.size()) {
  for (size_t i = 0; i < config.members.size(); ++i)
    member_salt_[i] = memberSalt(config.members[i].name);
  if (config.primary) primary_ = tracker_.find(*config.primary);
  publishLiveSet();
  kLog.info(fmt::format("[lag {}]", config_.name), "created: mode {}, {} members",
            lagModeName(config_.mode), config_.members.size());
}

LagGroup::~LagGroup() = default;

StatusOr<MemberId> LagGroup::memberByName(std::string_view name) const {
  const MemberId m = tracker_.find(name);
  if (m == kNoMember)
    return notFound(fmt::format("member: '{}' is not a member of {}", name, config_.name));
  return m;
}

Status LagGroup::checkMember(MemberId m) const {
  if (m >= tracker_.size())
    return invalidArgument(fmt::format("member: id {} is not a member of {} (it has {} members)", m,
                                       config_.name, tracker_.size()));
  return okStatus();
}

bool LagGroup::anyEnabled() const {
  for (MemberId m = 0; m < tracker_.size(); ++m)
    if (tracker_.enabled(m)) return true;
  return false;
}

// ---- inputs -----------------------------------------------------------------

Status LagGroup::onCarrier(MemberId member, bool up, TimePoint seen_at) {
  VFO_RETURN_IF_ERROR(checkMember(member));
  const TimePoint now = clock_.now();
  transitions_.clear();
  VFO_RETURN_IF_ERROR(tracker_.onCarrier(member, up, seen_at, now, !anyEnabled(), &transitions_));
  handleTransitions(now);
  return okStatus();
}

Status LagGroup::onProbeVerdict(MemberId member, bool alive, TimePoint seen_at) {
  VFO_RETURN_IF_ERROR(checkMember(member));
  const TimePoint now = clock_.now();
  transitions_.clear();
  VFO_RETURN_IF_ERROR(
      tracker_.onProbeVerdict(member, alive, seen_at, now, !anyEnabled(), &transitions_));
  handleTransitions(now);
  return okStatus();
}

Status LagGroup::setAdmin(MemberId member, bool up) {
  VFO_RETURN_IF_ERROR(checkMember(member));
  const TimePoint now = clock_.now();
  transitions_.clear();
  VFO_RETURN_IF_ERROR(tracker_.setAdmin(member, up, now, !anyEnabled(), &transitions_));
  handleTransitions(now);
  return okStatus();
}

Status LagGroup::setMemberSpeed(MemberId member, uint32_t speed_mbps) {
  VFO_RETURN_IF_ERROR(checkMember(member));
  if (speed_mbps == 0 && config_.mode == LagMode::kActiveBackup && primary_ != kNoMember &&
      config_.primary_reselect == PrimaryReselect::kBetter)
    return invalidArgument(fmt::format(
        "speed_mbps: 0 (unknown) is not allowed for member {} while primary_reselect is better",
        tracker_.name(member)));
  return tracker_.setSpeed(member, speed_mbps);
}

void LagGroup::onTick(TimePoint now) {
  transitions_.clear();
  tracker_.onTick(now, &transitions_);
  handleTransitions(now);
  if (config_.mode == LagMode::kBalanceVm) {
    for (MemberId m = 0; m < tracker_.size(); ++m) {
      if (failback_at_[m] <= now) {
        failback_at_[m] = kNever;
        vmFailback(m, failback_seen_[m], now);
      }
    }
  }
  publisher_.reclaim();
}

TimePoint LagGroup::nextDeadline() const {
  TimePoint t = tracker_.nextDeadline();
  for (TimePoint f : failback_at_)
    if (f < t) t = f;
  return t;
}

void LagGroup::handleTransitions(TimePoint now) {
  if (transitions_.empty()) return;
  const bool was_degraded = degraded_;
  for (const MemberTransition& t : transitions_) {
    switch (config_.mode) {
      case LagMode::kActiveBackup:
        reselectActive(t.cause_seen_at, now);
        break;
      case LagMode::kBalanceVm:
        if (t.enabled)
          vmMemberEnabled(t.member, t.cause_seen_at, now);
        else
          vmMemberDisabled(t.member, t.cause_seen_at, now);
        break;
      case LagMode::kBalanceFlow:
        flowMemberChanged(t.member, t.enabled, t.cause_seen_at, now);
        break;
      case LagMode::kFollowKernelBond:
        break;  // the kernel decides; members are tracked for display only
    }
  }
  degraded_ = !anyEnabled();
  if (config_.mode != LagMode::kFollowKernelBond && degraded_ && !was_degraded) {
    bump(stats_.degraded_events);
    kLog.warn(fmt::format("[lag {}]", config_.name), "no live member: {} ports degraded",
              port_count_);
  }
  if (config_.mode == LagMode::kBalanceFlow && degraded_ != was_degraded) {
    // Per-port state only changes when the hash set becomes empty or stops
    // being empty.
    const TimePoint seen_at = transitions_.back().cause_seen_at;
    for (PortIndex p = 0; p < ports_.size(); ++p)
      if (ports_[p].used)
        emit(p, kNoMember, kNoMember,
             degraded_ ? DecisionReason::kAllMembersDown : DecisionReason::kDegradedRecovery,
             seen_at, now);
  }
  publishLiveSet();
}

void LagGroup::publishLiveSet() {
  LiveSet next;
  next.policy = config_.hash_policy;
  next.active = active_;
  MemberId ids[kMaxMembers];
  uint32_t n = 0;
  for (MemberId m = 0; m < tracker_.size(); ++m)
    if (tracker_.enabled(m)) ids[n++] = m;
  next.setMembers(ids, n);
  const LiveSet* cur = publisher_.current();
  if (publisher_.generation() != 0 && cur->active == next.active && cur->count == next.count &&
      cur->members == next.members && cur->policy == next.policy)
    return;  // nothing the datapath would see changed
  publisher_.publish(next);
  bump(stats_.live_set_publishes);
}

void LagGroup::emit(PortIndex p, MemberId from, MemberId to, DecisionReason reason,
                    TimePoint seen_at, TimePoint now) {
  DecisionEvent e;
  e.port = p;
  if (p != kNoPort) e.port_name = ports_[p].name;
  e.from = from;
  e.to = to;
  e.reason = reason;
  e.cause_seen_at = seen_at;
  e.decided_at = now;
  if (from != kNoMember && to != kNoMember && p != kNoPort) bump(stats_.port_moves);
  bump(stats_.events_emitted);
  if (sink_) sink_(e);
}

void LagGroup::logMove(const Port& port, MemberId from, MemberId to, DecisionReason reason) {
  if (!kLog.enabled(LogLevel::kInfo) || !limiter_.allow()) return;
  const uint64_t dropped = limiter_.takeSuppressed();
  kLog.info(port.entity, "{} -> {} ({}){}", from == kNoMember ? "none" : tracker_.name(from),
            to == kNoMember ? "none" : tracker_.name(to), decisionReasonName(reason),
            dropped ? fmt::format(" [{} lines suppressed]", dropped) : std::string());
}

// ---- active-backup / follow ---------------------------------------------------

// bonding's bond_choose_primary_or_current() + bond_find_best_slave(), with
// "first slave in the list" = lowest enabled member id.
MemberId LagGroup::chooseActive() const {
  const MemberId curr = (active_ != kNoMember && tracker_.enabled(active_)) ? active_ : kNoMember;
  const bool prim_up = primary_ != kNoMember && tracker_.enabled(primary_);
  if (!prim_up) {
    if (curr != kNoMember) return curr;
    for (MemberId m = 0; m < tracker_.size(); ++m)
      if (tracker_.enabled(m)) return m;
    return kNoMember;
  }
  if (curr == kNoMember) return primary_;
  if (!config_.failback) return curr;
  switch (config_.primary_reselect) {
    case PrimaryReselect::kAlways:
      return primary_;
    case PrimaryReselect::kBetter:
      return tracker_.speed(primary_) > tracker_.speed(curr) ? primary_ : curr;
    case PrimaryReselect::kFailure:
      return curr;
  }
  return curr;
}

void LagGroup::reselectActive(TimePoint seen_at, TimePoint now) {
  const MemberId best = chooseActive();
  if (best == active_) return;
  DecisionReason reason;
  if (best == kNoMember)
    reason = DecisionReason::kAllMembersDown;
  else if (active_ == kNoMember)
    reason = DecisionReason::kDegradedRecovery;
  else if (!tracker_.enabled(active_))
    reason = DecisionReason::kMemberDown;
  else
    reason = DecisionReason::kPrimaryReselect;
  changeActive(best, reason, seen_at, now);
}

void LagGroup::changeActive(MemberId to, DecisionReason reason, TimePoint seen_at, TimePoint now) {
  const MemberId from = active_;
  active_ = to;
  bump(stats_.active_changes);
  if (reason == DecisionReason::kMemberDown || reason == DecisionReason::kAllMembersDown)
    bump(stats_.failovers);
  if (reason == DecisionReason::kPrimaryReselect) bump(stats_.failbacks);
  if (to != kNoMember) bump(tracker_.stats(to).became_active);
  kLog.info(fmt::format("[lag {}]", config_.name), "active member {} -> {} ({}), {} ports",
            from == kNoMember ? "none" : tracker_.name(from),
            to == kNoMember ? "none" : tracker_.name(to), decisionReasonName(reason), port_count_);
  for (PortIndex p = 0; p < ports_.size(); ++p) {
    Port& port = ports_[p];
    if (!port.used) continue;
    port.current = to;
    port.home = to;
    logMove(port, from, to, reason);
    emit(p, from, to, reason, seen_at, now);
  }
}

Status LagGroup::setActiveMember(MemberId member) {
  if (config_.mode != LagMode::kActiveBackup)
    return failedPrecondition(
        fmt::format("set-active-member: only valid in mode active-backup, {} is in mode {}",
                    config_.name, lagModeName(config_.mode)));
  VFO_RETURN_IF_ERROR(checkMember(member));
  if (!tracker_.enabled(member)) {
    const MemberView v = tracker_.view(member);
    return failedPrecondition(
        fmt::format("set-active-member: member {} is not enabled (admin {}, carrier {}{})", v.name,
                    v.admin_up ? "up" : "down", v.carrier ? "up" : "down",
                    v.probing ? (v.probe_alive ? ", probe alive" : ", probe dead") : ""));
  }
  if (member == active_) return okStatus();
  const TimePoint now = clock_.now();
  bump(stats_.operator_set_active);
  changeActive(member, DecisionReason::kOperatorSetActive, now, now);
  publishLiveSet();
  return okStatus();
}

Status LagGroup::updateSettings(const LagConfig& next) {
  VFO_RETURN_IF_ERROR(next.validate());
  if (next.name != config_.name)
    return failedPrecondition(
        fmt::format("name: {} cannot be renamed while running", config_.name));
  if (next.mode != config_.mode)
    return failedPrecondition(fmt::format(
        "mode: {} cannot change from {} to {} while running (every port would move); set it in "
        "the configuration and restart",
        config_.name, lagModeName(config_.mode), lagModeName(next.mode)));
  if (next.hash_policy != config_.hash_policy)
    return failedPrecondition(
        fmt::format("hash_policy: {} cannot change its hash policy while running; set it in the "
                    "configuration and restart",
                    config_.name));
  if (next.members.size() != config_.members.size())
    return failedPrecondition(
        fmt::format("members: {} cannot add or remove members while running", config_.name));
  for (size_t i = 0; i < next.members.size(); ++i)
    if (next.members[i].name != config_.members[i].name ||
        next.members[i].probing != config_.members[i].probing)
      return failedPrecondition(
          fmt::format("members[{}]: {} cannot change its members while running", i, config_.name));
  MemberId primary = kNoMember;
  if (next.primary) primary = tracker_.find(*next.primary);
  const bool reselect = next.primary != config_.primary ||
                        next.primary_reselect != config_.primary_reselect ||
                        next.failback != config_.failback;
  config_.primary = next.primary;
  config_.primary_reselect = next.primary_reselect;
  config_.failback = next.failback;
  config_.updelay = next.updelay;
  config_.downdelay = next.downdelay;
  config_.vm_failback_delay = next.vm_failback_delay;
  primary_ = primary;
  tracker_.setDelays(next.updelay, next.downdelay);
  kLog.info(fmt::format("[lag {}]", config_.name),
            "settings changed: primary {}, failback {}, updelay {}, downdelay {}",
            next.primary.value_or("none"), next.failback, formatDuration(next.updelay),
            formatDuration(next.downdelay));
  if (config_.mode == LagMode::kActiveBackup && reselect) {
    const TimePoint now = clock_.now();
    reselectActive(now, now);
    publishLiveSet();
  }
  return okStatus();
}

Status LagGroup::onBondActiveMember(MemberId member, TimePoint seen_at) {
  if (config_.mode != LagMode::kFollowKernelBond)
    return failedPrecondition(
        fmt::format("bond active member: only valid in mode follow-kernel-bond, {} is in mode {}",
                    config_.name, lagModeName(config_.mode)));
  if (member != kNoMember) VFO_RETURN_IF_ERROR(checkMember(member));
  bump(stats_.bond_follow_updates);
  if (member == active_) return okStatus();
  const TimePoint now = clock_.now();
  if (member == kNoMember) {
    bump(stats_.degraded_events);
    changeActive(kNoMember, DecisionReason::kAllMembersDown, seen_at, now);
  } else {
    changeActive(member, DecisionReason::kBondFollow, seen_at, now);
  }
  publishLiveSet();
  return okStatus();
}

// ---- balance-vm ----------------------------------------------------------------

MemberId LagGroup::hrwHome(const Port& port) const {
  MemberId best = kNoMember;
  uint64_t best_w = 0;
  for (MemberId m = 0; m < tracker_.size(); ++m) {
    if (!tracker_.enabled(m)) continue;
    const uint64_t w = rendezvousWeight(port.key, member_salt_[m]);
    if (best == kNoMember || w > best_w) {
      best = m;
      best_w = w;
    }
  }
  return best;
}

MemberId LagGroup::computeHome(const Port& port) const {
  switch (config_.mode) {
    case LagMode::kBalanceVm:
      if (port.pin && tracker_.enabled(*port.pin)) return *port.pin;
      return hrwHome(port);
    case LagMode::kBalanceFlow:
      return kNoMember;
    case LagMode::kActiveBackup:
    case LagMode::kFollowKernelBond:
      return active_;
  }
  return kNoMember;
}

void LagGroup::movePort(PortIndex p, MemberId to, DecisionReason reason, TimePoint seen_at,
                        TimePoint now) {
  Port& port = ports_[p];
  const MemberId from = port.current;
  port.current = to;
  logMove(port, from, to, reason);
  emit(p, from, to, reason, seen_at, now);
}

void LagGroup::vmMemberDisabled(MemberId m, TimePoint seen_at, TimePoint now) {
  failback_at_[m] = kNever;  // a pending failback to it is void
  size_t moved = 0;
  for (PortIndex p = 0; p < ports_.size(); ++p) {
    Port& port = ports_[p];
    if (!port.used) continue;
    port.home = computeHome(port);
    if (port.current != m) continue;  // only the failed member's ports move
    movePort(p, port.home,
             port.home == kNoMember ? DecisionReason::kAllMembersDown : DecisionReason::kMemberDown,
             seen_at, now);
    ++moved;
  }
  if (moved) bump(stats_.failovers);
  kLog.info(fmt::format("[lag {}]", config_.name), "member {} disabled: {} ports moved",
            tracker_.name(m), moved);
}

void LagGroup::vmMemberEnabled(MemberId m, TimePoint seen_at, TimePoint now) {
  size_t recovered = 0, waiting = 0;
  for (PortIndex p = 0; p < ports_.size(); ++p) {
    Port& port = ports_[p];
    if (!port.used) continue;
    port.home = computeHome(port);
    if (port.current == kNoMember && port.home != kNoMember) {
      movePort(p, port.home, DecisionReason::kDegradedRecovery, seen_at, now);
      ++recovered;
    } else if (port.home == m && port.current != m) {
      ++waiting;
    }
  }
  if (waiting == 0) {
    failback_at_[m] = kNever;
  } else if (config_.vm_failback_delay) {
    failback_seen_[m] = seen_at;
    failback_at_[m] = now + *config_.vm_failback_delay;
    if (*config_.vm_failback_delay == Duration::zero()) {
      failback_at_[m] = kNever;
      vmFailback(m, seen_at, now);
    } else {
      kLog.info(fmt::format("[member {}]", tracker_.name(m)),
                "{} ports will move back to {} in {} if it stays enabled", waiting,
                tracker_.name(m), formatDuration(*config_.vm_failback_delay));
    }
  }
  if (recovered)
    kLog.info(fmt::format("[lag {}]", config_.name), "member {} enabled: {} degraded ports placed",
              tracker_.name(m), recovered);
}

void LagGroup::vmFailback(MemberId m, TimePoint seen_at, TimePoint now) {
  if (!tracker_.enabled(m)) return;
  size_t moved = 0;
  for (PortIndex p = 0; p < ports_.size(); ++p) {
    Port& port = ports_[p];
    if (!port.used) continue;
    port.home = computeHome(port);
    if (port.home != m || port.current == m) continue;
    movePort(p, m, DecisionReason::kMemberUp, seen_at, now);
    ++moved;
  }
  if (moved) {
    bump(stats_.failbacks);
    kLog.info(fmt::format("[lag {}]", config_.name), "failback to {}: {} ports moved back",
              tracker_.name(m), moved);
  }
}

Status LagGroup::setPin(PortIndex p, std::optional<MemberId> pin) {
  if (config_.mode != LagMode::kBalanceVm)
    return failedPrecondition(fmt::format("pin: only valid in mode balance-vm, {} is in mode {}",
                                          config_.name, lagModeName(config_.mode)));
  if (p >= ports_.size() || !ports_[p].used)
    return notFound(fmt::format("port: index {} does not exist in {}", p, config_.name));
  if (pin) VFO_RETURN_IF_ERROR(checkMember(*pin));
  Port& port = ports_[p];
  port.pin = pin;
  port.home = computeHome(port);
  kLog.info(port.entity, "pin set to {}", pin ? tracker_.name(*pin) : std::string("none"));
  if (port.home != port.current) {
    const TimePoint now = clock_.now();
    movePort(p, port.home, DecisionReason::kPinChanged, now, now);
  }
  return okStatus();
}

// ---- balance-flow ------------------------------------------------------------

void LagGroup::flowMemberChanged(MemberId m, bool enabled, TimePoint seen_at, TimePoint now) {
  // Group-level event: the datapath's hash set gained or lost a member.
  emit(kNoPort, enabled ? kNoMember : m, enabled ? m : kNoMember, DecisionReason::kLiveSetChanged,
       seen_at, now);
  bump(enabled ? stats_.failbacks : stats_.failovers);
  kLog.info(fmt::format("[lag {}]", config_.name), "member {} {} the flow hash set",
            tracker_.name(m), enabled ? "joined" : "left");
}

// ---- ports -------------------------------------------------------------------

StatusOr<PortIndex> LagGroup::addPort(std::string name, std::optional<MemberId> pin) {
  VFO_RETURN_IF_ERROR(checkPortName(name));
  if (pin && config_.mode != LagMode::kBalanceVm)
    return failedPrecondition(fmt::format("pin: only valid in mode balance-vm, {} is in mode {}",
                                          config_.name, lagModeName(config_.mode)));
  if (pin) VFO_RETURN_IF_ERROR(checkMember(*pin));
  if (findPort(name).isOk())
    return alreadyExists(fmt::format("port name: '{}' already exists in {}", name, config_.name));
  PortIndex p;
  if (!free_ports_.empty()) {
    p = free_ports_.back();
    free_ports_.pop_back();
  } else {
    p = PortIndex(ports_.size());
    ports_.emplace_back();
  }
  Port& port = ports_[p];
  port.used = true;
  port.entity = fmt::format("[port {}]", name);
  port.key = portKey(name);
  port.name = std::move(name);
  port_by_name_.emplace(port.name, p);
  port.pin = pin;
  port.home = computeHome(port);
  port.current = config_.mode == LagMode::kBalanceFlow ? kNoMember : port.home;
  ++port_count_;
  const TimePoint now = clock_.now();
  emit(p, kNoMember, port.current, DecisionReason::kPortAdded, now, now);
  return p;
}

Status LagGroup::removePort(PortIndex p) {
  if (p >= ports_.size() || !ports_[p].used)
    return notFound(fmt::format("port: index {} does not exist in {}", p, config_.name));
  port_by_name_.erase(ports_[p].name);
  ports_[p] = Port{};
  free_ports_.push_back(p);
  --port_count_;
  return okStatus();
}

StatusOr<PortIndex> LagGroup::findPort(std::string_view name) const {
  const auto it = port_by_name_.find(std::string(name));
  if (it != port_by_name_.end()) return it->second;
  return notFound(fmt::format("port: '{}' does not exist in {}", name, config_.name));
}

MemberId LagGroup::portMember(PortIndex p) const {
  if (p >= ports_.size() || !ports_[p].used) return kNoMember;
  return ports_[p].current;
}

// ---- introspection -------------------------------------------------------------

LagSnapshot LagGroup::snapshot() const {
  LagSnapshot s;
  const TimePoint now = clock_.now();
  s.name = config_.name;
  s.mode = config_.mode;
  s.hash_policy = config_.hash_policy;
  s.primary = config_.primary;
  s.primary_reselect = config_.primary_reselect;
  s.failback = config_.failback;
  s.updelay = config_.updelay;
  s.downdelay = config_.downdelay;
  s.vm_failback_delay = config_.vm_failback_delay;
  s.taken_at = now;
  s.active = active_;
  for (MemberId m = 0; m < tracker_.size(); ++m) {
    MemberSnapshot ms;
    ms.member = tracker_.view(m);
    ms.active = (m == active_);
    if (ms.member.pending != PendingAction::kNone)
      ms.pending_remaining = std::max(Duration::zero(), ms.member.pending_deadline - now);
    if (failback_at_[m] != kNever) {
      ms.failback_pending = true;
      ms.failback_remaining = std::max(Duration::zero(), failback_at_[m] - now);
    }
    s.members.push_back(std::move(ms));
  }
  for (PortIndex p = 0; p < ports_.size(); ++p) {
    const Port& port = ports_[p];
    if (!port.used) continue;
    PortSnapshot ps;
    ps.index = p;
    ps.name = port.name;
    ps.current = port.current;
    ps.home = port.home;
    ps.pin = port.pin;
    ps.degraded = config_.mode == LagMode::kBalanceFlow ? degraded_ : port.current == kNoMember;
    if (port.current != kNoMember) s.members[port.current].ports++;
    s.ports.push_back(std::move(ps));
  }
  s.stats = stats_.snapshot();
  const LiveSet* live = publisher_.current();
  s.live_generation = live->generation;
  for (uint32_t i = 0; i < live->count; ++i) s.live.push_back(live->members[i]);
  s.retired_live_sets = publisher_.retiredCount();
  return s;
}

}  // namespace vfo::lag
