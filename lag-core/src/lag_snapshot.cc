#include "vfo/lag/lag_snapshot.h"

#include <fmt/format.h>

namespace vfo::lag {

namespace {

template <typename Snap>
std::string counters(const Snap& s) {
  std::string out;
  s.forEach([&](const StatInfo& info, uint64_t v) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", info.name, v);
  });
  return out;
}

}  // namespace

std::string LagSnapshot::memberName(MemberId m) const {
  if (m == kNoMember || m >= members.size()) return "none";
  return members[m].member.name;
}

std::string LagSnapshot::toText() const {
  std::string t = fmt::format("---- {} ----\n", name);
  t += fmt::format("mode: {}\n", lagModeName(mode));
  if (mode == LagMode::kBalanceFlow)
    t += fmt::format("hash policy: {}\n", hashPolicyName(hash_policy));
  if (mode == LagMode::kActiveBackup)
    t += fmt::format("primary: {} (primary_reselect {}, failback {})\n",
                     primary ? *primary : std::string("none"),
                     primaryReselectName(primary_reselect), failback ? "on" : "off");
  if (mode == LagMode::kBalanceVm)
    t += fmt::format("failback delay: {}\n",
                     vm_failback_delay ? formatDuration(*vm_failback_delay) : std::string("stay"));
  t += fmt::format("updelay: {}\n", formatDuration(updelay));
  t += fmt::format("downdelay: {}\n", formatDuration(downdelay));
  if (mode == LagMode::kActiveBackup || mode == LagMode::kFollowKernelBond)
    t += fmt::format("active member: {}\n", memberName(active));
  std::string live_names;
  for (MemberId m : live) live_names += " " + memberName(m);
  t += fmt::format("live members:{} (generation {}, {} retired awaiting grace period)\n",
                   live_names.empty() ? std::string(" none") : live_names, live_generation,
                   retired_live_sets);
  t += fmt::format("counters: {}\n", counters(stats));

  for (const MemberSnapshot& ms : members) {
    const MemberView& m = ms.member;
    t += fmt::format("\nmember {}: {}{}\n", m.name, m.enabled ? "enabled" : "disabled",
                     ms.active ? " (active)" : "");
    t += fmt::format("  admin: {}  carrier: {}  probe: {}  speed: {}\n", m.admin_up ? "up" : "down",
                     m.carrier ? "up" : "down",
                     m.probing ? (m.probe_alive ? "alive" : "dead") : "not used",
                     m.speed_mbps ? fmt::format("{} Mb/s", m.speed_mbps) : std::string("unknown"));
    if (m.pending == PendingAction::kNone)
      t += "  pending: none\n";
    else
      t += fmt::format("  pending: {} in {}\n", pendingActionName(m.pending),
                       formatDuration(ms.pending_remaining));
    if (ms.failback_pending)
      t +=
          fmt::format("  failback: ports move back in {}\n", formatDuration(ms.failback_remaining));
    if (mode != LagMode::kBalanceFlow) t += fmt::format("  ports: {}\n", ms.ports);
    t += fmt::format("  counters: {}\n", counters(m.stats));
  }

  t += fmt::format("\nports: {}\n", ports.size());
  for (const PortSnapshot& p : ports) {
    if (p.degraded) {
      t += fmt::format("  {}: degraded (no live member)\n", p.name);
    } else if (mode == LagMode::kBalanceFlow) {
      t += fmt::format("  {}: per-flow over{}\n", p.name, live_names);
    } else if (mode == LagMode::kBalanceVm) {
      t += fmt::format("  {}: member {} (home {}, pin {})\n", p.name, memberName(p.current),
                       memberName(p.home), p.pin ? memberName(*p.pin) : std::string("none"));
    } else {
      t += fmt::format("  {}: member {}\n", p.name, memberName(p.current));
    }
  }
  return t;
}

}  // namespace vfo::lag
