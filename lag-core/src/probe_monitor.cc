#include "vfo/lag/probe_monitor.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "vfo/base/log.h"

namespace vfo::lag {

namespace {
constexpr Logger kLog("lag");
constexpr size_t kMaxTargets = 16;  // BOND_MAX_ARP_TARGETS / BOND_MAX_NS_TARGETS
}  // namespace

// ---- ProbeAddress ------------------------------------------------------------

ProbeAddress ProbeAddress::v4(const std::array<uint8_t, 4>& b) {
  ProbeAddress a;
  std::copy(b.begin(), b.end(), a.bytes_.begin());
  return a;
}

ProbeAddress ProbeAddress::v6(const std::array<uint8_t, 16>& b) {
  ProbeAddress a;
  a.v6_ = true;
  a.bytes_ = b;
  return a;
}

StatusOr<ProbeAddress> ProbeAddress::parse(std::string_view text) {
  std::string t(text);
  ProbeAddress a;
  if (::inet_pton(AF_INET, t.c_str(), a.bytes_.data()) == 1) {
    uint32_t first = a.bytes_[0];
    bool zero = std::all_of(a.bytes_.begin(), a.bytes_.begin() + 4, [](uint8_t b) { return !b; });
    bool bcast =
        std::all_of(a.bytes_.begin(), a.bytes_.begin() + 4, [](uint8_t b) { return b == 0xff; });
    if (zero || bcast || (first >= 224 && first <= 239)) {
      return invalidArgument(fmt::format("target: '{}' is not a unicast IPv4 address", text));
    }
    return a;
  }
  if (::inet_pton(AF_INET6, t.c_str(), a.bytes_.data()) == 1) {
    a.v6_ = true;
    bool zero = std::all_of(a.bytes_.begin(), a.bytes_.end(), [](uint8_t b) { return !b; });
    if (zero || a.bytes_[0] == 0xff) {
      return invalidArgument(fmt::format("target: '{}' is not a unicast IPv6 address", text));
    }
    return a;
  }
  return invalidArgument(fmt::format("target: '{}' is not an IPv4 or IPv6 address", text));
}

std::string ProbeAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), buf, sizeof(buf));
  return buf;
}

// ---- ProbeMonitor ------------------------------------------------------------

ProbeMonitor::ProbeMonitor(Callbacks cb) : cb_(std::move(cb)) {}

Status ProbeMonitor::validate(const ProbeMemberConfig& c) {
  if (c.member == kNoMember) return invalidArgument("member: kNoMember is not a member id");
  if (c.targets.empty() || c.targets.size() > kMaxTargets) {
    return invalidArgument(
        fmt::format("targets: {} given, want 1..{}", c.targets.size(), kMaxTargets));
  }
  std::set<ProbeAddress> seen;
  for (const auto& t : c.targets) {
    if (!seen.insert(t).second) {
      return invalidArgument(fmt::format("targets: {} is listed twice", t.toString()));
    }
  }
  if (c.interval < std::chrono::milliseconds(1) || c.interval > std::chrono::hours(1)) {
    return invalidArgument(fmt::format("interval: {} ns is outside 1 ms..1 h", c.interval.count()));
  }
  if (c.missed_max < 1 || c.missed_max > 255) {
    return invalidArgument(fmt::format("missed_max: {} is outside 1..255", c.missed_max));
  }
  if (c.up_after < 1 || c.up_after > 255) {
    return invalidArgument(fmt::format("up_after: {} is outside 1..255", c.up_after));
  }
  return okStatus();
}

Status ProbeMonitor::addMember(const ProbeMemberConfig& config, TimePoint now) {
  VFO_RETURN_IF_ERROR(validate(config));
  if (members_.count(config.member)) {
    return alreadyExists(fmt::format("member {}: already probed", config.member));
  }
  Member m;
  m.config = config;
  m.state.member = config.member;
  m.interval_start = now;
  m.state.interval_end = now;  // first tick at or after `now` starts probing
  members_.emplace(config.member, std::move(m));
  return okStatus();
}

Status ProbeMonitor::removeMember(MemberId member) {
  if (!members_.erase(member)) return notFound(fmt::format("member {}: not probed", member));
  return okStatus();
}

Status ProbeMonitor::setInterval(MemberId member, Duration interval) {
  auto it = members_.find(member);
  if (it == members_.end()) return notFound(fmt::format("member {}: not probed", member));
  ProbeMemberConfig c = it->second.config;
  c.interval = interval;
  VFO_RETURN_IF_ERROR(validate(c));
  it->second.config.interval = interval;
  if (it->second.started) it->second.state.interval_end = it->second.interval_start + interval;
  return okStatus();
}

Status ProbeMonitor::setTargets(MemberId member, const std::vector<ProbeAddress>& targets) {
  auto it = members_.find(member);
  if (it == members_.end()) return notFound(fmt::format("member {}: not probed", member));
  ProbeMemberConfig c = it->second.config;
  c.targets = targets;
  VFO_RETURN_IF_ERROR(validate(c));
  it->second.config.targets = targets;
  return okStatus();
}

void ProbeMonitor::sendProbes(Member& m) {
  for (const auto& t : m.config.targets) {
    bump(stats_.probes_sent);
    ++m.state.probes_sent;
    if (cb_.send_probe)
      cb_.send_probe(m.config.member, t, t.isV6() ? ProbeKind::kNs : ProbeKind::kArp);
  }
}

void ProbeMonitor::setVerdict(Member& m, bool alive, TimePoint seen_at) {
  if (m.state.alive == alive) return;
  m.state.alive = alive;
  bump(stats_.verdict_changes);
  if (cb_.on_verdict) cb_.on_verdict(m.config.member, alive, seen_at);
  std::string entity = fmt::format("[member {}]", m.config.member);
  if (alive) {
    kLog.info(entity, "probe verdict: alive (a target answered)");
  } else {
    kLog.info(entity, "probe verdict: failed ({} consecutive intervals of {} ms without reply)",
              m.state.consecutive_missed,
              std::chrono::duration_cast<std::chrono::milliseconds>(m.config.interval).count());
  }
}

void ProbeMonitor::onTick(TimePoint now) {
  for (auto& [id, m] : members_) {
    ProbeMemberState& s = m.state;
    if (now < s.interval_end) continue;
    const bool first = !m.started;
    if (first) {
      m.started = true;
    } else {
      // Judge the interval that ended at interval_end.
      const TimePoint end = s.interval_end;
      if (s.current_good) {
        ++s.consecutive_good;
        s.consecutive_missed = 0;
        if (!s.alive && s.consecutive_good >= m.config.up_after) setVerdict(m, true, end);
      } else {
        bump(stats_.missed_intervals);
        ++s.consecutive_missed;
        s.consecutive_good = 0;
        if (s.alive && s.consecutive_missed >= m.config.missed_max) setVerdict(m, false, end);
      }
    }
    // Start the next interval back to back, unless we are more than one
    // interval late: no probes went out in between, so those intervals are
    // not judged and the next one starts now.
    TimePoint start = s.interval_end;
    if (first) {
      start = now;
    } else if (now >= s.interval_end + m.config.interval) {
      bump(stats_.skipped_intervals);
      start = now;
    }
    m.interval_start = start;
    s.interval_end = start + m.config.interval;
    s.current_good = false;
    sendProbes(m);
  }
}

bool ProbeMonitor::onReply(MemberId member, const ProbeAddress& from, TimePoint now) {
  auto it = members_.find(member);
  if (it == members_.end()) {
    bump(stats_.unknown_member_replies);
    return false;
  }
  Member& m = it->second;
  const auto& ts = m.config.targets;
  if (std::find(ts.begin(), ts.end(), from) == ts.end()) {
    bump(stats_.foreign_replies);
    return false;
  }
  bump(stats_.replies);
  ++m.state.replies;
  if (!m.state.current_good) {
    m.state.current_good = true;
    if (!m.state.alive && m.state.consecutive_good + 1 >= m.config.up_after) {
      setVerdict(m, true, now);
      m.state.consecutive_missed = 0;
    }
  }
  return true;
}

TimePoint ProbeMonitor::nextDeadline() const {
  TimePoint t = kNever;
  for (const auto& [id, m] : members_) t = std::min(t, m.state.interval_end);
  return t;
}

std::optional<ProbeMemberState> ProbeMonitor::member(MemberId m) const {
  auto it = members_.find(m);
  if (it == members_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<bool> ProbeMonitor::alive(MemberId m) const {
  auto it = members_.find(m);
  if (it == members_.end()) return std::nullopt;
  return it->second.state.alive;
}

}  // namespace vfo::lag
