// ProbeMonitor: link liveness by probing, like Linux bonding's arp_ip_target /
// ns_ip6_target monitor. Pure logic in virtual time: no sockets, no clock.
//
// Per member: a list of targets (IPv4 -> ARP request, IPv6 -> neighbour
// solicitation), an interval and a missed-interval threshold N.
//  * Time is cut into intervals per member, the first starting when the
//    member is added. At the start of each interval onTick() emits one probe
//    per target through send_probe (the datagram side builds and sends the
//    frame; the frame builders live elsewhere).
//  * A reply (onReply) from a configured target of that member makes the
//    current interval "good". Replies from any other address are ignored and
//    counted as foreign (never trusted). One reply from any target suffices
//    (bonding's arp_all_targets=any).
//  * When an interval ends without a good reply it is missed. After N
//    consecutive missed intervals the member is failed, even if its carrier
//    is up; seen_at is the end of the N-th missed interval (when the kernel
//    would have decided), not the time onTick() happened to run.
//  * A failed member recovers when it has `up_after` consecutive good
//    intervals, counting the current one as good from the moment the reply
//    arrives: with up_after = 1 (the default, bonding's "up after one good
//    interval") it is alive again at the reply itself (seen_at = reply time);
//    with up_after = K it needs K-1 complete good intervals and a reply in
//    the K-th.
//  * A member starts alive (no event at add): probing must first prove it
//    dead, so a fresh member with carrier is usable at once.
//  * Clock jumps: an interval is only judged if its probes were sent. If
//    onTick() runs more than one interval late (stall, suspended process,
//    test clock jump), the overdue interval is judged once and the next one
//    starts at `now`; the skipped intervals count neither as missed nor good.
//    A clock going backwards delays the next deadline, nothing else.
//
// Threads: single-threaded; callbacks run inside onTick()/onReply().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// An IPv4 or IPv6 probe target (unicast).
class ProbeAddress {
 public:
  ProbeAddress() = default;
  // "198.18.0.1" or "2001:db8::1". INVALID_ARGUMENT for anything else, for
  // unspecified, multicast or broadcast addresses.
  static StatusOr<ProbeAddress> parse(std::string_view text);
  static ProbeAddress v4(const std::array<uint8_t, 4>& b);
  static ProbeAddress v6(const std::array<uint8_t, 16>& b);

  bool isV6() const { return v6_; }
  // 4 bytes (IPv4) or 16 (IPv6), network order.
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return v6_ ? 16 : 4; }
  std::string toString() const;
  friend auto operator<=>(const ProbeAddress&, const ProbeAddress&) = default;

 private:
  bool v6_ = false;                  // family
  std::array<uint8_t, 16> bytes_{};  // address, IPv4 in the first 4 bytes
};

// Which frame a probe is.
enum class ProbeKind {
  kArp,  // ARP request for an IPv4 target
  kNs,   // IPv6 neighbour solicitation for an IPv6 target
};

struct ProbeMemberConfig {
  MemberId member = kNoMember;        // the member to probe through
  std::vector<ProbeAddress> targets;  // 1..16 distinct targets (bonding allows 16 ARP, 16 NS)
  Duration interval{std::chrono::milliseconds(100)};  // probe interval, 1 ms..1 h
  uint32_t missed_max =
      2;                  // N: consecutive missed intervals to fail (1..255, bonding's missed_max)
  uint32_t up_after = 1;  // K: consecutive good intervals to recover (1..255)
};

// Per-member view for introspection.
struct ProbeMemberState {
  MemberId member = kNoMember;      // which member
  bool alive = true;                // current verdict
  uint32_t consecutive_missed = 0;  // missed intervals in a row
  uint32_t consecutive_good = 0;    // completed good intervals in a row
  bool current_good = false;        // a valid reply arrived in the current interval
  TimePoint interval_end;           // end of the current interval
  uint64_t probes_sent = 0;         // per member counters
  uint64_t replies = 0;             // valid replies
};

#define VFO_PROBE_STATS(X)                                           \
  X(probes_sent, "probe frames requested (ARP + NS)")                \
  X(replies, "replies from a configured target")                     \
  X(missed_intervals, "intervals that ended without a valid reply")  \
  X(foreign_replies, "replies from an address that is not a target") \
  X(unknown_member_replies, "replies for a member not being probed") \
  X(skipped_intervals, "intervals skipped because ticks came late")  \
  X(verdict_changes, "alive/failed transitions")
VFO_DECLARE_STATS(ProbeStats, VFO_PROBE_STATS)

class ProbeMonitor {
 public:
  struct Callbacks {
    // Send one probe to `target` through `member`.
    std::function<void(MemberId, const ProbeAddress& target, ProbeKind)> send_probe;
    // Verdict changed: wire to the member logic's onProbeVerdict().
    std::function<void(MemberId, bool alive, TimePoint seen_at)> on_verdict;
  };
  explicit ProbeMonitor(Callbacks cb);

  // Validates (INVALID_ARGUMENT naming the field; ALREADY_EXISTS for a member
  // already probed) and starts probing at `now`: the first probes go out at
  // the next onTick(now).
  Status addMember(const ProbeMemberConfig& config, TimePoint now);
  // NOT_FOUND if absent. No verdict event is emitted.
  Status removeMember(MemberId member);
  // New interval from the current interval's start; if that end is already
  // past it is judged at the next onTick(). INVALID_ARGUMENT / NOT_FOUND.
  Status setInterval(MemberId member, Duration interval);
  // Replaces the target list (same rules as addMember); counters stay.
  Status setTargets(MemberId member, const std::vector<ProbeAddress>& targets);

  // Ends due intervals and starts new ones (sending probes).
  void onTick(TimePoint now);
  // A reply seen on `member` from `from`. Returns whether it was accepted.
  bool onReply(MemberId member, const ProbeAddress& from, TimePoint now);
  // Earliest interval end over all members; kNever if none.
  TimePoint nextDeadline() const;

  std::optional<ProbeMemberState> member(MemberId m) const;
  std::optional<bool> alive(MemberId m) const;
  ProbeStatsSnapshot stats() const { return stats_.snapshot(); }

 private:
  struct Member {
    ProbeMemberConfig config;
    ProbeMemberState state;
    TimePoint interval_start;  // start of the current interval
    bool started = false;      // first probes sent
  };
  static Status validate(const ProbeMemberConfig& c);
  void sendProbes(Member& m);
  void setVerdict(Member& m, bool alive, TimePoint seen_at);

  Callbacks cb_;
  std::map<MemberId, Member> members_;
  ProbeStats stats_;
};

}  // namespace vfo::lag
