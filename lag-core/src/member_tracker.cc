#include "vfo/lag/member_tracker.h"

#include <fmt/format.h>

namespace vfo::lag {

namespace {
const Logger kLog("lag");

std::string_view causeWord(MemberCause c) {
  switch (c) {
    case MemberCause::kCarrier:
      return "carrier";
    case MemberCause::kProbe:
      return "probe";
    case MemberCause::kAdmin:
      return "admin";
  }
  return "?";
}
}  // namespace

std::string_view pendingActionName(PendingAction a) {
  switch (a) {
    case PendingAction::kNone:
      return "none";
    case PendingAction::kEnable:
      return "enable";
    case PendingAction::kDisable:
      return "disable";
  }
  return "?";
}

MemberTracker::MemberTracker(const std::vector<MemberConfig>& members, Duration updelay,
                             Duration downdelay, LogRateLimiter* limiter)
    : members_(members.size()), updelay_(updelay), downdelay_(downdelay), limiter_(limiter) {
  for (size_t i = 0; i < members.size(); ++i) {
    members_[i].name = members[i].name;
    members_[i].entity = fmt::format("[member {}]", members[i].name);
    members_[i].speed_mbps = members[i].speed_mbps;
    members_[i].probing = members[i].probing;
  }
}

MemberId MemberTracker::find(std::string_view name) const {
  for (size_t i = 0; i < members_.size(); ++i)
    if (members_[i].name == name) return MemberId(i);
  return kNoMember;
}

bool MemberTracker::logAllowed() {
  return limiter_ == nullptr || limiter_->allow();
}

Status MemberTracker::onCarrier(MemberId id, bool up, TimePoint seen_at, TimePoint now,
                                bool skip_updelay, std::vector<MemberTransition>* out) {
  if (id >= members_.size())
    return invalidArgument(fmt::format("member: id {} is not a member of this group", id));
  Member& m = members_[id];
  if (m.carrier == up) return okStatus();  // repeated state (e.g. a resync dump)
  m.carrier = up;
  bump(m.stats.carrier_changes);
  healthChanged(id, MemberCause::kCarrier, seen_at, now, skip_updelay, out);
  return okStatus();
}

Status MemberTracker::onProbeVerdict(MemberId id, bool alive, TimePoint seen_at, TimePoint now,
                                     bool skip_updelay, std::vector<MemberTransition>* out) {
  if (id >= members_.size())
    return invalidArgument(fmt::format("member: id {} is not a member of this group", id));
  Member& m = members_[id];
  if (m.probe_alive == alive) return okStatus();
  m.probe_alive = alive;
  if (!alive) bump(m.stats.probe_failures);
  healthChanged(id, MemberCause::kProbe, seen_at, now, skip_updelay, out);
  return okStatus();
}

Status MemberTracker::setAdmin(MemberId id, bool up, TimePoint now, bool skip_updelay,
                               std::vector<MemberTransition>* out) {
  if (id >= members_.size())
    return invalidArgument(fmt::format("member: id {} is not a member of this group", id));
  Member& m = members_[id];
  if (m.admin_up == up) return okStatus();
  m.admin_up = up;
  kLog.info(m.entity, "admin state set {}", up ? "up" : "down");
  if (!up) {
    // Operator decision: no downdelay, and any pending decision is void.
    m.pending = PendingAction::kNone;
    m.deadline = kNever;
    if (m.enabled) apply(id, false, MemberCause::kAdmin, now, now, out);
    return okStatus();
  }
  healthChanged(id, MemberCause::kAdmin, now, now, skip_updelay, out);
  return okStatus();
}

Status MemberTracker::setSpeed(MemberId id, uint32_t speed_mbps) {
  if (id >= members_.size())
    return invalidArgument(fmt::format("member: id {} is not a member of this group", id));
  members_[id].speed_mbps = speed_mbps;
  return okStatus();
}

void MemberTracker::healthChanged(MemberId id, MemberCause cause, TimePoint seen_at, TimePoint now,
                                  bool skip_updelay, std::vector<MemberTransition>* out) {
  Member& m = members_[id];
  const bool healthy = isHealthy(m);
  if (healthy == m.enabled) {
    // Back to the state it is in: cancel the opposite pending decision.
    if (m.pending != PendingAction::kNone) {
      bump(m.stats.delays_cancelled);
      if (logAllowed())
        kLog.info(m.entity, "{} went {} again ({}); it stays {}, pending {} cancelled", m.name,
                  healthy ? "up" : "down", causeWord(cause), healthy ? "enabled" : "disabled",
                  pendingActionName(m.pending));
      m.pending = PendingAction::kNone;
      m.deadline = kNever;
    }
    return;
  }
  if (m.pending != PendingAction::kNone) return;  // same direction already pending
  const Duration delay = healthy ? (skip_updelay ? Duration::zero() : updelay_) : downdelay_;
  if (delay == Duration::zero() || seen_at + delay <= now) {
    apply(id, healthy, cause, seen_at, now, out);
    return;
  }
  m.pending = healthy ? PendingAction::kEnable : PendingAction::kDisable;
  m.deadline = seen_at + delay;
  m.pending_cause = cause;
  m.pending_seen_at = seen_at;
  if (logAllowed())
    kLog.info(m.entity, "{} will be {} if it stays {} for {}", m.name,
              healthy ? "enabled" : "disabled", healthy ? "up" : "down", formatDuration(delay));
}

void MemberTracker::apply(MemberId id, bool enable, MemberCause cause, TimePoint seen_at,
                          TimePoint now, std::vector<MemberTransition>* out) {
  Member& m = members_[id];
  m.enabled = enable;
  m.pending = PendingAction::kNone;
  m.deadline = kNever;
  bump(enable ? m.stats.enable_transitions : m.stats.disable_transitions);
  if (logAllowed())
    kLog.info(m.entity, "{} {} ({} {}, seen {} ago)", m.name, enable ? "enabled" : "disabled",
              causeWord(cause), enable ? "up" : "down", formatDuration(now - seen_at));
  out->push_back(MemberTransition{id, enable, cause, seen_at, now});
}

void MemberTracker::onTick(TimePoint now, std::vector<MemberTransition>* out) {
  for (;;) {
    MemberId due = kNoMember;
    for (size_t i = 0; i < members_.size(); ++i) {
      const Member& m = members_[i];
      if (m.pending != PendingAction::kNone && m.deadline <= now &&
          (due == kNoMember || m.deadline < members_[due].deadline))
        due = MemberId(i);
    }
    if (due == kNoMember) return;
    Member& m = members_[due];
    apply(due, m.pending == PendingAction::kEnable, m.pending_cause, m.pending_seen_at, now, out);
  }
}

TimePoint MemberTracker::nextDeadline() const {
  TimePoint t = kNever;
  for (const Member& m : members_)
    if (m.pending != PendingAction::kNone && m.deadline < t) t = m.deadline;
  return t;
}

MemberView MemberTracker::view(MemberId id) const {
  const Member& m = members_[id];
  MemberView v;
  v.id = id;
  v.name = m.name;
  v.admin_up = m.admin_up;
  v.carrier = m.carrier;
  v.probing = m.probing;
  v.probe_alive = m.probe_alive;
  v.healthy = isHealthy(m);
  v.enabled = m.enabled;
  v.pending = m.pending;
  v.pending_deadline = m.deadline;
  v.speed_mbps = m.speed_mbps;
  v.stats = m.stats.snapshot();
  return v;
}

}  // namespace vfo::lag
